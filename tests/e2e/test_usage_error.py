"""A run triggered with a value the job refuses: the task fails on its first try (a retry would
fail the same way), and its Fix names the DAG param to correct. Real Airflow, real Spark (local)."""

from __future__ import annotations

import sqlite3

import pytest
from harness.airflow import run_dag

pytestmark = pytest.mark.airflow


def test_a_value_the_job_refuses_fails_once_and_the_fix_names_the_param(tmp_path):
    home = tmp_path / "airflow"
    # 2.0 passes the integer Param's JSON schema, and the job's argparse refuses it.
    result = run_dag("spark_smoke_test", {"lines": 2.0}, connection=None, airflow_home=home)
    log = result.stdout + result.stderr
    assert result.returncode != 0, log[-3000:]
    assert "Cause: spark_smoke_test.py rejected its arguments: argument --lines: invalid int value: '2.0'" in log, log[-3000:]
    assert "Fix: --lines takes its value from the DAG param 'lines' (a triggered run's conf key 'lines')" in log
    # What the DAG sets for Kubernetes is named as doing nothing in local mode.
    assert ("so these settings do nothing here: executor_instances=1, executor_memory=512m, "
            "spark.kubernetes.driver.request.cores, spark.kubernetes.executor.request.cores") in log  # fmt: skip
    with sqlite3.connect(home / "airflow.db") as database:
        [(state, tries)] = database.execute("SELECT state, try_number FROM task_instance").fetchall()
    assert (state, tries) == ("failed", 1), "a usage error must not be retried"
