"""A DAG whose one task succeeds at once: the pod sweep test starts a "driver" for its finished
task instance, which the sweep must recognise as an orphan."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task

with DAG(dag_id="sweep_target", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["test"]):

    @task
    def finished() -> str:
        return "done"

    finished()
