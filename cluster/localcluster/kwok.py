"""Simulated nodes: Node objects managed by the KWOK controller.

Pods bound to a simulated node go through the phases a kubelet would report,
driven by KWOK Stages (rendered below, replacing KWOK's default pod stages):

    Pending/ContainerCreating --(pull delay)--> Running/Ready --(Job pods)--> Succeeded
                              \\-(pull fails)--> ErrImagePull --> ImagePullBackOff

A pull fails when the pod is on a node labelled ``sparkplane.dev/simulate-pull=fail``
(chosen when ``up`` creates the nodes) or the pod itself is annotated
``sparkplane.dev/simulate-pull: fail``. KWOK's selectors see only the pod, so
the failing nodes are written into the stage by name.

Their containers' logs are served by KWOK itself, on the address all simulated nodes share:
every container shows the file ``Settings.simulated_container_log`` (the kubelet's CRI log
format), followed like a running container's log, so whoever appends lines there decides what
simulated containers print. The stream does not end when the pod does, as no container exits.

Simulated nodes carry KWOK's taint ``kwok.x-k8s.io/node=fake:NoSchedule``: a pod
lands on one only when it tolerates it (``SIMULATED_NODE_TOLERATION``). Without it,
the scheduler would place real work there, such as the executors Spark creates, which
would "run" without running anything.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from .settings import NODE_TYPE_LABEL, SIMULATE_PULL_ANNOTATION, SIMULATE_PULL_LABEL, Settings

#: The taint on every simulated node, and the toleration that lets a pod onto one.
SIMULATED_NODE_TAINT = {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}
SIMULATED_NODE_TOLERATION = {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}
NOT_DELETING = {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"}
WAITING_REASON = ".status.containerStatuses.[].state.waiting.reason"
# KWOK rejects an empty "NotIn" list; no node has this name.
NO_NODE = "-no-such-node-"


def _conditions(ready: bool) -> str:
    """Return the pod conditions; scheduled and initialized, ready only when ``ready``."""
    text = "conditions:\n"
    for condition in ("PodScheduled", "Initialized", "Ready", "ContainersReady"):
        status = "True" if ready or condition in ("PodScheduled", "Initialized") else "False"
        text += (
            f"- lastProbeTime: null\n  lastTransitionTime: {{{{ Now | Quote }}}}\n"
            f'  status: "{status}"\n  type: {condition}\n'
        )
    return text


def _waiting_statuses(reason: str, message: str) -> str:
    return f"""\
containerStatuses:
{{{{ range .spec.containers }}}}
- image: {{{{ .image | Quote }}}}
  name: {{{{ .name | Quote }}}}
  ready: false
  restartCount: 0
  started: false
  state:
    waiting:
      reason: {reason}
      message: {json.dumps(message)}
{{{{ end }}}}
"""


def _stage(name: str, match: list[dict], *, delay_ms: int, jitter_ms: int = 0, next_: dict) -> dict:
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": {
            "resourceRef": {"apiGroup": "v1", "kind": "Pod"},
            "selector": {"matchExpressions": match},
            "delay": {"durationMilliseconds": delay_ms, "jitterDurationMilliseconds": delay_ms + jitter_ms},
            "next": next_,
        },
    }


def pod_stages(s: Settings) -> list[dict]:
    """Return the Stages that simulated pods go through."""
    fail_nodes = s.kwok_pull_fail_node_names()
    pull_ms = s.kwok_pull_delay_ms
    creating = [NOT_DELETING, {"key": WAITING_REASON, "operator": "In", "values": ["ContainerCreating"]}]
    annotation = f'.metadata.annotations["{SIMULATE_PULL_ANNOTATION}"]'
    pull_failed = {
        "event": {"type": "Warning", "reason": "Failed", "message": "Failed to pull image: simulated pull failure"},
        "statusTemplate": _conditions(False)
        + _waiting_statuses("ErrImagePull", "simulated pull failure (sparkplane.dev/simulate-pull=fail)")
        + "phase: Pending\n",
    }
    stages = [
        _stage(
            "pod-create",
            [NOT_DELETING, {"key": ".status.podIP", "operator": "DoesNotExist"}],
            delay_ms=100,
            jitter_ms=400,
            next_={
                "event": {"type": "Normal", "reason": "Pulling", "message": "Pulling image (simulated)"},
                "statusTemplate": _conditions(False)
                + _waiting_statuses("ContainerCreating", "")
                + "hostIP: {{ NodeIPWith .spec.nodeName | Quote }}\n"
                + 'podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" )'
                ' ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}\n'
                + "phase: Pending\nstartTime: {{ Now | Quote }}\n",
            },
        ),
        _stage(
            "pod-pull-fail-by-annotation",
            [*creating, {"key": annotation, "operator": "In", "values": ["fail"]}],
            delay_ms=pull_ms,
            next_=pull_failed,
        ),
        _stage(
            "pod-pull-backoff",
            [NOT_DELETING, {"key": WAITING_REASON, "operator": "In", "values": ["ErrImagePull"]}],
            delay_ms=1000,
            next_={
                "event": {"type": "Normal", "reason": "BackOff", "message": "Back-off pulling image (simulated)"},
                "statusTemplate": _conditions(False)
                + _waiting_statuses("ImagePullBackOff", "Back-off pulling image (simulated pull failure)")
                + "phase: Pending\n",
            },
        ),
        _stage(
            "pod-ready",
            [
                *creating,
                {"key": ".spec.nodeName", "operator": "NotIn", "values": fail_nodes or [NO_NODE]},
                {"key": annotation, "operator": "NotIn", "values": ["fail"]},
            ],
            delay_ms=pull_ms,
            next_={
                "event": {"type": "Normal", "reason": "Pulled", "message": "Successfully pulled image (simulated)"},
                "statusTemplate": _conditions(True)
                + """\
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: true
  restartCount: 0
  started: true
  state:
    running:
      startedAt: {{ Now | Quote }}
{{ end }}
phase: Running
""",
            },
        ),
        _stage(
            "pod-complete",
            [
                NOT_DELETING,
                {"key": ".status.phase", "operator": "In", "values": ["Running"]},
                {"key": ".metadata.ownerReferences.[].kind", "operator": "In", "values": ["Job"]},
            ],
            delay_ms=1000,
            next_={
                "statusTemplate": _conditions(False)
                + """\
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: false
  restartCount: 0
  started: false
  state:
    terminated:
      exitCode: 0
      reason: Completed
      finishedAt: {{ Now | Quote }}
{{ end }}
phase: Succeeded
""",
            },
        ),
        _stage(
            "pod-delete",
            [
                {"key": ".metadata.deletionTimestamp", "operator": "Exists"},
                {"key": ".metadata.finalizers", "operator": "DoesNotExist"},
            ],
            delay_ms=200,
            next_={"delete": True},
        ),
    ]
    if fail_nodes:
        stages.insert(
            1,
            _stage(
                "pod-pull-fail-by-node",
                [*creating, {"key": ".spec.nodeName", "operator": "In", "values": fail_nodes}],
                delay_ms=pull_ms,
                next_=pull_failed,
            ),
        )
    return stages


def kwok_config(s: Settings) -> str:
    """Return KWOK's config file: its options plus the pod stages, as a YAML stream of JSON documents."""
    options = {
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokConfiguration",
        "options": {
            "manageNodesWithLabelSelector": f"{NODE_TYPE_LABEL}=simulated",
            # Inside the pod range, which is routed to the blackhole link:
            # nothing is ever sent to a simulated node's or pod's address.
            "cidr": s.kwok_pod_cidr,
            "nodeIP": s.kwok_node_ip,
            "nodeLeaseDurationSeconds": 40,
            # The kubelet-like server the API server asks for simulated containers' logs: on the
            # nodes' address (local to this host), with a certificate from the cluster CA.
            "serverAddress": f"{s.kwok_node_ip}:{s.kwok_server_port}",
            "nodePort": s.kwok_server_port,
            "tlsCertFile": str(s.pki_dir / "kwok-serving.crt"),
            "tlsPrivateKeyFile": str(s.pki_dir / "kwok-serving.key"),
        },
    }
    return "\n---\n".join(json.dumps(doc, indent=1) for doc in [options, *pod_stages(s), container_logs(s)]) + "\n"


def container_logs(s: Settings) -> dict:
    """Return the ClusterLogs rule: every container on a simulated node shows one shared file as its log."""
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "ClusterLogs",
        "metadata": {"name": "simulated-container-log"},
        "spec": {"selector": {}, "logs": [{"logsFile": str(s.simulated_container_log), "follow": True}]},
    }


def cri_log_line(text: str, at: datetime, stream: str = "stdout") -> str:
    """Return one line of the kubelet's CRI log format, as ``simulated_container_log`` holds them."""
    stamp = at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
    return f"{stamp} {stream} F {text}\n"


def node_manifests(s: Settings) -> dict:
    """Return a List of the simulated Node objects."""
    fail_nodes = set(s.kwok_pull_fail_node_names())
    items = []
    for name in s.kwok_node_names():
        labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "type": "kwok",
            NODE_TYPE_LABEL: "simulated",
        }
        if name in fail_nodes:
            labels[SIMULATE_PULL_LABEL] = "fail"
        items.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": name, "labels": labels, "annotations": {"kwok.x-k8s.io/node": "fake"}},
                "spec": {"taints": [SIMULATED_NODE_TAINT]},
            }
        )
    return {"apiVersion": "v1", "kind": "List", "items": items}
