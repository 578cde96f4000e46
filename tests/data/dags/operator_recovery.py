"""DAGs whose runs a test interrupts: a task process killed, the triggerer or the API server restarted.

Each runs the smoke-test job printing numbered lines for about half a minute, so the interruption
lands while the driver runs and its log streams. One retry, quickly, as a production DAG would
have (with a longer delay).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG
from sparkplane.operators import SparkJobOperator

LINES = 60
LINE_INTERVAL_SECONDS = 0.5

CASES = {
    # The worker follows the driver itself; its task process is killed and the retry reattaches.
    "operator_recovery_worker_killed": {"deferrable": False},
    # The triggerer follows the driver; it is restarted while the log streams.
    "operator_recovery_triggerer_restart": {"deferrable": True},
    # The triggerer follows the driver; the Kubernetes API server is restarted under it.
    "operator_recovery_apiserver_restart": {"deferrable": True},
    # A deferred job that outlives the task's execution_timeout: the driver must not run on.
    "operator_recovery_execution_timeout": {
        "deferrable": True,
        "execution_timeout": timedelta(seconds=60),
        "retries": 0,
        "application_args": ["--lines", "1", "--hold-seconds", "600"],
    },
}

JOB = {
    "application": "spark_smoke_test.py",
    "application_args": ["--lines", str(LINES), "--line-interval-seconds", str(LINE_INTERVAL_SECONDS)],
    "driver_memory": "512m",
    "executor_memory": "512m",
    "executor_instances": 1,
    "conf": {
        "spark.kubernetes.driver.request.cores": "500m",
        "spark.kubernetes.executor.request.cores": "500m",
    },
    "retries": 1,
    "retry_delay": timedelta(seconds=2),
}

for dag_id, arguments in CASES.items():
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        default_args={"owner": "platform-tests"},
        tags=["tests"],
    ):
        SparkJobOperator(task_id="run", **{**JOB, **arguments})
