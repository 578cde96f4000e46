"""The Spark configuration that makes a job fit the cluster bootstrap: pure, no I/O.

``spark-bootstrap/`` creates the namespace, the identities and the pod templates; a job
submitted with ``spark-submit --master k8s://...`` must name them, or its pods are rejected
(Pod Security "restricted") or run with more rights than they need. One function returns
those settings so that every submitter (the operator, a test, a person at a terminal) uses the
same ones.
"""

from __future__ import annotations

from pathlib import Path

#: The namespace of Spark's pods (spark-bootstrap/00-namespaces.yaml).
NAMESPACE = "spark"
#: The driver's identity: may manage executor pods, services and configmaps in NAMESPACE.
DRIVER_SERVICE_ACCOUNT = "spark-sa"
#: The executors' identity: no role, and no token mounted.
EXECUTOR_SERVICE_ACCOUNT = "spark-executor"
#: Pod templates carrying the "restricted" security context Spark's own pods lack.
POD_TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "spark-bootstrap" / "pod-templates"

# Spark configuration keys, named once.
CONF_NAMESPACE = "spark.kubernetes.namespace"
CONF_IMAGE = "spark.kubernetes.container.image"
CONF_DRIVER_SERVICE_ACCOUNT = "spark.kubernetes.authenticate.driver.serviceAccountName"
CONF_EXECUTOR_SERVICE_ACCOUNT = "spark.kubernetes.authenticate.executor.serviceAccountName"
CONF_DRIVER_POD_TEMPLATE = "spark.kubernetes.driver.podTemplateFile"
CONF_EXECUTOR_POD_TEMPLATE = "spark.kubernetes.executor.podTemplateFile"
# When true (Spark's default), the driver deletes "its" PVCs at the end by label, which needs
# a right on persistentvolumeclaims; the platform uses no volume claims, so it asks for none.
CONF_DRIVER_OWN_PVC = "spark.kubernetes.driver.ownPersistentVolumeClaim"


def bootstrap_spark_conf(image: str, *, pod_template_dir: Path = POD_TEMPLATE_DIR) -> dict[str, str]:
    """Return the Spark settings that run a job in the bootstrapped namespace.

    :param image: the Spark image, best pinned by digest (``registry/repo@sha256:...``).
    :param pod_template_dir: folder with ``driver.yaml`` and ``executor.yaml``.
    """
    return {
        CONF_NAMESPACE: NAMESPACE,
        CONF_IMAGE: image,
        CONF_DRIVER_SERVICE_ACCOUNT: DRIVER_SERVICE_ACCOUNT,
        CONF_EXECUTOR_SERVICE_ACCOUNT: EXECUTOR_SERVICE_ACCOUNT,
        CONF_DRIVER_POD_TEMPLATE: str(pod_template_dir / "driver.yaml"),
        CONF_EXECUTOR_POD_TEMPLATE: str(pod_template_dir / "executor.yaml"),
        CONF_DRIVER_OWN_PVC: "false",
    }
