"""The pod sweep's one run: list the platform's drivers, ask Airflow about their task instances,
delete what ``pod_sweep`` judges left over, and say why for every driver it looked at."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sparkplane.constants import POD_TERMINAL_PHASES
from sparkplane.pod_sweep import DRIVER_SELECTOR, TaskStates, judge_drivers, task_instance_of

if TYPE_CHECKING:
    from kubernetes.client import V1Pod

    from sparkplane.hooks import SparkKubernetesHook

#: Airflow's lookup of task instance states for some runs of one DAG: run id -> task -> state.
TaskStatesLookup = Callable[[str, list[str]], Mapping[str, Mapping[str, str | None]]]


def sweep_drivers(
    hook: SparkKubernetesHook,
    namespace: str,
    lookup_task_states: TaskStatesLookup,
    *,
    now: datetime,
    dry_run: bool = False,
    log: logging.Logger | logging.LoggerAdapter = logging.getLogger(__name__),
) -> dict[str, Any]:
    """Delete the left-over drivers in ``namespace``; return what was deleted and kept, with reasons.

    :param lookup_task_states: Airflow's task states lookup (``RuntimeTaskInstance.get_task_states``).
    :param dry_run: judge and log, but delete nothing.
    """
    drivers = hook.list_pods(namespace, DRIVER_SELECTOR)
    verdicts = judge_drivers(drivers, now=now, task_states=_task_states_of_active(drivers, lookup_task_states))
    deleted, kept = [], []
    for verdict in verdicts:
        if not verdict.delete:
            log.info("Keeping %s/%s: %s", namespace, verdict.pod_name, verdict.reason)
            kept.append({"pod": verdict.pod_name, "reason": verdict.reason})
            continue
        if dry_run:
            log.info("Would delete %s/%s (dry run): %s", namespace, verdict.pod_name, verdict.reason)
        elif hook.delete_pod(verdict.pod_name, namespace):
            log.info("Deleted %s/%s and what it owns: %s", namespace, verdict.pod_name, verdict.reason)
        else:
            log.info("%s/%s was already gone", namespace, verdict.pod_name)
        deleted.append({"pod": verdict.pod_name, "reason": verdict.reason})
    log.info(
        "%s %d of %d driver pod(s) in namespace %s; kept %d",
        "Would delete" if dry_run else "Deleted", len(deleted), len(verdicts), namespace, len(kept),
    )  # fmt: skip
    return {"namespace": namespace, "dry_run": dry_run, "deleted": deleted, "kept": kept}


def _task_states_of_active(drivers: list[V1Pod], lookup: TaskStatesLookup) -> TaskStates:
    """Look up the task instances of the drivers still Pending or Running, one call per DAG."""
    runs_by_dag: dict[str, set[str]] = {}
    for pod in drivers:
        if pod.status is not None and pod.status.phase in POD_TERMINAL_PHASES:
            continue
        if owner := task_instance_of(pod):
            runs_by_dag.setdefault(owner.dag_id, set()).add(owner.run_id)
    states: dict[tuple[str, str], Mapping[str, str | None]] = {}
    for dag_id, run_ids in sorted(runs_by_dag.items()):
        for run_id, run_states in lookup(dag_id, sorted(run_ids)).items():
            states[(dag_id, run_id)] = run_states
    return states
