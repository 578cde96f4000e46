"""A simulated node's health, changed as a failing node's would change: NotReady, then back.

KWOK keeps every node labelled ``sparkplane.dev/node-type=simulated`` Ready (it renews the node's
lease and heartbeats its conditions), as a kubelet would. ``make_not_ready`` takes the label off,
so KWOK stops speaking for the node, and reports it NotReady as a kubelet whose container runtime
failed would; the node lifecycle controller then taints it (``node.kubernetes.io/not-ready``,
NoExecute) and the taint manager evicts the pods that do not tolerate that for long. Nobody
confirms those deletions while the node is away, as on a real node that is gone. ``make_ready``
gives KWOK the node back: it reports it Ready, the taints go, and it completes the deletions.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from localcluster.settings import NODE_TYPE_LABEL

from harness.waits import wait_for

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Api

NOT_READY_TAINTS = frozenset({"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"})


def make_not_ready(core: CoreV1Api, node: str) -> None:
    """Take ``node`` from KWOK and report it NotReady; return once the controller has tainted it."""
    core.patch_node(node, {"metadata": {"labels": {NODE_TYPE_LABEL: None}}})
    now = datetime.now(timezone.utc).isoformat()
    ready = {"type": "Ready", "status": "False", "reason": "KubeletNotReady", "lastHeartbeatTime": now,
             "lastTransitionTime": now, "message": "container runtime is down (simulated by the fault suite)"}  # fmt: skip
    core.patch_node_status(node, {"status": {"conditions": [ready]}})
    wait_for(lambda: _taints(core, node) & NOT_READY_TAINTS, bool, timeout_seconds=60, interval_seconds=0.5,
             what=f"node {node} to be tainted NotReady")  # fmt: skip


def make_ready(core: CoreV1Api, node: str) -> None:
    """Give ``node`` back to KWOK (idempotent); return once it is Ready and untainted again."""
    labels = core.read_node(node).metadata.labels or {}
    if labels.get(NODE_TYPE_LABEL) != "simulated":
        core.patch_node(node, {"metadata": {"labels": {NODE_TYPE_LABEL: "simulated"}}})
    wait_for(lambda: _is_ready(core, node) and not _taints(core, node) & NOT_READY_TAINTS, bool,
             timeout_seconds=120, interval_seconds=1, what=f"node {node} to be Ready again")  # fmt: skip


def _taints(core: CoreV1Api, node: str) -> set[str]:
    return {taint.key for taint in core.read_node(node).spec.taints or []}


def _is_ready(core: CoreV1Api, node: str) -> bool:
    conditions = core.read_node(node).status.conditions or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)
