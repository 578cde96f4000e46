from __future__ import annotations

from datetime import datetime, timedelta

from harness.pod_models import CREATED, DRIVER, pod, scheduled, waiting
from harness.pod_models import running as running_since
from kubernetes.client import V1ContainerState

from sparkplane.kubernetes.stage_timeouts import FollowTimeouts, exceeded_stage_timeout

LIMITS = FollowTimeouts(scheduling_seconds=60, image_pull_seconds=120, start_seconds=300, run_seconds=600)


def _pod(*, node: str | None = None, scheduled_after: int | None = None, state: V1ContainerState | None = None):
    conditions = [scheduled(CREATED + timedelta(seconds=scheduled_after))] if scheduled_after is not None else None
    return pod("d", node=node, phase="Pending", conditions=conditions, containers={DRIVER: state} if state else None)


def _at(seconds: int) -> datetime:
    return CREATED + timedelta(seconds=seconds)


CREATING = waiting("ContainerCreating")


def test_a_pod_without_a_node_times_out_on_scheduling_only():
    assert exceeded_stage_timeout(_pod(), DRIVER, LIMITS, now=_at(59)) is None
    assert "(scheduling timeout)" in exceeded_stage_timeout(_pod(), DRIVER, LIMITS, now=_at(61))


def test_a_slow_pull_is_counted_from_scheduling_not_from_creation():
    pulling = _pod(node="n", scheduled_after=50, state=CREATING)
    assert exceeded_stage_timeout(pulling, DRIVER, LIMITS, now=_at(169)) is None
    assert "within 120s of scheduling (image pull timeout)" in exceeded_stage_timeout(pulling, DRIVER, LIMITS, now=_at(171))


def test_a_container_that_never_starts_hits_the_start_timeout():
    backing_off = _pod(node="n", scheduled_after=1, state=waiting("CreateContainerConfigError"))
    assert "(start timeout)" in exceeded_stage_timeout(backing_off, DRIVER, LIMITS, now=_at(301))


def test_the_run_is_timed_from_the_containers_start():
    running = _pod(node="n", scheduled_after=1, state=running_since(_at(200)))
    assert exceeded_stage_timeout(running, DRIVER, LIMITS, now=_at(799)) is None
    assert "after 600s (run timeout)" in exceeded_stage_timeout(running, DRIVER, LIMITS, now=_at(801))


def test_no_limit_means_no_timeout():
    running = _pod(node="n", state=running_since(_at(1)))
    assert exceeded_stage_timeout(running, DRIVER, FollowTimeouts(), now=_at(10**6)) is None
