"""Kubernetes Secrets a job's pods receive, by reference and never by value. Pure, no client.

A task names a Secret and a key; the pod spec carries ``secretKeyRef``, ``envFrom`` and secret
volumes, so the value is read by the kubelet on the node and never appears in the pod spec, the
task's arguments, XCom or the task log. The references become a partial pod template, laid over
the task's own ``pod_template`` and so given to the driver and, through the executors' template
the driver mounts, to every executor: one path for all three kinds, the one pod templates use.

The Airflow identity needs no right on Secrets for this: creating a pod that references a Secret
is checked by the kubelet that mounts it, not by the creator's RBAC. Which Secrets a pod may
reference is the namespace's admission policy's business (spark-bootstrap/).
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Union

#: A Secret's name: a DNS subdomain.
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
#: A key inside a Secret.
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
#: Environment variable names a POSIX shell accepts.
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Environment variables Spark and the image set in driver and executor containers.
RESERVED_ENV_PREFIXES = ("SPARK_", "PYSPARK_")
#: Folders of the image that a secret volume must not hide.
RESERVED_MOUNT_ROOTS = ("/opt/spark", "/opt/venv", "/tmp")
#: Prefix of the volumes the platform adds for secret volumes.
SECRET_VOLUME_PREFIX = "secret-"
#: Files of a secret volume are readable by the Spark user's group (the pod's fsGroup) only.
SECRET_FILE_MODE = 0o440


@dataclass(frozen=True)
class SecretEnv:
    """One key of a Secret as an environment variable of the driver and every executor.

    :param name: the environment variable, e.g. ``WAREHOUSE_PASSWORD``.
    :param secret: the Secret's name, in the job's namespace.
    :param key: the key inside the Secret.
    """

    name: str
    secret: str
    key: str


@dataclass(frozen=True)
class SecretEnvFrom:
    """Every key of a Secret as an environment variable of the driver and every executor.

    :param secret: the Secret's name, in the job's namespace.
    :param prefix: put before each key to make the variable's name, e.g. ``S3_``.
    """

    secret: str
    prefix: str = ""


@dataclass(frozen=True)
class SecretVolume:
    """A Secret mounted read-only as files (one per key) in the driver and every executor.

    :param secret: the Secret's name, in the job's namespace.
    :param mount_path: the absolute folder the keys appear in, e.g. ``/etc/secrets/warehouse``.
    """

    secret: str
    mount_path: str


SecretReference = Union[SecretEnv, SecretEnvFrom, SecretVolume]


def check_secret_references(references: Sequence[object], *, env_names: Sequence[str] = ()) -> list[str]:
    """Return what is wrong with a task's secret references (empty when they can be used).

    :param env_names: the task's own ``env`` names, which a secret variable must not shadow.
    """
    problems: list[str] = []
    seen_env: set[str] = set(env_names)
    seen_paths: set[str] = set()
    for reference in references:
        if not isinstance(reference, (SecretEnv, SecretEnvFrom, SecretVolume)):
            problems.append(
                f"{reference!r} is not a secret reference; use SecretEnv(name=..., secret=..., key=...), "
                "SecretEnvFrom(secret=...) or SecretVolume(secret=..., mount_path=...)"
            )
            continue
        if not isinstance(reference.secret, str) or not _SECRET_NAME.match(reference.secret):
            problems.append(f"{reference!r}: secret {reference.secret!r} is not a Kubernetes Secret name")
        if isinstance(reference, SecretEnv):
            problems += _env_name_problems(reference, reference.name, seen_env)
            if not isinstance(reference.key, str) or not _SECRET_KEY.match(reference.key):
                problems.append(f"{reference!r}: key {reference.key!r} is not a Secret key (letters, digits, '-', '_', '.')")
        elif isinstance(reference, SecretEnvFrom):
            if reference.prefix and not _ENV_NAME.match(reference.prefix):
                problems.append(f"{reference!r}: prefix {reference.prefix!r} cannot start an environment variable name")
            elif reference.prefix.upper().startswith(RESERVED_ENV_PREFIXES):
                problems.append(f"{reference!r}: prefix {reference.prefix!r} would shadow Spark's own variables")
        else:
            problems += _mount_path_problems(reference, seen_paths)
    return problems


def secret_pod_template(references: Sequence[SecretReference], template: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the task's pod template (or an empty one) with the references added to its Spark container."""
    merged: dict[str, Any] = copy.deepcopy(dict(template or {}))
    if not references:
        return merged
    spec = merged.setdefault("spec", {})
    containers = spec.setdefault("containers", [])
    if not containers:
        # Renamed to the Spark container's name when the template is applied.
        containers.append({"name": "spark"})
    spark_container = containers[0]
    for reference in references:
        if isinstance(reference, SecretEnv):
            spark_container.setdefault("env", []).append({
                "name": reference.name,
                "valueFrom": {"secretKeyRef": {"name": reference.secret, "key": reference.key}},
            })
        elif isinstance(reference, SecretEnvFrom):
            entry: dict[str, Any] = {"secretRef": {"name": reference.secret}}
            if reference.prefix:
                entry["prefix"] = reference.prefix
            spark_container.setdefault("envFrom", []).append(entry)
        else:
            volume = secret_volume_name(reference.secret, reference.mount_path)
            spec.setdefault("volumes", []).append(
                {"name": volume, "secret": {"secretName": reference.secret, "defaultMode": SECRET_FILE_MODE}}
            )
            spark_container.setdefault("volumeMounts", []).append(
                {"name": volume, "mountPath": reference.mount_path, "readOnly": True}
            )
    return merged


def secret_volume_name(secret: str, mount_path: str) -> str:
    """Return the volume name of one secret mount: a DNS label, the same for the same reference."""
    digest = hashlib.sha256(f"{secret}\0{mount_path}".encode()).hexdigest()[:8]
    readable = re.sub(r"[^a-z0-9-]", "-", secret)[: 63 - len(SECRET_VOLUME_PREFIX) - 9].strip("-")
    return f"{SECRET_VOLUME_PREFIX}{readable}-{digest}"


def referenced_secrets(references: Sequence[SecretReference]) -> list[str]:
    """Return the names of the Secrets the references use, each once, sorted."""
    return sorted({reference.secret for reference in references})


def _env_name_problems(reference: SecretEnv, name: object, seen: set[str]) -> list[str]:
    if not isinstance(name, str) or not _ENV_NAME.match(name):
        return [f"{reference!r}: {name!r} is not an environment variable name (letters, digits, '_')"]
    if name.upper().startswith(RESERVED_ENV_PREFIXES):
        return [f"{reference!r}: {name} would shadow Spark's own variables ({', '.join(RESERVED_ENV_PREFIXES)}...)"]
    if name in seen:
        return [f"{reference!r}: {name} is set twice (in env or another secret reference)"]
    seen.add(name)
    return []


def _mount_path_problems(reference: SecretVolume, seen: set[str]) -> list[str]:
    path = reference.mount_path
    if not isinstance(path, str) or not PurePosixPath(path).is_absolute() or ".." in PurePosixPath(path).parts:
        return [f"{reference!r}: mount_path must be an absolute folder such as '/etc/secrets/{reference.secret}'"]
    normal = str(PurePosixPath(path))
    if normal == "/" or any(normal == root or normal.startswith(root + "/") for root in RESERVED_MOUNT_ROOTS):
        return [f"{reference!r}: {normal} would hide the image's own files; mount under /etc/secrets/ instead"]
    if normal in seen:
        return [f"{reference!r}: {normal} is mounted twice"]
    seen.add(normal)
    return []
