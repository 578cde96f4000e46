"""The debug bundle a failed driver leaves, on the real cluster, read as the platform's identity.

The driver is built as the operator builds it and its executor from the executor pod template the
driver carries, as Spark builds it; both run on a simulated node (KWOK) and are ended the way a
kubelet reports it. The launcher's ``finish`` is given the follower's failed event, as the
operator gives it, and its failure is explained as the operator explains it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from harness.log_capture import CapturedLines
from harness.simulated import SIMULATED_IMAGE, append_log_line, mark_finished, on_simulated_node, simulated_node
from harness.waits import wait_for
from kubernetes import client

from sparkplane.exceptions import SparkJobFailed
from sparkplane.job_spec import SparkJobSpec
from sparkplane.kubernetes.debug_bundle import DebugBundleRequest
from sparkplane.kubernetes.driver_pod import KubernetesTarget, build_driver_pod
from sparkplane.kubernetes.driver_signature import signature_of
from sparkplane.kubernetes.identity import (
    APPLICATION_ID_LABEL,
    EXECUTOR_CONTAINER_NAME,
    EXECUTOR_SERVICE_ACCOUNT,
    EXECUTOR_TEMPLATE_ANNOTATION,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    SIGNATURE_ANNOTATION,
    SPARK_NAMESPACE,
    SPARK_ROLE_LABEL,
    TaskTry,
)
from sparkplane.kubernetes.launcher import DriverLauncher
from sparkplane.rbac.hook import RbacHook
from sparkplane.task_log import explained_failure

pytestmark = pytest.mark.cluster

CONN_ID = "spark_cluster_debug_bundle_test"
SIGNING_KEY = b"debug-bundle-test-key-" + uuid.uuid4().bytes
SPEC = SparkJobSpec(application="spark_smoke_test.py", name="debug-bundle-test")
#: What the log line naming the bundle looks like; the folder is what follows the colon.
BUNDLE_LINE = re.compile(r"^Debug bundle \(driver pod, events, executors, nodes, preflight\): (?P<folder>.+)$")


@pytest.fixture
def launcher(airflow_connection, monkeypatch) -> tuple[DriverLauncher, logging.Logger, CapturedLines]:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", airflow_connection)
    log = logging.getLogger(f"test.debug_bundle.{uuid.uuid4().hex[:6]}")
    handler = CapturedLines()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return DriverLauncher(RbacHook(CONN_ID), namespace=SPARK_NAMESPACE, log=log, signing_key=SIGNING_KEY), log, handler


@pytest.fixture
def core(local_cluster) -> client.CoreV1Api:
    return client.CoreV1Api(local_cluster.api_client())


@pytest.fixture
def failed_job(core, local_cluster) -> Iterator[tuple[client.V1Pod, client.V1Pod, str]]:
    """A signed driver and one executor of its application on a simulated node, both failed; and a secret
    Airflow masks, written into the driver's annotations and the containers' log."""
    from airflow.sdk.log import mask_secret

    secret = f"bundle-secret-{uuid.uuid4().hex}"
    mask_secret(secret)
    node = simulated_node(core)
    task_try = TaskTry("debug_bundle_test", "job", f"manual__{time.time_ns()}", try_number=1)
    manifest = build_driver_pod(SPEC, task_try, KubernetesTarget(SPARK_NAMESPACE, SIMULATED_IMAGE))
    manifest["metadata"]["annotations"]["example.com/note"] = f"token={secret}"
    driver = core.create_namespaced_pod(SPARK_NAMESPACE, on_simulated_node(manifest, node))
    name = driver.metadata.name
    core.patch_namespaced_pod(name, SPARK_NAMESPACE,
                              {"metadata": {"annotations": {SIGNATURE_ANNOTATION: signature_of(driver, SIGNING_KEY)}}})
    executor = core.create_namespaced_pod(SPARK_NAMESPACE, on_simulated_node(_executor_manifest(driver), node))
    for pod in (name, executor.metadata.name):
        wait_for(lambda pod=pod: core.read_namespaced_pod(pod, SPARK_NAMESPACE).status.phase,
                 lambda phase: phase == "Running", timeout_seconds=60, what=f"simulated pod {pod} to run")  # fmt: skip
    log_file = local_cluster.settings.simulated_container_log
    log_file.write_text("")  # every simulated container shows this file
    try:
        append_log_line(log_file, f"connecting with password {secret}")
        append_log_line(log_file, "java.lang.OutOfMemoryError: Java heap space")
        mark_finished(core, SPARK_NAMESPACE, executor.metadata.name, container=EXECUTOR_CONTAINER_NAME,
                      phase="Failed", exit_code=137, reason="OOMKilled")  # fmt: skip
        mark_finished(core, SPARK_NAMESPACE, name, container="spark-kubernetes-driver", phase="Failed", exit_code=1,
                      reason="Error")  # fmt: skip
        _report_event(core, core.read_namespaced_pod(name, SPARK_NAMESPACE), f"Executor lost; token {secret}")
        yield core.read_namespaced_pod(name, SPARK_NAMESPACE), executor, secret
    finally:
        log_file.write_text("")
        with contextlib.suppress(client.ApiException):  # the executor goes with its driver
            core.delete_namespaced_pod(name, SPARK_NAMESPACE, grace_period_seconds=0)


def _executor_manifest(driver: client.V1Pod) -> dict:
    """Return an executor pod of the driver's application, from the template the driver carries, as Spark builds it."""
    template = json.loads(driver.metadata.annotations[EXECUTOR_TEMPLATE_ANNOTATION])
    spec = template["spec"]
    spec["containers"][0].update(image=SIMULATED_IMAGE, resources={
        "requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "256Mi"}})  # fmt: skip
    spec.update(serviceAccountName=EXECUTOR_SERVICE_ACCOUNT, restartPolicy="Never")
    return {"apiVersion": "v1", "kind": "Pod", "spec": spec, "metadata": {
        "name": f"{driver.metadata.name}-exec-1", "namespace": SPARK_NAMESPACE,
        "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, SPARK_ROLE_LABEL: "executor",
                   APPLICATION_ID_LABEL: driver.metadata.labels[APPLICATION_ID_LABEL]},
        "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": driver.metadata.name,
                             "uid": driver.metadata.uid, "controller": True}]}}  # fmt: skip


def _report_event(core: client.CoreV1Api, pod: client.V1Pod, message: str) -> None:
    """Record a warning about ``pod`` as a cluster component would (KWOK's simulated kubelet reports only pulls)."""
    now = datetime.now(timezone.utc)
    core.create_namespaced_event(SPARK_NAMESPACE, client.CoreV1Event(
        metadata=client.V1ObjectMeta(generate_name=f"{pod.metadata.name}."),
        involved_object=client.V1ObjectReference(kind="Pod", name=pod.metadata.name, namespace=SPARK_NAMESPACE,
                                                 uid=pod.metadata.uid, api_version="v1"),
        reason="ExecutorLost", message=message, type="Warning", count=1, first_timestamp=now, last_timestamp=now,
        source=client.V1EventSource(component="debug-bundle-test"),
    ))  # fmt: skip


def _fail(launcher: DriverLauncher, log: logging.Logger, driver: str, request: DebugBundleRequest) -> SparkJobFailed:
    event = {"status": "failed", "message": "driver failed", "pod_name": driver, "namespace": SPARK_NAMESPACE,
             "container_started": True}  # fmt: skip
    with pytest.raises(SparkJobFailed) as raised, explained_failure(log):  # as the operator finishes it
        launcher.finish(event, application="spark_smoke_test.py", delete_failed_driver=False,
                        keep_failed_driver=timedelta(days=1), debug_bundle=request)  # fmt: skip
    return raised.value


def test_a_failed_driver_leaves_a_bundle_where_the_log_says_without_secrets(launcher, failed_job, tmp_path):
    driver_launcher, log, handler = launcher
    driver, executor, secret = failed_job
    request = DebugBundleRequest(folder=tmp_path / "attempt=1.debug", spec=SPEC,
                                 target=KubernetesTarget(SPARK_NAMESPACE, SIMULATED_IMAGE))  # fmt: skip
    failure = _fail(driver_launcher, log, driver.metadata.name, request)

    # Named in the open, right before the failure's Cause and Fix.
    bundle_line, cause_line, fix_line = handler.messages[-3:]
    assert (cause_line, fix_line) == (f"Cause: {failure.cause}", f"Fix: {failure.fix}")
    folder = Path(BUNDLE_LINE.match(bundle_line)["folder"])
    assert folder == request.folder and folder.is_dir()

    summary = (folder / "summary.txt").read_text()
    assert f"Cause: {failure.cause}" in summary
    manifest = yaml.safe_load((folder / "driver-pod.yaml").read_text())
    assert manifest["metadata"]["name"] == driver.metadata.name and "managedFields" not in manifest["metadata"]
    assert manifest["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1
    assert "ExecutorLost [debug-bundle-test]: Executor lost; token ***" in (folder / "driver-events.txt").read_text()
    executors = (folder / "executors.txt").read_text()
    assert f"{executor.metadata.name} on node {executor.spec.node_name}: phase Failed" in executors
    assert "exit code 137 (OOMKilled)" in executors and "java.lang.OutOfMemoryError: Java heap space" in executors
    nodes = (folder / "nodes.txt").read_text()
    assert f"Node {driver.spec.node_name} (ran driver {driver.metadata.name}, executor {executor.metadata.name})" in nodes
    assert re.search(r"\n  Ready=\w+ since |\n  Not read: node ", nodes), nodes
    preflight = (folder / "preflight.txt").read_text()
    assert "it passed for this driver" in preflight and "Checked again at failure time" in preflight
    assert "Preflight: spark/spark-sa has the driver's" in preflight  # the RBAC check, asked again now

    written = {path.name: path.read_text() for path in folder.iterdir()}
    assert [name for name, text in written.items() if secret in text] == []
    assert "***" in written["driver-pod.yaml"] and "***" in written["executors.txt"]


def test_a_bundle_that_cannot_be_written_leaves_the_failure_as_it_was(launcher, failed_job, tmp_path):
    driver_launcher, log, handler = launcher
    driver, _, _ = failed_job
    blocked = tmp_path / "a-file"
    blocked.write_text("")  # the folder cannot be made below a file
    failure = _fail(driver_launcher, log, driver.metadata.name, DebugBundleRequest(folder=blocked / "attempt=1.debug"))
    assert failure.cause.startswith("spark_smoke_test.py")
    assert any(line.startswith(f"Could not write the debug bundle to {blocked / 'attempt=1.debug'}: ")
               for line in handler.messages)  # fmt: skip
    assert not any(BUNDLE_LINE.match(line) for line in handler.messages)
    assert handler.messages[-2:] == [f"Cause: {failure.cause}", f"Fix: {failure.fix}"]
