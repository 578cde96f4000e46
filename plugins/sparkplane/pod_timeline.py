"""How long a driver pod spent in each stage of its life, from the pod's own timestamps. Pure.

queued: created until a node was assigned; starting: until the container ran (image pull
included); running: until the container ended. A stage the pod never reached is None.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubernetes.client import V1Pod


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
