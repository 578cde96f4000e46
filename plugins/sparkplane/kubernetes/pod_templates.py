"""A task's pod template: what a job adds to its driver and executor pods. Pure, dict in, dict out.

Spark's own rule, kept here: the template is the starting point and the platform's fields win.
The executors' merged template reaches the driver pod as an annotation mounted into it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sparkplane.image.layout import SPARK_UID
from sparkplane.kubernetes.identity import EXECUTOR_CONTAINER_NAME, EXECUTOR_TEMPLATE_ANNOTATION

EXECUTOR_TEMPLATE_VOLUME = "sparkplane-executor-template"
EXECUTOR_TEMPLATE_DIR = "/opt/spark/task-pod-template"
EXECUTOR_TEMPLATE_FILE = f"{EXECUTOR_TEMPLATE_DIR}/executor.yaml"
_TOP_LEVEL_KEYS = frozenset({"apiVersion", "kind", "metadata", "spec"})


def check_pod_template(template: object) -> list[str]:
    """Return what is wrong with a task's pod template (empty when it can be used)."""
    if not isinstance(template, Mapping):
        return [f"it is a {type(template).__name__}, not a mapping like {{'spec': {{'nodeSelector': {{...}}}}}}"]
    problems = [f"unknown top-level key {key!r} (allowed: metadata, spec)" for key in template if key not in _TOP_LEVEL_KEYS]
    spec = template.get("spec", {})
    if not isinstance(spec, Mapping):
        problems.append("spec is not a mapping")
    elif not isinstance(spec.get("containers", []), list):
        problems.append("spec.containers is not a list")
    return problems


def restricted_executor_template() -> dict[str, Any]:
    """Return the platform's executor template (spark-bootstrap/pod-templates/executor.yaml)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": {
            "automountServiceAccountToken": False,
            "securityContext": restricted_pod_security(),
            "containers": [{"name": EXECUTOR_CONTAINER_NAME, "securityContext": restricted_container_security()}],
        },
    }


def restricted_pod_security() -> dict[str, Any]:
    """Return the pod securityContext Pod Security "restricted" requires (the spark namespace enforces it)."""
    return {
        "runAsNonRoot": True,
        "runAsUser": SPARK_UID,
        "runAsGroup": SPARK_UID,
        "fsGroup": SPARK_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def restricted_container_security() -> dict[str, Any]:
    """Return the container securityContext Pod Security "restricted" requires."""
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def apply_pod_template(driver_pod: Mapping[str, Any], template: Mapping[str, Any]) -> dict[str, Any]:
    """Return the driver pod with the task's template applied, carrying the executors' template.

    Executors are created by the driver from a template file inside the driver pod. The
    platform's restricted executor template, merged with the task's, travels as an annotation of
    the driver pod and is mounted into it with a downward API volume: no ConfigMap to create, no
    extra right.
    """
    pod = merge_pod_template(template, driver_pod)
    executor = merge_pod_template(template, restricted_executor_template())
    pod["metadata"].setdefault("annotations", {})[EXECUTOR_TEMPLATE_ANNOTATION] = json.dumps(executor, sort_keys=True)
    pod["spec"].setdefault("volumes", []).append({
        "name": EXECUTOR_TEMPLATE_VOLUME,
        "downwardAPI": {"items": [{
            "path": "executor.yaml",
            "fieldRef": {"fieldPath": f"metadata.annotations['{EXECUTOR_TEMPLATE_ANNOTATION}']"},
        }]},
    })
    spark_container = pod["spec"]["containers"][0]
    spark_container.setdefault("volumeMounts", []).append(
        {"name": EXECUTOR_TEMPLATE_VOLUME, "mountPath": EXECUTOR_TEMPLATE_DIR, "readOnly": True}
    )
    return pod


def merge_pod_template(template: Mapping[str, Any], pod: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``pod`` laid over ``template``: the template's first container is ``pod``'s first.

    Spark's own rule: the template is the starting point and the platform's fields win. A
    template adds what the platform does not set (node selectors, tolerations, affinity, volumes
    and their mounts, environment variables, labels, annotations, sidecars); the first container
    is the Spark container whatever its name in the template. Lists of named items (containers,
    env, volumes, volumeMounts, ports) are merged by name; other lists are replaced.
    """
    template = json.loads(json.dumps(template))  # a deep copy that also rejects non-JSON values
    containers = template.get("spec", {}).get("containers") or []
    if containers:
        containers[0] = {**containers[0], "name": pod["spec"]["containers"][0]["name"]}
    return _merge(template, pod)


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    if _named_items(base) and _named_items(override):
        mine = {item["name"]: item for item in base}
        theirs = {item["name"] for item in override}
        kept = [item for item in base if item["name"] not in theirs]
        return [_merge(mine[item["name"]], item) if item["name"] in mine else item for item in override] + kept
    return override


def _named_items(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, Mapping) and "name" in item for item in value)
