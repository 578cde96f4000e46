"""Spark's own authentication and RPC encryption for a job on Kubernetes: one Secret per driver. Pure.

Without ``spark.authenticate`` any pod that reaches a driver's RPC port can pose as an executor,
and Spark's UI kills stages for anyone who reaches port 4040. With it on, Spark would generate
the shared secret itself and give it to every executor as a plain environment variable, in the
executor pod's spec, which every job's spark-sa may read. So the platform makes the secret: 32
random bytes in a Secret named after the driver pod, created by the Airflow identity right after
the driver (the Airflow identity may create Secrets in the namespace, not read them), owned by
the driver pod so it goes with it, and mounted as a file into the driver and, through the
executors' pod template, into each executor (``spark.authenticate.secret.driver.file`` /
``.executor.file``: Spark then puts no secret in the executor's spec). The kubelet waits with the
driver's start until the Secret exists. The namespace's admission policy lets a pod mount only
the secret of its own name or of the driver that owns it.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from sparkplane import spark_conf as c
from sparkplane.kubernetes.identity import SPARK_ROLE_LABEL
from sparkplane.kubernetes.secret_refs import SecretVolume

if TYPE_CHECKING:
    from kubernetes.client import V1Pod

#: Where the secret's one file appears in the driver and executor containers.
AUTH_MOUNT_DIR = "/opt/spark/auth"
AUTH_SECRET_KEY = "secret"
AUTH_SECRET_FILE = f"{AUTH_MOUNT_DIR}/{AUTH_SECRET_KEY}"
#: Suffix of the Secret's name after the driver pod's name (the admission policy matches it).
AUTH_SECRET_SUFFIX = "-spark-auth"
#: Bytes of randomness in the secret.
AUTH_SECRET_BYTES = 32


def auth_secret_name(driver_name: str) -> str:
    """Return the name of a driver's authentication Secret."""
    return f"{driver_name}{AUTH_SECRET_SUFFIX}"


def auth_conf() -> dict[str, str]:
    """Return the Spark settings that turn authentication and RPC encryption on, reading the mounted secret."""
    return {
        c.SPARK_AUTHENTICATE: "true",
        c.SPARK_AUTH_SECRET_FILE: AUTH_SECRET_FILE,
        c.SPARK_AUTH_SECRET_DRIVER_FILE: AUTH_SECRET_FILE,
        c.SPARK_AUTH_SECRET_EXECUTOR_FILE: AUTH_SECRET_FILE,
        # AES-based encryption of RPC and block transfers, keyed from the same secret.
        c.SPARK_NETWORK_CRYPTO: "true",
        # The UI's kill buttons answer anyone who reaches port 4040.
        c.SPARK_UI_KILL_ENABLED: "false",
    }


def auth_secret_volume(driver_name: str) -> SecretVolume:
    """Return the mount of the driver's secret, for the driver and its executors alike."""
    return SecretVolume(secret=auth_secret_name(driver_name), mount_path=AUTH_MOUNT_DIR)


def auth_secret_manifest(driver: V1Pod, secret: bytes) -> dict[str, Any]:
    """Return the driver's authentication Secret, owned by the driver pod so it is deleted with it."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": auth_secret_name(driver.metadata.name),
            "namespace": driver.metadata.namespace,
            "labels": {k: v for k, v in (driver.metadata.labels or {}).items() if k != SPARK_ROLE_LABEL},
            "ownerReferences": [{
                "apiVersion": "v1", "kind": "Pod", "name": driver.metadata.name, "uid": driver.metadata.uid,
            }],
        },
        "data": {AUTH_SECRET_KEY: base64.b64encode(secret).decode()},
    }  # fmt: skip
