"""Which notebook executors the sweep deletes, and what it says about each (pure, with a recording hook)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from harness.pod_models import RecordingHook, running, terminated
from harness.pod_models import pod as build_pod
from kubernetes.client import V1ConfigMap, V1ObjectMeta, V1Pod

from sparkplane.kubernetes.identity import EXECUTOR_CONTAINER_NAME
from sparkplane.kubernetes.notebook_sweep import (
    judge_notebook_executors,
    judge_notebook_sessions,
    sweep_notebook_executors,
    sweep_notebook_sessions,
    sweep_notebooks,
)

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


def _executor(name: str, phase: str, *, created_ago: timedelta = 3 * HOUR, ended_ago: timedelta | None = None,
              deleting: bool = False, session: str = "0123456789ab") -> V1Pod:  # fmt: skip
    if ended_ago is not None:
        containers = {EXECUTOR_CONTAINER_NAME: terminated(1, finished_at=NOW - ended_ago)}
    elif phase == "Running":
        containers = {EXECUTOR_CONTAINER_NAME: running(NOW - created_ago)}
    else:
        containers = None
    return build_pod(name, phase=phase, containers=containers, created=NOW - created_ago,
                     labels={"spark-role": "executor", "sparkplane.dev/notebook": "true",
                             "sparkplane.dev/notebook-session": session},
                     deleted_at=NOW if deleting else None)  # fmt: skip


def _verdicts(*pods: V1Pod, keep: timedelta = HOUR) -> dict[str, tuple[bool, str]]:
    return {v.pod_name: (v.delete, v.reason) for v in judge_notebook_executors(pods, now=NOW, keep=keep)}


def test_a_finished_executor_past_the_keep_time_goes_and_one_within_it_stays():
    verdicts = _verdicts(_executor("old", "Failed", ended_ago=2 * HOUR), _executor("new", "Succeeded", ended_ago=HOUR / 2))
    assert verdicts == {
        "old": (True, "Failed 2h ago; its keep time of 1h is over"),
        "new": (False, "Succeeded 30m ago; kept 30m more"),
    }


def test_a_pending_executor_counts_from_its_creation_and_a_running_one_is_left_to_end_by_itself():
    verdicts = _verdicts(_executor("stuck", "Pending", created_ago=90 * timedelta(minutes=1)),
                         _executor("starting", "Pending", created_ago=timedelta(minutes=5)),
                         _executor("working", "Running", created_ago=5 * HOUR))  # fmt: skip
    assert verdicts == {
        "stuck": (True, "Pending for 1h 30m; its keep time of 1h is over"),
        "starting": (False, "Pending for 5m; kept 55m more"),
        "working": (False, "Running; an executor ends by itself once its notebook is gone"),
    }


def test_a_keep_time_of_zero_takes_every_finished_executor_and_none_being_deleted_is_judged():
    verdicts = _verdicts(_executor("just-ended", "Succeeded", ended_ago=timedelta(0)),
                         _executor("going", "Failed", ended_ago=2 * HOUR, deleting=True), keep=timedelta(0))  # fmt: skip
    assert verdicts == {"just-ended": (True, "Succeeded 0s ago; its keep time of 0s is over")}


def test_the_sweep_lists_notebook_executors_only_deletes_the_verdicts_and_says_so(caplog):
    old, new = _executor("old", "Failed", ended_ago=2 * HOUR), _executor("new", "Succeeded", ended_ago=HOUR / 2)
    changed = _executor("changed", "Failed", ended_ago=2 * HOUR)
    hook = RecordingHook([old, new, changed])
    hook.changed.add("changed")
    with caplog.at_level(logging.INFO):
        result = sweep_notebook_executors(hook, "spark", now=NOW, keep=HOUR)
    assert hook.selectors == [("spark", "spark-role=executor,sparkplane.dev/notebook=true")]
    assert hook.deleted == [("spark", "old")]
    assert [d["pod"] for d in result["deleted"]] == ["old"]
    assert [k["pod"] for k in result["kept"]] == ["new", "changed"]
    assert "Deleted notebook executor spark/old: Failed 2h ago; its keep time of 1h is over" in caplog.text
    assert "Keeping notebook executor spark/changed: changed after it was judged" in caplog.text
    assert "Deleted 1 of 3 notebook executor pod(s) in namespace spark; kept 2" in caplog.text


def test_a_dry_run_deletes_nothing_and_says_what_it_would_do(caplog):
    hook = RecordingHook([_executor("old", "Failed", ended_ago=2 * HOUR)])
    with caplog.at_level(logging.INFO):
        result = sweep_notebook_executors(hook, "spark", now=NOW, keep=HOUR, dry_run=True)
    assert hook.deleted == [] and result["dry_run"] is True and len(result["deleted"]) == 1
    assert "Would delete notebook executor spark/old (dry run): Failed 2h ago" in caplog.text
    assert "Would delete 1 of 1 notebook executor pod(s)" in caplog.text


def _anchor(session: str, *, created_ago: timedelta, deleting: bool = False) -> V1ConfigMap:
    return V1ConfigMap(metadata=V1ObjectMeta(
        name=f"notebook-{session}", namespace="spark", uid=f"uid-{session}", creation_timestamp=NOW - created_ago,
        labels={"sparkplane.dev/notebook": "true", "sparkplane.dev/notebook-session": session},
        deletion_timestamp=NOW if deleting else None))  # fmt: skip


def test_a_sessions_anchor_goes_once_no_executor_of_it_is_live_and_its_keep_time_is_over():
    anchors = [_anchor("a" * 12, created_ago=3 * HOUR), _anchor("b" * 12, created_ago=3 * HOUR),
               _anchor("c" * 12, created_ago=3 * HOUR), _anchor("d" * 12, created_ago=HOUR / 2),
               _anchor("e" * 12, created_ago=3 * HOUR, deleting=True)]  # fmt: skip
    executors = [
        _executor("a-1", "Running", session="a" * 12),
        _executor("b-1", "Pending", created_ago=timedelta(minutes=5), session="b" * 12),
        _executor("c-1", "Failed", ended_ago=2 * HOUR, session="c" * 12),  # the kernel died two hours ago
        _executor("c-2", "Running", session="c" * 12, deleting=True),
    ]
    verdicts = {v.pod_name: (v.delete, v.reason) for v in judge_notebook_sessions(anchors, executors, now=NOW, keep=HOUR)}
    assert verdicts == {
        "notebook-aaaaaaaaaaaa": (False, "started 3h ago; an executor of it is live"),
        "notebook-bbbbbbbbbbbb": (False, "started 3h ago; an executor of it is live"),
        "notebook-cccccccccccc": (True, "started 3h ago and no executor of it is live; its keep time of 1h is over"),
        "notebook-dddddddddddd": (False, "started 30m ago; kept 30m more"),
    }


def test_the_session_sweep_deletes_dead_sessions_anchors_by_uid_and_says_so(caplog):
    hook = RecordingHook([_executor("a-1", "Running", session="a" * 12)],
                         [_anchor("a" * 12, created_ago=3 * HOUR), _anchor("c" * 12, created_ago=3 * HOUR),
                          _anchor("f" * 12, created_ago=3 * HOUR)])  # fmt: skip
    hook.changed.add("notebook-ffffffffffff")
    with caplog.at_level(logging.INFO):
        dry = sweep_notebook_sessions(hook, "spark", now=NOW, keep=HOUR, dry_run=True)
        assert hook.deleted == [] and len(dry["deleted"]) == 2
        result = sweep_notebook_sessions(hook, "spark", now=NOW, keep=HOUR)
    assert hook.selectors[:2] == [("spark", "sparkplane.dev/notebook=true,sparkplane.dev/notebook-session"),
                                  ("spark", "spark-role=executor,sparkplane.dev/notebook=true")]  # fmt: skip
    assert hook.deleted == [("spark", "notebook-cccccccccccc")]
    assert [d["session"] for d in result["deleted"]] == ["notebook-cccccccccccc"]
    assert "Would delete notebook session spark/notebook-cccccccccccc (dry run)" in caplog.text
    assert ("Deleted notebook session spark/notebook-cccccccccccc and its secret: started 3h ago and no executor of it "
            "is live; its keep time of 1h is over") in caplog.text
    assert "Keeping notebook session spark/notebook-ffffffffffff: gone, or another object of that name" in caplog.text
    assert "Deleted 1 of 3 notebook session(s) in namespace spark; kept 2" in caplog.text


def test_one_sweep_takes_the_executors_first_then_the_sessions_and_returns_both():
    hook = RecordingHook([_executor("c-1", "Failed", ended_ago=2 * HOUR, session="c" * 12)],
                         [_anchor("c" * 12, created_ago=3 * HOUR)])  # fmt: skip
    result = sweep_notebooks(hook, "spark", now=NOW, keep=HOUR)
    assert hook.deleted == [("spark", "c-1"), ("spark", "notebook-cccccccccccc")]
    assert [d["pod"] for d in result["executors"]["deleted"]] == ["c-1"]
    assert [d["session"] for d in result["sessions"]["deleted"]] == ["notebook-cccccccccccc"]
