"""DriverFollower, driven directly against the real API server as the platform's identity.

Drivers run on simulated nodes: KWOK takes them to Running, serves one shared file as every
simulated container's log, and never ends them, so a test writes the driver's lines into that file
(each carrying a marker of the test, to ignore other tests' lines) and ends the pod with a status
patch. The follower's pace is shortened; the API, its RBAC, watches and log streams are real.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from harness.log_capture import CapturedLines
from harness.simulated import SIMULATED_IMAGE, append_log_line, mark_finished, on_simulated_node, simulated_node
from kubernetes import client

from sparkplane.kubernetes.follower import DriverFollower
from sparkplane.kubernetes.follower_timing import AccessDenied, FollowerTiming
from sparkplane.kubernetes.identity import (
    AIRFLOW_NAMESPACE,
    AIRFLOW_SERVICE_ACCOUNT,
    DRIVER_CONTAINER_NAME,
    LOG_CHECKPOINT_ANNOTATION,
    SPARK_NAMESPACE,
)
from sparkplane.kubernetes.pod_templates import restricted_container_security, restricted_pod_security
from sparkplane.kubernetes.stage_timeouts import FollowTimeouts
from sparkplane.log_lines import MAX_LINE_BYTES

pytestmark = pytest.mark.cluster

#: Quick enough for a test; the drain is zero because a simulated container's log never ends.
TIMING = FollowerTiming(
    progress_interval_seconds=1, log_quiet_seconds=30, log_drain_seconds=0,
    checkpoint_interval_seconds=0.2, reconnect_delay_seconds=0.5,
)  # fmt: skip


class Driver:
    """One simulated driver pod in the Spark namespace, and what the test makes it do."""

    def __init__(self, local_cluster, core: client.CoreV1Api, *, manifest: dict | None = None,
                 namespace: str = SPARK_NAMESPACE) -> None:  # fmt: skip
        self.local_cluster, self.core, self.namespace = local_cluster, core, namespace
        self.marker = uuid.uuid4().hex[:8]
        self.name = f"followed-{self.marker}"
        pod = manifest or on_simulated_node(_driver_manifest(), simulated_node(core))
        pod["metadata"] = {"name": self.name}
        core.create_namespaced_pod(self.namespace, pod)

    def prints(self, text: str) -> None:
        append_log_line(self.local_cluster.settings.simulated_container_log, f"{self.marker} {text}")

    def ends(self, phase: str = "Succeeded", exit_code: int = 0) -> None:
        reason = "Completed" if exit_code == 0 else "Error"
        mark_finished(self.core, self.namespace, self.name, container=DRIVER_CONTAINER_NAME, phase=phase,
                      exit_code=exit_code, reason=reason)  # fmt: skip

    def lines(self, handler: CapturedLines) -> list[str]:
        return [m.removeprefix(f"{self.marker} ") for m in handler.messages if m.startswith(self.marker)]

    def annotations(self) -> dict[str, str]:
        return self.core.read_namespaced_pod(self.name, self.namespace).metadata.annotations or {}

    async def running(self) -> None:
        for _ in range(120):
            if self.core.read_namespaced_pod(self.name, self.namespace).status.phase == "Running":
                return
            await asyncio.sleep(0.5)
        raise AssertionError(f"simulated driver {self.name} did not start within 60s")

    def delete(self) -> None:
        with contextlib.suppress(client.ApiException):
            self.core.delete_namespaced_pod(self.name, self.namespace, grace_period_seconds=0)


def _driver_manifest() -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "spec": {"securityContext": restricted_pod_security(),
                 "containers": [{"name": DRIVER_CONTAINER_NAME, "image": SIMULATED_IMAGE,
                                 "securityContext": restricted_container_security()}]},
    }  # fmt: skip


@pytest.fixture
def core(local_cluster, airflow_connection) -> client.CoreV1Api:
    # airflow_connection: spark-bootstrap/ applied, so the namespace and the identity exist.
    return client.CoreV1Api(local_cluster.api_client())


@pytest.fixture
def drivers(local_cluster, core) -> Iterator:
    made: list[Driver] = []

    def make(**kwargs) -> Driver:
        made.append(Driver(local_cluster, core, **kwargs))
        return made[-1]

    yield make
    for driver in made:
        driver.delete()


@pytest.fixture
def follower_of(local_cluster, airflow_connection):
    """Return ``follow(name, ...)``: a coroutine running one DriverFollower as the Airflow identity."""
    from kubernetes_asyncio import config
    from kubernetes_asyncio.client import CoreV1Api

    kubeconfig = local_cluster.serviceaccount_kubeconfig(AIRFLOW_NAMESPACE, AIRFLOW_SERVICE_ACCOUNT)

    async def follow(name: str, handler: CapturedLines, *, timeouts: FollowTimeouts = FollowTimeouts(),
                     follower_key: str | None = None, namespace: str = SPARK_NAMESPACE,
                     as_identity: Path = kubeconfig, timing: FollowerTiming = TIMING) -> dict:  # fmt: skip
        log = logging.getLogger(f"test.follower.{name}.{uuid.uuid4().hex[:4]}")
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        api_client = await config.new_client_from_config(config_file=str(as_identity))
        async with api_client:
            follower = DriverFollower(
                CoreV1Api(api_client), namespace=namespace, pod_name=name, container=DRIVER_CONTAINER_NAME,
                timeouts=timeouts, log=log, timing=timing, follower_key=follower_key,
            )  # fmt: skip
            return await follower.follow()

    return follow


def test_each_line_is_passed_on_once_and_success_is_reported(drivers, follower_of):
    driver, handler = drivers(), CapturedLines()

    async def scenario() -> dict:
        following = asyncio.create_task(follower_of(driver.name, handler))
        await driver.running()
        for number in (1, 2, 3):
            driver.prints(f"line {number}")
        await asyncio.sleep(2)
        driver.ends("Succeeded")
        return await asyncio.wait_for(following, timeout=60)

    event = asyncio.run(scenario())
    assert (event["status"], event["phase"], event["container_started"]) == ("success", "Succeeded", True)
    assert driver.lines(handler) == ["line 1", "line 2", "line 3"]


def test_a_failed_driver_is_reported_failed(drivers, follower_of):
    driver, handler = drivers(), CapturedLines()

    async def scenario() -> dict:
        following = asyncio.create_task(follower_of(driver.name, handler))
        await driver.running()
        driver.ends("Failed", exit_code=1)
        return await asyncio.wait_for(following, timeout=60)

    event = asyncio.run(scenario())
    assert (event["status"], event["message"], event["phase"]) == ("failed", "driver pod Failed", "Failed")


def test_a_driver_deleted_while_followed_ends_the_follow_with_an_error(drivers, follower_of):
    driver, handler = drivers(), CapturedLines()

    async def scenario() -> dict:
        following = asyncio.create_task(follower_of(driver.name, handler))
        await driver.running()
        await asyncio.sleep(1)
        driver.delete()
        return await asyncio.wait_for(following, timeout=60)

    event = asyncio.run(scenario())
    assert event["status"] == "error"
    assert event["message"].startswith(f"driver pod {SPARK_NAMESPACE}/{driver.name} was deleted before it finished")


def test_a_driver_that_does_not_exist_is_an_error_at_once(follower_of):
    event = asyncio.run(asyncio.wait_for(follower_of("no-such-driver", CapturedLines()), timeout=30))
    assert (event["status"], event["container_started"]) == ("error", False)
    assert event["message"] == f"driver pod {SPARK_NAMESPACE}/no-such-driver does not exist"


def test_a_driver_no_node_can_hold_fails_with_the_schedulers_reason(drivers, follower_of):
    unschedulable = _driver_manifest()
    unschedulable["spec"]["nodeSelector"] = {"sparkplane.dev/no-such-node": "anywhere"}
    driver, handler = drivers(manifest=unschedulable), CapturedLines()
    event = asyncio.run(asyncio.wait_for(follower_of(driver.name, handler), timeout=60))
    assert (event["status"], event["container_started"]) == ("failed", False)
    assert event["cause"].startswith(f"Pod {driver.name} cannot be scheduled: 0/")
    assert "Lower the requested cores/memory" in event["fix"]


def test_a_driver_running_past_its_limit_times_out_naming_the_stage(drivers, follower_of):
    driver, handler = drivers(), CapturedLines()
    limits = FollowTimeouts(run_seconds=2)
    event = asyncio.run(asyncio.wait_for(follower_of(driver.name, handler, timeouts=limits), timeout=90))
    assert (event["status"], event["message"]) == ("timeout", "driver still running after 2s (run timeout)")


def test_a_restarted_follower_of_the_same_try_continues_after_its_checkpoint(drivers, follower_of):
    driver, first, second = drivers(), CapturedLines(), CapturedLines()
    key = f"try-{uuid.uuid4().hex[:8]}"

    async def scenario() -> dict:
        following = asyncio.create_task(follower_of(driver.name, first, follower_key=key))
        await driver.running()
        driver.prints("before restart 1")
        driver.prints("before restart 2")
        for _ in range(60):
            if len(driver.lines(first)) == 2:
                break
            await asyncio.sleep(0.5)
        following.cancel()  # what a stopping triggerer does: the follower checkpoints, then ends
        with contextlib.suppress(asyncio.CancelledError):
            await following
        restarted = asyncio.create_task(follower_of(driver.name, second, follower_key=key))
        await asyncio.sleep(2)
        driver.prints("after restart")
        await asyncio.sleep(2)
        driver.ends("Succeeded")
        return await asyncio.wait_for(restarted, timeout=60)

    event = asyncio.run(scenario())
    assert driver.lines(first) == ["before restart 1", "before restart 2"]
    assert f'"follower":"{key}"' in driver.annotations()[LOG_CHECKPOINT_ANNOTATION]
    assert event["status"] == "success"
    assert driver.lines(second) == ["after restart"]
    assert "Continuing the driver log after the lines up to" in " ".join(second.messages)


def test_a_line_of_megabytes_is_passed_on_cut_and_the_log_goes_on(drivers, follower_of):
    driver, handler = drivers(), CapturedLines()

    async def scenario() -> dict:
        following = asyncio.create_task(follower_of(driver.name, handler))
        await driver.running()
        driver.prints("before")
        driver.prints("x" * (5 * 1024 * 1024))
        driver.prints("after")
        await asyncio.sleep(3)
        driver.ends("Succeeded")
        return await asyncio.wait_for(following, timeout=60)

    try:
        event = asyncio.run(scenario())
    finally:
        # Every simulated container's log is this one file, read from its start by every later
        # follower: leave it without the five megabytes.
        driver.local_cluster.settings.simulated_container_log.write_text("")
    assert event["status"] == "success"
    before, long_line, after = driver.lines(handler)
    assert (before, after) == ("before", "after")
    assert long_line.startswith("x" * 1000) and len(long_line) < 70_000
    assert long_line.endswith(f"bytes, the first {MAX_LINE_BYTES} shown]"), long_line[-200:]


def _follower_role(namespace: str) -> dict:
    rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "patch"]},
             {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
             {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]}]  # fmt: skip
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "follower", "namespace": namespace}, "rules": rules}  # fmt: skip


def _follower_binding(namespace: str) -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "follower", "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "follower"},
            "subjects": [{"kind": "ServiceAccount", "name": "follower", "namespace": namespace}]}  # fmt: skip


@pytest.fixture
def revocable_identity(local_cluster, namespace) -> tuple[str, Path, client.RbacAuthorizationV1Api]:
    """A ServiceAccount in a fresh namespace allowed to follow pods there by a RoleBinding a test may delete."""
    api_client = local_cluster.api_client()
    client.CoreV1Api(api_client).create_namespaced_service_account(namespace, {"metadata": {"name": "follower"}})
    rbac = client.RbacAuthorizationV1Api(api_client)
    rbac.create_namespaced_role(namespace, _follower_role(namespace))
    rbac.create_namespaced_role_binding(namespace, _follower_binding(namespace))
    return namespace, local_cluster.serviceaccount_kubeconfig(namespace, "follower"), rbac


@pytest.mark.parametrize("restored", [False, True], ids=["revoked", "restored-in-time"])
def test_access_denied_while_following_is_retried_for_a_while_then_ends_the_follow(
    local_cluster, core, drivers, follower_of, revocable_identity, restored
):
    namespace, kubeconfig, rbac = revocable_identity
    driver, handler = drivers(namespace=namespace), CapturedLines()
    timing = replace(TIMING, access_denied_seconds=8)

    async def scenario() -> dict:
        following = asyncio.create_task(
            follower_of(driver.name, handler, namespace=namespace, as_identity=kubeconfig, timing=timing)
        )
        await driver.running()
        await asyncio.sleep(1)
        rbac.delete_namespaced_role_binding("follower", namespace)
        await asyncio.sleep(3)  # the watch's next request (every second here) is denied
        if restored:
            rbac.create_namespaced_role_binding(namespace, _follower_binding(namespace))
            await asyncio.sleep(3)
            driver.ends("Succeeded")
        return await asyncio.wait_for(following, timeout=90)

    if restored:
        assert asyncio.run(scenario())["status"] == "success"
    else:  # the trigger turns this into an error event, and the launcher keeps the driver
        with pytest.raises(AccessDenied, match=f"denied access to driver pod {namespace}/{driver.name} for"):
            asyncio.run(scenario())
    assert any(m.startswith(f"Kubernetes denied access to driver pod {driver.name} (ApiException: (403)")
               for m in handler.messages), handler.messages  # fmt: skip
