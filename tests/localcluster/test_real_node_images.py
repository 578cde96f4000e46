"""The real node pulls locally built images from the local registry and runs them."""

from __future__ import annotations

import re

import pytest
from harness.pods import pod_events, python_pod, run_to_completion
from harness.waits import wait_for
from kubernetes import client

pytestmark = pytest.mark.cluster

PULLED_IN = re.compile(r"Successfully pulled image \"[^\"]+\" in ([0-9.]+(?:ms|s|m[0-9.]+s))")


def _pulled_message(core: client.CoreV1Api, namespace: str, name: str) -> str:
    messages = [e.message for e in pod_events(core, namespace, name) if e.reason == "Pulled"]
    assert messages, f"no Pulled event for {name}: {[(e.reason, e.message) for e in pod_events(core, namespace, name)]}"
    return messages[0]


def test_locally_built_image_is_pulled_by_the_kubelet_then_found_present(
    local_cluster, namespace, unpulled_python_image
):
    python_image = unpulled_python_image
    core = client.CoreV1Api(local_cluster.api_client())
    script = "import sys; print('python3 %d.%d on the real node' % sys.version_info[:2])"

    log = run_to_completion(
        core, namespace, python_pod("first", python_image, script, node_selector=local_cluster.real_node_selector)
    )
    assert re.search(r"python3 3\.\d+ on the real node", log), log
    first = _pulled_message(core, namespace, "first")
    assert PULLED_IN.search(first), f"the first pull should report its duration: {first}"

    run_to_completion(
        core, namespace, python_pod("second", python_image, script, node_selector=local_cluster.real_node_selector)
    )
    second = _pulled_message(core, namespace, "second")
    assert "already present on machine" in second, second


def test_image_from_an_outside_registry_fails_on_this_machine(local_cluster, namespace):
    core = client.CoreV1Api(local_cluster.api_client())
    pod = python_pod(
        "outside", "docker.io/library/python:3-slim", "pass", node_selector=local_cluster.real_node_selector
    )
    core.create_namespaced_pod(namespace, pod)

    failed = wait_for(
        lambda: [e.message for e in pod_events(core, namespace, "outside") if e.reason == "Failed"],
        bool,
        timeout_seconds=60,
        what="the pull from docker.io to fail",
    )
    # Refused by the loopback proxy containerd is given: nothing left the machine.
    assert "proxyconnect tcp: dial tcp 127.0.0.1:9" in failed[0], failed[0]
