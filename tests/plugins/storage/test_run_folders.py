"""A run's folder: a date's own for the schedule's runs, one of its own for every other run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from airflow.sdk.api.datamodels._generated import DagRunType
from sparkplane.storage.run_folders import folder_name, run_day, run_folder

DAY = datetime(2026, 12, 1, tzinfo=timezone.utc)


@dataclass
class Run:
    run_id: str
    run_type: object
    logical_date: datetime | None
    run_after: datetime = DAY


@pytest.mark.parametrize("run_type", [DagRunType.SCHEDULED, DagRunType.BACKFILL, "scheduled"])
def test_the_schedule_s_runs_write_to_their_date(run_type):
    assert run_folder(Run("scheduled__2026-12-01T00:00:00+00:00", run_type, DAY)) == "2026-12-01"


@pytest.mark.parametrize("run_type", [DagRunType.MANUAL, DagRunType.ASSET_TRIGGERED, "manual"])
def test_any_other_run_writes_to_its_own_folder_under_its_date(run_type):
    run = Run("manual__2026-12-01T12:00:00+00:00", run_type, DAY.replace(hour=12))
    assert run_folder(run).startswith("2026-12-01/runs/manual__2026-12-01T12-00-00-00-00-")


def test_a_run_without_a_logical_date_takes_the_day_it_was_queued_for():
    run = Run("manual__api", DagRunType.MANUAL, None, run_after=datetime(2026, 12, 2, 3, tzinfo=timezone.utc))
    assert run_day(run) == "2026-12-02"
    assert run_folder(run) == "2026-12-02/runs/manual__api"


def test_a_folder_name_keeps_a_safe_run_id_and_marks_a_changed_one():
    assert folder_name("manual__test_17") == "manual__test_17"
    # ':' and '+' break Hadoop paths; two ids that differ only there keep separate folders.
    first, second = folder_name("manual__2026-12-01T12:00:00+00:00"), folder_name("manual__2026-12-01T12-00-00-00-00")
    assert ":" not in first and "+" not in first and first != second
    assert folder_name("a/../b") != "a/../b" and "/" not in folder_name("a/../b")
    assert folder_name("..") not in ("..", ".") and "/" not in folder_name("..")
