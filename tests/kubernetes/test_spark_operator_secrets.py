"""Secrets reach a Kubernetes job by reference only, and what would put one in a pod spec is refused.

A canary value lives in a real Secret in namespace spark and in a Connection's password. The job
proves it received the value by printing its sha256 on the driver and on its executor; the test
then looks for the value itself in the task log, XCom, the rendered template fields, every pod the
API server showed, and the API server's audit log of pods and ConfigMaps with their bodies. The
refusals fail the task before any pod exists, with the key and the fix, and never show the value.
The DAGs are in tests/data/dags/operator_failure_cases.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from harness.airflow import run_dag
from harness.platform import TEST_DAGS, allowlisted_secrets, job_pods
from harness.pods import PodWatch
from kubernetes import client
from sparkplane.kubernetes.identity import SPARK_NAMESPACE

pytestmark = pytest.mark.cluster

SECRET = "sparkplane-test-canary"


@pytest.fixture
def canary(local_cluster, monkeypatch):
    """A fresh canary value, in a Secret of namespace spark and in Connection sparkplane_canary."""
    value = f"canary-{uuid.uuid4().hex}"
    core = client.CoreV1Api(local_cluster.api_client())
    body = client.V1Secret(metadata=client.V1ObjectMeta(name=SECRET), string_data={"password": value, "token": value[::-1]})
    try:
        core.create_namespaced_secret(SPARK_NAMESPACE, body)
    except client.ApiException as error:
        if error.status != 409:
            raise
        core.replace_namespaced_secret(SECRET, SPARK_NAMESPACE, body)
    monkeypatch.setenv("SPARKPLANE_TEST_CANARY", value)
    monkeypatch.setenv("AIRFLOW_CONN_SPARKPLANE_CANARY", json.dumps({"conn_type": "generic", "password": value}))
    with allowlisted_secrets(local_cluster, SECRET):  # the namespace's admission policy
        yield value
    core.delete_namespaced_secret(SECRET, SPARK_NAMESPACE)


@pytest.fixture
def run_case(local_cluster, spark_image, airflow_connection, tmp_path):
    def run(case: str, conf: dict | None = None):
        return run_dag(f"operator_case_{case}", conf, image=spark_image, connection=airflow_connection,
                       airflow_home=tmp_path, dags_folder=TEST_DAGS)

    return run


def _audit_events(local_cluster, since: float) -> list[dict]:
    """Return the API server's audit events received since ``since`` (the rotated file included)."""
    events = []
    for path in sorted(local_cluster.settings.log_dir.glob("audit*.log")):
        for line in path.read_text(errors="replace").splitlines():
            event = json.loads(line)
            received = datetime.fromisoformat(event["requestReceivedTimestamp"].replace("Z", "+00:00"))
            if received.timestamp() >= since:
                events.append(event)
    return events


def _stored(airflow_home: Path, query: str) -> list[str]:
    with sqlite3.connect(airflow_home / "airflow.db") as database:
        return [str(row[0]) for row in database.execute(query)]


# The failing case repeats the same checks on a failed job: make test-long.
@pytest.mark.parametrize("fail", [False, pytest.param(True, marks=pytest.mark.long)], ids=["success", "failure"])
def test_secrets_reach_driver_and_executors_by_reference_and_nowhere_in_plain_text(local_cluster, canary, run_case,
                                                                                 tmp_path, fail):
    selector = "app.kubernetes.io/managed-by=sparkplane,sparkplane.dev/dag-id=operator_case_secrets"
    started = time.time() - 1
    with PodWatch(client.CoreV1Api(local_cluster.api_client()), SPARK_NAMESPACE, selector) as seen:
        result = run_case("secrets", {"fail": fail})
    log = result.stdout + result.stderr
    assert (result.returncode != 0) == fail, log[-6000:]
    if fail:
        assert "Missing where the job runs: env NOT_GIVEN" in log
    password, token = (hashlib.sha256(v.encode()).hexdigest() for v in (canary, canary[::-1]))
    for item, digest in (("env CANARY_PASSWORD", password), ("env CANARY_FROM_token", token),
                         ("file /etc/secrets/canary/password", password)):
        assert f"{item} on the driver: sha256 {digest}" in log, item
        assert re.search(rf"{re.escape(item)} on executor \S+: sha256 {digest}", log), item
    assert canary not in log and canary[::-1] not in log
    roles = {pod.metadata.labels["spark-role"]: pod for pod in seen.created.values()}
    assert set(roles) == {"driver", "executor"}
    for role, pod in roles.items():
        spec = json.dumps(client.ApiClient().sanitize_for_serialization(pod))
        assert canary not in spec and canary[::-1] not in spec, role
        assert SECRET in spec, f"the {role} pod does not reference the Secret"
    # Every request and answer on pods and ConfigMaps in spark, by anyone (kubelet, spark-sa, Airflow).
    events = _audit_events(local_cluster, started)
    pod_bodies = [json.dumps(event) for event in events if event.get("objectRef", {}).get("resource") == "pods"
                  and event["level"] == "RequestResponse" and "requestObject" in event]  # fmt: skip
    assert [body for body in pod_bodies if SECRET in body], "no logged pod spec names the Secret: the check saw nothing"
    assert not [event["auditID"] for event in events if canary in json.dumps(event) or canary[::-1] in json.dumps(event)]
    rendered = _stored(tmp_path, "SELECT rendered_fields FROM rendered_task_instance_fields")
    xcom = _stored(tmp_path, "SELECT value FROM xcom")
    assert rendered and (xcom or fail), "no rendered fields or XCom were stored"
    assert not [text for text in rendered + xcom if canary in text or canary[::-1] in text]


@pytest.mark.parametrize(("case", "message"), [
    ("secret_conf", "conf['spark.hadoop.fs.s3a.secret.key'] holds a secret (by its name)"),
    ("connection_argument", "application_args[1] holds a value Airflow masks"),
])
def test_a_secret_value_bound_for_the_pod_spec_is_refused_before_any_pod(local_cluster, canary, run_case,
                                                                         case, message):
    result = run_case(case)
    log = result.stdout + result.stderr
    assert result.returncode != 0, log[-6000:]
    assert "Secrets would be written into the driver pod's spec in plain text" in log
    assert message in log
    assert "pass it by reference, e.g. secrets=[SecretEnv(" in log
    assert canary not in log
    assert "Created driver pod" not in log and not job_pods(local_cluster, f"operator_case_{case}")


def test_a_setting_the_platform_owns_is_refused_with_the_reason(local_cluster, run_case):
    result = run_case("reserved_conf")
    log = result.stdout + result.stderr
    assert result.returncode != 0, log[-6000:]
    assert ("conf['spark.kubernetes.authenticate.executor.serviceAccountName'] is set by the platform: "
            "driver and executors run as the platform's service accounts") in log
    assert "Created driver pod" not in log and not job_pods(local_cluster, "operator_case_reserved_conf")


def test_a_job_path_from_the_run_conf_cannot_leave_the_jobs_folder(local_cluster, run_case):
    for job, message in (("/tmp/elsewhere.py", "is an absolute path that came from a template"),
                         ("../../tmp/elsewhere.py", "climbs out of its folder")):
        result = run_case("escaping_application", {"job": job})
        log = result.stdout + result.stderr
        assert result.returncode != 0, log[-6000:]
        assert message in log, job
        assert "Created driver pod" not in log
