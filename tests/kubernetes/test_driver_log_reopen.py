"""A driver that goes quiet gets its log stream reopened, and no line is lost or repeated.

The pod runs on a simulated node, whose container log KWOK serves through the API server from
one shared file (cluster/README.md); lines carry a marker of this test so that what other tests
appended there is ignored. The quiet limit is shortened to one second.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
from harness.log_capture import CapturedLines
from harness.simulated import SIMULATED_IMAGE, append_log_line, mark_finished, on_simulated_node, simulated_node
from harness.waits import wait_for
from kubernetes import client

from sparkplane.kubernetes.follower_timing import FollowerTiming
from sparkplane.kubernetes.identity import DRIVER_CONTAINER_NAME, SPARK_NAMESPACE
from sparkplane.kubernetes.pod_templates import restricted_container_security, restricted_pod_security
from sparkplane.kubernetes.trigger import SparkDriverTrigger

pytestmark = pytest.mark.cluster

CONN_ID = "spark_cluster_log_reopen_test"


def test_a_quiet_driver_log_is_reopened_without_losing_or_repeating_lines(local_cluster, airflow_connection, monkeypatch):
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", airflow_connection)
    core = client.CoreV1Api(local_cluster.api_client())
    marker = uuid.uuid4().hex[:8]
    name = f"quiet-driver-{marker}"
    core.create_namespaced_pod(SPARK_NAMESPACE, on_simulated_node({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"securityContext": restricted_pod_security(),
                 "containers": [{"name": DRIVER_CONTAINER_NAME, "image": SIMULATED_IMAGE,
                                 "securityContext": restricted_container_security()}]},
    }, simulated_node(core)))  # fmt: skip
    log_file = local_cluster.settings.simulated_container_log
    handler = CapturedLines()

    def write(text: str) -> None:
        append_log_line(log_file, f"{marker} {text}")

    async def follow() -> dict:
        # The quiet limit shortened to a second; no drain: a simulated log never ends.
        timing = FollowerTiming(log_quiet_seconds=1.0, log_drain_seconds=0).to_dict()
        trigger = SparkDriverTrigger(kubernetes_conn_id=CONN_ID, namespace=SPARK_NAMESPACE, pod_name=name, timeouts={},
                                     follower_key=f"test-{marker}", timing=timing)  # fmt: skip
        trigger._log = logger = logging.getLogger(f"test.{name}")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        return (await trigger.run().__anext__()).payload

    async def scenario() -> dict:
        following = asyncio.create_task(follow())
        # In a thread: the trigger runs in this loop meanwhile.
        await asyncio.to_thread(wait_for, lambda: core.read_namespaced_pod(name, SPARK_NAMESPACE).status.phase,
                                lambda phase: phase == "Running", timeout_seconds=60, what="the simulated pod to start")
        write("line 1")
        await asyncio.sleep(4)  # quiet for longer than the limit: the stream is reopened
        write("line 2")
        await asyncio.sleep(2)
        mark_finished(core, SPARK_NAMESPACE, name, container=DRIVER_CONTAINER_NAME, phase="Succeeded", exit_code=0,
                      reason="Completed")
        return await asyncio.wait_for(following, timeout=60)

    try:
        event = asyncio.run(scenario())
    finally:
        core.delete_namespaced_pod(name, SPARK_NAMESPACE, grace_period_seconds=0)
    assert event["status"] == "success", event
    assert [m for m in handler.messages if m.startswith(marker)] == [f"{marker} line 1", f"{marker} line 2"]
    assert "No driver output for 1s; reopening the log stream" in handler.messages
    assert not [m for m in handler.messages if "dropped" in m], handler.messages
