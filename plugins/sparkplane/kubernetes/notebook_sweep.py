"""The sweep of notebook executors left behind: which to delete, and why; and the run that does it.

A notebook's session (``sparkplane.notebook.client_session``) is a client-mode driver in the
kernel, so its executor pods are owned by no pod and nothing collects them when the kernel dies
instead of calling ``spark.stop()``: each executor exits once it loses its driver, and its
finished pod stays until someone deletes it. An executor still Pending when its kernel died never
starts, so never notices. The sweep deletes a notebook executor that finished, or has been
Pending, longer than the keep time; a Running one is left to end by itself.

Each session also made an anchor ConfigMap owning its Spark authentication secret
(``sparkplane.notebook.session_auth``); ``spark.stop()`` deletes it, a kernel shut down or killed
without it does not. The sweep deletes the anchor (and so the secret) of a session none of whose executors is
Pending or Running once the keep time since the session started is over.

Only the notebook identity may create a pod or ConfigMap labelled ``sparkplane.dev/notebook`` or
add that label (``spark-bootstrap/40-notebooks.yaml``), so the label says who made the object.
``judge_notebook_executors`` and ``judge_notebook_sessions`` decide (pure);
``sweep_notebook_executors`` and ``sweep_notebook_sessions`` list, delete and log one line per object;
``sweep_notebooks`` runs both, the executors first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sparkplane.exceptions import PodChanged
from sparkplane.kubernetes import pod_status
from sparkplane.kubernetes.identity import (
    EXECUTOR_CONTAINER_NAME,
    NOTEBOOK_LABEL,
    NOTEBOOK_SESSION_LABEL,
    SPARK_ROLE_LABEL,
)
from sparkplane.kubernetes.sweep import SweepVerdict, span, sweep_summary

if TYPE_CHECKING:
    from kubernetes.client import V1ConfigMap, V1Pod

    from sparkplane.kubernetes.hook import SparkKubernetesHook

NOTEBOOK_EXECUTORS_SELECTOR = f"{SPARK_ROLE_LABEL}=executor,{NOTEBOOK_LABEL}=true"
#: A session's anchor ConfigMap (and its Secret) carry both labels.
NOTEBOOK_SESSIONS_SELECTOR = f"{NOTEBOOK_LABEL}=true,{NOTEBOOK_SESSION_LABEL}"
#: The phases of an executor whose session may still be alive.
LIVE_PHASES = ("Pending", "Running")
#: How long a finished or pending notebook executor is kept by default: time to read its log.
DEFAULT_NOTEBOOK_KEEP_MINUTES = 60


def judge_notebook_executors(pods: Iterable[V1Pod], *, now: datetime, keep: timedelta) -> list[SweepVerdict]:
    """Return a verdict for every notebook executor in ``pods`` not already being deleted.

    :param now: the current time (timezone-aware).
    :param keep: how long a finished executor is kept after it ended, and a pending one after it was created.
    """
    verdicts = []
    for pod in pods:
        if pod.metadata.deletion_timestamp is not None:
            continue
        name, phase = pod.metadata.name, pod_status.phase(pod) or "Pending"
        if phase in pod_status.POD_TERMINAL_PHASES:
            age = now - pod_status.ended_at(pod, EXECUTOR_CONTAINER_NAME)
            state = f"{phase} {span(age)} ago"
        elif phase == "Pending":
            age = now - pod.metadata.creation_timestamp
            state = f"Pending for {span(age)}"
        else:
            verdicts.append(SweepVerdict(name, False, f"{phase}; an executor ends by itself once its notebook is gone"))
            continue
        if age >= keep:
            verdicts.append(SweepVerdict(name, True, f"{state}; its keep time of {span(keep)} is over",
                                         uid=pod.metadata.uid, resource_version=pod.metadata.resource_version))  # fmt: skip
        else:
            verdicts.append(SweepVerdict(name, False, f"{state}; kept {span(keep - age)} more"))
    return verdicts


def judge_notebook_sessions(
    anchors: Iterable[V1ConfigMap], executors: Iterable[V1Pod], *, now: datetime, keep: timedelta
) -> list[SweepVerdict]:
    """Return a verdict for every session anchor in ``anchors`` not already being deleted.

    :param executors: the namespace's notebook executors; a session with one Pending or Running is alive.
    :param keep: how long after a session started its anchor is kept although no executor of it is live.
    """
    live = {
        (pod.metadata.labels or {}).get(NOTEBOOK_SESSION_LABEL)
        for pod in executors
        if pod.metadata.deletion_timestamp is None and (pod_status.phase(pod) or "Pending") in LIVE_PHASES
    }
    verdicts = []
    for anchor in anchors:
        if anchor.metadata.deletion_timestamp is not None:
            continue
        name, session = anchor.metadata.name, (anchor.metadata.labels or {}).get(NOTEBOOK_SESSION_LABEL)
        age = now - anchor.metadata.creation_timestamp
        if session in live:
            verdicts.append(SweepVerdict(name, False, f"started {span(age)} ago; an executor of it is live"))
        elif age >= keep:
            verdicts.append(SweepVerdict(name, True, f"started {span(age)} ago and no executor of it is live; its keep "
                                         f"time of {span(keep)} is over", uid=anchor.metadata.uid))  # fmt: skip
        else:
            verdicts.append(SweepVerdict(name, False, f"started {span(age)} ago; kept {span(keep - age)} more"))
    return verdicts


def sweep_notebook_executors(
    hook: SparkKubernetesHook,
    namespace: str,
    *,
    now: datetime,
    keep: timedelta = timedelta(minutes=DEFAULT_NOTEBOOK_KEEP_MINUTES),
    dry_run: bool = False,
    log: logging.Logger | logging.LoggerAdapter = logging.getLogger(__name__),
) -> dict[str, Any]:
    """Delete the notebook executors left in ``namespace``; return what was deleted and kept, with reasons."""
    verdicts = judge_notebook_executors(hook.list_pods(namespace, NOTEBOOK_EXECUTORS_SELECTOR), now=now, keep=keep)
    deleted, kept = [], []
    for verdict in verdicts:
        if verdict.delete and dry_run:
            log.info("Would delete notebook executor %s/%s (dry run): %s", namespace, verdict.pod_name, verdict.reason)
        elif verdict.delete:
            try:
                hook.delete_pod(verdict.pod_name, namespace, uid=verdict.uid, resource_version=verdict.resource_version)
            except PodChanged:
                verdict = SweepVerdict(verdict.pod_name, False, "changed after it was judged; the next sweep judges it again")
            else:
                log.info("Deleted notebook executor %s/%s: %s", namespace, verdict.pod_name, verdict.reason)
        if not verdict.delete:
            log.info("Keeping notebook executor %s/%s: %s", namespace, verdict.pod_name, verdict.reason)
            kept.append({"pod": verdict.pod_name, "reason": verdict.reason})
        else:
            deleted.append({"pod": verdict.pod_name, "reason": verdict.reason})
    return sweep_summary(log, "notebook executor pod", namespace, dry_run=dry_run, deleted=deleted, kept=kept)


def sweep_notebook_sessions(
    hook: SparkKubernetesHook,
    namespace: str,
    *,
    now: datetime,
    keep: timedelta = timedelta(minutes=DEFAULT_NOTEBOOK_KEEP_MINUTES),
    dry_run: bool = False,
    log: logging.Logger | logging.LoggerAdapter = logging.getLogger(__name__),
) -> dict[str, Any]:
    """Delete the anchors (and so the secrets) of the sessions in ``namespace`` whose kernel is gone."""
    verdicts = judge_notebook_sessions(
        hook.list_config_maps(namespace, NOTEBOOK_SESSIONS_SELECTOR),
        hook.list_pods(namespace, NOTEBOOK_EXECUTORS_SELECTOR),
        now=now,
        keep=keep,
    )
    deleted, kept = [], []
    for verdict in verdicts:
        if verdict.delete and dry_run:
            log.info("Would delete notebook session %s/%s (dry run): %s", namespace, verdict.pod_name, verdict.reason)
        elif verdict.delete and hook.delete_config_map(verdict.pod_name, namespace, uid=verdict.uid):
            log.info("Deleted notebook session %s/%s and its secret: %s", namespace, verdict.pod_name, verdict.reason)
        elif verdict.delete:
            verdict = SweepVerdict(verdict.pod_name, False, "gone, or another object of that name, since it was judged")
        if verdict.delete:
            deleted.append({"session": verdict.pod_name, "reason": verdict.reason})
        else:
            log.info("Keeping notebook session %s/%s: %s", namespace, verdict.pod_name, verdict.reason)
            kept.append({"session": verdict.pod_name, "reason": verdict.reason})
    return sweep_summary(log, "notebook session", namespace, dry_run=dry_run, deleted=deleted, kept=kept)


def sweep_notebooks(
    hook: SparkKubernetesHook,
    namespace: str,
    *,
    now: datetime,
    keep: timedelta = timedelta(minutes=DEFAULT_NOTEBOOK_KEEP_MINUTES),
    dry_run: bool = False,
    log: logging.Logger | logging.LoggerAdapter = logging.getLogger(__name__),
) -> dict[str, dict[str, Any]]:
    """Sweep the notebook executors, then the sessions (judged on the executors left); return both summaries."""
    options = {"now": now, "keep": keep, "dry_run": dry_run, "log": log}
    return {
        "executors": sweep_notebook_executors(hook, namespace, **options),
        "sessions": sweep_notebook_sessions(hook, namespace, **options),
    }
