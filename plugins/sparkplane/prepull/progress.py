"""Where a puller pod is: waiting for the scheduler, pulling, done, failed. Pure.

A puller's container is created only once its image is on the node, so a container that runs or
ran (whatever its exit code) proves the image is there. How it got there is read from the
kubelet's events: "Pulled" says either ``Successfully pulled image "X" in 1.234s (1.234s
including waiting)`` or ``Container image "X" already present on machine``. Events expire (an
hour by default); without them a pull's time falls back to Pulling until the container started.

Time is the caller's: ``classify_puller`` takes ``now``, so the runner's clock alone decides when
a pod that cannot be scheduled is reported as such and when a node has taken too long.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sparkplane.kubernetes.pod_status import (
    container_started_at,
    container_status,
    image_pull_seconds,
    pod_conditions,
)
from sparkplane.prepull.labels import NODE_ANNOTATION, PULLER_CONTAINER_NAME

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Event, V1Pod

WAITING_TO_SCHEDULE = "waiting-to-schedule"
CANNOT_SCHEDULE = "cannot-schedule"
PULLING = "pulling"
PULLED = "pulled"
ALREADY_PRESENT = "already-present"
FAILED = "failed"
TIMED_OUT = "timed-out"
#: States after which the runner stops watching the puller and deletes it.
FINAL_STATES = frozenset({CANNOT_SCHEDULE, PULLED, ALREADY_PRESENT, FAILED, TIMED_OUT})

#: Why a container waits when its image cannot be pulled (the kubelet's words).
PULL_FAILURE_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"})
#: Why a container waits after its image was pulled: creating or starting it failed.
AFTER_PULL_REASONS = frozenset({"CreateContainerConfigError", "CreateContainerError", "RunContainerError"})
#: Seconds a puller may stay unschedulable before it is reported so; the scheduler retries meanwhile.
DEFAULT_UNSCHEDULABLE_GRACE_SECONDS = 60.0
_ALREADY_PRESENT = "already present on machine"
_WORDS = {WAITING_TO_SCHEDULE: "waiting to be scheduled", CANNOT_SCHEDULE: "cannot schedule", PULLING: "pulling"}
_LONG_AGO = datetime.min.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class PullerProgress:
    """Where the pull on one node is.

    :param node: the node's name.
    :param state: one of the module's states (``PULLING``, ``PULLED`` ...).
    :param since: when the current state began, if known.
    :param seconds: how long the pull took (``PULLED``), or None when unknown.
    :param message: the scheduler's or the kubelet's words, if any.
    """

    node: str
    state: str
    since: datetime | None = None
    seconds: float | None = None
    message: str = ""

    @property
    def final(self) -> bool:
        """Return whether this state will not change."""
        return self.state in FINAL_STATES

    def line(self, now: datetime) -> str:
        """Return the progress as a line of the task log."""
        if self.state == PULLED:
            took = f"in {self.seconds:g} s" if self.seconds is not None else "(time unknown)"
            return f"pulled on {self.node} {took}"
        if self.state == ALREADY_PRESENT:
            return f"already present on {self.node}"
        elapsed = f"{(now - self.since).total_seconds():.0f} s" if self.since else ""
        message = f": {self.message}" if self.message else ""
        if self.state == FAILED:
            return f"failed on {self.node}{message}"
        if self.state == TIMED_OUT:
            return f"timed out on {self.node}{' after ' + elapsed if elapsed else ''}{message}"
        return f"{_WORDS[self.state]} on {self.node}{' for ' + elapsed if elapsed else ''}{message}"


def puller_node(pod: V1Pod) -> str:
    """Return the node the puller pulls on: its annotation, else its binding, else its name."""
    annotations = pod.metadata.annotations or {}
    return annotations.get(NODE_ANNOTATION) or (pod.spec.node_name if pod.spec else None) or pod.metadata.name


def classify_puller(
    pod: V1Pod,
    events: Sequence[CoreV1Event],
    *,
    now: datetime,
    timeout_seconds: float | None = None,
    unschedulable_grace_seconds: float = DEFAULT_UNSCHEDULABLE_GRACE_SECONDS,
) -> PullerProgress:
    """Return where the puller pod is.

    :param pod: the puller pod, as last read.
    :param events: the events about the pod, in any order.
    :param now: the runner's clock (timezone-aware).
    :param timeout_seconds: seconds from the pod's creation after which an unfinished pull is
        timed out; None for no limit but the pod's own ``activeDeadlineSeconds``.
    :param unschedulable_grace_seconds: seconds the scheduler may fail to place the pod before it
        is reported as unable to.
    """
    node = puller_node(pod)
    events = sorted(events, key=lambda event: _event_time(event) or _LONG_AGO)
    status = container_status(pod, PULLER_CONTAINER_NAME)
    state = status.state if status else None
    waiting = state.waiting if state else None
    if (state and (state.running or state.terminated)) or (waiting and waiting.reason in AFTER_PULL_REASONS):
        return _present(node, pod, events)
    if pod.status and pod.status.reason == "DeadlineExceeded":
        return PullerProgress(node, TIMED_OUT, since=pod.metadata.creation_timestamp, message=pod.status.message or "")
    if waiting and waiting.reason in PULL_FAILURE_REASONS:
        return PullerProgress(node, FAILED, message=f"{waiting.reason}: {waiting.message or _last_failure(events)}")
    if pod.status and pod.status.phase == "Failed":
        detail = ": ".join(part for part in (pod.status.reason, pod.status.message) if part)
        return PullerProgress(node, FAILED, message=detail or "the pod failed before its container was created")
    created = pod.metadata.creation_timestamp
    scheduled = next((c for c in pod_conditions(pod) if c.type == "PodScheduled"), None)
    if scheduled is None or scheduled.status != "True":
        since = (scheduled.last_transition_time if scheduled else None) or created
        message = (scheduled.message or "") if scheduled else ""
        unschedulable = scheduled is not None and scheduled.reason == "Unschedulable"
        if unschedulable and (_seconds(since, now) or 0) > unschedulable_grace_seconds:
            return PullerProgress(node, CANNOT_SCHEDULE, since=since, message=message)
        progress = PullerProgress(node, WAITING_TO_SCHEDULE, since=created, message=message)
    else:
        pulling = next((e for e in reversed(events) if e.reason == "Pulling"), None)
        since = _event_time(pulling) if pulling else scheduled.last_transition_time
        progress = PullerProgress(node, PULLING, since=since)
    if timeout_seconds is not None and created and _seconds(created, now) > timeout_seconds:
        still = f"still {_WORDS[progress.state]}" + (f": {progress.message}" if progress.message else "")
        return PullerProgress(node, TIMED_OUT, since=created, message=still)
    return progress


def _present(node: str, pod: V1Pod, events: Sequence[CoreV1Event]) -> PullerProgress:
    pulled = [e for e in events if e.reason == "Pulled"]
    if pulled and _ALREADY_PRESENT in (pulled[-1].message or ""):
        return PullerProgress(node, ALREADY_PRESENT, since=_event_time(pulled[-1]))
    seconds = image_pull_seconds(pulled)
    if seconds is None:
        pulling = next((e for e in events if e.reason == "Pulling"), None)
        seconds = _seconds(_event_time(pulling), container_started_at(pod, PULLER_CONTAINER_NAME)) if pulling else None
    return PullerProgress(node, PULLED, since=_event_time(pulled[-1]) if pulled else None, seconds=seconds)


def _last_failure(events: Sequence[CoreV1Event]) -> str:
    failed = [e for e in events if e.reason == "Failed" and e.message]
    return failed[-1].message if failed else "no message from the kubelet"


def _event_time(event: CoreV1Event) -> datetime | None:
    # Core events fill last_timestamp; events recorded through events.k8s.io/v1 fill event_time.
    return event.last_timestamp or event.event_time or event.first_timestamp or event.metadata.creation_timestamp


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None
