"""A small Spark DAG (local mode) that the notebook client test triggers: tests/e2e/test_notebook_client.py."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param
from sparkplane.operators import SparkJobOperator

with DAG(
    dag_id="notebook_client",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args={"owner": "platform-tests", "retries": 0},
    params={
        "lines": Param(3, type="integer", minimum=1, maximum=50, description="numbered lines the job prints"),
        "fail": Param(False, type="boolean", description="ask the job for a variable nobody set, so it fails"),
    },
    tags=["tests"],
):
    SparkJobOperator(
        task_id="smoke",
        # Templated from ds: a run without a logical date fails to render (the client gives one).
        name="notebook_client.{{ ds_nodash }}",
        application="spark_smoke_test.py",
        application_args=["--partitions", "2", "--lines", "{{ params.lines }}", "--line-interval-seconds", "0.5",
                          "{{ '--expect-env=SPARKPLANE_NOT_SET' if params.fail else '--partitions=2' }}"],
    )
