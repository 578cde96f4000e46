"""Run DAGs with real Airflow against the local cluster, as the platform's Airflow identity.

The fixtures build the platform's Spark image from this tree (pushed to the local registry),
apply spark-bootstrap/, and give Airflow a connection that acts as sparkplane-airflow, so a
missing permission fails in tests as it would in production.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sparkplane.bootstrap import DEFAULT_MANIFEST_DIR, apply_manifests, dynamic_client, load_manifests

PROJECT_ROOT = Path(__file__).resolve().parents[2]
IMAGE_BUILD = PROJECT_ROOT / "image" / "build"
#: DAGs that exist for tests only (one per way a job can fail).
TEST_DAGS = Path(__file__).parent / "dags"
NAMESPACE = "spark"
JOB_SELECTOR = "app.kubernetes.io/managed-by=sparkplane"


@pytest.fixture(scope="session")
def spark_image(local_cluster) -> str:
    """The platform's Spark image, built from this tree and pushed to the local registry, by digest."""
    result = subprocess.run(
        [sys.executable, str(IMAGE_BUILD), "--registry", local_cluster.registry, "--json"],
        capture_output=True, text=True, timeout=3600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(result.stdout)["pinned"]


@pytest.fixture(scope="session")
def airflow_connection(local_cluster) -> str:
    """An Airflow connection (as an environment variable) acting as the platform's identity."""
    apply_bootstrap(local_cluster)
    kubeconfig = local_cluster.serviceaccount_kubeconfig("sparkplane-system", "sparkplane-airflow")
    return json.dumps({"conn_type": "kubernetes", "extra": {"kube_config_path": str(kubeconfig)}})


def apply_bootstrap(local_cluster) -> None:
    list(apply_manifests(dynamic_client(local_cluster.admin_kubeconfig), load_manifests(DEFAULT_MANIFEST_DIR)))


def run_dag(
    dag_id: str,
    conf: dict | None = None,
    *,
    image: str | None = None,
    connection: str,
    airflow_home: Path,
    dags_folder: Path | None = None,
) -> subprocess.CompletedProcess:
    """Run one DAG with ``airflow dags test`` in Kubernetes mode; return the finished process.

    :param image: the Spark image for Spark tasks; DAGs that start no Spark job need none.
    """
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW_CONN_SPARK_CLUSTER": connection,
        "SPARKPLANE_KUBERNETES_CONN_ID": "spark_cluster",
    }
    if image is not None:
        env["SPARKPLANE_SPARK_IMAGE"] = image
    if dags_folder is not None:
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags_folder)
    airflow = [sys.executable, "-m", "airflow"]
    subprocess.run([*airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    return subprocess.run(
        [*airflow, "dags", "test", dag_id, "--conf", json.dumps(conf or {})],
        env=env, capture_output=True, text=True, timeout=1200,
    )


def job_pods(local_cluster, dag_id: str) -> list:
    """Return the pods (driver and executors) the platform created for ``dag_id``."""
    from kubernetes import client

    api = client.CoreV1Api(local_cluster.api_client())
    return api.list_namespaced_pod(NAMESPACE, label_selector=f"{JOB_SELECTOR},sparkplane.dev/dag-id={dag_id}").items
