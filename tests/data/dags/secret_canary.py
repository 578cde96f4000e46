"""A local-mode job that receives secrets from a Connection and a Variable, for
tests/e2e/test_secret_canary.py.

The canary value is Connection ``sparkplane_canary``'s password and Variable
``sparkplane_canary_secret`` (masked by its name). It reaches the job as a secret Spark setting, a
setting whose name says nothing, a job argument and an environment variable; the job prints only
hashes. ``{"fail": true}`` in the run's conf makes the job fail after printing them.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG
from sparkplane.operators import SparkJobOperator

JOB = Path(__file__).parents[1] / "jobs" / "prints_secret_hash.py"
PASSWORD = "{{ conn.sparkplane_canary.password }}"
VARIABLE = "{{ var.value.sparkplane_canary_secret }}"

with DAG(dag_id="secret_canary_local", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         default_args={"owner": "platform-tests", "retries": 0}, tags=["tests"]):  # fmt: skip
    SparkJobOperator(
        task_id="run",
        application=str(JOB),
        conf={"spark.hadoop.fs.s3a.secret.key": VARIABLE, "spark.myapp.endpoint": PASSWORD},
        env={"CANARY_FROM_VARIABLE": VARIABLE},
        application_args=["--setting", "spark.hadoop.fs.s3a.secret.key", "--setting", "spark.myapp.endpoint",
                          "--argument", PASSWORD, "--env", "CANARY_FROM_VARIABLE",
                          "{{ '--fail' if dag_run.conf.get('fail') else '--setting=spark.app.name' }}"],
    )  # fmt: skip
