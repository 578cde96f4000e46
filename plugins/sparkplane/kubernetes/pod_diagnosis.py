"""Explain what a Spark pod is waiting for, or why it failed, from the pod and its events. Pure.

Input is what the Kubernetes API returns (``V1Pod`` and ``CoreV1Event`` model objects); output is
a sentence for the task log while the pod waits, or a ``Diagnosis`` (cause, fix) when it cannot
succeed. Waiting reasons that never resolve by themselves are named in ``FATAL_WAITING_REASONS``,
so the operator fails fast instead of burning its whole timeout.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sparkplane.diagnosis import SIGKILL_EXIT_CODE, Diagnosis
from sparkplane.kubernetes.pod_status import container_statuses, first_waiting, is_unschedulable, pod_conditions

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Event, V1ContainerStatus, V1Pod

#: Container waiting reasons that will not fix themselves: fail the task at once.
FATAL_WAITING_REASONS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError"}
)
# Substrings of the kubelet's pull error messages, which differ between runtimes and registries.
_NOT_FOUND_HINTS = ("not found", "manifest unknown", "name unknown", "404")
_AUTH_HINTS = ("unauthorized", "authentication required", "denied", "401", "403", "forbidden")


def describe_wait(pod: V1Pod, events: Sequence[CoreV1Event], *, now: datetime) -> str:
    """Return one line saying what the pod is waiting for, for a steady progress log."""
    name = pod.metadata.name
    age = _format_duration((now - pod.metadata.creation_timestamp).total_seconds())
    if not pod.spec.node_name:
        reason = _latest_message(events, reason="FailedScheduling")
        return f"{name} is Pending for {age}, not scheduled yet" + (f": {reason}" if reason else "")
    waiting = first_waiting(pod)
    if waiting is not None and waiting.state.waiting.reason == "ContainerCreating":
        pulling = _latest_event(events, reason="Pulling")
        if pulling is not None and _latest_event(events, reason="Pulled") is None:
            since = _format_duration((now - _event_time(pulling)).total_seconds())
            return f"{name}: pulling image {waiting.image} on node {pod.spec.node_name} for {since}"
    if waiting is not None:
        reason = waiting.state.waiting.reason or "waiting"
        return f"{name} on node {pod.spec.node_name}: container {waiting.name} is {reason} for {age}"
    return f"{name} on node {pod.spec.node_name} is {pod.status.phase} for {age}"


def explain_pod_failure(pod: V1Pod, events: Sequence[CoreV1Event]) -> Diagnosis | None:
    """Return why the pod cannot succeed, or None while nothing says it is hopeless."""
    for status in container_statuses(pod, init=True):
        waiting = status.state.waiting if status.state else None
        if waiting is not None and waiting.reason in FATAL_WAITING_REASONS:
            return _explain_waiting(pod, status, events)
        terminated = status.state.terminated if status.state else None
        if terminated is not None and terminated.exit_code != 0:
            return _explain_terminated(pod, status)
    unschedulable = _latest_message(events, reason="FailedScheduling")
    if unschedulable and is_unschedulable(pod):
        return Diagnosis(
            cause=f"Pod {pod.metadata.name} cannot be scheduled: {unschedulable}",
            fix="Lower the requested cores/memory (driver/executor resources) or add nodes that can hold them.",
        )
    return None


def explain_unconfirmed_deletion(pod: V1Pod, *, now: datetime, after_seconds: float) -> Diagnosis | None:
    """Return why a pod whose deletion its node has not confirmed is lost, or None.

    A deleted pod stays, with ``deletionTimestamp`` set to the end of its grace period, until its
    node's kubelet confirms the container stopped. A node that is NotReady or unreachable (the
    taint manager evicts its pods) never confirms: the pod stays, deleting, for as long as the
    node is gone, and whether the driver still runs there is unknown. ``after_seconds`` past the
    grace period, the pod is taken for lost.
    """
    grace_ended = pod.metadata.deletion_timestamp
    if grace_ended is None or (now - grace_ended).total_seconds() < after_seconds:
        return None
    node = pod.spec.node_name or "(none)"
    disruption = next((c for c in pod_conditions(pod) if c.type == "DisruptionTarget" and c.status == "True"), None)
    why = f" ({disruption.reason}: {disruption.message})" if disruption is not None else ""
    return Diagnosis(
        cause=f"Driver pod {pod.metadata.name} was deleted{why}, and its node {node} has not confirmed it "
        f"{_format_duration((now - grace_ended).total_seconds())} after the grace period ended: the node is NotReady "
        "or unreachable, so whether the driver still runs there is unknown.",
        fix=f"The task's retry starts a new driver (a driver being deleted is never followed). The old pod goes once "
        f"node {node} is back; if the node is gone for good, remove it: kubectl delete node {node}",
    )


def _explain_waiting(pod: V1Pod, status: V1ContainerStatus, events: Sequence[CoreV1Event]) -> Diagnosis:
    reason = status.state.waiting.reason
    message = status.state.waiting.message or _latest_message(events, reason="Failed") or ""
    node = pod.spec.node_name
    if reason in ("ErrImagePull", "ImagePullBackOff"):
        lowered = message.lower()
        if any(hint in lowered for hint in _NOT_FOUND_HINTS):
            return Diagnosis(
                cause=f"Image {status.image} does not exist in its registry (node {node}): {message}",
                fix="Check the image name and tag; build and push it with image/build, or fix the operator's image argument.",
            )
        if any(hint in lowered for hint in _AUTH_HINTS):
            return Diagnosis(
                cause=f"Node {node} is not allowed to pull {status.image}: {message}",
                fix="Give the pod an imagePullSecret for the registry, or make the image readable to the nodes.",
            )
        return Diagnosis(
            cause=f"Node {node} could not pull {status.image} ({reason}): {message}".rstrip(": "),
            fix="Check that the registry is reachable from the node; the pod's events show each attempt.",
        )
    return Diagnosis(
        cause=f"Container {status.name} of pod {pod.metadata.name} cannot start ({reason}): {message}".rstrip(": "),
        fix="Check the referenced ConfigMaps, Secrets and volumes exist in the namespace (kubectl describe pod).",
    )


def _explain_terminated(pod: V1Pod, status: V1ContainerStatus) -> Diagnosis:
    terminated = status.state.terminated
    if terminated.reason == "OOMKilled" or terminated.exit_code == SIGKILL_EXIT_CODE:
        return Diagnosis(
            cause=f"Container {status.name} of pod {pod.metadata.name} was killed for using more memory "
            f"than its limit ({terminated.reason or 'SIGKILL'}, exit {terminated.exit_code}).",
            fix="Raise spark.kubernetes.memoryOverheadFactor or spark.{driver,executor}.memoryOverhead "
            "(Python workers live outside the JVM heap), or the driver/executor memory.",
        )
    return Diagnosis(
        cause=f"Container {status.name} of pod {pod.metadata.name} exited with code {terminated.exit_code}"
        + (f" ({terminated.reason})" if terminated.reason else "")
        + ".",
        fix="Read the driver log above for the first error; fix the job or its input, then clear the task.",
    )


def _event_time(event: CoreV1Event) -> datetime:
    return event.last_timestamp or event.event_time or event.first_timestamp or event.metadata.creation_timestamp


def _latest_event(events: Sequence[CoreV1Event], *, reason: str) -> CoreV1Event | None:
    matching = [event for event in events if event.reason == reason]
    return max(matching, key=_event_time) if matching else None


def _latest_message(events: Sequence[CoreV1Event], *, reason: str) -> str | None:
    event = _latest_event(events, reason=reason)
    return event.message.strip() if event is not None and event.message else None


def _format_duration(seconds: float) -> str:
    minutes, whole_seconds = divmod(max(0, int(seconds)), 60)
    return f"{minutes}m{whole_seconds:02d}s" if minutes else f"{whole_seconds}s"


def failed_containers(pods: Sequence[V1Pod]) -> list[tuple[V1Pod, V1ContainerStatus]]:
    """Return each (pod, container status) that ended with a non-zero exit code or was OOMKilled."""
    failed = []
    for pod in pods:
        for status in container_statuses(pod, init=True):
            terminated = status.state.terminated if status.state else None
            if terminated is not None and (terminated.exit_code != 0 or terminated.reason == "OOMKilled"):
                failed.append((pod, status))
    return failed


def describe_failed_container(pod: V1Pod, status: V1ContainerStatus) -> str:
    """Return one line: which pod, on which node, ended how."""
    terminated = status.state.terminated
    reason = f"{terminated.reason}, " if terminated.reason else ""
    return f"{pod.metadata.name} on node {pod.spec.node_name}: {reason}exit code {terminated.exit_code}"
