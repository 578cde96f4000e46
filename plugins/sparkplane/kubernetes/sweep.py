"""The pod sweep: which of the platform's driver pods to delete, and why; and the run that does it.

Finished drivers past their keep time and orphans of finished task instances are deleted.
``judge_drivers`` decides (pure); ``sweep_drivers`` lists the drivers, asks Airflow about their
task instances, deletes what was judged left over and says why for every driver it looked at.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sparkplane.exceptions import PodChanged
from sparkplane.kubernetes import pod_status
from sparkplane.kubernetes.identity import (
    DAG_ID_ANNOTATION,
    DEFAULT_KEEP_FAILED_SECONDS,
    DRIVER_CONTAINER_NAME,
    KEEP_FAILED_ANNOTATION,
    MAP_INDEX_LABEL,
    RUN_ID_ANNOTATION,
    TASK_ID_ANNOTATION,
    deployment_drivers_selector,
)

if TYPE_CHECKING:
    from kubernetes.client import V1Pod

    from sparkplane.kubernetes.hook import SparkKubernetesHook

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
    def display_name(self) -> str:
        """Return the task as Airflow's UI shows it: ``load``, or ``load[1]`` for a mapped one."""
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"


@dataclass(frozen=True)
class SweepVerdict:
    """What the sweep does with one driver, and the sentence that says why."""

    pod_name: str
    delete: bool
    reason: str
    #: The very pod judged: a delete applies to it only if it is unchanged since.
    uid: str | None = None
    resource_version: str | None = None


#: Task instance states by (dag id, run id, map index), then by task id.
TaskStates = Mapping[tuple[str, str, int], Mapping[str, str | None]]
#: Airflow's lookup of the states of one map index's task instances in some runs of one DAG:
#: (dag id, run ids, map index) -> run id -> name -> state, where Airflow names a mapped task
#: instance ``<task id>_<map index>`` (so a lookup per map index tells ``load[1]`` from a task
#: named ``load_1``).
TaskStatesLookup = Callable[[str, list[str], int], Mapping[str, Mapping[str, str | None]]]


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

    The operator deletes a driver when its task ends. Two kinds are left behind on purpose or by
    accident, and the pod sweep DAG removes them (deleting a driver removes its executors,
    Services and ConfigMaps too, through their owner references):

    - a **finished driver past its keep time**: a failed driver is kept to be inspected for as
      long as its ``sparkplane.dev/keep-failed-seconds`` annotation says (the operator's
      ``keep_failed_driver``), counted from when it ended; a succeeded driver is only left when
      its task never came back to collect it, and gets the same time for a retry to follow it.
    - an **orphan**: a driver still Pending or Running whose task instance has finished (success,
      failed, skipped, ...). Nothing follows it any more and nobody will: a job running for no
      one, holding the cluster's resources.

    A driver whose task instance this Airflow does not know is left alone and reported: it may
    belong to another Airflow using the same namespace. So is one whose task instance is still
    active (running, deferred, queued, up for retry, cleared): a later try may reattach to it.

    :param now: the current time (timezone-aware).
    :param task_states: for each (dag id, run id, map index) the sweep looked up, the states of
        its task instances by task id; one missing here was not found in this Airflow.
    """
    verdicts = []
    for pod in pods:
        if pod.metadata.deletion_timestamp is not None:
            continue
        phase = pod_status.phase(pod)
        if phase in pod_status.POD_TERMINAL_PHASES:
            verdicts.append(_judge_finished(pod, phase, now))
        else:
            verdicts.append(_judge_active(pod, phase or "Pending", task_states))
    return verdicts


def _judge_finished(pod: V1Pod, phase: str, now: datetime) -> SweepVerdict:
    name = pod.metadata.name
    keep = timedelta(seconds=keep_seconds(pod))
    ended = pod_status.ended_at(pod, DRIVER_CONTAINER_NAME)
    if now - ended >= keep:
        return SweepVerdict(name, True, f"{phase} {span(now - ended)} ago; its keep time of {span(keep)} is over",
                            uid=pod.metadata.uid, resource_version=pod.metadata.resource_version)  # fmt: skip
    return SweepVerdict(name, False, f"{phase} {span(now - ended)} ago; kept {span(keep - (now - ended))} more")


def _judge_active(pod: V1Pod, phase: str, task_states: TaskStates) -> SweepVerdict:
    name = pod.metadata.name
    owner = task_instance_of(pod)
    if owner is None:
        return SweepVerdict(name, False, f"{phase}; its task instance annotations are missing, left alone")
    run_states = task_states.get((owner.dag_id, owner.run_id, owner.map_index))
    where = f"task {owner.dag_id}.{owner.display_name} of run {owner.run_id}"
    if run_states is None or owner.task_id not in run_states:
        return SweepVerdict(name, False, f"{phase}; {where} is not in this Airflow, left alone")
    state = run_states[owner.task_id]
    if state in FINISHED_TASK_STATES:
        # The uid only: the pod may change (its log checkpoint) and still be this orphan.
        return SweepVerdict(name, True, f"{phase}, but {where} is {state}: nothing follows this driver any more",
                            uid=pod.metadata.uid)  # fmt: skip
    return SweepVerdict(name, False, f"{phase}; {where} is {state or 'cleared'}, a try may follow it")


def keep_seconds(pod: V1Pod) -> int:
    """Return how long ``pod`` is kept once finished, from its annotation (the default if unreadable)."""
    value = (pod.metadata.annotations or {}).get(KEEP_FAILED_ANNOTATION, "")
    return int(value) if value.isdigit() else DEFAULT_KEEP_FAILED_SECONDS


def span(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 24 * 3600)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}d"] * bool(days) + [f"{hours}h"] * bool(hours) + [f"{minutes}m"] * bool(minutes)
    return " ".join(parts) or f"{seconds}s"


def cluster_hook_or_skip(what: str) -> SparkKubernetesHook:
    """Return the hook of the configured cluster; skip the task, saying why, when none is configured."""
    from airflow.sdk.exceptions import AirflowSkipException

    from sparkplane import settings
    from sparkplane.kubernetes.hook import SparkKubernetesHook

    if settings.KUBERNETES_CONN_ID is None:
        reason = (f"No cluster is configured (SPARKPLANE_KUBERNETES_CONN_ID is unset): Spark runs locally, "
                  f"so there are no {what} to sweep.")  # fmt: skip
        # Said where a reader of the log sees it, not only in the skip's folded details.
        logging.getLogger(__name__).warning("%s", reason)
        raise AirflowSkipException(reason)
    return SparkKubernetesHook(settings.KUBERNETES_CONN_ID)


def sweep_drivers(
    hook: SparkKubernetesHook,
    namespace: str,
    lookup_task_states: TaskStatesLookup,
    *,
    deployment: str,
    now: datetime,
    dry_run: bool = False,
    log: logging.Logger | logging.LoggerAdapter = logging.getLogger(__name__),
) -> dict[str, Any]:
    """Delete the left-over drivers in ``namespace``; return what was deleted and kept, with reasons.

    :param lookup_task_states: Airflow's task states lookup (``RuntimeTaskInstance.get_task_states``).
    :param deployment: this Airflow's deployment id: only its drivers are judged.
    :param dry_run: judge and log, but delete nothing.
    """
    drivers = hook.list_pods(namespace, deployment_drivers_selector(deployment))
    verdicts = judge_drivers(drivers, now=now, task_states=_task_states_of_active(drivers, lookup_task_states))
    deleted, kept = [], []
    for verdict in verdicts:
        if not verdict.delete:
            log.info("Keeping %s/%s: %s", namespace, verdict.pod_name, verdict.reason)
            kept.append({"pod": verdict.pod_name, "reason": verdict.reason})
            continue
        if dry_run:
            log.info("Would delete %s/%s (dry run): %s", namespace, verdict.pod_name, verdict.reason)
        else:
            try:
                gone_before = not hook.delete_pod(
                    verdict.pod_name, namespace, uid=verdict.uid, resource_version=verdict.resource_version
                )
            except PodChanged:
                log.info("Keeping %s/%s: it changed after it was judged; the next sweep judges it again",
                         namespace, verdict.pod_name)  # fmt: skip
                kept.append({"pod": verdict.pod_name, "reason": "changed after it was judged"})
                continue
            if gone_before:
                log.info("%s/%s was already gone", namespace, verdict.pod_name)
            else:
                log.info("Deleted %s/%s and what it owns: %s", namespace, verdict.pod_name, verdict.reason)
        deleted.append({"pod": verdict.pod_name, "reason": verdict.reason})
    return sweep_summary(log, "driver pod", namespace, dry_run=dry_run, deleted=deleted, kept=kept)


def sweep_summary(
    log: logging.Logger | logging.LoggerAdapter, kind: str, namespace: str, *, dry_run: bool,
    deleted: list[dict[str, str]], kept: list[dict[str, str]],
) -> dict[str, Any]:  # fmt: skip
    """Log the sweep's last line ("Deleted 2 of 3 driver pod(s) ..."); return its result for XCom.

    :param kind: what was swept, in the singular: ``driver pod``.
    """
    log.info(
        "%s %d of %d %s(s) in namespace %s; kept %d",
        "Would delete" if dry_run else "Deleted", len(deleted), len(deleted) + len(kept), kind, namespace, len(kept),
    )  # fmt: skip
    return {"namespace": namespace, "dry_run": dry_run, "deleted": deleted, "kept": kept}


def _task_states_of_active(drivers: list[V1Pod], lookup: TaskStatesLookup) -> TaskStates:
    """Look up the task instances of the drivers still Pending or Running, one call per DAG and map index."""
    runs: dict[tuple[str, int], set[str]] = {}
    for pod in drivers:
        if pod_status.phase(pod) in pod_status.POD_TERMINAL_PHASES:
            continue
        if owner := task_instance_of(pod):
            runs.setdefault((owner.dag_id, owner.map_index), set()).add(owner.run_id)
    states: dict[tuple[str, str, int], Mapping[str, str | None]] = {}
    for (dag_id, map_index), run_ids in sorted(runs.items()):
        suffix = f"_{map_index}" if map_index >= 0 else ""
        for run_id, run_states in lookup(dag_id, sorted(run_ids), map_index).items():
            states[(dag_id, run_id, map_index)] = {
                name.removesuffix(suffix): state for name, state in run_states.items() if name.endswith(suffix)
            }
    return states
