"""How long each stage of a driver pod's life may take, and which limit a pod has passed. Pure.

A pod waits for a node (scheduling), then for its container to be created (image pull), then
runs. Each stage has its own limit, so a slow pull is not counted against the run, and a job
that waits for a node says so instead of "timed out".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sparkplane.kubernetes.pod_status import condition_time, container_started_at, waiting_reason

if TYPE_CHECKING:
    from kubernetes.client import V1Pod


@dataclass(frozen=True)
class FollowTimeouts:
    """How long each stage of a driver's life may take, in seconds; None means no limit.

    :param scheduling_seconds: from creation until a node is assigned.
    :param image_pull_seconds: from scheduling until the container was created (pulls happen here).
    :param start_seconds: from creation until the container runs, whatever it waited for.
    :param run_seconds: from the container's start until the pod ends.
    """

    scheduling_seconds: float | None = 600
    image_pull_seconds: float | None = 900
    start_seconds: float | None = 1800
    run_seconds: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        return asdict(self)


def exceeded_stage_timeout(pod: V1Pod, container: str, limits: FollowTimeouts, *, now: datetime) -> str | None:
    """Return which stage's limit the pod has exceeded at ``now``, in words, or None."""
    created = pod.metadata.creation_timestamp
    scheduled_at = condition_time(pod, "PodScheduled")
    started_at = container_started_at(pod, container)
    if not pod.spec.node_name and _exceeds(now, created, limits.scheduling_seconds):
        return f"driver pod not scheduled within {limits.scheduling_seconds:.0f}s (scheduling timeout)"
    if started_at is None and scheduled_at and waiting_reason(pod) == "ContainerCreating" and _exceeds(
        now, scheduled_at, limits.image_pull_seconds
    ):
        return f"driver container not created within {limits.image_pull_seconds:.0f}s of scheduling (image pull timeout)"
    if started_at is None and _exceeds(now, created, limits.start_seconds):
        return f"driver container not running within {limits.start_seconds:.0f}s (start timeout)"
    if started_at is not None and _exceeds(now, started_at, limits.run_seconds):
        return f"driver still running after {limits.run_seconds:.0f}s (run timeout)"
    return None


def _exceeds(now: datetime, since: datetime | None, limit_seconds: float | None) -> bool:
    return since is not None and limit_seconds is not None and (now - since).total_seconds() > limit_seconds
