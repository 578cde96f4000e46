"""Which of the platform's driver pods the sweep deletes, and why. Pure.

The operator deletes a driver when its task ends. Two kinds are left behind on purpose or by
accident, and the pod sweep DAG removes them (deleting a driver removes its executors, Services
and ConfigMaps too, through their owner references):

- a **finished driver past its keep time**: a failed driver is kept to be inspected for as long
  as its ``sparkplane.dev/keep-failed-seconds`` annotation says (the operator's
  ``keep_failed_driver``), counted from when it ended; a succeeded driver is only left when its
  task never came back to collect it, and gets the same time for a retry to follow it.
- an **orphan**: a driver still Pending or Running whose task instance has finished (success,
  failed, skipped, ...). Nothing follows it any more and nobody will: a job running for no one,
  holding the cluster's resources.

A driver whose task instance this Airflow does not know is left alone and reported: it may
belong to another Airflow using the same namespace. So is one whose task instance is still
active (running, deferred, queued, up for retry, cleared): a later try may reattach to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sparkplane.constants import DRIVER_CONTAINER_NAME, KEEP_FAILED_ANNOTATION, POD_TERMINAL_PHASES
from sparkplane.run_identity import (
    DAG_ID_ANNOTATION,
    MAP_INDEX_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    RUN_ID_ANNOTATION,
    TASK_ID_ANNOTATION,
)

if TYPE_CHECKING:
    from kubernetes.client import V1Pod

#: Selects the drivers the platform created; nothing else is ever swept.
DRIVER_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},spark-role=driver"
#: The operator's default keep time, used when a driver's annotation is missing or unreadable.
DEFAULT_KEEP_SECONDS = 86400
#: Task instance states after which no try of it runs again (unless someone clears it).
FINISHED_TASK_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})


@dataclass(frozen=True)
class TaskInstanceRef:
    """The task instance a driver was started for, from the driver's annotations and labels."""

    dag_id: str
    task_id: str
    run_id: str
    map_index: int = -1

    @property
    def state_key(self) -> str:
        """Return how Airflow's task-states lookup names this instance within its run."""
        return self.task_id if self.map_index < 0 else f"{self.task_id}_{self.map_index}"


@dataclass(frozen=True)
class SweepVerdict:
    """What the sweep does with one driver, and the sentence that says why."""

    pod_name: str
    delete: bool
    reason: str


#: Task instance states by (dag id, run id), then by ``TaskInstanceRef.state_key``.
TaskStates = Mapping[tuple[str, str], Mapping[str, str | None]]


def task_instance_of(pod: V1Pod) -> TaskInstanceRef | None:
    """Return the task instance ``pod`` was started for, or None if its annotations lack it."""
    annotations = pod.metadata.annotations or {}
    labels = pod.metadata.labels or {}
    dag_id, task_id, run_id = (annotations.get(k) for k in (DAG_ID_ANNOTATION, TASK_ID_ANNOTATION, RUN_ID_ANNOTATION))
    if not (dag_id and task_id and run_id):
        return None
    map_index = labels.get(MAP_INDEX_LABEL, "")
    return TaskInstanceRef(dag_id, task_id, run_id, int(map_index) if map_index.isdigit() else -1)


def judge_drivers(pods: Iterable[V1Pod], *, now: datetime, task_states: TaskStates) -> list[SweepVerdict]:
    """Return a verdict for every driver in ``pods`` that is not already being deleted.

    :param now: the current time (timezone-aware).
    :param task_states: for each (dag id, run id) the sweep looked up, the states of its task
        instances; a (dag id, run id) missing here was not found in this Airflow.
    """
    verdicts = []
    for pod in pods:
        if pod.metadata.deletion_timestamp is not None:
            continue
        phase = pod.status.phase if pod.status else None
        if phase in POD_TERMINAL_PHASES:
            verdicts.append(_judge_finished(pod, phase, now))
        else:
            verdicts.append(_judge_active(pod, phase or "Pending", task_states))
    return verdicts


def _judge_finished(pod: V1Pod, phase: str, now: datetime) -> SweepVerdict:
    name = pod.metadata.name
    keep = timedelta(seconds=keep_seconds(pod))
    ended = ended_at(pod)
    if now - ended >= keep:
        return SweepVerdict(name, True, f"{phase} {_span(now - ended)} ago; its keep time of {_span(keep)} is over")
    return SweepVerdict(name, False, f"{phase} {_span(now - ended)} ago; kept {_span(keep - (now - ended))} more")


def _judge_active(pod: V1Pod, phase: str, task_states: TaskStates) -> SweepVerdict:
    name = pod.metadata.name
    owner = task_instance_of(pod)
    if owner is None:
        return SweepVerdict(name, False, f"{phase}; its task instance annotations are missing, left alone")
    run_states = task_states.get((owner.dag_id, owner.run_id))
    if run_states is None or owner.state_key not in run_states:
        return SweepVerdict(
            name, False,
            f"{phase}; task {owner.dag_id}.{owner.state_key} of run {owner.run_id} is not in this Airflow, "
            "left alone (another Airflow may own it)",
        )  # fmt: skip
    state = run_states[owner.state_key]
    where = f"task {owner.dag_id}.{owner.state_key} of run {owner.run_id}"
    if state in FINISHED_TASK_STATES:
        return SweepVerdict(name, True, f"{phase}, but {where} is {state}: nothing follows this driver any more")
    return SweepVerdict(name, False, f"{phase}; {where} is {state or 'cleared'}, a try may follow it")


def keep_seconds(pod: V1Pod) -> int:
    """Return how long ``pod`` is kept once finished, from its annotation (the default if unreadable)."""
    value = (pod.metadata.annotations or {}).get(KEEP_FAILED_ANNOTATION, "")
    return int(value) if value.isdigit() else DEFAULT_KEEP_SECONDS


def ended_at(pod: V1Pod) -> datetime:
    """Return when the driver container ended, falling back to the pod's last condition change."""
    statuses = (pod.status.container_statuses or []) if pod.status else []
    for status in statuses:
        if status.name == DRIVER_CONTAINER_NAME and status.state and status.state.terminated:
            if status.state.terminated.finished_at:
                return status.state.terminated.finished_at
    finished = [s.state.terminated.finished_at for s in statuses if s.state and s.state.terminated]
    if finished := [t for t in finished if t]:
        return max(finished)
    conditions = (pod.status.conditions or []) if pod.status else []
    changes = [c.last_transition_time for c in conditions if c.last_transition_time]
    return max(changes) if changes else pod.metadata.creation_timestamp


def _span(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}d"] * bool(days) + [f"{hours}h"] * bool(hours) + [f"{minutes}m"] * bool(minutes)
    return " ".join(parts) or f"{seconds}s"
