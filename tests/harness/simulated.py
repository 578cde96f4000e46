"""Pods on the simulated (KWOK) nodes: choose a node, place a pod there, end it, write its log.

KWOK takes a pod on a simulated node to Running but never ends it, and serves one shared file
as every simulated container's log (cluster/README.md). So a test ends a pod with a status patch,
as a kubelet would write it, and decides what the containers print by appending to that file.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from localcluster.kwok import SIMULATED_NODE_TOLERATION, cri_log_line
from localcluster.settings import NODE_TYPE_LABEL, SIMULATE_PULL_LABEL

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Api

#: An image name for simulated containers: nothing pulls it, KWOK only pretends to.
SIMULATED_IMAGE = "127.0.0.1:5000/sparkplane/simulated:1"


def simulated_nodes(core: CoreV1Api, *, failing_pulls: bool = False) -> list[str]:
    """Return the names of the simulated nodes that pull images (or, with ``failing_pulls``, that fail every pull)."""
    pulls = f"{SIMULATE_PULL_LABEL}=fail" if failing_pulls else f"!{SIMULATE_PULL_LABEL}"
    nodes = core.list_node(label_selector=f"{NODE_TYPE_LABEL}=simulated,{pulls}").items
    return sorted(node.metadata.name for node in nodes)


def simulated_node(core: CoreV1Api) -> str:
    """Return one simulated node that pulls images."""
    nodes = simulated_nodes(core)
    assert nodes, "no simulated node pulls images (see SPARKPLANE_KWOK_PULL_FAIL_NODES)"
    return nodes[0]


def on_simulated_node(pod: dict, node: str, *, scheduled: bool = False) -> dict:
    """Put the pod manifest ``pod`` on ``node``, tolerating the simulated nodes' taint; return it.

    :param scheduled: let the scheduler place it there (a nodeSelector) instead of binding it
        directly (``nodeName``).
    """
    spec = pod["spec"]
    if scheduled:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    else:
        spec["nodeName"] = node
    spec["tolerations"] = [SIMULATED_NODE_TOLERATION]
    return pod


def mark_finished(
    core: CoreV1Api,
    namespace: str,
    name: str,
    *,
    container: str,
    phase: str,
    exit_code: int,
    reason: str,
    finished_at: datetime | None = None,
    image: str = SIMULATED_IMAGE,
) -> None:
    """End a simulated pod as its kubelet would report it: ``phase``, and ``container`` terminated.

    :param finished_at: when the container ended (default: now).
    """
    ended = (finished_at or datetime.now(timezone.utc)).isoformat()
    core.patch_namespaced_pod_status(name, namespace, {"status": {
        "phase": phase,
        "containerStatuses": [{"name": container, "image": image, "imageID": "", "ready": False, "restartCount": 0,
                               "state": {"terminated": {"exitCode": exit_code, "reason": reason,
                                                        "finishedAt": ended}}}],
    }})  # fmt: skip


def append_log_line(log_file: Path, text: str) -> None:
    """Append one line, stamped now, to the simulated containers' log (``Settings.simulated_container_log``)."""
    with log_file.open("a") as f:
        f.write(cri_log_line(text, datetime.now(timezone.utc)))
