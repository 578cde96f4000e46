"""Who the platform's Kubernetes objects belong to: every label, annotation, selector and name. Pure.

The names the cluster bootstrap gives (namespace, service accounts), the labels every object of a
task try carries, the annotations the platform writes on a driver, and the selectors that find
them all live here, so a newcomer asking "which labels does a driver carry?" reads one file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

# --- names spark-bootstrap/ creates ---------------------------------------------------------
#: Namespace of Spark's drivers and executors (spark-bootstrap/00-namespaces.yaml).
SPARK_NAMESPACE = "spark"
#: The driver's identity: may manage executor pods, services and configmaps in the namespace.
DRIVER_SERVICE_ACCOUNT = "spark-sa"
#: The executors' identity: no role, and no token mounted.
EXECUTOR_SERVICE_ACCOUNT = "spark-executor"
#: A notebook's kernel, Spark's driver in client mode, starts its executors as this account.
NOTEBOOK_SERVICE_ACCOUNT = "spark-notebook"
#: Namespace and ServiceAccount of the platform itself (the identity Airflow acts as).
AIRFLOW_NAMESPACE = "sparkplane-system"
AIRFLOW_SERVICE_ACCOUNT = "sparkplane-airflow"
#: The PriorityClass of the pre-pull DAG's puller pods: below every job, never preempting one.
PREPULL_PRIORITY_CLASS = "sparkplane-prepull"

# --- containers -------------------------------------------------------------------------------
#: The Spark container of a driver pod the platform creates.
DRIVER_CONTAINER_NAME = "spark-kubernetes-driver"
#: The Spark container of an executor pod (Spark's own name).
EXECUTOR_CONTAINER_NAME = "spark-kubernetes-executor"

# --- labels -------------------------------------------------------------------------------------
# Label values are limited to 63 characters of ``[A-Za-z0-9._-]``; Airflow's run ids
# (``manual__2026-11-25T10:45:24+00:00``) are not, so labels hold a readable, sanitised form and
# annotations hold the exact values. One label, ``try-key``, is a hash of the exact identity:
# selecting on it never confuses two tries whose sanitised values happen to coincide.
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
#: Which Airflow made the pod (``sparkplane.deployment``): each one sweeps only its own.
DEPLOYMENT_LABEL = LABEL_PREFIX + "deployment"
#: map-index label value of a task that is not mapped.
UNMAPPED = "none"
#: Label Spark puts on its pods (``driver`` or ``executor``); we put it on the driver we create too.
SPARK_ROLE_LABEL = "spark-role"
#: Label Spark puts the application id in, on executors; we put it on the driver too.
APPLICATION_ID_LABEL = "spark-app-selector"
#: Label of a notebook session's executors (client mode: owned by no pod). Only the notebook
#: identity may create a pod with it or add it (spark-bootstrap/40-notebooks.yaml).
NOTEBOOK_LABEL = LABEL_PREFIX + "notebook"
#: Label of what one notebook session made (its executors, its anchor ConfigMap and secret): the session's id.
NOTEBOOK_SESSION_LABEL = LABEL_PREFIX + "notebook-session"

# --- annotations ----------------------------------------------------------------------------
#: The exact, unsanitised values, for people and for reattaching.
RUN_ID_ANNOTATION = LABEL_PREFIX + "run-id"
DAG_ID_ANNOTATION = LABEL_PREFIX + "dag-id"
TASK_ID_ANNOTATION = LABEL_PREFIX + "task-id"
#: Seconds a failed driver is kept for inspection, counted from its end; the pod sweep deletes
#: it (and so its executors) afterwards.
KEEP_FAILED_ANNOTATION = LABEL_PREFIX + "keep-failed-seconds"
#: How long a failed driver is kept when the task does not say (the operator's
#: ``keep_failed_driver``), and when a driver's annotation is missing or unreadable.
DEFAULT_KEEP_FAILED_SECONDS = 86400
#: How far the driver's log has been passed on to the task log, and for which try.
LOG_CHECKPOINT_ANNOTATION = LABEL_PREFIX + "log-checkpoint"
#: Proof that the platform created a driver: an HMAC over its uid and keys (driver_signature).
SIGNATURE_ANNOTATION = LABEL_PREFIX + "signature"
#: The executors' merged pod template (JSON, which is YAML), mounted into the driver.
EXECUTOR_TEMPLATE_ANNOTATION = LABEL_PREFIX + "executor-pod-template"

# --- selectors --------------------------------------------------------------------------------
#: Every driver the platform created; nothing else is ever swept.
DRIVER_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{SPARK_ROLE_LABEL}=driver"


def deployment_drivers_selector(deployment: str) -> str:
    """Return the label selector of every driver one deployment (one Airflow) created."""
    return f"{DRIVER_SELECTOR},{DEPLOYMENT_LABEL}={deployment}"


def executor_selector(application_id: str) -> str:
    """Return the label selector of one Spark application's executors."""
    return f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{APPLICATION_ID_LABEL}={application_id},{SPARK_ROLE_LABEL}=executor"


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
    :param deployment: the Airflow deployment's id (``sparkplane.deployment``): two Airflows
        sharing a namespace never share a driver.
    :param run_started: when the DAG run started (ISO 8601). A run deleted and created again
        under the same run id starts anew, so its tasks never follow the old run's drivers; the
        Task SDK's DagRun has no database id, and its ``start_date`` is the field that changes.
    """

    dag_id: str
    task_id: str
    run_id: str
    try_number: int
    map_index: int = -1
    deployment: str = ""
    run_started: str = ""

    @classmethod
    def of(cls, task_instance: Any, dag_run: Any, *, deployment: str) -> TaskTry:
        """Return the try an Airflow task instance (the context's ``ti`` and ``dag_run``) is running."""
        ti = task_instance
        map_index = ti.map_index if ti.map_index is not None else -1
        started = dag_run.start_date.isoformat() if getattr(dag_run, "start_date", None) else ""
        return cls(dag_id=ti.dag_id, task_id=ti.task_id, run_id=ti.run_id, try_number=ti.try_number, map_index=map_index,
                   deployment=deployment, run_started=started)  # fmt: skip

    @property
    def instance_key(self) -> str:
        """Return a short hash identifying the task instance, whatever the try."""
        return _short_hash(self.deployment, self.dag_id, self.task_id, self.run_id, self.run_started, str(self.map_index))

    @property
    def key(self) -> str:
        """Return a short hash identifying exactly this try."""
        return _short_hash(self.instance_key, str(self.try_number))

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
            DEPLOYMENT_LABEL: self.deployment,
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

    def drivers_selector(self) -> str:
        """Return the label selector that matches the drivers of every try of this task instance."""
        return f"{self.instance_selector()},{SPARK_ROLE_LABEL}=driver"

    def driver_name(self) -> str:
        """Return the driver pod's name: readable, unique per try, a valid DNS-1035 label."""
        suffix = f"-{self.key[:10]}-{self.try_number}"
        readable = to_dns_label(f"{self.dag_id}-{self.task_id}", _NAME_MAX - len(suffix) - len("-driver"))
        return f"{readable}{suffix}-driver"

    def application_id(self) -> str:
        """Return the Spark application id of this try: unique per try, usable as a label value."""
        return self.driver_name().removesuffix("-driver")

    def driver_labels(self) -> dict[str, str]:
        """Return the labels of this try's driver pod."""
        return {**self.labels(), SPARK_ROLE_LABEL: "driver", APPLICATION_ID_LABEL: self.application_id()}


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
