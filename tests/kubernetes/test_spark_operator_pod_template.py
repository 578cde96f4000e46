"""A task's pod template reaches the driver and the executors on the real cluster, and one that
Pod Security "restricted" refuses fails the task at once with the reason.

The DAGs are operator_case_pod_template and operator_case_host_path_template in
tests/data/dags/operator_failure_cases.py.
"""

from __future__ import annotations

import re

import pytest
from harness.airflow import run_dag
from harness.platform import TEST_DAGS
from harness.pods import PodWatch
from kubernetes import client
from sparkplane.kubernetes.identity import SPARK_NAMESPACE

pytestmark = pytest.mark.cluster


def test_pod_template_reaches_the_driver_and_its_executors(local_cluster, spark_image, airflow_connection, tmp_path):
    selector = "app.kubernetes.io/managed-by=sparkplane,sparkplane.dev/dag-id=operator_case_pod_template"
    with PodWatch(client.CoreV1Api(local_cluster.api_client()), SPARK_NAMESPACE, selector) as seen:
        result = run_dag("operator_case_pod_template", image=spark_image, connection=airflow_connection,
                         airflow_home=tmp_path, dags_folder=TEST_DAGS)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    roles = {pod.metadata.labels["spark-role"]: pod for pod in seen.created.values()}
    assert set(roles) == {"driver", "executor"}, f"pods seen: {[p.metadata.name for p in seen.created.values()]}"
    for role, pod in roles.items():
        spark = pod.spec.containers[0]
        assert pod.metadata.labels["team"] == "finance", role
        assert pod.spec.node_selector == {"sparkplane.dev/node-type": "real"}, role
        assert any(v.name == "scratch" and v.empty_dir is not None for v in pod.spec.volumes), role
        assert any(m.name == "scratch" and m.mount_path == "/scratch" for m in spark.volume_mounts), role
        assert any(e.name == "REPORT_MODE" and e.value == "full" for e in spark.env), role
        assert pod.spec.security_context.run_as_user == 185, role
    assert roles["executor"].spec.automount_service_account_token is False
    assert re.search(r"Spark works: 4 tasks on 1 executor host\(s\)", log)


def test_pod_template_refused_by_pod_security_fails_at_once_with_the_reason(local_cluster, spark_image,
                                                                            airflow_connection, tmp_path):
    result = run_dag("operator_case_host_path_template", image=spark_image, connection=airflow_connection,
                     airflow_home=tmp_path, dags_folder=TEST_DAGS)
    log = result.stdout + result.stderr
    assert result.returncode != 0, log[-6000:]
    assert "Kubernetes refused the driver pod" in log and "violates PodSecurity" in log and "hostPath" in log
    assert "remove what the message names from the task's pod_template" in log
