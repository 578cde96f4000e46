"""Pods for cluster tests: build one, run it to completion, read what it printed."""

from __future__ import annotations

from cluster_waits import wait_for_pod_finished
from kubernetes import client
from localcluster.kwok import SIMULATED_NODE_TOLERATION


def python_pod(
    name: str, image: str, script: str, *, node_selector: dict[str, str], labels=None, env=None
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


def run_to_completion(
    core: client.CoreV1Api, namespace: str, pod: client.V1Pod, *, timeout_seconds: float = 120
) -> str:
    """Create ``pod``, wait until it ends, assert it succeeded and return its log."""
    core.create_namespaced_pod(namespace, pod)
    name = pod.metadata.name
    phase = wait_for_pod_finished(core, namespace, name, timeout_seconds=timeout_seconds)
    # Raw bytes: the client's own decoding of plain-text logs is unreliable.
    log = core.read_namespaced_pod_log(name, namespace, _preload_content=False).data.decode()
    assert phase == "Succeeded", f"pod {namespace}/{name} ended {phase}; log:\n{log}"
    return log


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
