"""Spark's configuration keys the platform sets, and the settings every driver gets.

Spark's settings are plain strings in Spark's documentation; naming them here keeps a typo from
silently becoming a setting Spark ignores. Used by the local spark-submit and the driver pod alike.
"""

from __future__ import annotations

# --- Spark settings used to run a driver pod in client mode inside the cluster --------------
SPARK_MASTER = "spark.master"
#: Spark on Kubernetes takes the application id from here when set: the platform sets one per
#: task try, so the id (and its Spark UI or history link) is known before the driver starts.
SPARK_APP_ID = "spark.app.id"
#: The namespace executors are created in.
SPARK_NAMESPACE = "spark.kubernetes.namespace"
#: The driver's own pod name: Spark then makes it the owner of every executor, so deleting
#: the driver pod garbage-collects the executors.
SPARK_DRIVER_POD_NAME = "spark.kubernetes.driver.pod.name"
#: Address executors connect back to. The driver pod's IP, so no Service is needed.
SPARK_DRIVER_HOST = "spark.driver.host"
SPARK_DRIVER_PORT = "spark.driver.port"
SPARK_BLOCK_MANAGER_PORT = "spark.driver.blockManager.port"
SPARK_CONTAINER_IMAGE = "spark.kubernetes.container.image"
SPARK_EXECUTOR_POD_NAME_PREFIX = "spark.kubernetes.executor.podNamePrefix"
SPARK_EXECUTOR_LABEL_PREFIX = "spark.kubernetes.executor.label."
SPARK_EXECUTOR_ANNOTATION_PREFIX = "spark.kubernetes.executor.annotation."
#: ``<prefix><secret name>`` = mount path: Spark mounts that Secret into every executor.
SPARK_EXECUTOR_SECRETS_PREFIX = "spark.kubernetes.executor.secrets."
SPARK_DRIVER_SERVICE_ACCOUNT = "spark.kubernetes.authenticate.driver.serviceAccountName"
SPARK_EXECUTOR_SERVICE_ACCOUNT = "spark.kubernetes.authenticate.executor.serviceAccountName"
SPARK_DRIVER_POD_TEMPLATE = "spark.kubernetes.driver.podTemplateFile"
SPARK_EXECUTOR_POD_TEMPLATE = "spark.kubernetes.executor.podTemplateFile"
#: When true (Spark's default) the driver deletes "its" volume claims by label at the end,
#: which needs a right on persistentvolumeclaims; the platform uses none, so asks for none.
SPARK_DRIVER_OWN_PVC = "spark.kubernetes.driver.ownPersistentVolumeClaim"
#: CPU the driver pod requests; Spark's key, honoured for the pod the platform creates.
SPARK_DRIVER_REQUEST_CORES = "spark.kubernetes.driver.request.cores"
#: CPU each executor pod requests (Spark's default: spark.executor.cores).
SPARK_EXECUTOR_REQUEST_CORES = "spark.kubernetes.executor.request.cores"
SPARK_DRIVER_CORES = "spark.driver.cores"
#: Spark deletes executor pods as they end; the platform keeps them, so a failed executor's
#: exit reason and log can be read. They go when the driver, their owner, is deleted.
SPARK_EXECUTOR_DELETE_ON_TERMINATION = "spark.kubernetes.executor.deleteOnTermination"
SPARK_EXECUTOR_INSTANCES = "spark.executor.instances"
SPARK_EXECUTOR_MEMORY = "spark.executor.memory"
SPARK_EXECUTOR_CORES = "spark.executor.cores"
SPARK_DRIVER_MEMORY = "spark.driver.memory"

# --- Spark's own security (sparkplane.kubernetes.spark_auth) ----------------------------------
SPARK_AUTHENTICATE = "spark.authenticate"
#: Read by an executor before it has its configuration from the driver (the fetch of that
#: configuration is itself authenticated), so it is set beside the driver and executor variants.
SPARK_AUTH_SECRET_FILE = "spark.authenticate.secret.file"
SPARK_AUTH_SECRET_DRIVER_FILE = "spark.authenticate.secret.driver.file"
SPARK_AUTH_SECRET_EXECUTOR_FILE = "spark.authenticate.secret.executor.file"
SPARK_NETWORK_CRYPTO = "spark.network.crypto.enabled"
SPARK_UI_KILL_ENABLED = "spark.ui.killEnabled"

#: Settings every driver gets unless the task overrides them, wherever it runs: its output
#: goes to the task log, where people look for the job's own lines.
TASK_LOG_CONF: dict[str, str] = {
    # Spark's INFO logging buries the job's own output; WARN matches what a notebook shows.
    "spark.log.level": "WARN",
    # The console progress bar redraws one line with carriage returns: noise in a task log.
    "spark.ui.showConsoleProgress": "false",
}


# --- Event logs, read by a Spark History Server ---------------------------------------------
SPARK_EVENT_LOG_ENABLED = "spark.eventLog.enabled"
SPARK_EVENT_LOG_DIR = "spark.eventLog.dir"
SPARK_EVENT_LOG_ROLLING = "spark.eventLog.rolling.enabled"
SPARK_EVENT_LOG_ROLLING_MAX_FILE_SIZE = "spark.eventLog.rolling.maxFileSize"
#: Spark's smallest roll size. On an object store a file appears only when it is closed, so a
#: running job shows in the History Server once its first 10 MB of events rolled (a small job,
#: only when it ends); each roll is a separate object, never a rewrite of a growing one.
EVENT_LOG_ROLL_SIZE = "10m"


def event_log_conf(log_dir: str) -> dict[str, str]:
    """Settings that make a driver write rolling event logs under ``log_dir`` (a URI Spark can write)."""
    return {
        SPARK_EVENT_LOG_ENABLED: "true",
        SPARK_EVENT_LOG_DIR: log_dir,
        SPARK_EVENT_LOG_ROLLING: "true",
        SPARK_EVENT_LOG_ROLLING_MAX_FILE_SIZE: EVENT_LOG_ROLL_SIZE,
    }
