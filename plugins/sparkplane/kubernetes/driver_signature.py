"""Proof that the platform created a driver pod: an HMAC that only Airflow can compute. Pure but the key.

Labels say which task a pod is for, but anyone who may create pods in the namespace can write
them, and every running driver can (its spark-sa creates executors). A pod carrying another task's
labels that exits 0 would otherwise be followed by that task's retry, which would then succeed
without its job ever running. So right after creating a driver, the platform writes an annotation
signing the pod's uid, namespace, name and task keys with a key that pods never see; a retry
follows only a driver whose signature checks out.

The uid is what makes a copied signature useless: it is assigned by the API server, differs for
every pod ever created under a name, and cannot be chosen by the creator. The price is a moment
between create and annotate in which the driver is unsigned; a worker that dies exactly then
leaves a driver no retry will follow (the retry fails with the way out).

The key is an Airflow Variable (its name marks it secret, so Airflow masks it), created with 32
random bytes by the first task that needs it. Workers have no database access and compose
containers share no files, but every worker reads Variables; whoever can read Airflow's Variables
is trusted as much as the Airflow identity already is.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

from sparkplane.deployment import variable_made_once
from sparkplane.kubernetes.identity import INSTANCE_KEY_LABEL, SIGNATURE_ANNOTATION, TRY_KEY_LABEL

if TYPE_CHECKING:
    from kubernetes.client import V1Pod

#: The Airflow Variable holding the signing key (hex); "secret" in its name makes Airflow mask it.
SIGNING_KEY_VARIABLE = "sparkplane_driver_signing_secret"
SIGNATURE_VERSION = "v1"
_KEY_BYTES = 32


def driver_signature(key: bytes, *, uid: str, namespace: str, name: str, try_key: str, instance_key: str) -> str:
    """Return the signature annotation's value for one driver pod."""
    message = "\x1f".join((SIGNATURE_VERSION, uid, namespace, name, try_key, instance_key)).encode()
    return f"{SIGNATURE_VERSION}.{hmac.new(key, message, hashlib.sha256).hexdigest()}"


def signature_of(pod: V1Pod, key: bytes) -> str:
    """Return the signature a pod should carry, from what the API server says about it."""
    labels = pod.metadata.labels or {}
    return driver_signature(
        key,
        uid=pod.metadata.uid or "",
        namespace=pod.metadata.namespace or "",
        name=pod.metadata.name or "",
        try_key=labels.get(TRY_KEY_LABEL, ""),
        instance_key=labels.get(INSTANCE_KEY_LABEL, ""),
    )


def is_signed_by(pod: V1Pod, key: bytes) -> bool:
    """Return whether the pod carries a valid signature made with ``key``."""
    carried = (pod.metadata.annotations or {}).get(SIGNATURE_ANNOTATION, "")
    return bool(pod.metadata.uid) and hmac.compare_digest(carried, signature_of(pod, key))


def load_signing_key() -> bytes:
    """Return the deployment's signing key from its Airflow Variable, creating it on first use.

    Two first tasks racing may both create it; at worst the loser's one driver is signed with a
    key that is not kept, and its retry submits again.
    """
    return bytes.fromhex(variable_made_once(
        SIGNING_KEY_VARIABLE, lambda: secrets.token_hex(_KEY_BYTES),
        description="Signs the Spark driver pods this Airflow creates, so a retry follows only those. "
        "Deleting it makes running drivers unfollowable: their retries run the job again.",
    ))  # fmt: skip
