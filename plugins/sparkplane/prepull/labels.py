"""Names, labels and annotations of the pre-pull DAG's objects: puller pods and their owner. Pure.

The platform-wide labels (``app.kubernetes.io/managed-by``, the ``sparkplane.dev/`` prefix) and
the system namespace live in ``sparkplane.kubernetes.identity``; the few the pre-pull adds live
here, so "which labels does a puller pod carry?" is answered by one file.
"""

from __future__ import annotations

import hashlib
import re

from sparkplane.kubernetes.identity import AIRFLOW_NAMESPACE, LABEL_PREFIX, MANAGED_BY_LABEL, MANAGED_BY_VALUE

#: Where puller pods and their owner ConfigMap live: the platform's own namespace.
PREPULL_NAMESPACE = AIRFLOW_NAMESPACE
#: Every object of the pre-pull starts its name with this.
NAME_PREFIX = "sparkplane-prepull-"
#: The only container of a puller pod.
PULLER_CONTAINER_NAME = "pull"

COMPONENT_LABEL = "app.kubernetes.io/component"
COMPONENT_VALUE = "image-prepull"
#: The run key of the pre-pull run that made the object (``run_key_of``).
RUN_LABEL = LABEL_PREFIX + "prepull-run"
#: The node a puller pod pulls on, label-safe (``node_label_value``); the exact name is an annotation.
NODE_LABEL = LABEL_PREFIX + "prepull-node"
NODE_ANNOTATION = LABEL_PREFIX + "prepull-node"
#: The image reference being pulled, exactly as the DAG was given it.
IMAGE_ANNOTATION = LABEL_PREFIX + "prepull-image"

#: Every object any pre-pull run made: what a sweep of leftovers selects.
PREPULL_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{COMPONENT_LABEL}={COMPONENT_VALUE}"

#: A run key is part of DNS names; 12 hex characters leave room for the node's hash in 63.
RUN_KEY_LENGTH = 12
_RUN_KEY = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
_RUN_KEY_MAX = 63 - len(NAME_PREFIX) - len("-") - 10
_LABEL_VALUE_MAX = 63


def run_key_of(*parts: str) -> str:
    """Return the run key of the pre-pull run identified by ``parts`` (dag id, run id, start time)."""
    return _hash(*parts)[:RUN_KEY_LENGTH]


def check_run_key(run_key: str) -> None:
    """Raise ValueError unless ``run_key`` can be part of a pod name and a label value."""
    if len(run_key) > _RUN_KEY_MAX or not _RUN_KEY.fullmatch(run_key):
        raise ValueError(
            f"run_key={run_key!r} must be lowercase letters, digits and dashes, at most {_RUN_KEY_MAX} "
            "characters: it is part of every puller pod's name. Make one with run_key_of()."
        )


def node_label_value(node_name: str) -> str:
    """Return ``node_name`` as a label value, unique per node.

    Node names are DNS subdomains of up to 253 characters; a label value holds 63. A name that
    fits is kept as it is (its characters are all allowed); a longer one keeps a readable head and
    ends with a hash of the whole name.
    """
    if len(node_name) <= _LABEL_VALUE_MAX:
        return node_name
    digest = _hash(node_name)[:16]
    head = node_name[: _LABEL_VALUE_MAX - len(digest) - 1].rstrip(".-")
    return f"{head}-{digest}"


def node_hash(node_name: str) -> str:
    """Return the 10 characters a puller pod's name carries for its node."""
    return _hash(node_name)[:10]


def prepull_labels(run_key: str) -> dict[str, str]:
    """Return the labels every object of one pre-pull run carries."""
    return {MANAGED_BY_LABEL: MANAGED_BY_VALUE, COMPONENT_LABEL: COMPONENT_VALUE, RUN_LABEL: run_key}


def run_selector(run_key: str) -> str:
    """Return the label selector of every object of one pre-pull run."""
    return f"{PREPULL_SELECTOR},{RUN_LABEL}={run_key}"


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
