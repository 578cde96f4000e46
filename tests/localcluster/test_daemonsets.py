"""DaemonSets and garbage collection across the real node and the simulated ones."""

from __future__ import annotations

from collections import Counter

import pytest
from harness.pods import pause_daemonset
from harness.waits import wait_for
from kubernetes import client

pytestmark = pytest.mark.cluster


def test_daemonset_runs_exactly_one_pod_per_node_and_its_deletion_collects_the_pods(local_cluster, namespace):
    api = local_cluster.api_client()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    nodes = {n.metadata.name for n in core.list_node().items}
    assert local_cluster.real_node in nodes and len(nodes) > 1, f"expected real and simulated nodes, got {nodes}"

    apps.create_namespaced_daemon_set(namespace, pause_daemonset("everywhere", local_cluster.settings.pause_image))

    def pods_per_node() -> Counter:
        pods = core.list_namespaced_pod(namespace, label_selector="app=everywhere").items
        return Counter(p.spec.node_name for p in pods)

    placed = wait_for(
        pods_per_node,
        lambda seen: set(seen) == nodes,
        timeout_seconds=90,
        what=f"one pod on each of {len(nodes)} nodes",
    )
    assert set(placed.values()) == {1}, f"nodes with more than one pod: {placed}"
    status = apps.read_namespaced_daemon_set("everywhere", namespace).status
    assert status.desired_number_scheduled == len(nodes)

    apps.delete_namespaced_daemon_set(
        "everywhere", namespace, body=client.V1DeleteOptions(propagation_policy="Background")
    )
    wait_for(pods_per_node, lambda seen: not seen, timeout_seconds=90, what="the garbage collector to delete the pods")
