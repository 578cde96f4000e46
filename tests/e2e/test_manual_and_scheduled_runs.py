"""A run triggered by hand with its own params never overwrites the scheduled run of the same date.

Real Airflow services (API server, scheduler, DAG processor, triggerer) run the example pipeline,
Spark in local mode. The DAG is unpaused, so the scheduler makes today's run with the default params;
a run triggered through the REST API for a later time of that same day, with far fewer orders, must
publish its report beside the scheduled one, not over it.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone

import pandas as pd
import pytest
from harness.airflow import AirflowServices
from harness.waits import wait_for
from sparkplane.storage.run_folders import folder_name

from tests.conftest import PROJECT_ROOT

#: The stack's browser test proves the same on the cluster, from the form; this proves it locally,
#: and that the scheduled run's input and report are still its own afterwards.
pytestmark = [pytest.mark.airflow, pytest.mark.long]

DAG_ID = "revenue_by_region"
MANUAL_CONF = {"orders": 2_000, "customers": 100}
SCHEDULED_ORDERS = 300_000  # the DAG's default


@pytest.fixture(scope="module")
def two_runs_of_one_day(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow")
    dags = home / "dags"
    dags.mkdir()
    shutil.copy(PROJECT_ROOT / "dags" / f"{DAG_ID}.py", dags)
    data = home / "data"
    services = AirflowServices(home=home, dags_folder=dags, extra_env={
        "SPARKPLANE_DATA_ROOT": str(data), "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
    })  # fmt: skip
    services.start_all()
    try:
        # Unpaused at creation: the scheduler makes the run of the last complete day by itself.
        [scheduled] = wait_for(
            lambda: [run for run in services.rest("GET", f"/dags/{DAG_ID}/dagRuns")["dag_runs"]
                     if run["run_type"] == "scheduled"],  # fmt: skip
            bool, timeout_seconds=240, interval_seconds=2, what="the scheduler to make a scheduled run",
            on_timeout=services.component_logs,
        )
        # Later the same day, still in the past: the scheduler leaves a run of a future date queued.
        scheduled_at = datetime.fromisoformat(scheduled["logical_date"].replace("Z", "+00:00"))
        later = scheduled_at + (datetime.now(timezone.utc) - scheduled_at) / 2
        manual = services.rest("POST", f"/dags/{DAG_ID}/dagRuns", {"logical_date": later.isoformat(), "conf": MANUAL_CONF})
        states = {run["dag_run_id"]: services.wait_for_run(DAG_ID, run["dag_run_id"], timeout_seconds=1200)
                  for run in (scheduled, manual)}  # fmt: skip
        yield services, data / DAG_ID, scheduled, manual, states
    finally:
        services.stop_all()


def _published(services: AirflowServices, run_id: str) -> str | None:
    rows = services.query("SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND key = 'return_value'",
                          DAG_ID, run_id, DAG_ID)  # fmt: skip
    return json.loads(rows[0][0])["output"] if rows else None


def test_a_manual_run_of_a_scheduled_date_publishes_beside_it_not_over_it(two_runs_of_one_day):
    services, pipeline_folder, scheduled, manual, states = two_runs_of_one_day
    assert set(states.values()) == {"success"}, f"{states}\n{services.component_logs()}"
    day = scheduled["logical_date"][:10]
    assert manual["logical_date"][:10] == day, "both runs are of the same date"
    # The scheduled run owns the date's folder; the manual one has its own under it.
    scheduled_report = pipeline_folder / day / "report"
    manual_report = pipeline_folder / day / "runs" / folder_name(manual["dag_run_id"]) / "report"
    assert _published(services, scheduled["dag_run_id"]) == str(scheduled_report)
    assert _published(services, manual["dag_run_id"]) == str(manual_report)
    # Each report is of its own run's input: the manual run's few orders did not replace the scheduled ones.
    assert len(pd.read_parquet(pipeline_folder / day / "input" / "orders")) == SCHEDULED_ORDERS
    scheduled_orders = pd.read_parquet(scheduled_report)["orders"].sum()
    manual_orders = pd.read_parquet(manual_report)["orders"].sum()
    assert manual_orders <= MANUAL_CONF["orders"] < scheduled_orders <= SCHEDULED_ORDERS
