"""Prove that Spark works where the platform runs it: run the smoke-test job once, on demand.

Trigger it after setting up a cluster, changing the image or adding nodes. It runs
jobs/spark_smoke_test.py through the platform's operator, so it exercises exactly what pipelines
use: locally on the embedded default, on Kubernetes when a cluster is configured.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param
from sparkplane.operators import SparkJobOperator

with DAG(
    dag_id="spark_smoke_test",
    description="Run a small Spark job that checks executors start and run the driver's Python.",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args={"owner": "platform", "retries": 1, "retry_delay": timedelta(minutes=1)},
    params={
        "lines": Param(
            20, type="integer", minimum=0, maximum=10_000,
            description="Numbered lines the job prints, at most 10,000: each one lands in the task log.",
        ),
        "executors": Param(
            1, type="integer", minimum=1, maximum=8,
            description="Executors to start, at most 8 (half a core and 896 MiB each): enough to see tasks "
            "spread over hosts; the namespace's quota bounds every job too.",
        ),
    },
    tags=["platform", "spark"],
    doc_md=__doc__,
) as dag:
    SparkJobOperator(
        task_id="run_smoke_test",
        application="spark_smoke_test.py",
        application_args=["--lines", "{{ params.lines }}", "--partitions", "4"],
        conf={
            # A smoke test needs little CPU: half a core each fits a small node.
            "spark.kubernetes.driver.request.cores": "500m",
            "spark.kubernetes.executor.request.cores": "500m",
        },
        executor_instances="{{ params.executors }}",
        driver_memory="512m",
        executor_memory="512m",
    )
