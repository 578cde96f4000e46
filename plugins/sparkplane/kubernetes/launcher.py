"""What a finished driver tells the task: why it failed, and which executors failed on the way.

Reads the pod, its log and its executors through the hook, then leaves the explaining to the pure
rules in ``diagnosis`` and ``pod_diagnosis``. Used by the operator when the trigger's event comes
back.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sparkplane.constants import APPLICATION_ID_LABEL, DRIVER_CONTAINER_NAME, EXECUTOR_CONTAINER_NAME, SPARK_ROLE_LABEL
from sparkplane.diagnosis import Diagnosis, explain_failure
from sparkplane.pod_diagnosis import SIGKILL_EXIT_CODE, describe_failed_container, failed_containers
from sparkplane.run_identity import MANAGED_BY_LABEL, MANAGED_BY_VALUE

if TYPE_CHECKING:
    from kubernetes.client import V1Pod

    from sparkplane.hooks import SparkKubernetesHook

#: Driver log lines read back to explain a failed driver.
FAILURE_LOG_LINES = 200
#: Last lines of each failed executor's log shown in the digest.
EXECUTOR_DIGEST_LOG_LINES = 15


def log_failed_executors(
    hook: SparkKubernetesHook, log: logging.Logger, application_id: str, namespace: str
) -> list[str]:
    """Log a digest of the application's executors that failed (how they ended, their last lines); return it."""
    executors = hook.list_pods(
        namespace,
        label_selector=f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{APPLICATION_ID_LABEL}={application_id},"
        f"{SPARK_ROLE_LABEL}=executor",
    )
    digest = []
    for pod, status in failed_containers(executors):
        line = describe_failed_container(pod, status)
        digest.append(line)
        tail = hook.read_pod_log_tail(
            pod.metadata.name, namespace, container=EXECUTOR_CONTAINER_NAME, lines=EXECUTOR_DIGEST_LOG_LINES
        )
        log.warning("Failed executor %s\n%s", line, "\n".join(f"    {text}" for text in tail))
    if digest:
        log.warning("%d executor(s) failed during the job (listed above)", len(digest))
    return digest


def diagnose_driver(hook: SparkKubernetesHook, event: dict[str, Any], *, application: str) -> Diagnosis:
    """Return the cause and fix of a driver that did not succeed, from the trigger's event."""
    name, namespace = event["pod_name"], event["namespace"]
    if event["status"] == "timeout":
        return Diagnosis(
            cause=f"Driver pod {namespace}/{name}: {event['message']}.",
            fix="See the waiting reasons logged above; raise that stage's timeout if the wait was expected.",
        )
    if event["status"] == "error":
        return Diagnosis(
            cause=f"Following driver pod {namespace}/{name} failed: {event['message']}",
            fix="Check the kubernetes connection and that the pod still exists; clear the task to retry.",
        )
    pod = hook.read_pod(name, namespace)
    exit_code = driver_exit_code(pod) if pod is not None else 1
    # A driver that never ran, or that Kubernetes killed (OOMKilled), is explained by the pod;
    # one that ran and failed, by its log: the job's own exception.
    if event.get("cause") and (not event.get("container_started") or exit_code == SIGKILL_EXIT_CODE):
        return Diagnosis(cause=event["cause"], fix=event["fix"])
    tail = hook.read_pod_log_tail(name, namespace, container=DRIVER_CONTAINER_NAME, lines=FAILURE_LOG_LINES)
    return explain_failure(exit_code, tail, application=application)


def driver_exit_code(pod: V1Pod) -> int:
    """Return the driver container's exit code, or 1 if it has none."""
    for status in (pod.status.container_statuses or []) if pod.status else []:
        if status.name == DRIVER_CONTAINER_NAME and status.state and status.state.terminated:
            return status.state.terminated.exit_code
    return 1
