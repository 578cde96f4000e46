from __future__ import annotations

from datetime import datetime, timezone

from harness.pod_models import pod
from kubernetes.client import V1Pod

from sparkplane.kubernetes.identity import TaskTry
from sparkplane.kubernetes.reattach import driver_to_follow

RUN = "scheduled__2026-11-25T00:00:00+00:00"
THIRD_TRY = TaskTry("report", "aggregate", RUN, try_number=3)


def _driver(try_number: int, phase: str, *, deleting: bool = False) -> V1Pod:
    task_try = TaskTry("report", "aggregate", RUN, try_number=try_number)
    deleted_at = datetime(2026, 11, 25, tzinfo=timezone.utc) if deleting else None
    return pod(task_try.driver_name(), phase=phase, labels=task_try.labels(), deleted_at=deleted_at)


def test_every_try_of_one_task_instance_shares_the_instance_selector():
    first = TaskTry("report", "aggregate", RUN, try_number=1)
    assert first.instance_key == THIRD_TRY.instance_key and first.key != THIRD_TRY.key
    assert THIRD_TRY.labels()["sparkplane.dev/instance-key"] == THIRD_TRY.instance_key
    assert THIRD_TRY.instance_selector().endswith(f"sparkplane.dev/instance-key={THIRD_TRY.instance_key}")
    other_map_index = TaskTry("report", "aggregate", RUN, try_number=3, map_index=0)
    assert other_map_index.instance_key != THIRD_TRY.instance_key


def test_with_no_driver_the_try_submits():
    assert driver_to_follow([], THIRD_TRY) is None


def test_a_running_driver_of_an_earlier_try_is_followed():
    running = _driver(2, "Running")
    assert driver_to_follow([_driver(1, "Failed"), running], THIRD_TRY) is running


def test_an_earlier_driver_that_already_succeeded_is_followed_not_run_again():
    succeeded = _driver(2, "Succeeded")
    assert driver_to_follow([succeeded], THIRD_TRY) is succeeded


def test_failed_or_deleting_drivers_are_never_followed():
    assert driver_to_follow([_driver(1, "Failed"), _driver(2, "Running", deleting=True)], THIRD_TRY) is None


def test_the_trys_own_driver_wins_over_earlier_ones():
    own = _driver(3, "Pending")
    assert driver_to_follow([_driver(2, "Running"), own], THIRD_TRY) is own


def test_drivers_of_later_tries_are_ignored():
    assert driver_to_follow([_driver(4, "Running")], THIRD_TRY) is None
