"""The preflight's decisions: the driver's rights, what the image lacks for the job, whether the job fits the quota."""

from __future__ import annotations

import dataclasses
import logging
import re
from decimal import Decimal
from pathlib import Path

import pytest
from kubernetes.client import (
    RbacV1Subject,
    V1ObjectMeta,
    V1PolicyRule,
    V1ResourceQuota,
    V1ResourceQuotaSpec,
    V1ResourceQuotaStatus,
    V1Role,
    V1RoleBinding,
    V1RoleRef,
)
from sparkplane.exceptions import KubernetesPermissionDenied, PreflightFailed
from sparkplane.image.contents import ImageContents
from sparkplane.image.fit import image_problems
from sparkplane.image.job_code import job_code_sha256
from sparkplane.job_spec import SparkJobSpec
from sparkplane.kubernetes.preflight import (
    JobResources,
    check_quota_headroom,
    job_resources,
    quota_failure,
    quota_shortfalls,
    run_preflight,
)
from sparkplane.rbac.grants import RbacObjects
from sparkplane.task_log import explained_failure, log_section

IMAGE = ImageContents(
    python_version="3.11.2",
    spark_version="4.1.4",
    java_version="17.0.16",
    lock_sha256="0" * 64,
    distributions={"pyspark": "4.1.4", "pandas": "2.3.3", "great-expectations": "1.24.1"},
)


def _problems(**overrides):
    arguments = dict(driver_python="3.11.7", driver_pyspark="4.1.4", imports=set(), module_distributions={})
    return image_problems(IMAGE, **{**arguments, **overrides})


def test_an_image_that_fits_has_no_problems():
    assert _problems(imports={"pandas"}, module_distributions={"pandas": ["pandas"]}) == []


def test_another_python_minor_is_a_problem():
    (problem,) = _problems(driver_python="3.12.1")
    assert "the image runs Python 3.11.2, the driver Python 3.12.1" in problem


def test_another_pyspark_is_a_problem():
    (problem,) = _problems(driver_pyspark="4.0.1")
    assert "the image has pyspark 4.1.4, the driver 4.0.1" in problem


def test_a_library_missing_from_the_image_names_the_package_and_the_lock():
    (problem,) = _problems(imports={"sklearn"}, module_distributions={"sklearn": ["scikit-learn"]})
    assert problem.startswith("the job imports sklearn: package scikit-learn is not in the image")
    assert "[jobs] extra in pyproject.toml" in problem


def test_a_module_no_package_provides_is_a_problem_unless_the_image_has_it():
    (problem,) = _problems(imports={"nowhere"})
    assert "the job imports nowhere, which no locked package provides" in problem
    assert _problems(imports={"pandas"}) == []


def test_an_image_that_recorded_its_own_module_map_is_judged_by_it():
    image = dataclasses.replace(IMAGE, module_distributions={"cv2": ["opencv-python-headless"], "pandas": ["pandas"]})
    # The image provides cv2 though the Airflow environment does not know the module.
    assert image_problems(image, driver_python="3.11.7", driver_pyspark="4.1.4", imports={"cv2", "pandas"},
                          module_distributions={}) == []  # fmt: skip
    (problem,) = image_problems(image, driver_python="3.11.7", driver_pyspark="4.1.4", imports={"sklearn"},
                                module_distributions={"sklearn": ["scikit-learn"]})  # fmt: skip
    assert problem.startswith("the job imports sklearn, which no package in the image provides")
    assert "Add scikit-learn to the [jobs] extra in pyproject.toml" in problem


# --- quota headroom ------------------------------------------------------------------------------


def _quota(hard: dict, used: dict | None = None, *, name: str = "spark-jobs", scopes: list | None = None):
    return V1ResourceQuota(
        metadata=V1ObjectMeta(name=name, namespace="spark"),
        spec=V1ResourceQuotaSpec(hard=hard, scopes=scopes),
        status=V1ResourceQuotaStatus(hard=hard, used=used or {}),
    )


def _spec(**overrides) -> SparkJobSpec:
    return SparkJobSpec(application="job.py", name="job", **overrides)


FOUR_BIG_EXECUTORS = _spec(executor_instances=4, executor_cores=3, conf={"spark.kubernetes.executor.request.cores": "2.75"})


def test_job_resources_follow_the_pod_builder_and_spark():
    job = job_resources(_spec(driver_memory="512m", executor_memory="4g", executor_instances=3, executor_cores=2))

    assert job == JobResources(driver_cpu=Decimal(1), driver_memory_mib=896, executors=3, executor_cpu=Decimal(2),
                               executor_memory_mib=5734)  # fmt: skip
    assert (job.cpu, job.pods, job.memory_bytes) == (7, 4, (896 + 3 * 5734) * 1024 * 1024)


def test_request_cores_and_the_tasks_conf_win_over_the_operators_arguments():
    job = job_resources(_spec(executor_instances=2, executor_cores=4, conf={
        "spark.kubernetes.driver.request.cores": "500m", "spark.kubernetes.executor.request.cores": "250m",
        "spark.executor.instances": "6", "spark.executor.memory": "2g",
    }))  # fmt: skip

    assert (job.driver_cpu, job.executors, job.executor_cpu, job.executor_memory_mib) == (Decimal("0.5"), 6, Decimal("0.25"), 2867)


def test_a_job_that_fits_what_is_left_has_no_shortfall():
    quota = _quota({"requests.cpu": "16", "requests.memory": "64Gi", "limits.memory": "64Gi", "pods": "20"},
                   {"requests.cpu": "4", "requests.memory": "8Gi", "limits.memory": "8Gi", "pods": "3"})  # fmt: skip

    assert quota_shortfalls([quota], job_resources(FOUR_BIG_EXECUTORS)) == []


def test_cpu_shortfall_names_the_parts_what_is_left_and_the_quota():
    quota = _quota({"requests.cpu": "16"}, {"requests.cpu": "12"})

    (shortfall,) = quota_shortfalls([quota], job_resources(FOUR_BIG_EXECUTORS))
    assert shortfall.describe() == (
        "requests.cpu: this job asks for 12 CPU (driver 1 + 4 executors x 2.75) and 4 of the quota's 16 are left"
    )
    assert not shortfall.never_fits


def test_memory_and_pod_shortfalls_count_every_executor():
    quota = _quota({"limits.memory": "256Gi", "pods": "200"}, {"limits.memory": "4500Mi", "pods": "7"})
    job = job_resources(_spec(driver_memory="512m", executor_memory="512m", executor_instances=500))

    memory, pods = quota_shortfalls([quota], job)
    assert memory.describe() == (
        "limits.memory: this job asks for 438.4 GiB (driver 896 MiB + 500 executors x 896 MiB) and 251.6 GiB of the "
        "quota's 256 GiB are left"
    )
    assert pods.asked == "501 pods (driver + 500 executors)" and (pods.left, pods.hard) == ("193", "200")
    assert memory.never_fits and pods.never_fits


def test_the_short_names_cpu_and_memory_count_as_requests():
    quota = _quota({"memory": "1Gi", "cpu": "4"})

    assert [s.resource for s in quota_shortfalls([quota], job_resources(FOUR_BIG_EXECUTORS))] == ["cpu", "memory"]


def test_each_quota_is_named_once_with_its_lines_in_a_fixed_order():
    small = {"pods": "2", "limits.memory": "1Gi", "requests.cpu": "1"}
    failure = quota_failure(
        quota_shortfalls([_quota(small, name="team"), _quota({"pods": "3"}, name="pods-only")], job_resources(FOUR_BIG_EXECUTORS)),
        namespace="spark",
    )

    assert re.findall(r"Quota ([\w-]+): ", failure.cause) == ["team", "pods-only"]
    assert re.findall(r"(?:: |; )([\w.]+): this job", failure.cause) == ["requests.cpu", "limits.memory", "pods", "pods"]


def test_quotas_that_may_not_count_the_jobs_pods_are_skipped():
    tiny = {"pods": "1"}
    best_effort = _quota(tiny, name="best-effort", scopes=["BestEffort"])
    unwritten = V1ResourceQuota(metadata=V1ObjectMeta(name="new"), spec=V1ResourceQuotaSpec(hard=tiny))
    not_terminating = _quota(tiny, name="long-running", scopes=["NotTerminating", "NotBestEffort"])

    shortfalls = quota_shortfalls([best_effort, unwritten, not_terminating], job_resources(_spec()))
    assert [s.quota for s in shortfalls] == ["long-running"]


def test_failure_says_to_wait_only_when_the_whole_quota_could_hold_the_job():
    job = job_resources(FOUR_BIG_EXECUTORS)
    busy = quota_failure(quota_shortfalls([_quota({"requests.cpu": "16"}, {"requests.cpu": "12"})], job), namespace="spark")
    too_big = quota_failure(quota_shortfalls([_quota({"requests.cpu": "8"})], job), namespace="spark")

    assert busy.cause == (
        "The job does not fit the resource quota of namespace spark. Quota spark-jobs: requests.cpu: this job asks "
        "for 12 CPU (driver 1 + 4 executors x 2.75) and 4 of the quota's 16 are left."
    )
    assert "run the task again when they have finished" in busy.fix
    assert "kubectl -n spark describe resourcequota spark-jobs" in busy.fix
    assert "The whole quota cannot hold this job" in too_big.fix
    assert "spark-bootstrap/15-spark-quota.yaml" in too_big.fix


def test_unreadable_quotas_are_logged_and_the_job_goes_on(caplog):
    def denied():
        raise KubernetesPermissionDenied(action="list resourcequotas in namespace 'spark'", detail="forbidden")

    with caplog.at_level(logging.WARNING):
        check_quota_headroom(_spec(), list_quotas=denied, namespace="spark", log=logging.getLogger("preflight-test"))
    assert "may not read the ResourceQuotas of namespace spark (403)" in caplog.text


def test_an_over_quota_job_fails_the_headroom_check():
    with pytest.raises(PreflightFailed, match=r"requests\.cpu: this job asks for 12 CPU"):
        check_quota_headroom(FOUR_BIG_EXECUTORS, list_quotas=lambda: [_quota({"requests.cpu": "8"})], namespace="spark",
                             log=logging.getLogger("preflight-test"))  # fmt: skip


def test_a_failed_check_carries_its_cause_and_fix_for_the_operator_to_log_last(caplog):
    log = logging.getLogger("preflight-test")
    with caplog.at_level(logging.INFO), pytest.raises(PreflightFailed) as failed, explained_failure(log), \
            log_section(log, "Preflight"):  # fmt: skip
        check_quota_headroom(FOUR_BIG_EXECUTORS, list_quotas=lambda: [_quota({"requests.cpu": "8"})], namespace="spark",
                             log=log)  # fmt: skip
    # Logged once, after the folded section closed: the last lines of the task log, in the open.
    assert [r.getMessage() for r in caplog.records] == [
        "::group::Preflight", "::endgroup::", f"Cause: {failed.value.cause}", f"Fix: {failed.value.fix}"]


def _preflight_with_rights(allowed, *, read_rbac, log: logging.Logger) -> None:
    run_preflight(
        is_allowed=lambda verb, resource: (verb, resource) in allowed, service_account="spark-sa", namespace="spark",
        image="registry.invalid/never-read:1", job_file=None, jobs_root=Path("jobs"), log=log, read_rbac=read_rbac,
    )  # fmt: skip


def test_missing_driver_rights_fail_before_the_image_with_why_from_the_roles_read(caplog):
    every_verb = ["get", "list", "watch", "create", "patch", "delete", "deletecollection"]
    role = V1Role(metadata=V1ObjectMeta(name="spark-driver", namespace="spark"), rules=[
        V1PolicyRule(api_groups=[""], resources=["pods"], verbs=[v for v in every_verb if v != "watch"]),
        V1PolicyRule(api_groups=[""], resources=["services", "configmaps"], verbs=every_verb)])  # fmt: skip
    binding = V1RoleBinding(
        metadata=V1ObjectMeta(name="spark-driver", namespace="spark"),
        role_ref=V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="spark-driver"),
        subjects=[RbacV1Subject(kind="ServiceAccount", name="spark-sa", namespace="spark")],
    )
    allowed = {(v, r) for v in every_verb for r in ("pods", "services", "configmaps")} - {("watch", "pods")}

    with caplog.at_level(logging.ERROR), pytest.raises(PreflightFailed) as failed:
        _preflight_with_rights(allowed, log=logging.getLogger("preflight-test"), read_rbac=lambda: RbacObjects(
            roles=[role], role_bindings=[binding], namespaces=frozenset({"spark"})))  # fmt: skip
    assert "Why: Role spark-driver lacks the verb watch on pods" in failed.value.cause
    assert failed.value.cause.startswith("ServiceAccount spark/spark-sa may not watch pods")


def test_when_the_roles_may_not_be_read_the_failure_names_both_causes(caplog):
    def denied():
        raise KubernetesPermissionDenied(action="list roles in namespace 'spark'", detail="forbidden")

    with caplog.at_level(logging.WARNING), pytest.raises(PreflightFailed) as failed:
        _preflight_with_rights(set(), read_rbac=denied, log=logging.getLogger("preflight-test"))
    assert "may not read the RBAC objects of namespace spark (403)" in caplog.text
    assert failed.value.fix.startswith("Either bind Role spark-driver to spark-sa, or add the rules below")


def _preflight_of_job(job_file: Path, jobs_root: Path, contents: ImageContents, monkeypatch) -> None:
    monkeypatch.setattr("sparkplane.kubernetes.preflight.read_image_contents", lambda image: contents)
    run_preflight(is_allowed=lambda verb, resource: True, service_account="spark-sa", namespace="spark",
                  image="registry.example/spark:old", job_file=job_file, jobs_root=jobs_root,
                  log=logging.getLogger("preflight-test"))  # fmt: skip


def test_a_job_whose_helper_changed_after_the_image_was_built_fails_with_the_rebuild_hint(tmp_path, monkeypatch, caplog):
    (tmp_path / "helpers.py").write_text("x = 1\n")
    (tmp_path / "job.py").write_text("import helpers\n")
    built = dataclasses.replace(IMAGE, job_sha256=job_code_sha256(tmp_path / "job.py", tmp_path))
    _preflight_of_job(tmp_path / "job.py", tmp_path, built, monkeypatch)  # the same code: no complaint

    (tmp_path / "helpers.py").write_text("x = 2\n")
    with caplog.at_level(logging.ERROR), pytest.raises(PreflightFailed) as failed:
        _preflight_of_job(tmp_path / "job.py", tmp_path, built, monkeypatch)
    assert failed.value.cause == ("Image registry.example/spark:old does not hold this job's code: jobs/helpers.py "
                                  "differs from the image's copy: it changed after the image was built, and the "
                                  "driver would run the old one.")  # fmt: skip
    assert failed.value.fix.startswith("Build the image again (make image, or image/build)")
