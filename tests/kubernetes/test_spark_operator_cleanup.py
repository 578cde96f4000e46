"""Stopping a deferred Spark task removes everything its job created, on the real cluster.

Airflow's triggerer calls the trigger's ``on_kill`` when a user marks a deferred task failed or
success, or clears it; here that call is made directly, against a real driver whose executors
are running, and the test waits for Kubernetes' garbage collector to remove the rest (executors,
Spark's ConfigMap and the driver's authentication Secret).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

import pytest
from harness.waits import wait_for
from kubernetes import client

from sparkplane.job_spec import SparkJobSpec
from sparkplane.kubernetes.driver_pod import KubernetesTarget, build_driver_pod
from sparkplane.kubernetes.identity import SPARK_NAMESPACE, TaskTry
from sparkplane.kubernetes.spark_auth import auth_secret_manifest
from sparkplane.kubernetes.trigger import SparkDriverTrigger

pytestmark = pytest.mark.cluster

CONN_ID = "spark_cluster_cleanup_test"


def test_user_stopping_a_deferred_task_deletes_driver_executors_and_configmaps(
    local_cluster, spark_image, airflow_connection, monkeypatch
):
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", airflow_connection)
    task_try = TaskTry("cleanup_test", "held_job", f"manual__{time.time_ns()}", try_number=1)
    spec = SparkJobSpec(
        application="spark_smoke_test.py", name="cleanup-test", arguments=("--hold-seconds", "300"),
        driver_memory="512m", executor_memory="512m", executor_instances=1,
        conf={"spark.kubernetes.driver.request.cores": "500m", "spark.kubernetes.executor.request.cores": "500m"},
    )
    core = client.CoreV1Api(local_cluster.api_client())
    driver = core.create_namespaced_pod(SPARK_NAMESPACE, build_driver_pod(spec, task_try, KubernetesTarget(SPARK_NAMESPACE, spark_image)))
    try:
        # As the launcher does right after the driver: the driver starts once its Spark secret exists.
        auth_secret = core.create_namespaced_secret(SPARK_NAMESPACE, auth_secret_manifest(driver, os.urandom(32))).metadata.name

        def running_executors():
            pods = core.list_namespaced_pod(SPARK_NAMESPACE, label_selector=f"{task_try.selector()},spark-role=executor").items
            return [p for p in pods if p.status.phase == "Running"]

        wait_for(running_executors, bool, timeout_seconds=240, interval_seconds=1, what="a running executor")
        owned_configmaps = [
            cm.metadata.name for cm in core.list_namespaced_config_map(SPARK_NAMESPACE).items
            if any(ref.uid == driver.metadata.uid for ref in cm.metadata.owner_references or [])
        ]
        assert owned_configmaps, "Spark's executor ConfigMap should exist, owned by the driver"

        trigger = SparkDriverTrigger(kubernetes_conn_id=CONN_ID, namespace=SPARK_NAMESPACE, pod_name=driver.metadata.name, timeouts={})
        asyncio.run(trigger.on_kill())

        def nothing_left():
            pods = core.list_namespaced_pod(SPARK_NAMESPACE, label_selector=task_try.selector()).items
            names = {cm.metadata.name for cm in core.list_namespaced_config_map(SPARK_NAMESPACE).items}
            secrets = {secret.metadata.name for secret in core.list_namespaced_secret(SPARK_NAMESPACE).items}
            return not pods and not (set(owned_configmaps) & names) and auth_secret not in secrets

        wait_for(nothing_left, bool, timeout_seconds=60, interval_seconds=1, what="no pod, ConfigMap or Secret of the job")
    finally:  # a failed check leaves no held job behind (its executors go with the driver)
        with contextlib.suppress(client.ApiException):
            core.delete_namespaced_pod(driver.metadata.name, SPARK_NAMESPACE, grace_period_seconds=0)
    # Stopping twice (a second click, a retry of on_kill) is harmless.
    asyncio.run(trigger.on_kill())
