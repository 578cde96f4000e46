"""A deployment without a cluster, under real Airflow: the platform DAGs that need one say why they skip."""

from __future__ import annotations

import sqlite3

import pytest
from harness.airflow import run_dag

pytestmark = pytest.mark.airflow


def test_the_sweep_says_in_the_open_why_it_skips_without_a_cluster(tmp_path):
    home = tmp_path / "airflow"
    result = run_dag("spark_pod_sweep", connection=None, airflow_home=home)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert "[warning  ] No cluster is configured (SPARKPLANE_KUBERNETES_CONN_ID is unset)" in log, log[-3000:]
    assert "so there are no driver pods to sweep" in log and "so there are no notebook executors to sweep" in log
    with sqlite3.connect(home / "airflow.db") as database:
        states = dict(database.execute("SELECT task_id, state FROM task_instance WHERE dag_id = 'spark_pod_sweep'"))
    assert states == {"sweep_driver_pods": "skipped", "sweep_notebook_executors": "skipped"}
