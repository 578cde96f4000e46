"""The Spark configuration that makes a job fit the cluster bootstrap: pure, no I/O.

``bootstrap_spark_conf`` returns the settings that run a job in the bootstrapped namespace,
for every submitter alike.
"""

from __future__ import annotations

from pathlib import Path

from sparkplane import spark_conf as c
from sparkplane.kubernetes.identity import DRIVER_SERVICE_ACCOUNT, EXECUTOR_SERVICE_ACCOUNT, SPARK_NAMESPACE

#: Pod templates carrying the "restricted" security context Spark's own pods lack: in a checkout
#: a link to spark-bootstrap/pod-templates, in the installed package a copy (package data).
POD_TEMPLATE_DIR = Path(__file__).resolve().parent / "pod-templates"


def bootstrap_spark_conf(image: str, *, pod_template_dir: Path = POD_TEMPLATE_DIR) -> dict[str, str]:
    """Return the Spark settings that run a job in the bootstrapped namespace.

    ``spark-bootstrap/`` creates the namespace, the identities and the pod templates; a job
    submitted with ``spark-submit --master k8s://...`` must name them, or its pods are rejected
    (Pod Security "restricted") or run with more rights than they need. This one function returns
    those settings so that every submitter (the operator, a test, a person at a terminal) uses the
    same ones.

    :param image: the Spark image, best pinned by digest (``registry/repo@sha256:...``).
    :param pod_template_dir: folder with ``driver.yaml`` and ``executor.yaml``.
    """
    return {
        c.SPARK_NAMESPACE: SPARK_NAMESPACE,
        c.SPARK_CONTAINER_IMAGE: image,
        c.SPARK_DRIVER_SERVICE_ACCOUNT: DRIVER_SERVICE_ACCOUNT,
        c.SPARK_EXECUTOR_SERVICE_ACCOUNT: EXECUTOR_SERVICE_ACCOUNT,
        c.SPARK_DRIVER_POD_TEMPLATE: str(pod_template_dir / "driver.yaml"),
        c.SPARK_EXECUTOR_POD_TEMPLATE: str(pod_template_dir / "executor.yaml"),
        c.SPARK_DRIVER_OWN_PVC: "false",
    }
