"""How the launcher starts and ends a try, on the real cluster, as the platform's identity.

Drivers are built exactly as the operator builds them and placed on simulated nodes (KWOK takes
them to Running). What the follower reports (its event) is given to the launcher directly: a
driver the follower could not judge is kept for the retry to follow; a timed-out one is deleted.
A pod with a task's driver labels that the platform did not sign is never followed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from harness.log_capture import CapturedLines
from harness.simulated import SIMULATED_IMAGE, append_log_line, mark_finished, on_simulated_node, simulated_node
from localcluster.kwok import SIMULATED_NODE_TOLERATION
from harness.waits import wait_for
from kubernetes import client

from sparkplane.exceptions import ForeignDriverPod, SparkJobFailed, SparkJobInvalid
from sparkplane.job_spec import SparkJobSpec
from sparkplane.kubernetes.driver_pod import KubernetesTarget, build_driver_pod
from sparkplane.kubernetes.driver_signature import signature_of
from sparkplane.kubernetes.identity import SIGNATURE_ANNOTATION, SPARK_NAMESPACE, TaskTry
from sparkplane.kubernetes.launcher import DriverLauncher
from sparkplane.rbac.hook import RbacHook

pytestmark = pytest.mark.cluster

CONN_ID = "spark_cluster_launcher_test"
#: The test's signing key: what the Airflow Variable holds in production.
SIGNING_KEY = b"launcher-test-key-" + uuid.uuid4().bytes
SPEC = SparkJobSpec(application="spark_smoke_test.py", name="launcher-test")


@pytest.fixture
def launcher(airflow_connection, monkeypatch) -> tuple[DriverLauncher, CapturedLines]:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", airflow_connection)
    log = logging.getLogger(f"test.launcher.{uuid.uuid4().hex[:6]}")
    handler = CapturedLines()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    hook = RbacHook(CONN_ID)
    return DriverLauncher(hook, namespace=SPARK_NAMESPACE, log=log, signing_key=SIGNING_KEY), handler


def _create_on_simulated_node(core: client.CoreV1Api, task_try: TaskTry, *, signed: bool) -> client.V1Pod:
    manifest = build_driver_pod(SPEC, task_try, KubernetesTarget(SPARK_NAMESPACE, SIMULATED_IMAGE))
    pod = core.create_namespaced_pod(SPARK_NAMESPACE, on_simulated_node(manifest, simulated_node(core)))
    if signed:  # as the platform does right after creating it
        core.patch_namespaced_pod(pod.metadata.name, SPARK_NAMESPACE,
                                  {"metadata": {"annotations": {SIGNATURE_ANNOTATION: signature_of(pod, SIGNING_KEY)}}})
    return pod


@pytest.fixture
def running_driver(local_cluster) -> Iterator[tuple[TaskTry, str]]:
    """A driver of try 1 of a fresh task instance, Running on a simulated node."""
    core = client.CoreV1Api(local_cluster.api_client())
    task_try = TaskTry("launcher_test", "job", f"manual__{time.time_ns()}", try_number=1)
    name = _create_on_simulated_node(core, task_try, signed=True).metadata.name
    wait_for(lambda: core.read_namespaced_pod(name, SPARK_NAMESPACE).status.phase, lambda phase: phase == "Running",
             timeout_seconds=60, what=f"simulated driver {name} to run")  # fmt: skip
    yield task_try, name
    with contextlib.suppress(client.ApiException):  # gone already where the test deleted it
        core.delete_namespaced_pod(name, SPARK_NAMESPACE, grace_period_seconds=0)


def _finish(launcher: DriverLauncher, name: str, status: str, message: str) -> SparkJobFailed:
    event = {"status": status, "message": message, "pod_name": name, "namespace": SPARK_NAMESPACE,
             "container_started": True}  # fmt: skip
    with pytest.raises(SparkJobFailed) as raised:
        launcher.finish(event, application="spark_smoke_test.py", delete_failed_driver=False,
                        keep_failed_driver=timedelta(days=1))  # fmt: skip
    return raised.value


def test_a_driver_the_follower_could_not_judge_is_kept_and_the_retry_follows_it(launcher, running_driver):
    driver_launcher, handler = launcher
    task_try, name = running_driver
    failure = _finish(driver_launcher, name, "error", "ApiUnreachable: the Kubernetes API did not answer for 301s")
    assert "Following driver pod" in failure.cause and "retry follows the driver" in failure.fix
    assert f"Driver pod {SPARK_NAMESPACE}/{name} is kept: its state is unknown" in " ".join(handler.messages)
    retry = TaskTry(task_try.dag_id, task_try.task_id, task_try.run_id, try_number=2)
    assert driver_launcher.find_driver_to_follow(retry) == name


def test_a_driver_past_a_stage_timeout_is_deleted(local_cluster, launcher, running_driver):
    driver_launcher, _ = launcher
    _, name = running_driver
    failure = _finish(driver_launcher, name, "timeout", "driver still running after 2s (run timeout)")
    assert failure.cause.endswith("(run timeout).")
    core = client.CoreV1Api(local_cluster.api_client())
    names = wait_for(lambda: [p.metadata.name for p in core.list_namespaced_pod(SPARK_NAMESPACE).items
                              if p.metadata.deletion_timestamp is None],
                     lambda left: name not in left, timeout_seconds=30, what=f"{name} to be deleted")  # fmt: skip
    assert name not in names


#: What a job's data-quality gate prints when it refused to publish (jobs/quality/gate.py).
REFUSED = {"job": "revenue_by_region", "status": "failed", "published": False, "output": "s3a://data/report",
           "rows": 168, "application_id": "spark-4a8f0c2b9d1e4f3a8b7c6d5e4f3a2b1c",
           "validation_result": "s3a://data/_quality/report/validation.json",
           "data_docs": "s3a://data/_quality/report/data_docs/index.html", "validation_seconds": 3.1,
           "datasets": [{"name": "orders", "expectations": 8, "failed": 1, "blocking": 1, "failures": [
               {"expectation": "expect_column_values_to_be_unique(column=order_id)", "blocking": True,
                "observed": "10 of 2000 rows unexpected (0.50%)", "sample": [100, 100, 101, 101, 102]}]}]}  # fmt: skip


def test_a_driver_its_quality_gate_stopped_is_explained_by_the_failed_expectation(local_cluster, launcher,
                                                                                   running_driver):  # fmt: skip
    driver_launcher, _ = launcher
    _, name = running_driver
    core = client.CoreV1Api(local_cluster.api_client())
    log_file = local_cluster.settings.simulated_container_log
    log_file.write_text("")  # every simulated container shows this file
    try:
        append_log_line(log_file, "sparkplane.quality: " + json.dumps(REFUSED))
        append_log_line(log_file, "Not published: blocking expectations failed")
        mark_finished(core, SPARK_NAMESPACE, name, container="spark-kubernetes-driver", phase="Failed", exit_code=1,
                      reason="Error")  # fmt: skip
        seen: list[dict] = []
        event = {"status": "failed", "message": "driver failed", "pod_name": name, "namespace": SPARK_NAMESPACE,
                 "container_started": True}  # fmt: skip
        with pytest.raises(SparkJobInvalid) as raised:  # the same data would fail the same way: no retry
            driver_launcher.finish(event, application="revenue_by_region.py", delete_failed_driver=False,
                                   keep_failed_driver=timedelta(days=1), on_quality_result=seen.append)  # fmt: skip
    finally:
        log_file.write_text("")
    assert raised.value.cause == (
        "revenue_by_region.py did not publish s3a://data/report: 1 blocking data-quality expectation failed: "
        "orders: expect_column_values_to_be_unique(column=order_id): 10 of 2000 rows unexpected (0.50%).")
    assert seen == [REFUSED]


@pytest.fixture
def core(local_cluster) -> Iterator[client.CoreV1Api]:
    core = client.CoreV1Api(local_cluster.api_client())
    yield core
    for pod in core.list_namespaced_pod(SPARK_NAMESPACE, label_selector="sparkplane.dev/dag-id=forgery_test").items:
        with contextlib.suppress(client.ApiException):
            core.delete_namespaced_pod(pod.metadata.name, SPARK_NAMESPACE, grace_period_seconds=0)


def test_a_forged_succeeded_driver_is_not_followed_and_the_retry_submits(core, launcher):
    driver_launcher, handler = launcher
    first = TaskTry("forgery_test", "job", f"manual__{time.time_ns()}", try_number=1)
    # Someone who may create pods in the namespace (every driver's spark-sa) writes the task's
    # labels on a pod that "succeeds"; another copies a real driver's signature onto its own pod.
    forged = _create_on_simulated_node(core, first, signed=False)
    mark_finished(core, SPARK_NAMESPACE, forged.metadata.name, container="spark-kubernetes-driver",
                  phase="Succeeded", exit_code=0, reason="Completed")
    retry = TaskTry(first.dag_id, first.task_id, first.run_id, try_number=2)
    assert driver_launcher.find_driver_to_follow(retry) is None
    assert (f"Pod {SPARK_NAMESPACE}/{forged.metadata.name} carries this task's driver labels but not this "
            "platform's signature: not following it") in " ".join(handler.messages)


def test_a_signature_copied_to_another_pod_is_worthless(core, launcher):
    driver_launcher, _ = launcher
    signed_try = TaskTry("forgery_test", "job", f"manual__{time.time_ns()}", try_number=1)
    genuine = _create_on_simulated_node(core, signed_try, signed=True)
    core.delete_namespaced_pod(genuine.metadata.name, SPARK_NAMESPACE, grace_period_seconds=0)
    wait_for(lambda: core.list_namespaced_pod(SPARK_NAMESPACE, field_selector=f"metadata.name={genuine.metadata.name}").items,
             lambda pods: not pods, timeout_seconds=30, what="the genuine driver to go")  # fmt: skip
    copy = _create_on_simulated_node(core, signed_try, signed=False)
    core.patch_namespaced_pod(copy.metadata.name, SPARK_NAMESPACE, {"metadata": {"annotations": {
        SIGNATURE_ANNOTATION: signature_of(genuine, SIGNING_KEY)}}})
    retry = TaskTry(signed_try.dag_id, signed_try.task_id, signed_try.run_id, try_number=2)
    assert driver_launcher.find_driver_to_follow(retry) is None


def test_the_platform_signs_what_it_creates_and_refuses_a_name_someone_else_took(core, launcher):
    driver_launcher, _ = launcher
    node_template = {"spec": {"nodeName": simulated_node(core), "tolerations": [SIMULATED_NODE_TOLERATION]}}
    target = KubernetesTarget(SPARK_NAMESPACE, SIMULATED_IMAGE)
    own = TaskTry("forgery_test", "job", f"manual__{time.time_ns()}", try_number=1)
    name = driver_launcher.create_driver(SPEC, own, target, pod_template=node_template, keep_failed_seconds=60,
                                         preflight=False)  # fmt: skip
    retry = TaskTry(own.dag_id, own.task_id, own.run_id, try_number=2)
    assert driver_launcher.find_driver_to_follow(retry) == name
    squatted = TaskTry("forgery_test", "job", f"manual__{time.time_ns()}", try_number=1)
    _create_on_simulated_node(core, squatted, signed=False)
    with pytest.raises(ForeignDriverPod, match="has this try's driver name but not this platform's signature"):
        driver_launcher.create_driver(SPEC, squatted, target, pod_template=node_template, keep_failed_seconds=60,
                                      preflight=False)  # fmt: skip
