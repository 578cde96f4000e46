from __future__ import annotations

from datetime import timedelta

from harness.pod_models import CREATED, DRIVER, event, pod, terminated, waiting
from kubernetes.client import V1ContainerState, V1PodCondition

from sparkplane.kubernetes.pod_diagnosis import (
    describe_failed_container,
    describe_wait,
    explain_pod_failure,
    explain_unconfirmed_deletion,
    failed_containers,
)

IMAGE = "127.0.0.1:5000/sparkplane/spark:abc123"


def _pod(*, node: str | None = "node-1", state: V1ContainerState | None = None, conditions=None):
    containers = {DRIVER: state} if state else None
    return pod("report-driver", namespace="spark", node=node, phase="Pending", containers=containers, image=IMAGE,
               conditions=conditions)  # fmt: skip


def _event(reason: str, message: str, *, after_seconds: int = 0):
    return event(reason, message, about="report-driver", at=CREATED + timedelta(seconds=after_seconds))


_waiting = waiting


def test_wait_while_pulling_names_image_node_and_duration():
    pod = _pod(state=_waiting("ContainerCreating"))
    line = describe_wait(pod, [_event("Pulling", f'Pulling image "{IMAGE}"', after_seconds=5)],
                         now=CREATED + timedelta(seconds=75))
    assert line == f"report-driver: pulling image {IMAGE} on node node-1 for 1m10s"


def test_wait_while_unscheduled_quotes_the_scheduler():
    message = "0/5 nodes are available: 5 Insufficient memory."
    line = describe_wait(_pod(node=None), [_event("FailedScheduling", message)], now=CREATED + timedelta(seconds=30))
    assert line == f"report-driver is Pending for 30s, not scheduled yet: {message}"


def test_image_not_found_fails_fast_with_the_image_name():
    message = f'failed to resolve reference "{IMAGE}": {IMAGE}: not found'
    diagnosis = explain_pod_failure(_pod(state=_waiting("ErrImagePull", message)), [])
    assert diagnosis.cause.startswith(f"Image {IMAGE} does not exist in its registry (node node-1)")
    assert "image/build" in diagnosis.fix


def test_image_pull_denied_asks_for_pull_credentials():
    diagnosis = explain_pod_failure(_pod(state=_waiting("ImagePullBackOff", "pull access denied, 401 Unauthorized")), [])
    assert "not allowed to pull" in diagnosis.cause and "imagePullSecret" in diagnosis.fix


def test_other_pull_errors_point_at_the_registry():
    diagnosis = explain_pod_failure(_pod(state=_waiting("ErrImagePull", "dial tcp 127.0.0.1:5000: connect: connection refused")), [])
    assert "could not pull" in diagnosis.cause and "reachable" in diagnosis.fix


def test_oom_killed_container_suggests_memory_overhead():
    state = terminated(137, reason="OOMKilled")
    diagnosis = explain_pod_failure(_pod(state=state), [])
    assert "OOMKilled, exit 137" in diagnosis.cause and "memoryOverhead" in diagnosis.fix


def test_unschedulable_pod_says_what_no_node_has():
    condition = V1PodCondition(type="PodScheduled", status="False", reason="Unschedulable")
    pod = _pod(node=None, conditions=[condition])
    message = "0/11 nodes are available: 11 Insufficient memory."
    diagnosis = explain_pod_failure(pod, [_event("FailedScheduling", message)])
    assert diagnosis.cause == f"Pod report-driver cannot be scheduled: {message}"


def test_a_pod_still_starting_is_not_a_failure():
    assert explain_pod_failure(_pod(state=_waiting("ContainerCreating")), []) is None


def _ended(name: str, exit_code: int, reason: str | None):
    return pod(name, node="node-1", containers={"spark-kubernetes-executor": terminated(exit_code, reason=reason)})


def test_only_executors_that_failed_are_in_the_digest():
    pods = [_ended("exec-1", 0, "Completed"), _ended("exec-2", 137, "OOMKilled"), _ended("exec-3", 1, "Error")]
    lines = [describe_failed_container(pod, status) for pod, status in failed_containers(pods)]
    assert lines == [
        "exec-2 on node node-1: OOMKilled, exit code 137",
        "exec-3 on node node-1: Error, exit code 1",
    ]


def test_a_deletion_its_node_does_not_confirm_is_a_lost_driver_once_overdue():
    evicted = V1PodCondition(type="DisruptionTarget", status="True", reason="DeletionByTaintManager",
                             message="Taint manager: deleting due to NoExecute taint")  # fmt: skip
    driver = _pod(conditions=[evicted])
    driver.metadata.deletion_timestamp = CREATED + timedelta(seconds=30)  # the end of its grace period
    assert explain_unconfirmed_deletion(driver, now=CREATED + timedelta(seconds=80), after_seconds=60) is None
    lost = explain_unconfirmed_deletion(driver, now=CREATED + timedelta(seconds=95), after_seconds=60)
    assert lost.cause == (
        "Driver pod report-driver was deleted (DeletionByTaintManager: Taint manager: deleting due to NoExecute "
        "taint), and its node node-1 has not confirmed it 1m05s after the grace period ended: the node is NotReady "
        "or unreachable, so whether the driver still runs there is unknown."
    )
    assert "kubectl delete node node-1" in lost.fix


def test_a_pod_not_being_deleted_is_not_lost():
    assert explain_unconfirmed_deletion(_pod(), now=CREATED + timedelta(days=1), after_seconds=60) is None
