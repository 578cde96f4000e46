"""Run each fault of tests/harness/faults.py several times and print what came of it.

Real Airflow services (API server, scheduler with the LocalExecutor, DAG processor, triggerer) run
the fault DAGs of tests/data/dags/operator_faults.py against the local cluster (started here, and
stopped at the end, if it is not running); drivers run on simulated nodes. Per fault, the table
shows how many runs came to the expected outcome, the outcomes seen (run state and tries), the
drivers each try created, the most lines missing from and repeated in a final task log, the pods
left 60 s after the runs, and the seconds from the fault to the platform acting on it (median and
max; what "acting" means is said per fault in the harness). Times are figures, not assertions; the
exit status is 1 if any run did not come to its expected outcome.

``make faults`` (every fault 5 times), ``FAULT_RUNS=2 FAULTS=triggerer_sigkill,user_clears make faults``
for fewer. Needs root; plugins/, cluster/ and tests/ on PYTHONPATH, as the Makefile puts them.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from harness.cluster import LocalCluster, cluster_answers
from harness.faults import FAULTS, FaultOutcome, fault_airflow, run_fault
from harness.platform import apply_bootstrap, build_spark_image
from localcluster.settings import load_settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def selected_faults(names: str) -> list[str]:
    chosen = [name.strip() for name in names.split(",") if name.strip()] or list(FAULTS)
    unknown = [name for name in chosen if name not in FAULTS]
    if unknown:
        raise SystemExit(f"unknown faults {unknown}; choose from {', '.join(FAULTS)}")
    return chosen


def row(name: str, outcomes: list[FaultOutcome]) -> str:
    expected = FAULTS[name].expected
    as_expected = sum(1 for outcome in outcomes if not expected.problems(outcome))
    seen = Counter(f"{outcome.state}/{outcome.tries}" for outcome in outcomes)
    drivers = Counter(str(outcome.drivers_per_try) for outcome in outcomes)
    detect = [outcome.detect_seconds for outcome in outcomes if outcome.detect_seconds is not None]
    detect_text = f"{statistics.median(detect):.1f} / {max(detect):.1f}" if detect else "-"
    lines = (f"{max(o.lines_missing for o in outcomes)} / {max(o.lines_repeated for o in outcomes)}"
             if expected.lines_checked else "n/a")  # fmt: skip
    leftovers = sum(len(outcome.leftovers) for outcome in outcomes)
    return (f"| {name} | {len(outcomes)} | {as_expected}/{len(outcomes)} | "
            f"{', '.join(f'{k} x{v}' for k, v in seen.items())} | {', '.join(f'{k} x{v}' for k, v in drivers.items())} | "
            f"{lines} | {leftovers} | {detect_text} |")  # fmt: skip


def main() -> int:
    runs = int(os.environ.get("FAULT_RUNS", "5"))
    names = selected_faults(os.environ.get("FAULTS", ""))
    settings = load_settings()
    started_cluster = not cluster_answers(settings)
    subprocess.run([str(PROJECT_ROOT / "cluster" / "up")], check=True, stdout=subprocess.DEVNULL)
    cluster = LocalCluster(settings)
    home = Path(tempfile.mkdtemp(prefix="sparkplane-faults-"))
    failed = 0
    try:
        image = build_spark_image(cluster.registry)["pinned"]
        apply_bootstrap(cluster)
        rows = []
        with fault_airflow(home, cluster, image=image) as (services, proxy):
            for name in names:
                outcomes = []
                for number in range(1, runs + 1):
                    outcome = run_fault(services, cluster, FAULTS[name], proxy=proxy)
                    problems = FAULTS[name].expected.problems(outcome)
                    failed += bool(problems)
                    print(f"{name} run {number}/{runs}: {'as expected' if not problems else problems} "
                          f"({outcome.state}, tries {outcome.tries}, drivers {outcome.drivers_per_try}, "
                          f"detect {outcome.detect_seconds} s)", flush=True)  # fmt: skip
                    outcomes.append(outcome)
                rows.append(row(name, outcomes))
        print("\n| fault | runs | as expected | outcomes (state/tries) | drivers per try | lines missing / repeated (max) "
              "| leftovers after 60 s | seconds to act (median / max) |")
        print("|---|---|---|---|---|---|---|---|")
        print("\n".join(rows))
    finally:
        shutil.rmtree(home, ignore_errors=True)
        if started_cluster:
            subprocess.run([str(PROJECT_ROOT / "cluster" / "down")], check=False, stdout=subprocess.DEVNULL)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
