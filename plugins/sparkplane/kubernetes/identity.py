"""Which task try a Kubernetes object belongs to: labels, annotations and names. Pure.

Every object a job creates carries the same labels, so the platform can find its own objects
(to follow, reattach to or clean up) and never touches anyone else's. Label values are limited to
63 characters of ``[A-Za-z0-9._-]``; Airflow's run ids (``manual__2026-11-25T10:45:24+00:00``)
are not, so labels hold a readable, sanitised form and annotations hold the exact values. One
label, ``try-key``, is a hash of the exact identity: selecting on it never confuses two tries
whose sanitised values happen to coincide.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

LABEL_PREFIX = "sparkplane.dev/"
#: Marks objects made by the platform; every selector of ours starts with it.
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "sparkplane"
DAG_ID_LABEL = LABEL_PREFIX + "dag-id"
TASK_ID_LABEL = LABEL_PREFIX + "task-id"
RUN_ID_LABEL = LABEL_PREFIX + "run-id"
TRY_NUMBER_LABEL = LABEL_PREFIX + "try-number"
MAP_INDEX_LABEL = LABEL_PREFIX + "map-index"
TRY_KEY_LABEL = LABEL_PREFIX + "try-key"
#: The same for every try of one task instance: how a retry finds a driver an earlier try left running.
INSTANCE_KEY_LABEL = LABEL_PREFIX + "instance-key"
#: map-index label value of a task that is not mapped.
UNMAPPED = "none"
#: Annotations with the exact, unsanitised values, for people and for reattaching.
RUN_ID_ANNOTATION = LABEL_PREFIX + "run-id"
DAG_ID_ANNOTATION = LABEL_PREFIX + "dag-id"
TASK_ID_ANNOTATION = LABEL_PREFIX + "task-id"

_LABEL_VALUE_MAX = 63
_NAME_MAX = 63  # a Service name is a DNS-1035 label; the driver's Service shares the pod's name
_NOT_LABEL_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")
_NOT_NAME_CHARACTERS = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class TaskTry:
    """One try of one (possibly mapped) task instance.

    :param dag_id: the DAG's id.
    :param task_id: the task's id.
    :param run_id: the DAG run's id.
    :param try_number: the try, starting at 1.
    :param map_index: the index of a mapped task, -1 when not mapped.
    """

    dag_id: str
    task_id: str
    run_id: str
    try_number: int
    map_index: int = -1

    @property
    def instance_key(self) -> str:
        """Return a short hash identifying the task instance, whatever the try."""
        return _short_hash(self.dag_id, self.task_id, self.run_id, str(self.map_index))

    @property
    def key(self) -> str:
        """Return a short hash identifying exactly this try."""
        return _short_hash(self.dag_id, self.task_id, self.run_id, str(self.map_index), str(self.try_number))

    def labels(self) -> dict[str, str]:
        """Return the labels every object of this try carries."""
        return {
            MANAGED_BY_LABEL: MANAGED_BY_VALUE,
            DAG_ID_LABEL: to_label_value(self.dag_id),
            TASK_ID_LABEL: to_label_value(self.task_id),
            RUN_ID_LABEL: to_label_value(self.run_id),
            TRY_NUMBER_LABEL: str(self.try_number),
            # "-1" is not a valid label value (it must start with a letter or digit).
            MAP_INDEX_LABEL: str(self.map_index) if self.map_index >= 0 else UNMAPPED,
            TRY_KEY_LABEL: self.key,
            INSTANCE_KEY_LABEL: self.instance_key,
        }

    def annotations(self) -> dict[str, str]:
        """Return the exact identity, which labels can only approximate."""
        return {
            DAG_ID_ANNOTATION: self.dag_id,
            TASK_ID_ANNOTATION: self.task_id,
            RUN_ID_ANNOTATION: self.run_id,
        }

    def selector(self) -> str:
        """Return the label selector that matches exactly this try's objects."""
        return f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{TRY_KEY_LABEL}={self.key}"

    def instance_selector(self) -> str:
        """Return the label selector that matches the objects of every try of this task instance."""
        return f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{INSTANCE_KEY_LABEL}={self.instance_key}"

    def driver_name(self) -> str:
        """Return the driver pod's name: readable, unique per try, a valid DNS-1035 label."""
        suffix = f"-{self.key[:10]}-{self.try_number}"
        readable = to_dns_label(f"{self.dag_id}-{self.task_id}", _NAME_MAX - len(suffix) - len("-driver"))
        return f"{readable}{suffix}-driver"


def _short_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def to_label_value(value: str) -> str:
    """Return ``value`` as a valid label value: allowed characters only, at most 63, alphanumeric ends."""
    cleaned = _NOT_LABEL_CHARACTERS.sub("_", value)[:_LABEL_VALUE_MAX]
    return cleaned.strip("._-")


def to_dns_label(value: str, max_length: int) -> str:
    """Return ``value`` as a DNS-1035 label prefix: lowercase, digits and dashes, starting with a letter."""
    cleaned = _NOT_NAME_CHARACTERS.sub("-", value.lower()).strip("-")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = f"job-{cleaned}"
    return cleaned[:max_length].rstrip("-")
