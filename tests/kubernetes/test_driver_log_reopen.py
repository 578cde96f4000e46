"""A driver that goes quiet gets its log stream reopened, and no line is lost or repeated.

The pod runs on a simulated node, whose container log KWOK serves through the API server from
one shared file (cluster/README.md); lines carry a marker of this test so that what other tests
appended there is ignored. The quiet limit is shortened to one second.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import datetime, timezone

import pytest
from airflow_on_cluster import NAMESPACE
from kubernetes import client
from localcluster.kwok import SIMULATED_NODE_TOLERATION, cri_log_line
from localcluster.settings import NODE_TYPE_LABEL, SIMULATE_PULL_LABEL

from sparkplane import driver_follower
from sparkplane.constants import DRIVER_CONTAINER_NAME
from sparkplane.pod_templates import restricted_container_security, restricted_pod_security
from sparkplane.triggers import SparkDriverTrigger

pytestmark = pytest.mark.cluster

CONN_ID = "spark_cluster_log_reopen_test"
IMAGE = "127.0.0.1:5000/sparkplane/simulated:1"


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_a_quiet_driver_log_is_reopened_without_losing_or_repeating_lines(local_cluster, airflow_connection, monkeypatch):
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", airflow_connection)
    monkeypatch.setattr(driver_follower, "LOG_QUIET_SECONDS", 1.0)
    monkeypatch.setattr(driver_follower, "LOG_DRAIN_SECONDS", 0)  # a simulated log never ends
    core = client.CoreV1Api(local_cluster.api_client())
    nodes = core.list_node(label_selector=f"{NODE_TYPE_LABEL}=simulated").items
    node = next(n.metadata.name for n in nodes if (n.metadata.labels or {}).get(SIMULATE_PULL_LABEL) != "fail")
    marker = uuid.uuid4().hex[:8]
    name = f"quiet-driver-{marker}"
    core.create_namespaced_pod(NAMESPACE, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"nodeName": node, "tolerations": [SIMULATED_NODE_TOLERATION],
                 "securityContext": restricted_pod_security(),
                 "containers": [{"name": DRIVER_CONTAINER_NAME, "image": IMAGE,
                                 "securityContext": restricted_container_security()}]},
    })  # fmt: skip
    log_file = local_cluster.settings.simulated_container_log
    handler = _Lines()

    def write(text: str) -> None:
        with log_file.open("a") as f:
            f.write(cri_log_line(f"{marker} {text}", datetime.now(timezone.utc)))

    async def follow() -> dict:
        trigger = SparkDriverTrigger(kubernetes_conn_id=CONN_ID, namespace=NAMESPACE, pod_name=name, timeouts={},
                                     follower_key=f"test-{marker}")  # fmt: skip
        trigger._log = logger = logging.getLogger(f"test.{name}")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        return (await trigger.run().__anext__()).payload

    async def scenario() -> dict:
        following = asyncio.create_task(follow())
        deadline = time.monotonic() + 60
        while core.read_namespaced_pod(name, NAMESPACE).status.phase != "Running":
            assert time.monotonic() < deadline, "the simulated pod did not start"
            await asyncio.sleep(0.5)
        write("line 1")
        await asyncio.sleep(4)  # quiet for longer than the limit: the stream is reopened
        write("line 2")
        await asyncio.sleep(2)
        core.patch_namespaced_pod_status(name, NAMESPACE, {"status": {
            "phase": "Succeeded",
            "containerStatuses": [{"name": DRIVER_CONTAINER_NAME, "image": IMAGE, "imageID": "", "ready": False,
                                   "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                   "finishedAt": datetime.now(timezone.utc).isoformat()}}}],
        }})  # fmt: skip
        return await asyncio.wait_for(following, timeout=60)

    try:
        event = asyncio.run(scenario())
    finally:
        core.delete_namespaced_pod(name, NAMESPACE, grace_period_seconds=0)
    assert event["status"] == "success", event
    assert [m for m in handler.messages if m.startswith(marker)] == [f"{marker} line 1", f"{marker} line 2"]
    assert "No driver output for 1s; reopening the log stream" in handler.messages
    assert not [m for m in handler.messages if "dropped" in m], handler.messages
