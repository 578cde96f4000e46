"""Pods for cluster tests: build one, run it to completion, read its log and events, watch pods.

Uses only the Kubernetes client and the local cluster's own constants, so the local cluster's
tests and the platform's tests share it.
"""

from __future__ import annotations

import threading

from kubernetes import client, watch
from localcluster.kwok import SIMULATED_NODE_TOLERATION

from harness.waits import wait_for


def python_pod(
    name: str,
    image: str,
    script: str,
    *,
    node_selector: dict[str, str],
    labels: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> client.V1Pod:
    """Return a pod that runs ``python3 -c script`` once on the selected node."""
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1PodSpec(
            restart_policy="Never",
            termination_grace_period_seconds=0,
            node_selector=node_selector,
            containers=[
                client.V1Container(
                    name="main",
                    image=image,
                    image_pull_policy="IfNotPresent",
                    command=["python3", "-c", script],
                    env=[client.V1EnvVar(name=k, value=v) for k, v in (env or {}).items()],
                )
            ],
        ),
    )


def read_pod_log(core: client.CoreV1Api, namespace: str, name: str, *, container: str | None = None) -> str:
    """Return a pod's log as text."""
    # Raw bytes: the client's own decoding of plain-text logs is unreliable (it returns the repr of bytes).
    return core.read_namespaced_pod_log(name, namespace, container=container, _preload_content=False).data.decode()


def wait_for_pod_finished(core: client.CoreV1Api, namespace: str, name: str, *, timeout_seconds: float = 120) -> str:
    """Wait until the pod Succeeded or Failed and return the phase; fail with its container states otherwise."""

    def observe() -> tuple[str, list]:
        pod = core.read_namespaced_pod(name, namespace)
        states = [(c.name, c.state.to_dict()) for c in pod.status.container_statuses or []]
        return pod.status.phase, states

    phase, _ = wait_for(
        observe,
        lambda seen: seen[0] in ("Succeeded", "Failed"),
        timeout_seconds=timeout_seconds,
        what=f"pod {namespace}/{name} to finish",
    )
    return phase


def run_to_completion(
    core: client.CoreV1Api, namespace: str, pod: client.V1Pod, *, timeout_seconds: float = 120
) -> str:
    """Create ``pod``, wait until it ends, assert it succeeded and return its log."""
    core.create_namespaced_pod(namespace, pod)
    name = pod.metadata.name
    phase = wait_for_pod_finished(core, namespace, name, timeout_seconds=timeout_seconds)
    log = read_pod_log(core, namespace, name)
    assert phase == "Succeeded", f"pod {namespace}/{name} ended {phase}; log:\n{log}"
    return log


def pod_events(core: client.CoreV1Api, namespace: str, name: str) -> list[client.CoreV1Event]:
    """Return the pod's events, oldest first."""
    events = core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items
    return sorted(events, key=lambda e: (e.first_timestamp or e.event_time or 0, e.metadata.creation_timestamp))


def pause_daemonset(name: str, image: str) -> client.V1DaemonSet:
    """A DaemonSet of pause containers, labelled app=<name>, that also covers the simulated nodes."""
    labels = {"app": name}
    return client.V1DaemonSet(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DaemonSetSpec(
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    termination_grace_period_seconds=0,
                    tolerations=[client.V1Toleration(**SIMULATED_NODE_TOLERATION)],
                    containers=[client.V1Container(name="pause", image=image)],
                ),
            ),
        ),
    )


class PodWatch:
    """Every pod matching a selector that the API server shows while the block runs (a real watch).

    :param core: a CoreV1Api.
    :param namespace: where to watch.
    :param label_selector: which pods.
    """

    def __init__(self, core: client.CoreV1Api, namespace: str, label_selector: str) -> None:
        self.core, self.namespace, self.selector = core, namespace, label_selector
        self.created: dict[str, client.V1Pod] = {}  # uid -> the pod as first seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        version = self.core.list_namespaced_pod(self.namespace, label_selector=self.selector).metadata.resource_version
        while not self._stop.is_set():
            try:
                for change in watch.Watch().stream(self.core.list_namespaced_pod, self.namespace,
                                                   label_selector=self.selector, resource_version=version,
                                                   timeout_seconds=2):
                    pod = change["object"]
                    version = pod.metadata.resource_version
                    self.created.setdefault(pod.metadata.uid, pod)
                    self.on_change(pod)
            except Exception:  # noqa: BLE001 - an API server restart drops the watch; it resumes
                self._stop.wait(1)

    def on_change(self, pod: client.V1Pod) -> None:
        """Called for every version of every pod the watch sees (in the watch's thread)."""

    def __enter__(self) -> PodWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
