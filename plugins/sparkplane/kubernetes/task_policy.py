"""What a task may not set in Kubernetes mode, and why. Pure: each check returns its problems.

Two kinds of refusal, both before anything is created:

- Settings the platform owns. The driver's and executors' identities, namespace, image, pod
  names and the executors' template are how the platform knows a pod is a task's and what it may
  do; a task's ``conf`` or ``pod_template`` that changes them would quietly break reattaching,
  cleaning up or the security model, so it fails with the key and the reason.
- Secret values. Everything in ``conf``, ``env`` and ``application_args`` is written into the
  driver pod's spec, which anyone allowed to read pods in the namespace reads (every running
  driver's spark-sa token can). A value that is secret by its name, or that Airflow's masker
  knows (a Connection's password or extra, a Variable with a sensitive name), is refused with
  the way to pass it by reference instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sparkplane import spark_conf as c
from sparkplane.kubernetes.identity import (
    APPLICATION_ID_LABEL,
    LABEL_PREFIX,
    MANAGED_BY_LABEL,
    SPARK_ROLE_LABEL,
)
from sparkplane.secret_conf import is_masked_value, is_secret_setting

if TYPE_CHECKING:  # the notebook converter reads the reserved settings where Airflow is not installed
    from sparkplane.job_spec import SparkJobSpec

_IDENTITY = "driver and executors run as the platform's service accounts (spark-sa, spark-executor)"
_TEMPLATE = "pass additions to the pods with the operator's pod_template argument"
_IMAGE = "set the operator's image argument: the preflight checks the job against that image"

#: Spark settings a task may not set in Kubernetes mode, with the reason shown when it tries.
RESERVED_CONF: dict[str, str] = {
    c.SPARK_MASTER: "the driver reaches the cluster's API server through the kubernetes.default Service",
    c.SPARK_APP_ID: "the platform names each task try's application; a retry finds its driver by it",
    c.SPARK_NAMESPACE: "set the operator's namespace argument; executors run beside their driver",
    c.SPARK_DRIVER_POD_NAME: "the platform names the driver pod, and the driver pod owns its executors",
    c.SPARK_DRIVER_HOST: "executors reach the driver on its pod's IP address",
    c.SPARK_DRIVER_PORT: "the driver pod declares the driver's ports",
    c.SPARK_BLOCK_MANAGER_PORT: "the driver pod declares the driver's ports",
    c.SPARK_CONTAINER_IMAGE: _IMAGE,
    "spark.kubernetes.driver.container.image": _IMAGE,
    "spark.kubernetes.executor.container.image": _IMAGE,
    "spark.kubernetes.container.image.pullPolicy": "the platform's image is pre-pulled and pulled IfNotPresent",
    c.SPARK_EXECUTOR_POD_NAME_PREFIX: "executor pods are named after the task try",
    c.SPARK_EXECUTOR_POD_TEMPLATE: _TEMPLATE,
    c.SPARK_DRIVER_POD_TEMPLATE: _TEMPLATE,
    "spark.kubernetes.executor.podTemplateContainerName": _TEMPLATE,
    "spark.kubernetes.driver.podTemplateContainerName": _TEMPLATE,
}
#: Prefixes of reserved Spark settings.
RESERVED_CONF_PREFIXES: dict[str, str] = {
    # Service accounts, and the API credentials Spark would use instead of the pod's own token.
    "spark.kubernetes.authenticate.": _IDENTITY,
    # Spark's own authentication: the platform makes a secret per driver (spark_auth).
    c.SPARK_AUTHENTICATE: "Spark's authentication is on, with a secret the platform makes for each driver",
}
#: Labels and annotations the platform puts on executors (by their Spark setting's prefix).
_EXECUTOR_METADATA_PREFIXES = (c.SPARK_EXECUTOR_LABEL_PREFIX, c.SPARK_EXECUTOR_ANNOTATION_PREFIX)
_PLATFORM_METADATA_REASON = "the platform's labels and annotations say which task a pod belongs to"

#: Fields of a pod template that belong to the platform.
RESERVED_POD_FIELDS: dict[tuple[str, ...], str] = {
    ("metadata", "name"): "the platform names the driver pod per task try",
    ("metadata", "namespace"): "set the operator's namespace argument",
    ("metadata", "ownerReferences"): "the driver pod owns its executors, and nothing owns the driver",
    ("spec", "serviceAccountName"): _IDENTITY,
    ("spec", "serviceAccount"): _IDENTITY,
    ("spec", "automountServiceAccountToken"): _IDENTITY,
}
#: Fields of a pod template's first (Spark) container that belong to the platform.
RESERVED_CONTAINER_FIELDS: dict[str, str] = {
    "command": "the image's entrypoint starts Spark's driver or executor",
    "args": "the platform passes the job and its settings; use application_args and conf",
    "image": _IMAGE,
    "imagePullPolicy": "the platform's image is pre-pulled and pulled IfNotPresent",
}


def reserved_conf_problems(conf: Mapping[str, str]) -> list[str]:
    """Return one problem per Spark setting of ``conf`` the platform owns."""
    problems = []
    for key in sorted(conf):
        reason = RESERVED_CONF.get(key) or next(
            (why for prefix, why in RESERVED_CONF_PREFIXES.items() if key.startswith(prefix)), None
        )
        if reason is None and key.startswith(_EXECUTOR_METADATA_PREFIXES) and _is_platform_metadata(key):
            reason = _PLATFORM_METADATA_REASON
        if reason:
            problems.append(f"conf[{key!r}] is set by the platform: {reason}")
    return problems


def reserved_pod_template_problems(template: Mapping[str, Any]) -> list[str]:
    """Return one problem per field of a task's pod template that the platform owns."""
    problems = []
    for path, reason in RESERVED_POD_FIELDS.items():
        if _lookup(template, path) is not None:
            problems.append(f"pod_template {'.'.join(path)} is set by the platform: {reason}")
    for section in ("labels", "annotations"):
        for key in sorted(_lookup(template, ("metadata", section)) or {}):
            if _is_platform_key(key):
                problems.append(f"pod_template metadata.{section}[{key!r}]: {_PLATFORM_METADATA_REASON}")
    containers = _lookup(template, ("spec", "containers")) or []
    if containers and isinstance(containers[0], Mapping):
        for field, reason in RESERVED_CONTAINER_FIELDS.items():
            if field in containers[0]:
                problems.append(f"pod_template spec.containers[0].{field} (the Spark container) is set by the platform: {reason}")
    return problems


def secret_value_problems(spec: SparkJobSpec) -> list[str]:
    """Return one problem per secret the task would write into the pod spec as a plain value."""
    problems = [
        f"conf[{key!r}] holds a secret (by its name)" for key in sorted(spec.conf) if is_secret_setting(key)
    ]
    problems += [f"env[{name!r}] holds a secret (by its name)" for name in sorted(spec.env) if _is_sensitive_name(name)]
    problems += [
        f"conf[{key!r}] holds a value Airflow masks (from a Connection or a sensitive Variable)"
        for key, value in sorted(spec.conf.items()) if not is_secret_setting(key) and is_masked_value(value)
    ]  # fmt: skip
    problems += [
        f"env[{name!r}] holds a value Airflow masks (from a Connection or a sensitive Variable)"
        for name, value in sorted(spec.env.items()) if not _is_sensitive_name(name) and is_masked_value(value)
    ]  # fmt: skip
    problems += [
        f"application_args[{index}] holds a value Airflow masks (from a Connection or a sensitive Variable)"
        for index, value in enumerate(spec.arguments) if is_masked_value(value)
    ]  # fmt: skip
    return problems


def _is_platform_metadata(setting: str) -> bool:
    key = next(setting[len(prefix):] for prefix in _EXECUTOR_METADATA_PREFIXES if setting.startswith(prefix))
    return _is_platform_key(key)


def _is_platform_key(key: str) -> bool:
    return key.startswith(LABEL_PREFIX) or key in (MANAGED_BY_LABEL, SPARK_ROLE_LABEL, APPLICATION_ID_LABEL)


def _lookup(document: Mapping[str, Any], path: Sequence[str]) -> Any:
    for part in path:
        if not isinstance(document, Mapping):
            return None
        document = document.get(part)
    return document


def _is_sensitive_name(name: str) -> bool:
    from airflow.sdk._shared.secrets_masker import should_hide_value_for_key

    return should_hide_value_for_key(name)
