"""Print how long each DAG file takes to parse, the way the DAG processor parses it.

Each file is parsed in a fresh interpreter (a warm-up DAG first loads Airflow and the platform,
as the long-lived DAG processor has them loaded), best of several runs. Figures, not assertions.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RUNS = 5

_TIMING_SCRIPT = r"""
import datetime, runpy, sys, time
import airflow.sdk, sparkplane.operators
with airflow.sdk.DAG("warm_up", schedule="@daily", start_date=datetime.datetime(2026, 1, 1)):
    sparkplane.operators.SparkJobOperator(task_id="t", application="t.py")
best = float("inf")
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    runpy.run_path(sys.argv[1])
    best = min(best, time.perf_counter() - started)
print(best)
"""


def parse_seconds(dag_file: Path, airflow_home: str) -> float:
    result = subprocess.run(
        [sys.executable, "-c", _TIMING_SCRIPT, str(dag_file), str(RUNS)],
        capture_output=True, text=True, check=True,
        env={"PYTHONPATH": str(PROJECT_ROOT / "plugins"), "PATH": "/usr/bin:/bin", "AIRFLOW_HOME": airflow_home},
    )
    return float(result.stdout.strip().splitlines()[-1])


def main() -> int:
    print(f"{'DAG file':<40} {'parse time (best of ' + str(RUNS) + ')':>24}")
    with tempfile.TemporaryDirectory(prefix="sparkplane-bench-airflow-") as airflow_home:
        for dag_file in sorted((PROJECT_ROOT / "dags").glob("*.py")):
            print(f"{dag_file.name:<40} {parse_seconds(dag_file, airflow_home) * 1000:>21.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
