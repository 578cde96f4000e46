"""Where a puller pod is, read from its status and the kubelet's events, against the runner's clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from kubernetes.client import (
    CoreV1Event,
    V1ContainerState,
    V1ContainerStateRunning,
    V1ContainerStateTerminated,
    V1ContainerStateWaiting,
    V1ContainerStatus,
    V1ObjectMeta,
    V1ObjectReference,
    V1Pod,
    V1PodCondition,
    V1PodSpec,
    V1PodStatus,
)

from sparkplane.prepull.labels import NODE_ANNOTATION
from sparkplane.prepull.progress import (
    ALREADY_PRESENT,
    CANNOT_SCHEDULE,
    FAILED,
    PULLED,
    PULLING,
    TIMED_OUT,
    WAITING_TO_SCHEDULE,
    PullerProgress,
    classify_puller,
)

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
IMAGE = "registry.example.com:5000/sparkplane/spark@sha256:" + "ab" * 32
SCHEDULED = V1PodCondition(type="PodScheduled", status="True", last_transition_time=T0 + timedelta(seconds=1))
UNSCHEDULABLE = V1PodCondition(type="PodScheduled", status="False", reason="Unschedulable", last_transition_time=T0,
                               message="0/16 nodes are available: 1 Too many pods.")  # fmt: skip


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _pod(
    state: V1ContainerState | None = None,
    *,
    conditions: list[V1PodCondition] | None = None,
    phase: str = "Pending",
    reason: str | None = None,
    message: str | None = None,
) -> V1Pod:
    statuses = [V1ContainerStatus(name="pull", image=IMAGE, image_id="", ready=False, restart_count=0, state=state)]
    return V1Pod(
        metadata=V1ObjectMeta(name="sparkplane-prepull-x", creation_timestamp=T0, annotations={NODE_ANNOTATION: "node-17"}),
        spec=V1PodSpec(containers=[]),
        status=V1PodStatus(phase=phase, reason=reason, message=message, conditions=conditions,
                           container_statuses=statuses if state else None),
    )  # fmt: skip


def _event(reason: str, message: str, at: float) -> CoreV1Event:
    return CoreV1Event(metadata=V1ObjectMeta(name=f"x.{reason}"), involved_object=V1ObjectReference(kind="Pod", name="x"),
                       reason=reason, message=message, last_timestamp=_at(at))  # fmt: skip


def _waiting(reason: str, message: str | None = None) -> V1ContainerState:
    return V1ContainerState(waiting=V1ContainerStateWaiting(reason=reason, message=message))


def _ran(exit_code: int = 0, *, started: float = 41) -> V1ContainerState:
    return V1ContainerState(terminated=V1ContainerStateTerminated(exit_code=exit_code, started_at=_at(started),
                                                                  finished_at=_at(started)))  # fmt: skip


PULLING_EVENT = _event("Pulling", f'Pulling image "{IMAGE}"', 2)


def test_a_pod_the_scheduler_has_not_placed_yet_waits_with_its_message():
    progress = classify_puller(_pod(conditions=[UNSCHEDULABLE]), [], now=_at(30))
    assert (progress.state, progress.message) == (WAITING_TO_SCHEDULE, "0/16 nodes are available: 1 Too many pods.")
    assert progress.line(_at(30)) == "waiting to be scheduled on node-17 for 30 s: 0/16 nodes are available: 1 Too many pods."
    assert classify_puller(_pod(), [], now=_at(1)).state == WAITING_TO_SCHEDULE


def test_a_pod_unschedulable_beyond_the_grace_cannot_schedule():
    progress = classify_puller(_pod(conditions=[UNSCHEDULABLE]), [], now=_at(61), unschedulable_grace_seconds=60)
    assert progress.state == CANNOT_SCHEDULE and progress.final
    assert progress.line(_at(61)).startswith("cannot schedule on node-17 for 61 s: 0/16 nodes")


def test_a_scheduled_pod_pulls_since_the_kubelets_pulling_event():
    progress = classify_puller(_pod(_waiting("ContainerCreating"), conditions=[SCHEDULED]), [PULLING_EVENT], now=_at(42))
    assert (progress.state, progress.since) == (PULLING, _at(2))
    assert progress.line(_at(42)) == "pulling on node-17 for 40 s"


@pytest.mark.parametrize(
    "message",
    [
        f'Successfully pulled image "{IMAGE}" in 38.5s (38.5s including waiting). Image size: 1484148106 bytes.',
        f'Successfully pulled image "{IMAGE}" in 38.5s (1m2s including waiting)',
        f'Successfully pulled image "{IMAGE}" in 38.5s',
    ],
)
def test_a_pull_takes_the_seconds_the_kubelet_reports(message):
    pod = _pod(_ran(), conditions=[SCHEDULED], phase="Succeeded")
    progress = classify_puller(pod, [_event("Pulled", message, 40.5), PULLING_EVENT], now=_at(50))
    assert (progress.state, progress.seconds) == (PULLED, 38.5)
    assert progress.line(_at(50)) == "pulled on node-17 in 38.5 s"


def test_a_pull_without_a_duration_counts_from_pulling_to_the_container_start():
    events = [PULLING_EVENT, _event("Pulled", f'Successfully pulled image "{IMAGE}"', 40)]
    running = V1ContainerState(running=V1ContainerStateRunning(started_at=_at(41)))
    assert classify_puller(_pod(running, conditions=[SCHEDULED]), events, now=_at(50)).seconds == 39.0


def test_an_image_on_the_node_already_is_already_present():
    events = [_event("Pulled", f'Container image "{IMAGE}" already present on machine', 2)]
    progress = classify_puller(_pod(_ran(), conditions=[SCHEDULED], phase="Succeeded"), events, now=_at(5))
    assert progress.state == ALREADY_PRESENT and progress.line(_at(5)) == "already present on node-17"


@pytest.mark.parametrize(
    "state",
    [_ran(128), _waiting("CreateContainerError", 'executable file "true" not found in $PATH')],
)
def test_a_container_that_was_created_proves_the_image_whatever_its_exit(state):
    events = [_event("Pulled", f'Container image "{IMAGE}" already present on machine', 2)]
    assert classify_puller(_pod(state, conditions=[SCHEDULED]), events, now=_at(5)).state == ALREADY_PRESENT


def test_a_created_container_without_events_counts_as_pulled_in_unknown_time():
    progress = classify_puller(_pod(_ran(), conditions=[SCHEDULED], phase="Succeeded"), [], now=_at(5))
    assert (progress.state, progress.seconds) == (PULLED, None)
    assert progress.line(_at(5)) == "pulled on node-17 (time unknown)"


@pytest.mark.parametrize("reason", ["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"])
def test_a_pull_the_kubelet_gives_up_on_fails_with_its_words(reason):
    state = _waiting(reason, "failed to resolve reference: not found")
    progress = classify_puller(_pod(state, conditions=[SCHEDULED]), [PULLING_EVENT], now=_at(10))
    assert progress.state == FAILED and progress.final
    assert progress.line(_at(10)) == f"failed on node-17: {reason}: failed to resolve reference: not found"


def test_a_failure_without_a_status_message_takes_the_kubelets_failed_event():
    failed = _event("Failed", "Failed to pull image: 401 Unauthorized", 5)
    progress = classify_puller(_pod(_waiting("ErrImagePull"), conditions=[SCHEDULED]), [failed], now=_at(10))
    assert progress.message == "ErrImagePull: Failed to pull image: 401 Unauthorized"


def test_a_pod_the_kubelet_rejected_fails_with_its_reason():
    pod = _pod(conditions=[SCHEDULED], phase="Failed", reason="OutOfcpu", message="Node didn't have enough resource: cpu")
    assert classify_puller(pod, [], now=_at(5)).message == "OutOfcpu: Node didn't have enough resource: cpu"


def test_a_pull_longer_than_the_timeout_times_out_by_the_callers_clock():
    pod = _pod(_waiting("ContainerCreating"), conditions=[SCHEDULED])
    assert classify_puller(pod, [PULLING_EVENT], now=_at(599), timeout_seconds=600).state == PULLING
    progress = classify_puller(pod, [PULLING_EVENT], now=_at(601), timeout_seconds=600)
    assert progress.state == TIMED_OUT and progress.line(_at(601)) == "timed out on node-17 after 601 s: still pulling"


def test_a_pod_past_its_active_deadline_timed_out():
    pod = _pod(_waiting("ContainerCreating"), conditions=[SCHEDULED], phase="Failed", reason="DeadlineExceeded",
               message="Pod was active on the node longer than the specified deadline")  # fmt: skip
    assert classify_puller(pod, [PULLING_EVENT], now=_at(901)).state == TIMED_OUT


def test_the_node_is_read_from_the_binding_when_the_annotation_is_missing():
    pod = V1Pod(metadata=V1ObjectMeta(name="p", creation_timestamp=T0), spec=V1PodSpec(containers=[], node_name="node-3"))
    assert classify_puller(pod, [], now=_at(1)).node == "node-3"
    assert PullerProgress("node-3", PULLING).line(_at(1)) == "pulling on node-3"
