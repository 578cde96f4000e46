"""How long a driver pod spent in each stage of its life, from the pod's own timestamps. Pure.

queued: created until a node was assigned; starting: until the container ran (image pull
included); running: until the container ended. A stage the pod never reached is None. The pull
itself is read from the kubelet's "Pulled" event, the only place Kubernetes records it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Event, V1Pod

#: The kubelet's words: 'Successfully pulled image "X" in 1.234s (1.234s including waiting)...'.
_PULLED_IN = re.compile(r"Successfully pulled image \S+ in (?P<duration>[\dhmsµun.]+)")
_GO_DURATION_PART = re.compile(r"(?P<number>\d+(?:\.\d+)?)(?P<unit>h|ms|m|s|µs|us|ns)")
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}


def stage_seconds(pod: V1Pod, container: str) -> dict[str, float | None]:
    """Return ``queued``, ``starting`` and ``running`` seconds of ``container`` in ``pod``."""
    created = pod.metadata.creation_timestamp
    scheduled = _scheduled_at(pod)
    started, finished = _container_times(pod, container)
    return {
        "queued": _between(created, scheduled),
        "starting": _between(scheduled, started),
        "running": _between(started, finished),
    }


def _between(start: datetime | None, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None


def _scheduled_at(pod: V1Pod) -> datetime | None:
    conditions = (pod.status.conditions or []) if pod.status else []
    return next((c.last_transition_time for c in conditions if c.type == "PodScheduled" and c.status == "True"), None)


def _container_times(pod: V1Pod, container: str) -> tuple[datetime | None, datetime | None]:
    statuses = (pod.status.container_statuses or []) if pod.status else []
    status = next((s for s in statuses if s.name == container), None)
    state = status.state if status else None
    if state is None:
        return None, None
    if state.terminated:
        return state.terminated.started_at, state.terminated.finished_at
    if state.running:
        return state.running.started_at, None
    return None, None


def image_pull_seconds(events: Sequence[CoreV1Event]) -> float | None:
    """Return how long the kubelet pulled the pod's image: 0 if it was present, None if unknown."""
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
