"""The debug bundle of a Kubernetes-mode try whose driver did not succeed: what kubectl would show.

Written beside the try's log file on the worker (``attempt=N.log`` -> ``attempt=N.debug/``) and
named in the task log just before ``Cause:``/``Fix:``. Small text files, each readable alone:

- ``summary.txt``: the driver, how it ended, the cause and fix, and what could not be read;
- ``driver-pod.yaml``: the driver pod's manifest and status (``metadata.managedFields`` dropped);
- ``driver-events.txt``: the driver's events, oldest first;
- ``executors.txt``: each executor pod of the application: phase, node, how each container ended,
  and the last lines of its log;
- ``nodes.txt``: the conditions of the nodes the driver and the executors ran on;
- ``preflight.txt``: the preflight, run again at failure time.

Decisions:

- Three layers, so the middle one is tested without a cluster: ``read_cluster`` asks the API
  through the hook, only what the platform's identity may read (pods, pods/log, events, nodes,
  quotas, access reviews; never a Secret); ``debug_bundle_files.bundle_files`` turns what was read
  into texts (pure); ``write_bundle`` passes every text through Airflow's secrets masker and writes it.
- A read that is refused or finds nothing becomes one line with the reason (``Unreadable``),
  never an error: a bundle with a gap is still worth having.
- The preflight runs in the try's first process, before it defers; a failure is handled in
  another (after the triggerer). A driver exists only when the preflight passed (or was off), so
  the bundle says that, and runs the checks again now, labelled with the time.
- The folder: the Task SDK does not tell a task where its log file is (the supervisor writes it),
  so ``[logging] log_filename_template`` is rendered with the task instance under
  ``[logging] base_log_folder``, as the executor renders it for the supervisor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkplane.kubernetes.debug_bundle_files import (
    EXECUTOR_LOG_LINES,
    ClusterReading,
    ExecutorReading,
    PreflightReading,
    Unreadable,
    bundle_files,
    node_names,
)
from sparkplane.kubernetes.identity import APPLICATION_ID_LABEL, EXECUTOR_CONTAINER_NAME, executor_selector

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from kubernetes.client import V1Node, V1Pod

    from sparkplane.diagnosis import Diagnosis
    from sparkplane.job_spec import SparkJobSpec
    from sparkplane.kubernetes.driver_pod import KubernetesTarget
    from sparkplane.kubernetes.hook import SparkKubernetesHook


@dataclass(frozen=True)
class DebugBundleRequest:
    """Where a failed driver's debug bundle goes, and what the preflight is run again with.

    :param folder: the bundle's folder (``debug_folder_of`` the task instance).
    :param spec: the job as the task builds it; None runs no preflight again.
    :param target: the namespace and image of the driver; None runs no preflight again.
    :param preflight: whether the task runs the preflight before it creates a driver.
    """

    folder: Path
    spec: SparkJobSpec | None = None
    target: KubernetesTarget | None = None
    preflight: bool = True


# --- where ------------------------------------------------------------------------------------


def render_log_path(template: str, ti: Any) -> str:
    """Return a task try's log file, relative to the log folder, from ``[logging] log_filename_template``.

    As Airflow's executor renders it (``airflow.utils.helpers.log_filename_template_renderer``): a
    Jinja template gets ``ti``; an old ``str.format`` one gets the ids, the logical date and try.
    """
    if "{{" in template:
        import jinja2

        return jinja2.Template(template).render(ti=ti)
    logical_date = getattr(ti, "logical_date", None)
    return template.format(dag_id=ti.dag_id, task_id=ti.task_id, try_number=ti.try_number,
                           logical_date=logical_date.isoformat() if logical_date else "")  # fmt: skip


def debug_folder_beside(log_file: Path) -> Path:
    """Return the bundle folder of a log file: ``attempt=1.log`` -> ``attempt=1.debug``."""
    stem = log_file.name.removesuffix(".log")
    return log_file.with_name(f"{stem}.debug")


def debug_folder_of(ti: Any) -> Path:
    """Return the bundle folder of the running task try, beside the log file its worker writes."""
    from airflow.sdk.configuration import conf

    relative = render_log_path(conf.get("logging", "log_filename_template"), ti)
    return debug_folder_beside(Path(conf.get("logging", "base_log_folder")) / relative)


# --- reading the cluster ------------------------------------------------------------------------


def read_cluster(
    hook: SparkKubernetesHook,
    *,
    namespace: str,
    driver_name: str,
    preflight: bool,
    recheck_preflight: Callable[[logging.Logger], None] | None,
) -> ClusterReading:
    """Read what the bundle holds; a read that fails is recorded with its reason, never raised.

    :param recheck_preflight: runs the preflight's checks, logging to the logger it is given and
        raising the failure's cause and fix; None when it cannot be run again.
    """
    driver = _attempt(f"driver pod {namespace}/{driver_name}", lambda: hook.read_pod(driver_name, namespace))
    events = _attempt(f"the events of pod {namespace}/{driver_name}",
                      lambda: hook.list_pod_events(driver_name, namespace))  # fmt: skip
    executors = _read_executors(hook, driver, namespace=namespace)
    nodes: dict[str, V1Node | Unreadable] = {}
    for node in node_names(driver, executors):
        nodes[node] = _attempt(f"node {node}", lambda node=node: hook.read_node(node))
    return ClusterReading(driver=driver, events=events, executors=executors, nodes=nodes,
                          preflight=_recheck_preflight(preflight, recheck_preflight))  # fmt: skip


def unread_cluster(reason: str, *, namespace: str, driver_name: str, preflight: bool) -> ClusterReading:
    """Return a reading that asked the cluster nothing, each part saying ``reason``."""
    return ClusterReading(
        driver=Unreadable(f"driver pod {namespace}/{driver_name}", reason),
        events=Unreadable(f"the events of pod {namespace}/{driver_name}", reason),
        executors=Unreadable("the executor pods", reason), nodes={}, preflight=PreflightReading(enabled=preflight),
    )  # fmt: skip


def _read_executors(
    hook: SparkKubernetesHook, driver: V1Pod | Unreadable | None, *, namespace: str
) -> list[ExecutorReading] | Unreadable:
    if isinstance(driver, Unreadable) or driver is None:
        return Unreadable("the executor pods", "the driver pod is not there to name its application")
    application_id = (driver.metadata.labels or {}).get(APPLICATION_ID_LABEL)
    if not application_id:
        return Unreadable("the executor pods", f"the driver pod has no {APPLICATION_ID_LABEL} label")
    pods = _attempt(f"the executor pods of application {application_id}",
                    lambda: hook.list_pods(namespace, executor_selector(application_id)))  # fmt: skip
    if isinstance(pods, Unreadable):
        return pods
    return [
        ExecutorReading(pod, _attempt(f"the log of {pod.metadata.name}", lambda pod=pod: hook.read_pod_log_tail(
            pod.metadata.name, namespace, container=EXECUTOR_CONTAINER_NAME, lines=EXECUTOR_LOG_LINES)))
        for pod in sorted(pods, key=lambda pod: pod.metadata.name)
    ]  # fmt: skip


def _recheck_preflight(enabled: bool, recheck: Callable[[logging.Logger], None] | None) -> PreflightReading:
    if not enabled or recheck is None:
        return PreflightReading(enabled=enabled)
    said = _Said()
    # A logger of its own, outside the hierarchy: these lines go to the bundle, not the task log.
    log = logging.Logger("sparkplane.debug_bundle.preflight", level=logging.INFO)
    log.addHandler(said)
    checked_at = datetime.now(timezone.utc)
    try:
        recheck(log)
    except Exception as error:  # the preflight's own failure, or the API's, is what the bundle reports
        cause, fix = getattr(error, "cause", None), getattr(error, "fix", None)
        if isinstance(cause, str) and isinstance(fix, str):
            said.lines += [f"Fails now: {cause}", f"Fix: {fix}"]
        else:
            said.lines.append(f"Could not be checked now: {_first_line(error)}")
    return PreflightReading(enabled=True, checked_at=checked_at, lines=tuple(said.lines))


class _Said(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _attempt(what: str, read: Callable[[], Any]) -> Any:
    """Return what ``read`` returns, or ``Unreadable`` with why: refused, unreachable, or not there."""
    try:
        found = read()
    except Exception as error:  # any refusal or API trouble becomes the bundle's line, never the task's error
        return Unreadable(what, _first_line(error))
    return Unreadable(what, "it does not exist (any more)") if found is None else found


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


# --- writing ------------------------------------------------------------------------------------


def write_bundle(folder: Path, files: Mapping[str, str]) -> Path:
    """Write each file into ``folder`` (made if missing), masked as Airflow masks the task log; return it."""
    from airflow.sdk._shared.secrets_masker import redact

    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(redact(text), encoding="utf-8")
    return folder


def write_debug_bundle(
    hook: SparkKubernetesHook,
    request: DebugBundleRequest,
    *,
    event: Mapping[str, Any],
    diagnosis: Diagnosis,
    recheck_preflight: Callable[[logging.Logger], None] | None,
    ask_cluster: bool = True,
) -> Path:
    """Read the cluster (unless ``ask_cluster`` is false), assemble and write the bundle; return its folder."""
    namespace, driver_name = event["namespace"], event["pod_name"]
    if ask_cluster:
        reading = read_cluster(hook, namespace=namespace, driver_name=driver_name, preflight=request.preflight,
                               recheck_preflight=recheck_preflight)  # fmt: skip
    else:
        reading = unread_cluster("the cluster was not asked: following the driver failed (see Cause)",
                                 namespace=namespace, driver_name=driver_name, preflight=request.preflight)  # fmt: skip
    files = bundle_files(reading, event=event, diagnosis=diagnosis, written_at=datetime.now(timezone.utc))
    return write_bundle(request.folder, files)
