"""The manifests of a pre-pull run: one puller pod per node and the ConfigMap that owns them. Pure.

A puller pod runs the image with ``command: ["true"]``. The pull is what counts: the kubelet pulls
the image before it creates the container, so the runner judges by the container's state (running
or terminated, whatever the exit code) and by the kubelet's events, not by the command's success.
An image without ``true`` in its PATH still counts as pulled once its container was created.

The pod is pinned to its node by a required node affinity on the node's name, the way the
DaemonSet controller pins its pods, not by ``spec.nodeName``: the scheduler still checks taints
and free resources, so a puller that cannot fit stays Pending with PodScheduled=False and a
message that says why, instead of being rejected by the kubelet. Its tolerations are Spark's
(``constraints.puller_tolerations``), so it lands only where a Spark pod could.

``activeDeadlineSeconds`` counts from the pod's start on its node; the time spent waiting for the
scheduler is bounded by the runner's own clock (``progress``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sparkplane.prepull.constraints import FIELD_KEY
from sparkplane.prepull.labels import (
    IMAGE_ANNOTATION,
    NAME_PREFIX,
    NODE_ANNOTATION,
    NODE_LABEL,
    PREPULL_NAMESPACE,
    PULLER_CONTAINER_NAME,
    check_run_key,
    node_hash,
    node_label_value,
    prepull_labels,
)

if TYPE_CHECKING:
    from kubernetes.client import V1ConfigMap

#: The "nobody" user: the puller needs no identity, and Pod Security "restricted" wants non-root.
PULLER_UID = 65534
#: What the kubelet reserves for the puller on the node: nearly nothing, so it fits where Spark fits.
PULLER_REQUESTS = {"cpu": "1m", "memory": "8Mi"}
PULLER_LIMITS = {"memory": "16Mi"}
#: Seconds a puller may run on its node (pull included) before the kubelet ends it, unless the DAG says.
DEFAULT_ACTIVE_DEADLINE_SECONDS = 900


def owner_config_map_name(run_key: str) -> str:
    """Return the name of the ConfigMap that owns one run's puller pods."""
    check_run_key(run_key)
    return f"{NAME_PREFIX}{run_key}"


def puller_pod_name(run_key: str, node_name: str) -> str:
    """Return the puller pod's name: the same for a node within a run, at most 63 characters."""
    return f"{owner_config_map_name(run_key)}-{node_hash(node_name)}"


def build_owner_config_map(run_key: str, namespace: str = PREPULL_NAMESPACE, *, image: str) -> dict[str, Any]:
    """Return the ConfigMap that owns one run's puller pods: deleting it deletes them all.

    The garbage collector deletes the pods once their owner is gone, which covers a runner that
    died before its own cleanup. It records the run's image for people reading the cluster.
    """
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": owner_config_map_name(run_key),
            "namespace": namespace,
            "labels": prepull_labels(run_key),
            "annotations": {IMAGE_ANNOTATION: image},
        },
        "data": {"image": image},
    }


def owner_reference(owner: V1ConfigMap | tuple[str, str]) -> dict[str, Any]:
    """Return the ownerReference of a puller pod to its run's ConfigMap (the object, or its name and uid)."""
    name, uid = (owner.metadata.name, owner.metadata.uid) if not isinstance(owner, tuple) else owner
    if not name or not uid:
        raise ValueError(f"the owner ConfigMap needs a name and a uid (it must have been created), got {owner!r}")
    # No blockOwnerDeletion: setting it needs rights on the owner's finalizers, and nothing waits on it.
    return {"apiVersion": "v1", "kind": "ConfigMap", "name": name, "uid": uid}


def build_puller_pod(
    *,
    node_name: str,
    image: str,
    owner: V1ConfigMap | tuple[str, str],
    run_key: str,
    priority_class_name: str | None,
    namespace: str = PREPULL_NAMESPACE,
    active_deadline_seconds: int = DEFAULT_ACTIVE_DEADLINE_SECONDS,
    tolerations: Sequence[Mapping[str, Any]] = (),
    image_pull_secrets: Sequence[str] = (),
) -> dict[str, Any]:
    """Return the pod that pulls ``image`` onto ``node_name``.

    :param node_name: the node's ``metadata.name``.
    :param image: the image reference, as Spark's pods name it (same reference, same cache entry).
    :param owner: the run's ConfigMap (``build_owner_config_map``, once created), or its name and uid.
        Owner references do not cross namespaces, so it must live in ``namespace``.
    :param run_key: the run's key (``labels.run_key_of``).
    :param priority_class_name: the PriorityClass of pullers, or None for the cluster's default.
    :param namespace: where puller pods run.
    :param active_deadline_seconds: seconds the pod may run on its node, pull included.
    :param tolerations: Spark's pods' tolerations (``constraints.puller_tolerations``).
    :param image_pull_secrets: Secrets in ``namespace`` holding the registry's credentials.
    """
    owner_namespace = getattr(getattr(owner, "metadata", None), "namespace", None)
    if owner_namespace and owner_namespace != namespace:
        raise ValueError(f"the owner ConfigMap is in {owner_namespace!r}, the puller pods in {namespace!r}: "
                         "owner references do not cross namespaces")  # fmt: skip
    if active_deadline_seconds < 1:
        raise ValueError(f"active_deadline_seconds={active_deadline_seconds} must be at least 1")
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 0,
        "activeDeadlineSeconds": active_deadline_seconds,
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [{"key": FIELD_KEY, "operator": "In", "values": [node_name]}]}],
        }}},
        "tolerations": [dict(toleration) for toleration in tolerations],
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": PULLER_UID,
            "runAsGroup": PULLER_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [{
            "name": PULLER_CONTAINER_NAME,
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["true"],
            "resources": {"requests": dict(PULLER_REQUESTS), "limits": dict(PULLER_LIMITS)},
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            },
        }],
    }  # fmt: skip
    if priority_class_name:
        spec["priorityClassName"] = priority_class_name
    if image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": secret} for secret in image_pull_secrets]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": puller_pod_name(run_key, node_name),
            "namespace": namespace,
            "labels": {**prepull_labels(run_key), NODE_LABEL: node_label_value(node_name)},
            "annotations": {NODE_ANNOTATION: node_name, IMAGE_ANNOTATION: image},
            "ownerReferences": [owner_reference(owner)],
        },
        "spec": spec,
    }
