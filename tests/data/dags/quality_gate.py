"""The example report job on an input the test writes, locally (tests/e2e/test_quality_gate_dag.py) or
on the cluster (tests/kubernetes/test_quality_gate_on_cluster.py).

The run's conf names the input and output folders. One retry, as the example pipeline has: a
data-quality failure must not use it (the same data would fail the same way).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG
from sparkplane.operators import SparkJobOperator

with DAG(dag_id="quality_gate", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         default_args={"owner": "platform-tests", "retries": 1, "retry_delay": timedelta(seconds=1)},
         tags=["tests"]):  # fmt: skip
    SparkJobOperator(
        task_id="revenue_by_region",
        application="revenue_by_region.py",
        application_args=["--input", "{{ dag_run.conf['input'] }}", "--output", "{{ dag_run.conf['output'] }}"],
        conf={"spark.sql.shuffle.partitions": "4"},
    )
