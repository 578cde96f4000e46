"""Simulated nodes at scale: 200 KWOK nodes join, and a DaemonSet covers every node once.

The cluster starts with its configured simulated nodes (10 by default); this test adds Node
objects up to 200 simulated ones through the API (KWOK manages every node labelled
``sparkplane.dev/node-type=simulated``), then removes them. Timings are printed, not asserted.
"""

from __future__ import annotations

import time

import pytest
from harness.pods import pause_daemonset
from harness.waits import wait_for
from kubernetes import client
from localcluster.kwok import SIMULATED_NODE_TAINT
from localcluster.settings import NODE_TYPE_LABEL, SIMULATE_PULL_LABEL

pytestmark = pytest.mark.cluster

SIMULATED_NODES = 200
SCALE_LABEL = "sparkplane.dev/scale-test"


def _node(name: str) -> client.V1Node:
    return client.V1Node(
        metadata=client.V1ObjectMeta(
            name=name,
            labels={"kubernetes.io/hostname": name, "type": "kwok", NODE_TYPE_LABEL: "simulated", SCALE_LABEL: "true"},
            annotations={"kwok.x-k8s.io/node": "fake"},
        ),
        spec=client.V1NodeSpec(taints=[client.V1Taint(**SIMULATED_NODE_TAINT)]),
    )


def _ready(node: client.V1Node) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (node.status.conditions or []))


@pytest.fixture
def scaled_nodes(local_cluster):
    core = client.CoreV1Api(local_cluster.api_client())
    existing = len(core.list_node(label_selector=f"{NODE_TYPE_LABEL}=simulated").items)
    added = [f"kwok-scale-{i:03d}" for i in range(max(0, SIMULATED_NODES - existing))]
    try:
        for name in added:
            core.create_node(_node(name))
        yield core
    finally:
        for name in added:
            try:
                core.delete_node(name)
            except client.ApiException as error:
                if error.status != 404:
                    raise


def test_two_hundred_simulated_nodes_become_ready_and_each_gets_one_daemonset_pod(scaled_nodes, local_cluster, namespace):
    core, apps = scaled_nodes, client.AppsV1Api(local_cluster.api_client())
    started = time.monotonic()
    nodes = wait_for(
        lambda: core.list_node(label_selector=f"{NODE_TYPE_LABEL}=simulated").items,
        lambda seen: len(seen) >= SIMULATED_NODES and all(_ready(n) for n in seen),
        timeout_seconds=180, interval_seconds=2, what=f"{SIMULATED_NODES} simulated nodes Ready",
    )
    ready_seconds = time.monotonic() - started
    all_nodes = {n.metadata.name for n in core.list_node().items}
    assert len(nodes) == SIMULATED_NODES and len(all_nodes) == SIMULATED_NODES + 1
    # The cluster's pull-failing nodes (SPARKPLANE_KWOK_PULL_FAIL_NODES) get their pod, which never runs.
    failing = {n.metadata.name for n in core.list_node(label_selector=f"{SIMULATE_PULL_LABEL}=fail").items}

    apps.create_namespaced_daemon_set(namespace, pause_daemonset("scale", local_cluster.settings.pause_image))
    started = time.monotonic()

    def phases_per_node() -> dict[str, list[str]]:
        placed: dict[str, list[str]] = {}
        for pod in core.list_namespaced_pod(namespace, label_selector="app=scale").items:
            placed.setdefault(pod.spec.node_name, []).append(pod.status.phase)
        return placed

    placed = wait_for(
        phases_per_node,
        lambda seen: set(seen) == all_nodes and all(seen[n] == ["Running"] for n in all_nodes - failing),
        timeout_seconds=300, interval_seconds=2, what=f"a Running pod on each of {len(all_nodes - failing)} nodes",
    )
    assert all(len(phases) == 1 for phases in placed.values()), "a node got more than one pod"
    assert all(placed[n] == ["Pending"] for n in failing)
    print(f"\n{SIMULATED_NODES} simulated nodes Ready in {ready_seconds:.1f}s; "
          f"DaemonSet Running on {len(all_nodes - failing)} nodes ({len(failing)} failing pulls) "
          f"in {time.monotonic() - started:.1f}s")

    apps.delete_namespaced_daemon_set("scale", namespace, body=client.V1DeleteOptions(propagation_policy="Background"))
    wait_for(lambda: core.list_namespaced_pod(namespace, label_selector="app=scale").items, lambda pods: not pods,
             timeout_seconds=180, interval_seconds=2, what="the garbage collector to delete 201 pods")
