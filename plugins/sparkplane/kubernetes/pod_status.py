"""Every fact the platform reads from a pod's status: phase, containers, conditions, times. Pure.

Input is what the Kubernetes API returns (``V1Pod`` and ``CoreV1Event`` model objects). The
follower, the launcher, the diagnosis and the sweep read pod status only through these helpers,
so a status field missing on a pod that has just been created is handled in one place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Event, V1ContainerStatus, V1Pod, V1PodCondition

POD_PENDING = "Pending"
POD_SUCCEEDED = "Succeeded"
POD_FAILED = "Failed"
POD_TERMINAL_PHASES = frozenset({POD_SUCCEEDED, POD_FAILED})

#: The kubelet's words: 'Successfully pulled image "X" in 1.234s (1.234s including waiting)...'.
_PULLED_IN = re.compile(r"Successfully pulled image \S+ in (?P<duration>[\dhmsµun.]+)")
_GO_DURATION_PART = re.compile(r"(?P<number>\d+(?:\.\d+)?)(?P<unit>h|ms|m|s|µs|us|ns)")
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}


def phase(pod: V1Pod) -> str | None:
    """Return the pod's phase, or None before the API server has set one."""
    return pod.status.phase if pod.status else None


def container_statuses(pod: V1Pod, *, init: bool = False) -> list[V1ContainerStatus]:
    """Return the pod's container statuses (init containers' first, when ``init``)."""
    status = pod.status
    if status is None:
        return []
    init_statuses = (status.init_container_statuses or []) if init else []
    return [*init_statuses, *(status.container_statuses or [])]


def pod_conditions(pod: V1Pod) -> list[V1PodCondition]:
    """Return the pod's conditions (PodScheduled, Initialized, Ready, ...)."""
    return list(pod.status.conditions or []) if pod.status else []


def container_status(pod: V1Pod, container: str) -> V1ContainerStatus | None:
    """Return the named container's status, or None."""
    return next((s for s in container_statuses(pod) if s.name == container), None)


def container_started(pod: V1Pod, container: str) -> bool:
    """Return whether the container runs or ran (its log can be read)."""
    status = container_status(pod, container)
    return bool(status and status.state and (status.state.running or status.state.terminated))


def container_terminated(pod: V1Pod, container: str) -> bool:
    """Return whether the container has ended."""
    status = container_status(pod, container)
    return bool(status and status.state and status.state.terminated)


def container_started_at(pod: V1Pod, container: str) -> datetime | None:
    """Return when the container started, if it did."""
    status = container_status(pod, container)
    if not status or not status.state:
        return None
    if status.state.running:
        return status.state.running.started_at
    if status.state.terminated:
        return status.state.terminated.started_at
    return None


def container_finished_at(pod: V1Pod, container: str) -> datetime | None:
    """Return when the container ended, if it did."""
    status = container_status(pod, container)
    terminated = status.state.terminated if status and status.state else None
    return terminated.finished_at if terminated else None


def exit_code(pod: V1Pod, container: str) -> int | None:
    """Return the container's exit code, or None while it has not ended."""
    status = container_status(pod, container)
    terminated = status.state.terminated if status and status.state else None
    return terminated.exit_code if terminated else None


def first_waiting(pod: V1Pod) -> V1ContainerStatus | None:
    """Return the first container (init containers included) that waits, or None."""
    return next((s for s in container_statuses(pod, init=True) if s.state and s.state.waiting), None)


def waiting_reason(pod: V1Pod) -> str | None:
    """Return why the first waiting container waits (ContainerCreating, ErrImagePull, ...)."""
    return next((s.state.waiting.reason for s in container_statuses(pod) if s.state and s.state.waiting), None)


def condition_time(pod: V1Pod, condition_type: str) -> datetime | None:
    """Return when the condition last became True, if it is."""
    return next(
        (c.last_transition_time for c in pod_conditions(pod) if c.type == condition_type and c.status == "True"), None
    )


def is_unschedulable(pod: V1Pod) -> bool:
    """Return whether the scheduler found no node for the pod."""
    return any(c.type == "PodScheduled" and c.reason == "Unschedulable" for c in pod_conditions(pod))


def ended_at(pod: V1Pod, container: str) -> datetime:
    """Return when ``container`` ended, else any container, else the pod's last condition change."""
    if finished := container_finished_at(pod, container):
        return finished
    finished_times = [
        s.state.terminated.finished_at for s in container_statuses(pod) if s.state and s.state.terminated
    ]
    if finished_times := [t for t in finished_times if t]:
        return max(finished_times)
    changes = [c.last_transition_time for c in pod_conditions(pod) if c.last_transition_time]
    return max(changes) if changes else pod.metadata.creation_timestamp


def stage_seconds(pod: V1Pod, container: str) -> dict[str, float | None]:
    """Return ``queued``, ``starting`` and ``running`` seconds of ``container`` in ``pod``.

    How long a driver spent in each stage: queued (created until a node was assigned), starting
    (until the container ran, image pull included), running (until the container ended); a
    stage the pod never reached is None.
    """
    created = pod.metadata.creation_timestamp
    scheduled = condition_time(pod, "PodScheduled")
    started = container_started_at(pod, container)
    finished = container_finished_at(pod, container)
    return {
        "queued": _between(created, scheduled),
        "starting": _between(scheduled, started),
        "running": _between(started, finished),
    }


def describe_stages(seconds: dict[str, float | None] | None) -> str:
    """Say a driver's stage seconds in words: ``queued 0 s, starting 51 s (pulling 49.6 s), running 3 s``."""
    if not seconds:
        return "stages unknown"
    said = []
    for stage in ("queued", "starting", "running"):
        value = seconds.get(stage)
        if value is None:
            continue
        part = f"{stage} {value:.0f} s"
        if stage == "starting" and seconds.get("pulling"):
            part += f" (pulling {seconds['pulling']:.1f} s)"
        said.append(part)
    return ", ".join(said) or "stages unknown"


def _between(start: datetime | None, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None


def image_pull_seconds(events: Sequence[CoreV1Event]) -> float | None:
    """Return how long the kubelet pulled the pod's image: 0 if it was present, None if unknown.

    The pull is read from the kubelet's "Pulled" event, the only place Kubernetes records it.
    """
    for event in reversed(events):
        message = event.message or ""
        if event.reason == "Pulled" and "already present on machine" in message:
            return 0.0
        if event.reason == "Pulled" and (match := _PULLED_IN.search(message)):
            return round(go_duration_seconds(match["duration"]), 3)
    return None


def go_duration_seconds(text: str) -> float:
    """Return the seconds of a Go duration string such as ``1m2.5s`` or ``523ms``."""
    return sum(float(part["number"]) * _UNIT_SECONDS[part["unit"]] for part in _GO_DURATION_PART.finditer(text))
