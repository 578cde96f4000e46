"""Every DAG file imports cleanly under the pinned Airflow, follows the house rules, and does no
I/O while being parsed (the DAG processor parses each file every few seconds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(DAGS_FOLDER.glob("*.py"))

# Imports the DAG file with an audit hook installed after Airflow and the platform package are
# loaded (a warm-up DAG triggers Airflow's own lazy imports, as in the long-lived DAG processor),
# so the only events left are the file's own: any non-code file opened, socket connected or
# process started is top-level I/O.
_AUDIT_SCRIPT = r"""
import datetime, json, runpy, sys
import airflow.sdk, sparkplane.operators, sparkplane.settings
with airflow.sdk.DAG("warm_up", schedule="@daily", start_date=datetime.datetime(2026, 1, 1)):
    sparkplane.operators.SparkJobOperator(task_id="t", application="t.py")
CODE_SUFFIXES = (".py", ".pyc", ".so", ".pth", ".json", ".typed")
seen = []
def audit(event, args):
    if event == "open" and isinstance(args[0], str) and not args[0].endswith(CODE_SUFFIXES):
        seen.append(f"open {args[0]}")
    elif event in ("socket.connect", "subprocess.Popen", "os.system", "sqlite3.connect"):
        seen.append(f"{event} {args[0]!r}")
sys.addaudithook(audit)
runpy.run_path(sys.argv[1])
print(json.dumps(seen))
"""


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=DAGS_FOLDER)


def test_dags_folder_is_not_empty():
    assert DAG_FILES, f"no DAG files found in {DAGS_FOLDER}"


def test_every_dag_file_imports_without_errors(dag_bag):
    assert dag_bag.import_errors == {}


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda path: path.name)
def test_file_name_is_the_dag_id(dag_bag, dag_file):
    dag_ids = [dag_id for dag_id, dag in dag_bag.dags.items() if Path(dag.fileloc) == dag_file]
    assert dag_ids == [dag_file.stem]


def test_every_dag_has_owner_retries_and_tags(dag_bag):
    problems = []
    for dag_id, dag in dag_bag.dags.items():
        if not dag.tags:
            problems.append(f"{dag_id}: no tags")
        for task in dag.tasks:
            if task.owner in ("", "airflow"):
                problems.append(f"{dag_id}.{task.task_id}: owner is {task.owner!r}; set a team")
            if not task.retries:
                problems.append(f"{dag_id}.{task.task_id}: retries is {task.retries}")
    assert problems == []


def test_every_numeric_param_has_a_maximum(dag_bag):
    # Anyone who may trigger a DAG picks its Params: without a maximum, a thousand executors or a
    # billion rows is one click away.
    unbounded = []
    for dag_id, dag in dag_bag.dags.items():
        for name in dag.params:
            schema = dag.params.get_param(name).schema
            types = schema.get("type")
            types = {types} if isinstance(types, str) else set(types or ())
            if types & {"integer", "number"} and "maximum" not in schema:
                unbounded.append(f"{dag_id}: params.{name}")
    assert unbounded == []


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda path: path.name)
def test_dag_file_does_no_io_when_parsed(dag_file):
    result = subprocess.run(
        [sys.executable, "-c", _AUDIT_SCRIPT, str(dag_file)],
        capture_output=True, text=True, timeout=120,
        cwd=DAGS_FOLDER.parent,
        env={**os.environ, "PYTHONPATH": f"{DAGS_FOLDER.parent / 'plugins'}"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
