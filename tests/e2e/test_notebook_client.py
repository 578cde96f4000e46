"""Trigger and follow a pipeline from inside a real Jupyter kernel, against real Airflow services.

An API server, scheduler, DAG processor and triggerer run the DAG tests/data/dags/notebook_client.py
(Spark in local mode). A notebook executed by papermill signs in as a user of Airflow's simple auth
manager with credentials from its environment, and calls ``sparkplane.client.trigger`` four times:
a valid conf (the run succeeds and the cell shows its tasks and log), a conf a Param refuses
(refused before any run starts, naming the key), an unknown DAG, and a run that fails (the error
carries the task's Cause:/Fix: lines).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from unittest import mock

import nbformat
import papermill
import pytest
from harness.airflow import AirflowServices

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.airflow

CELLS = [
    "import warnings\nfrom sparkplane.client import trigger",
    # A valid conf (and a key that is no Param: a warning): the run succeeds.
    "run = trigger('notebook_client', conf={'lines': 8, 'colour': 'red'}, wait=True, poll_seconds=1)\n"
    "print('OUTCOME valid', run.state, run.url)",
    # A value the Param refuses.
    "try:\n    trigger('notebook_client', conf={'lines': 500})\n"
    "except Exception as error:\n    print('OUTCOME invalid', type(error).__name__, error)",
    # No such DAG.
    "try:\n    trigger('no_such_dag')\nexcept Exception as error:\n    print('OUTCOME unknown', type(error).__name__, error)",
    # A run that fails.
    "try:\n    trigger('notebook_client', conf={'fail': True}, wait=True, poll_seconds=1)\n"
    "except Exception as error:\n    print('OUTCOME failing', type(error).__name__, error)",
]


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow")
    dags = home / "dags"
    dags.mkdir()
    shutil.copy(PROJECT_ROOT / "tests" / "data" / "dags" / "notebook_client.py", dags)
    password = secrets.token_urlsafe(16)
    (home / "passwords.json").write_text(json.dumps({"analyst": password}))
    services = AirflowServices(home=home, dags_folder=dags, extra_env={
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "analyst:user",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
    })  # fmt: skip
    services.start_all()
    try:
        services.wait_until_parsed("notebook_client")
        yield services, password
    finally:
        services.stop_all()


@pytest.fixture(scope="module")
def outcomes(airflow, tmp_path_factory):
    services, password = airflow
    folder = tmp_path_factory.mktemp("notebook")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in CELLS])
    nbformat.write(notebook, folder / "client.ipynb")
    kernel_env = {  # what a data scientist's environment holds; the notebook names no credential
        "SPARKPLANE_AIRFLOW_URL": f"http://127.0.0.1:{services.port}",
        "SPARKPLANE_AIRFLOW_USERNAME": "analyst",
        "SPARKPLANE_AIRFLOW_PASSWORD": password,
        "PYTHONPATH": str(PROJECT_ROOT / "plugins"),
    }
    with mock.patch.dict(os.environ, kernel_env):
        papermill.execute_notebook(str(folder / "client.ipynb"), str(folder / "out.ipynb"), kernel_name="python3",
                                   progress_bar=False, execution_timeout=600)  # fmt: skip
    executed = nbformat.read(folder / "out.ipynb", as_version=4)
    text = {}
    for number, cell in enumerate(executed.cells):
        text[number] = "\n".join(output.get("text", "") or output.get("data", {}).get("text/plain", "")
                                 for output in cell.outputs)  # fmt: skip
    return text, services


def test_a_valid_conf_runs_to_success_and_the_cell_shows_tasks_and_log(outcomes):
    text, services = outcomes
    assert f"OUTCOME valid success http://127.0.0.1:{services.port}/dags/notebook_client/runs/" in text[1]
    assert "  smoke: success (try 1)" in text[1]
    assert "--- last lines of smoke's log" in text[1]
    assert "conf key 'colour' is not a Param of this DAG and is ignored by its tasks" in text[1]  # a warning


def test_a_refused_value_stops_before_any_run_naming_the_key(outcomes):
    text, services = outcomes
    assert ("OUTCOME invalid ConfError conf['lines'] = 500 is refused by Param 'lines': 500 is greater than the "
            "maximum of 50") in text[2]
    runs = services.query("SELECT conf FROM dag_run WHERE dag_id = 'notebook_client'")
    assert len(runs) == 2, runs  # the valid and the failing one only


def test_an_unknown_dag_lists_the_dags_there(outcomes):
    text, _ = outcomes
    assert "OUTCOME unknown UnknownDag" in text[3] and "has no DAG 'no_such_dag'" in text[3]
    assert "DAGs there: notebook_client" in text[3]


def test_a_failing_run_raises_with_the_tasks_cause_and_fix(outcomes):
    text, _ = outcomes
    assert "OUTCOME failing PipelineRunFailed run " in text[4]
    assert "failed in task smoke (try 1)" in text[4]
    assert "\nCause: " in text[4] and "\nFix: " in text[4]


def test_a_paused_dag_is_refused_before_a_run_that_would_wait_forever_and_unpause_switches_it_on(outcomes, airflow):
    from sparkplane.client.trigger import PausedDag, UnknownDag, trigger, unpause

    services, password = airflow
    services.airflow("dags", "pause", "notebook_client")
    environment = {"SPARKPLANE_AIRFLOW_URL": f"http://127.0.0.1:{services.port}",
                   "SPARKPLANE_AIRFLOW_USERNAME": "analyst", "SPARKPLANE_AIRFLOW_PASSWORD": password}  # fmt: skip
    with mock.patch.dict(os.environ, environment):
        with pytest.raises(PausedDag, match=r"is paused, so a run would wait forever: .* or with "
                                            r"sparkplane.client.unpause\('notebook_client'\)"):  # fmt: skip
            trigger("notebook_client", conf={"lines": 2})
        assert len(services.query("SELECT 1 FROM dag_run WHERE dag_id = 'notebook_client'")) == 2
        unpause("notebook_client")
        assert services.query("SELECT is_paused FROM dag WHERE dag_id = 'notebook_client'") == [(0,)]
        with pytest.raises(UnknownDag, match="has no DAG 'no_such_dag'"):
            unpause("no_such_dag")
