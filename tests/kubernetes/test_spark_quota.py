"""Namespace spark's ResourceQuota and LimitRange on the real cluster, and the preflight that reads
them: an over-quota job fails before any pod exists, with its numbers and the quota's.

The quota and defaults are spark-bootstrap/15-spark-quota.yaml; the failing DAG is the
``over_quota`` case of tests/data/dags/operator_failure_cases.py.
"""

from __future__ import annotations

import json
import logging
import re
import uuid

import pytest
import yaml
from harness.airflow import run_dag
from harness.log_capture import CapturedLines
from harness.platform import TEST_DAGS, apply_bootstrap, job_pods
from kubernetes import client
from kubernetes.client.rest import ApiException
from sparkplane.bootstrap.apply import DEFAULT_MANIFEST_DIR
from sparkplane.job_spec import SparkJobSpec
from sparkplane.kubernetes.hook import SparkKubernetesHook
from sparkplane.kubernetes.identity import DRIVER_SERVICE_ACCOUNT, SPARK_NAMESPACE
from sparkplane.kubernetes.preflight import check_quota_headroom

pytestmark = pytest.mark.cluster

CONN_ID = "spark_cluster_quota_test"
QUOTA = "spark-jobs"


@pytest.fixture(scope="module")
def bootstrapped(local_cluster):
    apply_bootstrap(local_cluster)
    return local_cluster


def _captured_log() -> tuple[logging.Logger, CapturedLines]:
    log = logging.getLogger(f"test.quota.{uuid.uuid4().hex[:6]}")
    handler = CapturedLines()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return log, handler


def _parked_pod(resources: dict | None = None) -> dict:
    """A pod with the driver template's security settings that no node selects; ``resources`` for its container."""
    pod = yaml.safe_load((DEFAULT_MANIFEST_DIR / "pod-templates" / "driver.yaml").read_text())
    pod["metadata"] = {"name": f"quota-{uuid.uuid4().hex[:6]}"}
    pod["spec"]["nodeSelector"] = {"sparkplane.dev/node-type": "none"}
    container = pod["spec"]["containers"][0]
    container["image"] = "127.0.0.1:5000/none:0"
    if resources is not None:
        container["resources"] = resources
    return pod


def test_over_quota_job_fails_before_any_pod_is_created_with_the_numbers(
    local_cluster, spark_image, airflow_connection, tmp_path
):
    result = run_dag("operator_case_over_quota", image=spark_image, connection=airflow_connection,
                     airflow_home=tmp_path, dags_folder=TEST_DAGS)  # fmt: skip
    log = result.stdout + result.stderr
    assert result.returncode != 0, log[-5000:]
    assert re.search(
        rf"The job does not fit the resource quota of namespace spark\. Quota {QUOTA}: requests\.cpu: this job asks "
        r"for 250\.5 CPU \(driver 0\.5 \+ 500 executors x 0\.5\) and [\d.]+ of the quota's 64 are left; ", log
    ), log[-5000:]
    assert "; requests.memory: this job asks for 438.4 GiB (driver 896 MiB + 500 executors x 896 MiB) and " in log
    assert "; pods: this job asks for 501 pods (driver + 500 executors) and " in log
    assert "Fix: The whole quota cannot hold this job: ask for fewer executors (executor_instances)" in log
    assert "Created driver pod" not in log
    assert job_pods(local_cluster, "operator_case_over_quota") == []


def test_airflow_identity_reads_the_quota_and_a_small_job_fits(bootstrapped, airflow_connection, monkeypatch):
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", airflow_connection)
    hook = SparkKubernetesHook(CONN_ID)
    log, lines = _captured_log()

    quotas = {q.metadata.name: q for q in hook.list_resource_quotas(SPARK_NAMESPACE)}
    check_quota_headroom(SparkJobSpec(application="job.py", name="small", executor_instances=2),
                         list_quotas=lambda: list(quotas.values()), namespace=SPARK_NAMESPACE, log=log)  # fmt: skip

    assert quotas[QUOTA].status.hard == {"limits.memory": "320Gi", "pods": "200", "requests.cpu": "64",
                                         "requests.memory": "256Gi"}  # fmt: skip
    assert f"Preflight: the job's 3 pods (3 CPU, 4.2 GiB) fit the resource quota of namespace spark ({QUOTA})" in lines.messages


def test_quota_the_identity_may_not_read_is_logged_and_the_job_goes_on(bootstrapped, monkeypatch):
    # spark-sa has no right on resourcequotas: the real 403 of an Airflow identity from an older bootstrap.
    kubeconfig = bootstrapped.serviceaccount_kubeconfig(SPARK_NAMESPACE, DRIVER_SERVICE_ACCOUNT)
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}",
                       json.dumps({"conn_type": "kubernetes", "extra": {"kube_config_path": str(kubeconfig)}}))
    hook = SparkKubernetesHook(CONN_ID)
    log, lines = _captured_log()

    check_quota_headroom(SparkJobSpec(application="job.py", name="any", executor_instances=500),
                         list_quotas=lambda: hook.list_resource_quotas(SPARK_NAMESPACE), namespace=SPARK_NAMESPACE,
                         log=log)  # fmt: skip

    (warning,) = [m for m in lines.messages if "ResourceQuotas" in m]
    assert "may not read the ResourceQuotas of namespace spark (403)" in warning
    assert "system:serviceaccount:spark:spark-sa" in warning


def test_pod_that_states_no_resources_gets_the_limit_range_defaults(bootstrapped):
    core = client.CoreV1Api(bootstrapped.api_client())

    bare = core.create_namespaced_pod(SPARK_NAMESPACE, _parked_pod(), dry_run="All")
    request_only = core.create_namespaced_pod(SPARK_NAMESPACE, _parked_pod({"requests": {"cpu": "500m", "memory": "1Gi"}}),
                                              dry_run="All")  # fmt: skip

    assert bare.spec.containers[0].resources.requests == {"cpu": "250m", "memory": "512Mi"}
    assert bare.spec.containers[0].resources.limits == {"memory": "2Gi"}
    assert request_only.spec.containers[0].resources.limits == {"memory": "2Gi"}


def test_api_server_refuses_a_pod_beyond_the_quota(bootstrapped):
    core = client.CoreV1Api(bootstrapped.api_client())
    huge = _parked_pod({"requests": {"cpu": "65", "memory": "1Gi"}, "limits": {"memory": "1Gi"}})

    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(SPARK_NAMESPACE, huge, dry_run="All")
    assert refused.value.status == 403
    assert f"exceeded quota: {QUOTA}" in json.loads(refused.value.body)["message"]
