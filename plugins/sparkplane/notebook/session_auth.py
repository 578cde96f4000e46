"""Spark's authentication for a notebook's session: a secret shared by the kernel and its executors.

A notebook's session is a client-mode driver in the kernel, listening on this machine's address
for its executors. Without ``spark.authenticate`` any pod that reaches that port can register as
an executor and be sent the session's tasks; with it on and no secret given, Spark would put a
generated secret in every executor pod's spec as a plain environment variable. So, as for a
scheduled job (``sparkplane.kubernetes.spark_auth``), the platform makes the secret: 32 random
bytes, written to a file only this user reads for the driver, and to a Secret
``notebook-<session>-spark-auth`` mounted into each executor
(``spark.kubernetes.executor.secrets.*``), which Spark reads from the file; no pod spec, log or
Spark setting holds the value.

There is no driver pod to own the Secret, so each session first makes an anchor, a ConfigMap
``notebook-<session>`` that owns the Secret: deleting the anchor deletes the Secret (Kubernetes'
garbage collector). The kernel deletes its anchor when the session stops (``spark.stop()``); the
pod sweep deletes the anchor of a session that has no live executor left once the keep time since
it started is over (a kernel shut down or killed without ``spark.stop()``). The notebook identity may create and delete Secrets, never read them, and
only Secrets of this form (``spark-bootstrap/40-notebooks.yaml``); only a notebook executor of the
same session may mount one (``spark-bootstrap/30-admission-policies.yaml``).

The manifests and settings are pure; ``open_session_auth`` and ``close_session_auth`` talk to the
cluster with the notebook identity's kubeconfig.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkplane import spark_conf as c
from sparkplane.kubernetes.identity import NOTEBOOK_LABEL, NOTEBOOK_SESSION_LABEL
from sparkplane.kubernetes.spark_auth import AUTH_MOUNT_DIR, AUTH_SECRET_BYTES, AUTH_SECRET_FILE, AUTH_SECRET_KEY

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Api

#: Prefix of a session's anchor ConfigMap and its Secret (the admission policies match it).
SESSION_PREFIX = "notebook-"
SESSION_SECRET_SUFFIX = "-spark-auth"


@dataclass(frozen=True)
class NotebookSessionAuth:
    """One session's secret: its id, the namespace of its objects, and the driver's copy of the secret."""

    session: str
    namespace: str
    driver_secret_file: Path

    @property
    def anchor_name(self) -> str:
        return anchor_name(self.session)

    @property
    def secret_name(self) -> str:
        return session_secret_name(self.session)


def new_session_id() -> str:
    """Return a fresh session id: 12 lowercase hex digits, fit for names and label values."""
    return secrets.token_hex(6)


def anchor_name(session: str) -> str:
    """Return the name of a session's anchor ConfigMap."""
    return f"{SESSION_PREFIX}{session}"


def session_secret_name(session: str) -> str:
    """Return the name of a session's authentication Secret."""
    return f"{SESSION_PREFIX}{session}{SESSION_SECRET_SUFFIX}"


def session_labels(session: str) -> dict[str, str]:
    """Return the labels of everything a session makes: a notebook's, of this session."""
    return {NOTEBOOK_LABEL: "true", NOTEBOOK_SESSION_LABEL: session}


def anchor_manifest(session: str, namespace: str) -> dict[str, Any]:
    """Return a session's anchor: an empty ConfigMap whose deletion takes the session's Secret with it."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": anchor_name(session), "namespace": namespace, "labels": session_labels(session)},
    }


def session_secret_manifest(session: str, namespace: str, *, anchor_uid: str, secret: bytes) -> dict[str, Any]:
    """Return a session's authentication Secret, owned by its anchor."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": session_secret_name(session),
            "namespace": namespace,
            "labels": session_labels(session),
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": anchor_name(session), "uid": anchor_uid}],
        },
        "data": {AUTH_SECRET_KEY: base64.b64encode(secret).decode()},
    }


def session_auth_conf(auth: NotebookSessionAuth) -> dict[str, str]:
    """Return the Spark settings of a session with authentication and RPC encryption on.

    The driver (the kernel) reads its own file; an executor reads the Secret mounted at
    ``AUTH_SECRET_FILE``, before it has the driver's settings too (``spark.authenticate.secret.file``).
    """
    return {
        c.SPARK_AUTHENTICATE: "true",
        c.SPARK_AUTH_SECRET_FILE: AUTH_SECRET_FILE,
        c.SPARK_AUTH_SECRET_DRIVER_FILE: str(auth.driver_secret_file),
        c.SPARK_AUTH_SECRET_EXECUTOR_FILE: AUTH_SECRET_FILE,
        c.SPARK_NETWORK_CRYPTO: "true",
        c.SPARK_UI_KILL_ENABLED: "false",
        c.SPARK_EXECUTOR_SECRETS_PREFIX + auth.secret_name: AUTH_MOUNT_DIR,
        c.SPARK_EXECUTOR_LABEL_PREFIX + NOTEBOOK_SESSION_LABEL: auth.session,
    }


def open_session_auth(core: CoreV1Api, namespace: str, private_dir: Path) -> NotebookSessionAuth:
    """Make a new session's anchor and Secret on the cluster and the driver's copy in ``private_dir``.

    :param core: the API as the notebook identity.
    :param private_dir: a folder only this user reads (the driver's file is written there, mode 0600).
    """
    session, secret = new_session_id(), secrets.token_bytes(AUTH_SECRET_BYTES)
    anchor = core.create_namespaced_config_map(namespace, anchor_manifest(session, namespace))
    auth = NotebookSessionAuth(session, namespace, private_dir / f"spark-auth-{session}")
    try:
        core.create_namespaced_secret(
            namespace, session_secret_manifest(session, namespace, anchor_uid=anchor.metadata.uid, secret=secret)
        )
        descriptor = os.open(auth.driver_secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(secret)
    except BaseException:
        close_session_auth(core, auth)
        raise
    return auth


def close_session_auth(core: CoreV1Api, auth: NotebookSessionAuth) -> None:
    """Delete a session's anchor (its Secret follows) and the driver's copy; what is already gone is fine."""
    from kubernetes.client.exceptions import ApiException

    auth.driver_secret_file.unlink(missing_ok=True)
    try:
        core.delete_namespaced_config_map(auth.anchor_name, auth.namespace, propagation_policy="Background")
    except ApiException as error:
        if error.status != 404:
            raise
