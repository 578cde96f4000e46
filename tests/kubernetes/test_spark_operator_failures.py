"""Spark jobs on Kubernetes that cannot succeed: each fails its task with one line of cause and
one of fix, fast where waiting cannot help, and leaves only what is worth inspecting.

The DAGs are in tests/data/dags/operator_failure_cases.py, one per case.
"""

from __future__ import annotations

import re
import shutil
import time

import pytest
from harness.airflow import run_dag
from harness.platform import PROJECT_ROOT, TEST_DAGS, apply_bootstrap, job_pods, wait_for_no_job_pods
from kubernetes import client
from sparkplane.kubernetes.identity import SPARK_NAMESPACE

pytestmark = pytest.mark.cluster


@pytest.fixture
def run_case(local_cluster, spark_image, airflow_connection, tmp_path):
    def run(case: str, extra_env: dict[str, str] | None = None) -> str:
        result = run_dag(f"operator_case_{case}", image=spark_image, connection=airflow_connection,
                         airflow_home=tmp_path, dags_folder=TEST_DAGS, extra_env=extra_env)
        log = result.stdout + result.stderr
        assert result.returncode != 0, f"operator_case_{case} succeeded:\n{log[-5000:]}"
        return log

    return run


def _cause_and_fix(log: str) -> tuple[str, str]:
    causes, fixes = re.findall(r"Cause: (.+)", log), re.findall(r"Fix: (.+)", log)
    assert causes and fixes, f"no Cause:/Fix: lines in the task log:\n{log[-5000:]}"
    return causes[-1], fixes[-1]


def test_job_that_raises_names_the_exception_and_keeps_the_driver_to_inspect(local_cluster, run_case):
    log = run_case("job_raises")
    cause, fix = _cause_and_fix(log)
    assert "PATH_NOT_FOUND" in cause or "sparkplane-no-such-input" in cause, cause
    (driver,) = [pod for pod in job_pods(local_cluster, "operator_case_job_raises") if pod.metadata.labels.get("spark-role") == "driver"]
    assert f"kubectl -n spark logs {driver.metadata.name}" in log
    assert driver.status.phase == "Failed"
    assert driver.metadata.annotations["sparkplane.dev/keep-failed-seconds"] == "86400"

    # Deleting the kept driver, as the log says, removes the whole job.
    client.CoreV1Api(local_cluster.api_client()).delete_namespaced_pod(driver.metadata.name, SPARK_NAMESPACE)
    wait_for_no_job_pods(local_cluster, "operator_case_job_raises")


def test_image_missing_from_the_registry_fails_fast_and_leaves_nothing(local_cluster, run_case):
    started = time.monotonic()
    log = run_case("missing_image")
    cause, fix = _cause_and_fix(log)
    assert "sparkplane/no-such-image:1 does not exist in its registry" in cause, cause
    assert "image/build" in fix
    assert time.monotonic() - started < 300, "an image that does not exist must not wait for the pull timeout"
    wait_for_no_job_pods(local_cluster, "operator_case_missing_image")


def test_a_job_converted_from_a_notebook_the_image_cannot_run_fails_before_any_pod(local_cluster, run_case, tmp_path):
    jobs = tmp_path / "jobs"  # the project's jobs folder with the job converted from notebooks/churn_features.ipynb
    shutil.copytree(PROJECT_ROOT / "jobs", jobs, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT_ROOT / "tests" / "data" / "jobs" / "churn_features.py", jobs)
    log = run_case("module_missing", {"SPARKPLANE_JOBS_ROOT": str(jobs)})
    cause, fix = _cause_and_fix(log)
    assert "the job imports sklearn, which no package in the image provides" in cause, cause
    assert "Add scikit-learn to the [jobs] extra in pyproject.toml" in cause
    assert "Nor does it hold this job's code: jobs/churn_features.py is not in the image" in cause
    assert "make lock, then image/build" in fix
    assert job_pods(local_cluster, "operator_case_module_missing") == []


def test_resources_no_node_can_hold_fail_with_the_schedulers_reason(local_cluster, run_case):
    log = run_case("unschedulable")
    cause, fix = _cause_and_fix(log)
    assert "cannot be scheduled" in cause and "Insufficient memory" in cause, cause
    assert "Lower the requested cores/memory" in fix
    wait_for_no_job_pods(local_cluster, "operator_case_unschedulable")


def test_spark_sa_without_its_role_fails_before_any_pod_is_created(local_cluster, run_case):
    rbac = client.RbacAuthorizationV1Api(local_cluster.api_client())
    rbac.delete_namespaced_role_binding("spark-driver", SPARK_NAMESPACE)
    try:
        log = run_case("smoke")
    finally:
        apply_bootstrap(local_cluster)
    assert "Cause: ServiceAccount spark/spark-sa may not get, list, watch, create, patch, delete, deletecollection pods" in log, log[-5000:]
    assert "Why: no RoleBinding binds spark-sa in namespace spark (nor does a ClusterRoleBinding)." in log
    assert "Fix: Create the RoleBinding below (spark-bootstrap/10-spark-driver.yaml has it: python -m sparkplane.bootstrap apply)" in log
    assert "Created driver pod" not in log
    assert job_pods(local_cluster, "operator_case_smoke") == []
