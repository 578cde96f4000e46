"""The files of a debug bundle, as text, from what was read of the cluster: pure, no I/O.

``bundle_files`` turns a ``ClusterReading`` into the bundle's files by name (see
``sparkplane.kubernetes.debug_bundle`` for when and where they are written). A part that could
not be read is an ``Unreadable``: one line with the reason in its place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import yaml

from sparkplane.kubernetes import pod_status

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from kubernetes.client import CoreV1Event, V1ContainerStatus, V1Node, V1Pod

    from sparkplane.diagnosis import Diagnosis

#: Last lines of each executor's log kept in the bundle.
EXECUTOR_LOG_LINES = 50
SUMMARY_FILE = "summary.txt"
DRIVER_POD_FILE = "driver-pod.yaml"
DRIVER_EVENTS_FILE = "driver-events.txt"
EXECUTORS_FILE = "executors.txt"
NODES_FILE = "nodes.txt"
PREFLIGHT_FILE = "preflight.txt"
#: What each file holds, as the summary lists it.
FILE_CONTENTS = {
    DRIVER_POD_FILE: "the driver pod's manifest and status",
    DRIVER_EVENTS_FILE: "the driver pod's events",
    EXECUTORS_FILE: f"the executor pods: how they ended, the last {EXECUTOR_LOG_LINES} lines of each log",
    NODES_FILE: "the conditions of the nodes the pods ran on",
    PREFLIGHT_FILE: "the preflight, run again at failure time",
}


@dataclass(frozen=True)
class Unreadable:
    """Something the bundle could not read, and why; written as one line in its place.

    :param what: what was to be read ("node kwok-node-0", "the executor pods").
    :param reason: why it could not be ("it does not exist any more", the API's refusal).
    """

    what: str
    reason: str

    def line(self) -> str:
        return f"Not read: {self.what}: {self.reason}"


@dataclass(frozen=True)
class ExecutorReading:
    """One executor pod and the end of its log.

    :param pod: the pod as the API returned it.
    :param log_tail: the executor container's last lines, or why they could not be read.
    """

    pod: V1Pod
    log_tail: list[str] | Unreadable


@dataclass(frozen=True)
class PreflightReading:
    """The preflight as known at failure time.

    :param enabled: whether the task runs the preflight before it creates a driver.
    :param checked_at: when the checks were run again; None when they were not.
    :param lines: what the checks said then, ending with their cause and fix if they failed.
    """

    enabled: bool
    checked_at: datetime | None = None
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClusterReading:
    """What was read from the cluster for the bundle; each part is the thing or why it is missing."""

    driver: V1Pod | Unreadable
    events: list[CoreV1Event] | Unreadable
    executors: list[ExecutorReading] | Unreadable
    nodes: dict[str, V1Node | Unreadable]
    preflight: PreflightReading


def node_names(driver: V1Pod | Unreadable | None, executors: Sequence[ExecutorReading] | Unreadable) -> list[str]:
    """Return the nodes the driver and the executors were placed on, in that order, each once."""
    pods = [driver] if driver is not None and not isinstance(driver, Unreadable) else []
    pods += [] if isinstance(executors, Unreadable) else [executor.pod for executor in executors]
    return list(dict.fromkeys(pod.spec.node_name for pod in pods if pod.spec and pod.spec.node_name))


def bundle_files(
    reading: ClusterReading,
    *,
    event: Mapping[str, Any],
    diagnosis: Diagnosis,
    written_at: datetime,
) -> dict[str, str]:
    """Return each file of the bundle, by name, from what was read."""
    files = {
        DRIVER_POD_FILE: driver_pod_text(reading.driver),
        DRIVER_EVENTS_FILE: events_text(reading.events),
        EXECUTORS_FILE: executors_text(reading.executors),
        NODES_FILE: nodes_text(reading.nodes, reading.driver, reading.executors),
        PREFLIGHT_FILE: preflight_text(reading.preflight),
    }
    return {SUMMARY_FILE: summary_text(reading, event=event, diagnosis=diagnosis, written_at=written_at), **files}


def summary_text(reading: ClusterReading, *, event: Mapping[str, Any], diagnosis: Diagnosis,
                 written_at: datetime) -> str:  # fmt: skip
    """Return the bundle's first file: which driver, how it ended, why, and what could not be read."""
    lines = [
        f"Debug bundle of driver pod {event['namespace']}/{event['pod_name']}, written {_time(written_at)}.",
        f"Ended: {event['status']}" + (f" ({event['message']})" if event.get("message") else ""),
        f"Cause: {diagnosis.cause}",
        f"Fix: {diagnosis.fix}",
        "",
        "Files:",
        *(f"  {name:<20} {contents}" for name, contents in FILE_CONTENTS.items()),
    ]
    if gaps := unreadable_parts(reading):
        lines += ["", "Could not be read:", *(f"  {gap.line()}" for gap in gaps)]
    return "\n".join(lines) + "\n"


def unreadable_parts(reading: ClusterReading) -> list[Unreadable]:
    """Return every part of the reading that could not be read, in the order of the files."""
    parts: list[Any] = [reading.driver, reading.events, reading.executors]
    if not isinstance(reading.executors, Unreadable):
        parts += [executor.log_tail for executor in reading.executors]
    parts += list(reading.nodes.values())
    return [part for part in parts if isinstance(part, Unreadable)]


def driver_pod_text(driver: V1Pod | Unreadable) -> str:
    """Return the driver pod as YAML, as ``kubectl get -o yaml`` shows it, without ``managedFields``."""
    if isinstance(driver, Unreadable):
        return driver.line() + "\n"
    manifest = _plain(driver)
    manifest.get("metadata", {}).pop("managedFields", None)
    return yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)


def events_text(events: Sequence[CoreV1Event] | Unreadable) -> str:
    """Return one line per event: when, type, reason, how often, who said it, and the message."""
    if isinstance(events, Unreadable):
        return events.line() + "\n"
    if not events:
        return "No events (Kubernetes keeps a pod's events for an hour by default).\n"
    lines = []
    for event in events:
        count = f" (x{event.count})" if event.count and event.count > 1 else ""
        source = event.reporting_component or (event.source.component if event.source else None) or "unknown"
        message = (event.message or "").strip()
        lines.append(f"{_time(_event_time(event))} {event.type or '-'} {event.reason}{count} [{source}]: {message}")
    return "\n".join(lines) + "\n"


def executors_text(executors: Sequence[ExecutorReading] | Unreadable) -> str:
    """Return each executor pod: phase, node, how each container ended, and its last log lines."""
    if isinstance(executors, Unreadable):
        return executors.line() + "\n"
    if not executors:
        return ("No executor pod of the application exists: none was started, or the driver deleted them "
                "when it stopped (the task log's executor digest lists those that failed while it ran).\n")  # fmt: skip
    blocks = []
    for executor in executors:
        pod = executor.pod
        lines = [f"{pod.metadata.name} on node {pod.spec.node_name or '(none)'}: phase {pod_status.phase(pod) or 'unknown'}"]
        lines += [f"  {describe_container(status)}" for status in pod_status.container_statuses(pod, init=True)]
        if isinstance(executor.log_tail, Unreadable):
            lines.append(f"  {executor.log_tail.line()}")
        elif executor.log_tail:
            lines.append(f"  Last {len(executor.log_tail)} lines of its log:")
            lines += [f"    {text}" for text in executor.log_tail]
        else:
            lines.append("  Its log is empty (or its container never started).")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def describe_container(status: V1ContainerStatus) -> str:
    """Return one line: the container's state, with exit code, reason and message when it ended."""
    state = status.state
    restarts = f", restarted {status.restart_count} times" if status.restart_count else ""
    if state is not None and state.terminated is not None:
        ended = state.terminated
        reason = f" ({ended.reason})" if ended.reason else ""
        message = f": {ended.message.strip()}" if ended.message else ""
        return f"container {status.name}: exit code {ended.exit_code}{reason}{restarts}{message}"
    if state is not None and state.waiting is not None:
        message = f": {state.waiting.message.strip()}" if state.waiting.message else ""
        return f"container {status.name}: waiting ({state.waiting.reason or 'no reason given'}){restarts}{message}"
    if state is not None and state.running is not None:
        return f"container {status.name}: running since {_time(state.running.started_at)}{restarts}"
    return f"container {status.name}: no state reported"


def nodes_text(
    nodes: Mapping[str, V1Node | Unreadable],
    driver: V1Pod | Unreadable,
    executors: Sequence[ExecutorReading] | Unreadable,
) -> str:
    """Return each node the pods ran on, which of them, and its conditions."""
    if not nodes:
        if isinstance(driver, Unreadable):
            return "No node is known: the driver pod could not be read.\n"
        return "No node: the driver was never scheduled, and no executor was.\n"
    pods_on: dict[str, list[str]] = {}
    if not isinstance(driver, Unreadable) and driver.spec and driver.spec.node_name:
        pods_on.setdefault(driver.spec.node_name, []).append(f"driver {driver.metadata.name}")
    for executor in [] if isinstance(executors, Unreadable) else executors:
        if executor.pod.spec and executor.pod.spec.node_name:
            pods_on.setdefault(executor.pod.spec.node_name, []).append(f"executor {executor.pod.metadata.name}")
    blocks = []
    for name, node in nodes.items():
        lines = [f"Node {name} (ran {', '.join(pods_on.get(name, [])) or 'no pod of this job'})"]
        if isinstance(node, Unreadable):
            lines.append(f"  {node.line()}")
        else:
            if node.spec and node.spec.unschedulable:
                lines.append("  cordoned: new pods are not scheduled here")
            conditions = (node.status.conditions if node.status else None) or []
            lines += [f"  {c.type}={c.status} since {_time(c.last_transition_time)}"
                      + (f" ({c.reason})" if c.reason else "") + (f": {c.message.strip()}" if c.message else "")
                      for c in conditions] or ["  no conditions reported"]  # fmt: skip
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def preflight_text(preflight: PreflightReading) -> str:
    """Return what is known of the preflight at failure time, with the checks run again."""
    if not preflight.enabled:
        return "The task runs without the preflight (preflight=False): nothing was checked before the driver " \
               "was created, nor now.\n"  # fmt: skip
    lines = [
        "The preflight runs before the driver pod is created, and a failed check creates none: it passed for "
        "this driver (its lines are in the task log, under 'Preflight: the cluster, the image, the quota'; for a "
        "driver followed from an earlier try, in that try's log).",
    ]
    if preflight.checked_at is None:
        lines.append("Not run again at failure time.")
    else:
        lines.append(f"Checked again at failure time, {_time(preflight.checked_at)} (the quota then counts this "
                     "job's own pods, as long as they exist):")  # fmt: skip
        lines += [f"  {line}" for line in preflight.lines] or ["  (the checks said nothing)"]
    return "\n".join(lines) + "\n"


def _plain(model: Any) -> dict[str, Any]:
    """Return a ``kubernetes.client`` model as the API's JSON would give it (camelCase, no nulls)."""
    from kubernetes.client import ApiClient

    return ApiClient().sanitize_for_serialization(model)


def _event_time(event: CoreV1Event) -> datetime | None:
    return event.last_timestamp or event.event_time or event.first_timestamp or event.metadata.creation_timestamp


def _time(moment: datetime | None) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "(no time)"
