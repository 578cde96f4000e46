"""Print how long each DAG file takes to parse, the way the DAG processor and a task worker parse it.

Each file is parsed in a fresh interpreter. "warm": a warm-up DAG first loads Airflow and the
platform, as the long-lived DAG processor has them loaded (best of several runs). "cold": only
Airflow's SDK is loaded, as in a task's process, so the platform's own imports are counted (the
first parse). Figures, not assertions.
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


_COLD_TIMING_SCRIPT = r"""
import runpy, sys, time
import airflow.sdk
started = time.perf_counter()
runpy.run_path(sys.argv[1])
print(time.perf_counter() - started)
"""


def parse_seconds(dag_file: Path, airflow_home: str, *, script: str = _TIMING_SCRIPT) -> float:
    result = subprocess.run(
        [sys.executable, "-c", script, str(dag_file), str(RUNS)],
        capture_output=True, text=True, check=True,
        env={"PYTHONPATH": str(PROJECT_ROOT / "plugins"), "PATH": "/usr/bin:/bin", "AIRFLOW_HOME": airflow_home},
    )
    return float(result.stdout.strip().splitlines()[-1])


def main() -> int:
    print(f"{'DAG file':<32} {'warm (best of ' + str(RUNS) + ')':>20} {'cold (first parse)':>20}")
    with tempfile.TemporaryDirectory(prefix="sparkplane-bench-airflow-") as airflow_home:
        for dag_file in sorted((PROJECT_ROOT / "dags").glob("*.py")):
            warm = parse_seconds(dag_file, airflow_home) * 1000
            cold = parse_seconds(dag_file, airflow_home, script=_COLD_TIMING_SCRIPT) * 1000
            print(f"{dag_file.name:<32} {warm:>17.1f} ms {cold:>17.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
