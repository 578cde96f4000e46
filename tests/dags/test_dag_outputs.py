"""Every pipeline's outputs: a manual run of a date never writes where that date's scheduled run
writes, and a run without a logical date (``logical_date: null`` in the REST API) still renders.

The Spark tasks' arguments are rendered with each DAG's own template environment and Params, as
the task would render them; an output is the value of an option named ``--output...``.
"""

from __future__ import annotations

import functools
import runpy
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from airflow.sdk.execution_time import macros
from sparkplane.operators import SparkJobOperator

from tests.conftest import PROJECT_ROOT

DAY = datetime(2026, 11, 30, tzinfo=UTC)
PIPELINES = ["daily_sales", "revenue_by_region"]


@functools.cache
def _dag(dag_id: str):
    """The pipeline's DAG, its file run once for every test of the module."""
    return runpy.run_path(str(PROJECT_ROOT / "dags" / f"{dag_id}.py"))["dag"]


def _outputs(dag_id: str, dag_run: SimpleNamespace) -> dict[str, list[str]]:
    dag = _dag(dag_id)
    environment = dag.get_template_env()
    params = {name: dag.params[name] for name in dag.params}
    outputs = {}
    for task in dag.tasks:
        assert isinstance(task, SparkJobOperator)
        arguments = [environment.from_string(str(a)).render(params=params, dag_run=dag_run, macros=macros) for a in task.application_args]
        outputs[task.task_id] = [value for option, value in zip(arguments, arguments[1:]) if option.startswith("--output")]
    return outputs


def _run(run_type: str, run_id: str, logical_date: datetime | None = DAY) -> SimpleNamespace:
    return SimpleNamespace(run_type=run_type, run_id=run_id, logical_date=logical_date, run_after=DAY)


@pytest.mark.parametrize("dag_id", PIPELINES)
def test_a_manual_run_writes_beside_the_scheduled_run_of_its_date(dag_id):
    scheduled = _outputs(dag_id, _run("scheduled", "scheduled__2026-11-30T00:00:00+00:00"))
    manual = _outputs(dag_id, _run("manual", "manual__2026-11-30T09:12:00+00:00"))
    assert all(scheduled.values()), f"{dag_id}: every Spark task names its output with an --output option"
    for task_id, paths in scheduled.items():
        assert all("/2026-11-30" in path and "/runs/" not in path for path in paths), paths
        assert all("/2026-11-30/runs/manual__2026-11-30T09-12-00-00-00-" in path for path in manual[task_id])
        assert not set(paths) & set(manual[task_id])


@pytest.mark.parametrize("dag_id", PIPELINES)
def test_a_run_without_a_logical_date_writes_under_the_day_it_was_queued_for(dag_id):
    outputs = _outputs(dag_id, _run("manual", "manual__2026-11-30T09:12:00+00:00", logical_date=None))
    assert all("/2026-11-30/runs/" in path for paths in outputs.values() for path in paths), outputs
