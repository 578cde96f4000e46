"""Measure the example pipeline where its data lives, and the image's cost of the S3A connector.

``revenue_by_region`` (generate_orders, then the report) for one logical date, each way once, in
real Airflow (``airflow dags test``):

- locally, data in a local folder (the embedded default);
- locally, data in the local cluster's object store (S3A from the Airflow environment);
- on Kubernetes, data in the store (driver and executors on the real node).

Printed: each task's seconds (the task runner's start and end lines) and the run's. Then the
Spark image's size with the connector and without it (the sum of image/jars.lock's jars, which
are one layer of their own). Needs root and the local cluster (started if needed, left running).
Figures, not assertions: ``make bench-object-store`` (ORDERS=... to change the size).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

from harness.airflow import run_dag
from harness.cluster import LocalCluster
from harness.platform import (
    OBJECT_STORE_CONN_ID,
    airflow_identity_connection,
    apply_bootstrap,
    build_spark_image,
    object_store_connection,
)
from localcluster.settings import load_settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LOGICAL_DATE = "2026-11-20"
ORDERS = int(os.environ.get("ORDERS", "300000"))
TASK_LINE = re.compile(r"^(\S+Z) .*\[DAG TEST\] (starting|end task) task_id=(\w+)", re.MULTILINE)


def task_seconds(log: str) -> dict[str, float]:
    """Seconds from each task's start line to its end line in ``airflow dags test`` output."""
    started: dict[str, datetime] = {}
    seconds: dict[str, float] = {}
    for stamp, event, task in TASK_LINE.findall(log):
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        if event == "starting":
            started[task] = moment
        elif task in started:
            seconds[task] = (moment - started[task]).total_seconds()
    return seconds


def run(label: str, *, connection: str | None, image: str | None, settings: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as home:
        began = time.monotonic()
        result = run_dag("revenue_by_region", {"orders": ORDERS, "customers": 20_000}, image=image,
                         connection=connection, airflow_home=Path(home), logical_date=LOGICAL_DATE,
                         extra_env=settings)  # fmt: skip
        wall = time.monotonic() - began
    log = result.stdout + result.stderr
    if result.returncode != 0:
        print(f"{label:<34} FAILED (last lines below)\n{log[-3000:]}")
        return
    tasks = task_seconds(log)
    print(f"{label:<34} generate_orders {tasks.get('generate_orders', float('nan')):6.1f} s   "
          f"revenue_by_region {tasks.get('revenue_by_region', float('nan')):6.1f} s   "
          f"whole run {wall:6.1f} s (with Airflow's start)")  # fmt: skip


def jars_bytes() -> int:
    sys.path.insert(0, str(PROJECT_ROOT / "image"))
    from fetch_jars import parse_lock

    jars = PROJECT_ROOT / ".venv" / "lib" / "python3.11" / "site-packages" / "pyspark" / "jars"
    lock = PROJECT_ROOT / "image" / "jars.lock"
    return sum((jars / jar.file_name).stat().st_size for jar in parse_lock(lock.read_text(), source=str(lock)))


def image_bytes(image: str) -> int:
    inspected = subprocess.run(["docker", "image", "inspect", "--format", "{{.Size}}", image],
                               capture_output=True, text=True, check=True)  # fmt: skip
    return int(inspected.stdout.strip())


def main() -> int:
    os.environ |= {"AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
                   "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
                   "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}  # fmt: skip
    subprocess.run([str(PROJECT_ROOT / "cluster" / "up")], check=True, stdout=subprocess.DEVNULL)
    cluster = LocalCluster(load_settings())
    built = build_spark_image(cluster.registry)
    apply_bootstrap(cluster)
    identity = airflow_identity_connection(cluster)
    store = object_store_connection(cluster)
    prefix = f"s3a://sparkplane/benchmarks/{uuid.uuid4().hex[:8]}"

    def in_store(where: str) -> dict[str, str]:
        return {f"AIRFLOW_CONN_{OBJECT_STORE_CONN_ID.upper()}": store,
                "SPARKPLANE_OBJECT_STORE_CONN_ID": OBJECT_STORE_CONN_ID, "SPARKPLANE_DATA_ROOT": f"{prefix}/{where}"}  # fmt: skip

    print(f"revenue_by_region for {LOGICAL_DATE}, {ORDERS:,} orders and 20,000 customers, each way once:")
    with tempfile.TemporaryDirectory() as folder:
        run("local, data in a local folder", connection=None, image=None, settings={"SPARKPLANE_DATA_ROOT": folder})
    run("local, data in the object store", connection=None, image=None, settings=in_store("local"))
    run("Kubernetes, data in the object store", connection=identity, image=built["pinned"], settings=in_store("cluster"))

    with_connector = image_bytes(built["image"])
    connector = jars_bytes()
    print(f"\nSpark image {built['image']}:")
    print(f"  with the S3A connector    {with_connector / 1e6:8.1f} MB")
    print(f"  without it                {(with_connector - connector) / 1e6:8.1f} MB  "
          f"(the connector's {connector / 1e6:.1f} MB of jars, image/jars.lock)")  # fmt: skip
    print(f"  the SDK's bundle instead  {641_534_749 / 1e6:8.1f} MB of jars (software.amazon.awssdk:bundle:2.29.52)")
    print(f"\nThe data stays in the store under {prefix}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
