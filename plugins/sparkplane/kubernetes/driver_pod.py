"""Build the driver pod for a Spark job on Kubernetes: dict in, dict out, no client, no I/O.

The platform creates the driver pod itself, one fixed name per task try; inside it the image
runs Spark's driver in client mode, and the driver pod owns every executor of the job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from sparkplane import spark_conf as c
from sparkplane.image.layout import IMAGE_EXECUTOR_POD_TEMPLATE, IMAGE_JOBS_ROOT
from sparkplane.job_spec import SparkJobSpec
from sparkplane.kubernetes.identity import (
    DEFAULT_KEEP_FAILED_SECONDS,
    DRIVER_CONTAINER_NAME,
    DRIVER_SERVICE_ACCOUNT,
    EXECUTOR_SERVICE_ACCOUNT,
    KEEP_FAILED_ANNOTATION,
    TaskTry,
)
from sparkplane.kubernetes.pod_templates import (
    EXECUTOR_TEMPLATE_FILE,
    apply_pod_template,
    restricted_container_security,
    restricted_pod_security,
)
from sparkplane.kubernetes.secret_refs import SecretReference, secret_pod_template
from sparkplane.kubernetes.spark_auth import auth_conf, auth_secret_volume

#: Memory Kubernetes must grant beyond the JVM heap: Spark's own default for PySpark pods
#: (spark.kubernetes.memoryOverheadFactor 0.4 for non-JVM jobs, at least 384 MiB).
MEMORY_OVERHEAD_FACTOR = 0.4
MIN_MEMORY_OVERHEAD_MIB = 384
_UNIT_MIB = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
#: The API server as pods see it, through the kubernetes.default Service.
IN_CLUSTER_MASTER = "k8s://https://kubernetes.default.svc:443"
DRIVER_PORT = 7078
BLOCK_MANAGER_PORT = 7079
SPARK_UI_PORT = 4040


@dataclass(frozen=True)
class KubernetesTarget:
    """Where and as whom driver pods run.

    :param namespace: namespace of the driver and executor pods.
    :param image: the platform's Spark image (image/build prints it).
    :param driver_service_account: identity of the driver, which creates executors.
    :param executor_service_account: identity of executors, which need no API access.
    """

    namespace: str
    image: str
    driver_service_account: str = DRIVER_SERVICE_ACCOUNT
    executor_service_account: str = EXECUTOR_SERVICE_ACCOUNT


def memory_request_mib(jvm_memory: str) -> int:
    """Return the pod memory (MiB) for a JVM heap in Spark's format, overhead included."""
    unit = jvm_memory[-1].lower()
    heap_mib = int(jvm_memory[:-1]) * _UNIT_MIB[unit] if unit in _UNIT_MIB else int(jvm_memory) / (1024 * 1024)
    return int(heap_mib + max(MIN_MEMORY_OVERHEAD_MIB, heap_mib * MEMORY_OVERHEAD_FACTOR))


def driver_cpu_request(conf: Mapping[str, str]) -> str:
    """Return the driver pod's CPU request as Spark would set it for a driver pod of its own."""
    return conf.get(c.SPARK_DRIVER_REQUEST_CORES) or conf.get(c.SPARK_DRIVER_CORES) or "1"


def build_driver_conf(
    spec: SparkJobSpec,
    task_try: TaskTry,
    target: KubernetesTarget,
    *,
    executor_template_file: str = IMAGE_EXECUTOR_POD_TEMPLATE,
) -> dict[str, str]:
    """Return the Spark settings of a driver running in a pod; the task's own conf wins where it may.

    The settings the platform owns are refused before this (``task_policy.reserved_conf_problems``).

    Inside the pod the image's entrypoint runs Spark's driver in client mode, which is Spark's
    documented way to run a driver in a pod: with ``spark.kubernetes.driver.pod.name`` set, every
    executor is owned by the driver pod, so deleting that one pod garbage-collects the whole job.
    """
    driver_name = task_try.driver_name()
    conf = {
        **c.TASK_LOG_CONF,
        c.SPARK_MASTER: IN_CLUSTER_MASTER,
        c.SPARK_APP_ID: task_try.application_id(),
        c.SPARK_NAMESPACE: target.namespace,
        c.SPARK_DRIVER_POD_NAME: driver_name,
        # Kubernetes substitutes $(VAR) in container args from the container's environment.
        # Executors reach the driver on its pod IP, so no Service is needed.
        c.SPARK_DRIVER_HOST: "$(SPARK_DRIVER_BIND_ADDRESS)",
        c.SPARK_DRIVER_PORT: str(DRIVER_PORT),
        c.SPARK_BLOCK_MANAGER_PORT: str(BLOCK_MANAGER_PORT),
        c.SPARK_CONTAINER_IMAGE: target.image,
        c.SPARK_EXECUTOR_POD_NAME_PREFIX: task_try.application_id(),
        c.SPARK_EXECUTOR_SERVICE_ACCOUNT: target.executor_service_account,
        c.SPARK_EXECUTOR_POD_TEMPLATE: executor_template_file,
        c.SPARK_EXECUTOR_INSTANCES: str(spec.executor_instances),
        c.SPARK_EXECUTOR_MEMORY: spec.executor_memory,
        c.SPARK_EXECUTOR_CORES: str(spec.executor_cores),
        c.SPARK_DRIVER_MEMORY: spec.driver_memory,
        c.SPARK_DRIVER_OWN_PVC: "false",
        c.SPARK_EXECUTOR_DELETE_ON_TERMINATION: "false",
    }
    conf.update(auth_conf())
    for key, value in task_try.labels().items():
        conf[c.SPARK_EXECUTOR_LABEL_PREFIX + key] = value
    for key, value in task_try.annotations().items():
        conf[c.SPARK_EXECUTOR_ANNOTATION_PREFIX + key] = value
    return {**conf, **spec.conf}


def application_uri(spec: SparkJobSpec) -> str:
    """Return the job file inside the image, as Spark's local:// URI."""
    path = PurePosixPath(spec.application)
    if not path.is_absolute():
        path = PurePosixPath(IMAGE_JOBS_ROOT) / path
    return f"local://{path}"


def build_driver_pod(
    spec: SparkJobSpec,
    task_try: TaskTry,
    target: KubernetesTarget,
    *,
    keep_failed_seconds: int = DEFAULT_KEEP_FAILED_SECONDS,
    pod_template: Mapping[str, Any] | None = None,
    secrets: Sequence[SecretReference] = (),
) -> dict[str, Any]:
    """Return the driver pod manifest for one try of a task.

    The platform creates the driver pod itself instead of running ``spark-submit --deploy-mode
    cluster`` in the Airflow worker: one API call instead of a JVM start (seconds, ~500 MB) per
    task, and a name fixed per task try, so a second submission of the same try is refused by
    the API server (409) and becomes a reattach.

    :param keep_failed_seconds: how long a failed driver stays to be inspected (an annotation
        the pod sweep honours).
    :param pod_template: what the task adds to its driver and executor pods (see pod_templates).
    :param secrets: Kubernetes Secrets the driver and executors receive by reference (see secret_refs).
    """
    # Every pod of the job mounts the driver's authentication secret, so executors always get
    # their template from the driver's annotation.
    pod_template = secret_pod_template([*secrets, auth_secret_volume(task_try.driver_name())], pod_template)
    conf = build_driver_conf(spec, task_try, target, executor_template_file=EXECUTOR_TEMPLATE_FILE)
    args = ["driver", "--name", spec.name]
    for key in sorted(conf):
        args += ["--conf", f"{key}={conf[key]}"]
    args += [application_uri(spec), *spec.arguments]
    memory_mib = memory_request_mib(spec.driver_memory)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": task_try.driver_name(),
            "namespace": target.namespace,
            "labels": task_try.driver_labels(),
            "annotations": {**task_try.annotations(), KEEP_FAILED_ANNOTATION: str(keep_failed_seconds)},
        },
        "spec": {
            "serviceAccountName": target.driver_service_account,
            "restartPolicy": "Never",
            "securityContext": restricted_pod_security(),
            "containers": [
                {
                    "name": DRIVER_CONTAINER_NAME,
                    "image": target.image,
                    "imagePullPolicy": "IfNotPresent",
                    "args": args,
                    "env": _driver_env(spec.env),
                    "ports": [
                        {"name": "driver-rpc-port", "containerPort": DRIVER_PORT},
                        {"name": "blockmanager", "containerPort": BLOCK_MANAGER_PORT},
                        {"name": "spark-ui", "containerPort": SPARK_UI_PORT},
                    ],
                    "resources": {
                        "requests": {"cpu": driver_cpu_request(conf), "memory": f"{memory_mib}Mi"},
                        "limits": {"memory": f"{memory_mib}Mi"},
                    },
                    "securityContext": restricted_container_security(),
                }
            ],
        },
    }
    return apply_pod_template(pod, pod_template)


def _driver_env(extra: Mapping[str, str]) -> list[dict[str, Any]]:
    pod_ip = {"valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}}
    env: list[dict[str, Any]] = [{"name": "SPARK_DRIVER_BIND_ADDRESS", **pod_ip}]
    env += [{"name": name, "value": value} for name, value in sorted(extra.items())]
    return env
