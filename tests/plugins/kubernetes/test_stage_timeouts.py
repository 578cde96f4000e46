from __future__ import annotations

from datetime import datetime, timedelta, timezone

from kubernetes.client import (
    V1ContainerState,
    V1ContainerStateRunning,
    V1ContainerStateWaiting,
    V1ContainerStatus,
    V1ObjectMeta,
    V1Pod,
    V1PodCondition,
    V1PodSpec,
    V1PodStatus,
)

from sparkplane.pod_stages import FollowTimeouts, exceeded_stage_timeout

CREATED = datetime(2026, 11, 25, 3, 0, 0, tzinfo=timezone.utc)
DRIVER = "spark-kubernetes-driver"
LIMITS = FollowTimeouts(scheduling_seconds=60, image_pull_seconds=120, start_seconds=300, run_seconds=600)


def _pod(*, node: str | None = None, scheduled_after: int | None = None, state: V1ContainerState | None = None) -> V1Pod:
    conditions = None
    if scheduled_after is not None:
        conditions = [V1PodCondition(type="PodScheduled", status="True",
                                     last_transition_time=CREATED + timedelta(seconds=scheduled_after))]
    statuses = [V1ContainerStatus(name=DRIVER, image="i", image_id="", ready=False, restart_count=0, state=state)] \
        if state else None
    return V1Pod(metadata=V1ObjectMeta(name="d", creation_timestamp=CREATED), spec=V1PodSpec(containers=[], node_name=node),
                 status=V1PodStatus(phase="Pending", conditions=conditions, container_statuses=statuses))


def _at(seconds: int) -> datetime:
    return CREATED + timedelta(seconds=seconds)


CREATING = V1ContainerState(waiting=V1ContainerStateWaiting(reason="ContainerCreating"))


def test_a_pod_without_a_node_times_out_on_scheduling_only():
    assert exceeded_stage_timeout(_pod(), DRIVER, LIMITS, now=_at(59)) is None
    assert "(scheduling timeout)" in exceeded_stage_timeout(_pod(), DRIVER, LIMITS, now=_at(61))


def test_a_slow_pull_is_counted_from_scheduling_not_from_creation():
    pulling = _pod(node="n", scheduled_after=50, state=CREATING)
    assert exceeded_stage_timeout(pulling, DRIVER, LIMITS, now=_at(169)) is None
    assert "within 120s of scheduling (image pull timeout)" in exceeded_stage_timeout(pulling, DRIVER, LIMITS, now=_at(171))


def test_a_container_that_never_starts_hits_the_start_timeout():
    backing_off = _pod(node="n", scheduled_after=1, state=V1ContainerState(
        waiting=V1ContainerStateWaiting(reason="CreateContainerConfigError")))
    assert "(start timeout)" in exceeded_stage_timeout(backing_off, DRIVER, LIMITS, now=_at(301))


def test_the_run_is_timed_from_the_containers_start():
    running = _pod(node="n", scheduled_after=1, state=V1ContainerState(running=V1ContainerStateRunning(started_at=_at(200))))
    assert exceeded_stage_timeout(running, DRIVER, LIMITS, now=_at(799)) is None
    assert "after 600s (run timeout)" in exceeded_stage_timeout(running, DRIVER, LIMITS, now=_at(801))


def test_no_limit_means_no_timeout():
    running = _pod(node="n", state=V1ContainerState(running=V1ContainerStateRunning(started_at=_at(1))))
    assert exceeded_stage_timeout(running, DRIVER, FollowTimeouts(), now=_at(10**6)) is None
