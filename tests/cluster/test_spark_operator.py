"""The Spark operator in Kubernetes mode, on the real local cluster: a real driver pod running as
spark-sa in namespace spark, real executors on the real node, the driver log in the task log,
and nothing of the job left behind.

Airflow acts as the platform's own least-privilege identity (sparkplane-airflow), so a missing
permission fails here as it would in production.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sparkplane.bootstrap import apply_manifests, dynamic_client, load_manifests, DEFAULT_MANIFEST_DIR

pytestmark = pytest.mark.cluster

PROJECT_ROOT = Path(__file__).resolve().parents[2]
IMAGE_BUILD = PROJECT_ROOT / "image" / "build"
NAMESPACE = "spark"
LINES = 60


@pytest.fixture(scope="module")
def spark_image(local_cluster) -> str:
    """The platform's Spark image, built from this tree and pushed to the local registry."""
    result = subprocess.run(
        [sys.executable, str(IMAGE_BUILD), "--registry", local_cluster.registry, "--json"],
        capture_output=True, text=True, timeout=3600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(result.stdout)["pinned"]


@pytest.fixture(scope="module")
def airflow_connection(local_cluster) -> str:
    """An Airflow connection (as an environment variable) acting as the platform's identity."""
    list(apply_manifests(dynamic_client(local_cluster.admin_kubeconfig), load_manifests(DEFAULT_MANIFEST_DIR)))
    kubeconfig = local_cluster.serviceaccount_kubeconfig("sparkplane-system", "sparkplane-airflow")
    return json.dumps({"conn_type": "kubernetes", "extra": {"kube_config_path": str(kubeconfig)}})


def _run_dag(dag_id: str, conf: dict, *, image: str, connection: str, airflow_home: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW_CONN_SPARK_CLUSTER": connection,
        "SPARKPLANE_KUBERNETES_CONN_ID": "spark_cluster",
        "SPARKPLANE_SPARK_IMAGE": image,
    }
    airflow = [sys.executable, "-m", "airflow"]
    subprocess.run([*airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    return subprocess.run(
        [*airflow, "dags", "test", dag_id, "--conf", json.dumps(conf)],
        env=env, capture_output=True, text=True, timeout=1200,
    )


def _job_pods(local_cluster, dag_id: str) -> list[str]:
    from kubernetes import client

    api = client.CoreV1Api(local_cluster.api_client())
    selector = f"app.kubernetes.io/managed-by=sparkplane,sparkplane.dev/dag-id={dag_id}"
    return [pod.metadata.name for pod in api.list_namespaced_pod(NAMESPACE, label_selector=selector).items]


def test_spark_job_runs_on_kubernetes_with_its_log_in_the_task_log(local_cluster, spark_image, airflow_connection, tmp_path):
    result = _run_dag("spark_smoke_test", {"lines": LINES, "executors": 1},
                      image=spark_image, connection=airflow_connection, airflow_home=tmp_path)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-8000:]
    assert re.search(r"Created driver pod spark/spark-smoke-test-run-smoke-test-\w+-1-driver", log)
    numbers = [int(n) for n in re.findall(rf"smoke line (\d+) of {LINES}", log)]
    assert numbers == list(range(1, LINES + 1)), "driver log lines were lost, repeated or reordered"
    assert re.search(r"Spark works: 4 tasks on 1 executor host\(s\), Python 3\.11\.\d+ everywhere", log)


def test_finished_job_leaves_no_pods_behind(local_cluster, spark_image, airflow_connection, tmp_path):
    # Runs after the job above (same module, in order); the driver's deletion collects executors.
    deadline = time.monotonic() + 60
    while (left := _job_pods(local_cluster, "spark_smoke_test")) and time.monotonic() < deadline:
        time.sleep(1)
    assert left == []
