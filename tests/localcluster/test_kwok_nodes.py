"""Simulated (KWOK) nodes: pods go through realistic phases, and pulls fail where asked."""

from __future__ import annotations

import uuid

import pytest
from harness.pods import pod_events
from harness.simulated import append_log_line, on_simulated_node, simulated_nodes
from harness.waits import wait_for
from kubernetes import client
from localcluster.settings import SIMULATE_PULL_ANNOTATION, SIMULATE_PULL_LABEL

pytestmark = pytest.mark.cluster


def _pod(name: str, node: str, annotations: dict[str, str] | None = None) -> dict:
    metadata = {"name": name, **({"annotations": annotations} if annotations else {})}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
           "spec": {"containers": [{"name": "app", "image": "127.0.0.1:5000/sparkplane/not-pulled:1"}]}}  # fmt: skip
    return on_simulated_node(pod, node, scheduled=True)


def _waiting_reasons(core, namespace: str, name: str, seen: list[str]) -> list[str]:
    pod = core.read_namespaced_pod(name, namespace)
    for status in pod.status.container_statuses or []:
        reason = status.state.waiting.reason if status.state.waiting else None
        if reason and reason not in seen:
            seen.append(reason)
    return seen


def _wait_for_waiting_reason(core, namespace: str, name: str, reason: str, node: str) -> list[str]:
    """Poll the pod's container waiting reasons until ``reason`` shows; return all seen, in order."""
    seen: list[str] = []
    wait_for(
        lambda: _waiting_reasons(core, namespace, name, seen),
        lambda reasons: reason in reasons,
        timeout_seconds=60,
        interval_seconds=0.2,
        what=f"waiting reason {reason} for pod {name} on {node}",
    )
    return seen


def _simulated_nodes(core, *, failing: bool) -> list[str]:
    names = simulated_nodes(core, failing_pulls=failing)
    if not names:
        kind = "fails" if failing else "pulls"
        pytest.skip(f"no simulated node {kind} images ({SIMULATE_PULL_LABEL}; see SPARKPLANE_KWOK_PULL_FAIL_NODES)")
    return names


def test_pod_on_a_simulated_node_becomes_running_and_ready(local_cluster, namespace):
    core = client.CoreV1Api(local_cluster.api_client())
    node = _simulated_nodes(core, failing=False)[0]
    core.create_namespaced_pod(namespace, _pod("runs", node))

    pod = wait_for(
        lambda: core.read_namespaced_pod("runs", namespace),
        lambda p: (
            p.status.phase == "Running"
            and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
        ),
        timeout_seconds=60,
        what=f"pod 'runs' to be Running and Ready on {node}",
    )
    assert pod.spec.node_name == node
    assert pod.status.pod_ip, "a simulated pod still gets an IP"


def test_a_simulated_containers_log_is_served_through_the_api_and_followed(local_cluster, namespace):
    core = client.CoreV1Api(local_cluster.api_client())
    node = _simulated_nodes(core, failing=False)[0]
    core.create_namespaced_pod(namespace, _pod("prints", node))
    wait_for(lambda: core.read_namespaced_pod("prints", namespace), lambda p: p.status.phase == "Running",
             timeout_seconds=60, what=f"pod 'prints' to run on {node}")  # fmt: skip
    log_file = local_cluster.settings.simulated_container_log
    marker = uuid.uuid4().hex
    append_log_line(log_file, f"before {marker}")

    # Through the API server, which asks KWOK's server at the node's address and checks its certificate.
    stream = core.read_namespaced_pod_log("prints", namespace, follow=True, timestamps=True, _preload_content=False)
    try:
        lines = stream.stream()
        assert any(f"before {marker}" in line.decode() for line in _until(lines, f"before {marker}"))
        append_log_line(log_file, f"after {marker}")
        assert any(f"after {marker}" in line.decode() for line in _until(lines, f"after {marker}"))
    finally:
        stream.release_conn()


def _until(chunks, text: str, limit: int = 100_000):
    """Yield the log's chunks up to and including the first one holding ``text``."""
    for count, chunk in enumerate(chunks):
        yield chunk
        if text.encode() in chunk or count > limit:
            return


def test_pull_failure_on_a_chosen_simulated_node_shows_err_image_pull(local_cluster, namespace):
    core = client.CoreV1Api(local_cluster.api_client())
    node = _simulated_nodes(core, failing=True)[0]
    core.create_namespaced_pod(namespace, _pod("pull-fails", node))

    seen = _wait_for_waiting_reason(core, namespace, "pull-fails", "ImagePullBackOff", node)
    assert "ErrImagePull" in seen, f"waiting reasons seen: {seen}"
    assert core.read_namespaced_pod("pull-fails", namespace).status.phase == "Pending"
    reasons = [e.reason for e in pod_events(core, namespace, "pull-fails")]
    assert "Failed" in reasons, f"expected a 'Failed' pull event, got {reasons}"


def test_pull_failure_can_be_asked_for_by_pod_annotation_on_any_simulated_node(local_cluster, namespace):
    core = client.CoreV1Api(local_cluster.api_client())
    node = _simulated_nodes(core, failing=False)[0]
    core.create_namespaced_pod(namespace, _pod("asked-to-fail", node, annotations={SIMULATE_PULL_ANNOTATION: "fail"}))

    _wait_for_waiting_reason(core, namespace, "asked-to-fail", "ErrImagePull", node)
