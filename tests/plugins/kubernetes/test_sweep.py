from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from harness.pod_models import DRIVER, RecordingHook, terminated
from harness.pod_models import pod as build_pod
from kubernetes.client import V1Pod, V1PodCondition

from sparkplane.kubernetes.identity import DRIVER_SELECTOR, TaskTry
from sparkplane.kubernetes.sweep import TaskInstanceRef, judge_drivers, sweep_drivers, task_instance_of

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
RUN = "scheduled__2026-11-25T00:00:00+00:00"


def _driver(
    phase: str,
    *,
    task_try: TaskTry = TaskTry("report", "aggregate", RUN, try_number=1),
    ended_ago: timedelta | None = None,
    keep_seconds: str | None = "3600",
    deleting: bool = False,
) -> V1Pod:
    annotations = task_try.annotations()
    if keep_seconds is not None:
        annotations["sparkplane.dev/keep-failed-seconds"] = keep_seconds
    containers = {DRIVER: terminated(1, finished_at=NOW - ended_ago)} if ended_ago is not None else None
    return build_pod(
        task_try.driver_name(), phase=phase, containers=containers, image="spark",
        labels={**task_try.labels(), "spark-role": "driver"}, annotations=annotations,
        created=NOW - timedelta(days=3), deleted_at=NOW if deleting else None,
    )  # fmt: skip


def _verdict(pod: V1Pod, task_states=None):
    (verdict,) = judge_drivers([pod], now=NOW, task_states=task_states or {})
    return verdict


def test_a_failed_driver_past_its_keep_time_is_deleted():
    verdict = _verdict(_driver("Failed", ended_ago=timedelta(hours=2), keep_seconds="3600"))
    assert verdict.delete
    assert verdict.reason == "Failed 2h ago; its keep time of 1h is over"


def test_a_failed_driver_within_its_keep_time_is_kept_and_the_rest_is_said():
    verdict = _verdict(_driver("Failed", ended_ago=timedelta(hours=2), keep_seconds="86400"))
    assert not verdict.delete
    assert verdict.reason == "Failed 2h ago; kept 22h more"


def test_the_keep_time_counts_from_the_driver_end_not_the_pod_creation():
    # Created three days ago, ended a minute ago: it is kept.
    assert not _verdict(_driver("Failed", ended_ago=timedelta(minutes=1), keep_seconds="3600")).delete


def test_a_missing_or_unreadable_keep_time_means_the_operators_default_of_a_day():
    assert not _verdict(_driver("Failed", ended_ago=timedelta(hours=23), keep_seconds=None)).delete
    assert _verdict(_driver("Failed", ended_ago=timedelta(hours=25), keep_seconds="one day")).delete


def test_a_succeeded_driver_left_behind_gets_the_same_keep_time():
    assert not _verdict(_driver("Succeeded", ended_ago=timedelta(minutes=5))).delete
    assert _verdict(_driver("Succeeded", ended_ago=timedelta(hours=3))).delete


def test_without_a_container_end_time_the_last_condition_change_counts():
    pod = _driver("Failed")
    pod.status.conditions = [
        V1PodCondition(type="PodScheduled", status="True", last_transition_time=NOW - timedelta(hours=5)),
        V1PodCondition(type="Ready", status="False", last_transition_time=NOW - timedelta(minutes=30)),
    ]
    assert _verdict(pod).reason == "Failed 30m ago; kept 30m more"


def test_a_running_driver_whose_task_instance_finished_is_an_orphan():
    states = {("report", RUN, -1): {"aggregate": "failed"}}
    pod = _driver("Running")
    pod.metadata.uid = "uid-1"
    verdict = _verdict(pod, states)
    assert verdict.delete and verdict.uid == "uid-1"
    assert verdict.reason == f"Running, but task report.aggregate of run {RUN} is failed: nothing follows this driver any more"


def test_a_running_driver_whose_task_instance_is_active_is_kept():
    for state in ("running", "deferred", "queued", "scheduled", "up_for_retry", "restarting", None):
        verdict = _verdict(_driver("Running"), {("report", RUN, -1): {"aggregate": state}})
        assert not verdict.delete, state
    assert "is cleared, a try may follow it" in verdict.reason


def test_a_driver_whose_task_instance_this_airflow_does_not_know_is_left_alone():
    verdict = _verdict(_driver("Pending"), {("report", RUN, -1): {"other_task": "success"}})
    assert not verdict.delete
    assert verdict.reason == f"Pending; task report.aggregate of run {RUN} is not in this Airflow, left alone"
    assert not _verdict(_driver("Running"), {}).delete


def test_mapped_task_instances_are_looked_up_by_task_and_index():
    mapped = TaskTry("report", "aggregate", RUN, try_number=1, map_index=3)
    pod = _driver("Running", task_try=mapped)
    assert task_instance_of(pod) == TaskInstanceRef("report", "aggregate", RUN, 3)
    assert _verdict(pod, {("report", RUN, 3): {"aggregate": "success"}, ("report", RUN, 4): {"aggregate": "running"}}).delete
    assert not _verdict(pod, {("report", RUN, 3): {"aggregate": "running"}, ("report", RUN, -1): {"aggregate": "success"}}).delete
    assert "task report.aggregate[3] of run" in _verdict(pod, {("report", RUN, 3): {"aggregate": "running"}}).reason


def test_a_mapped_task_and_a_task_named_like_its_state_key_never_collide():
    # Airflow names mapped load[1] "load_1" in its states answer, like an unmapped task load_1.
    mapped = _driver("Running", task_try=TaskTry("report", "load", RUN, try_number=1, map_index=1))
    unmapped = _driver("Running", task_try=TaskTry("report", "load_1", RUN, try_number=1))
    answers = {-1: {RUN: {"load_1": "running", "load": "success"}}, 1: {RUN: {"load_1": "success"}}}
    hook = RecordingHook([mapped, unmapped])
    sweep_drivers(hook, "spark", lambda dag_id, run_ids, map_index: answers[map_index], deployment="prod", now=NOW)
    assert hook.deleted == [("spark", mapped.metadata.name)]


def test_drivers_being_deleted_and_pods_without_identity_are_not_touched():
    assert judge_drivers([_driver("Running", deleting=True)], now=NOW, task_states={}) == []
    anonymous = _driver("Running")
    anonymous.metadata.annotations = {}
    assert not _verdict(anonymous, {("report", RUN, -1): {"aggregate": "failed"}}).delete


def test_sweep_asks_airflow_once_per_dag_for_active_drivers_only_and_deletes_the_verdicts(caplog):
    orphan = _driver("Running")
    other_run = TaskTry("report", "aggregate", "manual__1", try_number=2)
    alive = _driver("Running", task_try=other_run)
    expired = _driver("Failed", task_try=TaskTry("ingest", "load", RUN, try_number=1), ended_ago=timedelta(days=2))
    hook = RecordingHook([orphan, alive, expired])
    lookups = []

    def lookup(dag_id, run_ids, map_index):
        lookups.append((dag_id, run_ids, map_index))
        return {RUN: {"aggregate": "success"}, "manual__1": {"aggregate": "running"}}

    with caplog.at_level(logging.INFO):
        result = sweep_drivers(hook, "spark", lookup, deployment="prod", now=NOW)
    assert hook.selectors == [("spark", f"{DRIVER_SELECTOR},sparkplane.dev/deployment=prod")]
    assert lookups == [("report", sorted([RUN, "manual__1"]), -1)]  # the Failed one needs no lookup
    assert hook.deleted == [("spark", orphan.metadata.name), ("spark", expired.metadata.name)]
    assert [k["pod"] for k in result["kept"]] == [alive.metadata.name]
    assert f"Deleted spark/{orphan.metadata.name} and what it owns: Running, but task" in caplog.text
    assert "Deleted 2 of 3 driver pod(s) in namespace spark; kept 1" in caplog.text


def test_a_dry_run_deletes_nothing_and_says_what_it_would_do(caplog):
    hook = RecordingHook([_driver("Failed", ended_ago=timedelta(days=2))])
    with caplog.at_level(logging.INFO):
        result = sweep_drivers(hook, "spark", lambda *_: {}, deployment="prod", now=NOW, dry_run=True)
    assert hook.deleted == []
    assert len(result["deleted"]) == 1 and result["dry_run"] is True
    assert "Would delete spark/" in caplog.text and "(dry run)" in caplog.text


def test_a_pod_that_changed_after_it_was_judged_is_kept_for_the_next_sweep(caplog):
    expired = _driver("Failed", ended_ago=timedelta(days=2))
    hook = RecordingHook([expired])
    hook.changed.add(expired.metadata.name)
    with caplog.at_level(logging.INFO):
        result = sweep_drivers(hook, "spark", lambda *_: {}, deployment="prod", now=NOW)
    assert hook.deleted == [] and result["kept"] == [{"pod": expired.metadata.name, "reason": "changed after it was judged"}]
    assert "it changed after it was judged; the next sweep judges it again" in caplog.text
