"""How the launcher ends a try, on the real cluster, as the platform's identity.

Drivers are built exactly as the operator builds them and placed on simulated nodes (KWOK takes
them to Running). What the follower reports (its event) is given to the launcher directly: a
driver the follower could not judge is kept for the retry to follow; a timed-out one is deleted.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from harness.log_capture import CapturedLines
from harness.simulated import SIMULATED_IMAGE, on_simulated_node, simulated_node
from harness.waits import wait_for
from kubernetes import client

from sparkplane.exceptions import SparkJobFailed
from sparkplane.job_spec import SparkJobSpec
from sparkplane.kubernetes.driver_pod import KubernetesTarget, build_driver_pod
from sparkplane.kubernetes.hook import SparkKubernetesHook
from sparkplane.kubernetes.identity import SPARK_NAMESPACE, TaskTry
from sparkplane.kubernetes.launcher import DriverLauncher

pytestmark = pytest.mark.cluster

CONN_ID = "spark_cluster_launcher_test"


@pytest.fixture
def launcher(airflow_connection, monkeypatch) -> tuple[DriverLauncher, CapturedLines]:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", airflow_connection)
    log = logging.getLogger(f"test.launcher.{uuid.uuid4().hex[:6]}")
    handler = CapturedLines()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return DriverLauncher(SparkKubernetesHook(CONN_ID), namespace=SPARK_NAMESPACE, log=log), handler


@pytest.fixture
def running_driver(local_cluster) -> Iterator[tuple[TaskTry, str]]:
    """A driver of try 1 of a fresh task instance, Running on a simulated node."""
    core = client.CoreV1Api(local_cluster.api_client())
    task_try = TaskTry("launcher_test", "job", f"manual__{time.time_ns()}", try_number=1)
    spec = SparkJobSpec(application="spark_smoke_test.py", name="launcher-test")
    manifest = build_driver_pod(spec, task_try, KubernetesTarget(SPARK_NAMESPACE, SIMULATED_IMAGE))
    name = core.create_namespaced_pod(SPARK_NAMESPACE, on_simulated_node(manifest, simulated_node(core))).metadata.name
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
