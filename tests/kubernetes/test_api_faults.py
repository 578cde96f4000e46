"""An API server that goes silent is detected, not waited on for ever: faults from a real proxy.

The follower and the synchronous hook reach the real API server through ``TcpProxy``
(harness/tcp_proxy.py) as the platform's identity; the test pauses the proxy, so the server goes
silent with every connection left open (half-open), as behind a crashed node or a stuck load
balancer; or it cuts the proxy off (every connection reset, new ones unanswered), as when the API
server is gone from the network, and the trigger, run as the triggerer runs it, rides that out or
gives up, depending on how long it lasts. The test itself creates, ends and writes the log of the simulated drivers directly, not
through the proxy. Timings are shortened; the bounds the tests wait within are generous, since
the cluster is shared with other work.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException
from harness.log_capture import CapturedLines
from harness.simulated import SIMULATED_IMAGE, append_log_line, mark_finished, on_simulated_node, simulated_node
from harness.tcp_proxy import TcpProxy, write_kubeconfig_through
from kubernetes import client

from sparkplane.exceptions import KubernetesApiUnreachable
from sparkplane.kubernetes.api_errors import use_tcp_keepalive
from sparkplane.kubernetes.follower import DriverFollower
from sparkplane.kubernetes.follower_timing import FollowerTiming
from sparkplane.kubernetes.hook import SparkKubernetesHook
from sparkplane.kubernetes.identity import AIRFLOW_NAMESPACE, AIRFLOW_SERVICE_ACCOUNT, DRIVER_CONTAINER_NAME, SPARK_NAMESPACE
from sparkplane.kubernetes.pod_templates import restricted_container_security, restricted_pod_security
from sparkplane.kubernetes.stage_timeouts import FollowTimeouts
from sparkplane.kubernetes.trigger import SparkDriverTrigger

pytestmark = [pytest.mark.cluster, pytest.mark.long]

CONN_ID = "spark_cluster_through_proxy"
#: Short, so a silent API is noticed within seconds: a watch may stay silent 1 + 2 s, a call 3 s.
TIMING = FollowerTiming(
    progress_interval_seconds=1, log_quiet_seconds=3, log_drain_seconds=0, checkpoint_interval_seconds=0.2,
    reconnect_delay_seconds=0.5, connect_timeout_seconds=2, read_timeout_seconds=3, watch_read_margin_seconds=2,
    api_unreachable_seconds=120,
)  # fmt: skip
#: The trigger gives up after 10 s of unreachable API (production: 5 minutes).
OUTAGE_TIMING = replace(TIMING, api_unreachable_seconds=10)


def _driver_manifest(name: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"securityContext": restricted_pod_security(),
                 "containers": [{"name": DRIVER_CONTAINER_NAME, "image": SIMULATED_IMAGE,
                                 "securityContext": restricted_container_security()}]},
    }  # fmt: skip


@pytest.fixture
def core(local_cluster, airflow_connection) -> client.CoreV1Api:
    """The test's own client (cluster admin, not through the proxy)."""
    # airflow_connection: spark-bootstrap/ applied, so the namespace and the identity exist.
    return client.CoreV1Api(local_cluster.api_client())


@pytest.fixture
def pods(core) -> Iterator[Callable[[dict], str]]:
    """Return ``create(manifest)``: creates the pod in the Spark namespace, deleted after the test."""
    made: list[str] = []

    def create(manifest: dict) -> str:
        core.create_namespaced_pod(SPARK_NAMESPACE, manifest)
        made.append(manifest["metadata"]["name"])
        return made[-1]

    yield create
    for name in made:
        with contextlib.suppress(client.ApiException):
            core.delete_namespaced_pod(name, SPARK_NAMESPACE, grace_period_seconds=0)


@pytest.fixture
def proxy(local_cluster) -> Iterator[TcpProxy]:
    with TcpProxy("127.0.0.1", local_cluster.settings.apiserver_port) as running:
        yield running


@pytest.fixture
def kubeconfig_through_proxy(local_cluster, airflow_connection, proxy, tmp_path) -> Path:
    """A kubeconfig acting as the platform's identity, its server the proxy."""
    identity = local_cluster.serviceaccount_kubeconfig(AIRFLOW_NAMESPACE, AIRFLOW_SERVICE_ACCOUNT)
    return write_kubeconfig_through(proxy, identity, tmp_path / "through-proxy.kubeconfig")


async def _follow(kubeconfig: Path, name: str, handler: CapturedLines, *, timeouts: FollowTimeouts) -> dict:
    """Run one DriverFollower on a client of ``kubeconfig``, its connections with TCP keepalive."""
    from kubernetes_asyncio import config
    from kubernetes_asyncio.client import CoreV1Api

    log = logging.getLogger(f"test.api_faults.{name}")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    api_client = await config.new_client_from_config(config_file=str(kubeconfig))
    async with api_client:
        use_tcp_keepalive(api_client, TIMING.keepalive_socket_options())
        follower = DriverFollower(CoreV1Api(api_client), namespace=SPARK_NAMESPACE, pod_name=name,
                                  container=DRIVER_CONTAINER_NAME, timeouts=timeouts, log=log, timing=TIMING)  # fmt: skip
        return await follower.follow()


@pytest.fixture
def connection_through_proxy(kubeconfig_through_proxy, monkeypatch) -> str:
    """The id of an Airflow connection acting as the platform's identity through the proxy."""
    connection = {"conn_type": "kubernetes", "extra": {"kube_config_path": str(kubeconfig_through_proxy)}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(connection))
    return CONN_ID


async def _trigger(conn_id: str, name: str, handler: CapturedLines, *, timing: FollowerTiming) -> dict:
    """Run ``SparkDriverTrigger`` on driver ``name`` through connection ``conn_id``; return its event."""
    trigger = SparkDriverTrigger(kubernetes_conn_id=conn_id, namespace=SPARK_NAMESPACE, pod_name=name, timeouts={},
                                 timing=timing.to_dict())  # fmt: skip
    trigger._log = log = logging.getLogger(f"test.api_faults.{name}")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return (await trigger.run().__anext__()).payload


class _SimulatedDriver:
    """A driver pod on a simulated node: its lines (marked, to ignore other tests') and its end."""

    def __init__(self, local_cluster, core: client.CoreV1Api, pods: Callable[[dict], str], prefix: str) -> None:
        self.local_cluster, self.core = local_cluster, core
        self.marker = uuid.uuid4().hex[:8]
        self.name = pods(on_simulated_node(_driver_manifest(f"{prefix}-{self.marker}"), simulated_node(core)))
        self.handler = CapturedLines()

    def prints(self, text: str) -> None:
        append_log_line(self.local_cluster.settings.simulated_container_log, f"{self.marker} {text}")

    def lines(self) -> list[str]:
        return [m.removeprefix(f"{self.marker} ") for m in self.handler.messages if m.startswith(self.marker)]

    def is_running(self) -> bool:
        return self.core.read_namespaced_pod(self.name, SPARK_NAMESPACE).status.phase == "Running"

    def exists(self) -> bool:
        return bool(self.core.list_namespaced_pod(SPARK_NAMESPACE, field_selector=f"metadata.name={self.name}").items)

    def ends(self) -> None:
        mark_finished(self.core, SPARK_NAMESPACE, self.name, container=DRIVER_CONTAINER_NAME, phase="Succeeded",
                      exit_code=0, reason="Completed")  # fmt: skip


async def _until(condition: Callable[[], bool], *, timeout_seconds: float, what: str) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_seconds:.0f}s waiting for {what}")
        await asyncio.sleep(0.2)


def test_a_silent_api_is_noticed_and_the_follow_goes_on_after_it_without_losing_a_line(
    local_cluster, core, pods, proxy, kubeconfig_through_proxy
):
    marker = uuid.uuid4().hex[:8]
    name = pods(on_simulated_node(_driver_manifest(f"half-open-{marker}"), simulated_node(core)))
    handler = CapturedLines()

    def prints(text: str) -> None:
        append_log_line(local_cluster.settings.simulated_container_log, f"{marker} {text}")

    def lines() -> list[str]:
        return [m.removeprefix(f"{marker} ") for m in handler.messages if m.startswith(marker)]

    def noticed(what: str) -> list[str]:  # the timeouts of the watch, or of the log stream
        prefixes = (f"Watch of driver pod {name} dropped (",) if what == "watch" else (
            "No driver output for", "Driver log stream dropped (")  # fmt: skip
        return [m for m in handler.messages if m.startswith(prefixes) and ("Timeout" in m or "output" in m)]

    def is_running() -> bool:
        return core.read_namespaced_pod(name, SPARK_NAMESPACE).status.phase == "Running"

    async def scenario() -> dict:
        following = asyncio.create_task(_follow(kubeconfig_through_proxy, name, handler, timeouts=FollowTimeouts()))
        await _until(is_running, timeout_seconds=60, what=f"{name} to run")
        prints("before the silence")
        await _until(lambda: lines() == ["before the silence"], timeout_seconds=30, what="the first line")
        noticed_before = {what: len(noticed(what)) for what in ("watch", "log")}

        proxy.pause()  # every connection stays open, nothing comes back
        prints("during the silence")
        for what in ("watch", "log"):  # the line above can only come through a reopened stream
            await _until(lambda: len(noticed(what)) > noticed_before[what], timeout_seconds=30,
                         what=f"the follower's {what} to notice the silent API")  # fmt: skip
        assert proxy.open_connections > 0 and not following.done()

        proxy.resume()
        prints("after the silence")
        await _until(lambda: len(lines()) == 3, timeout_seconds=60, what="the lines after the silence")
        mark_finished(core, SPARK_NAMESPACE, name, container=DRIVER_CONTAINER_NAME, phase="Succeeded", exit_code=0,
                      reason="Completed")  # fmt: skip
        return await asyncio.wait_for(following, timeout=60)

    event = asyncio.run(scenario())
    assert (event["status"], event["phase"]) == ("success", "Succeeded"), event
    assert lines() == ["before the silence", "during the silence", "after the silence"]
    assert event["reconnects"] > 0
    assert noticed("watch") and noticed("log"), handler.messages


def test_a_stage_timeout_ends_the_follow_while_the_api_is_silent(core, pods, proxy, kubeconfig_through_proxy):
    # No scheduler of that name exists: the pod stays Pending, without a node and without events.
    manifest = _driver_manifest(f"unscheduled-{uuid.uuid4().hex[:8]}")
    manifest["spec"]["schedulerName"] = "sparkplane-test-no-such-scheduler"
    name = pods(manifest)
    created = core.read_namespaced_pod(name, SPARK_NAMESPACE).metadata.creation_timestamp
    limits = FollowTimeouts(scheduling_seconds=6)
    handler = CapturedLines()

    async def scenario() -> dict:
        following = asyncio.create_task(_follow(kubeconfig_through_proxy, name, handler, timeouts=limits))
        await _until(lambda: any("not scheduled yet" in m for m in handler.messages), timeout_seconds=30,
                     what="the follower's first look at the pod")  # fmt: skip
        proxy.pause()  # from here on, no answer from the API: only the local clock can time the pod out
        age_seconds = (datetime.now(timezone.utc) - created).total_seconds()
        assert age_seconds < limits.scheduling_seconds and not following.done(), (
            f"the API fell silent only {age_seconds:.1f}s after the pod's creation: too late to test anything"
        )
        return await asyncio.wait_for(following, timeout=60)  # before: never

    event = asyncio.run(scenario())
    assert (event["status"], event["phase"]) == ("timeout", "Pending"), event
    assert event["message"] == "driver pod not scheduled within 6s (scheduling timeout)"


def test_a_hook_call_to_a_silent_api_server_ends_with_a_timeout_the_retry_may_cure(
    local_cluster, airflow_connection, proxy, kubeconfig_through_proxy, monkeypatch
):
    import urllib3

    connection = {"conn_type": "kubernetes", "extra": {"kube_config_path": str(kubeconfig_through_proxy)}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(connection))
    hook = SparkKubernetesHook(CONN_ID, connect_timeout_seconds=2, read_timeout_seconds=2)
    assert hook.read_pod("no-such-driver", SPARK_NAMESPACE) is None  # answered through the proxy
    proxy.pause()
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            hook.read_pod("no-such-driver", SPARK_NAMESPACE)
        except BaseException as error:  # noqa: BLE001 - the test looks at it
            outcome.append(error)

    caller = threading.Thread(target=read, daemon=True)  # a hung call must not keep the test process alive
    caller.start()
    caller.join(timeout=120)
    assert not caller.is_alive(), "the hook still waits for the silent API server after 120s"
    assert outcome, "the hook answered although the API server was silent"
    error = outcome[0]
    # Not AirflowFailException: Airflow retries the task.
    assert isinstance(error, KubernetesApiUnreachable) and not isinstance(error, AirflowFailException), repr(error)
    assert f"The Kubernetes API at {proxy.url} did not answer the platform's 'read pod' call" in str(error)
    assert "Fix: the task's retry tries again" in str(error)
    reason = error.__cause__.reason if isinstance(error.__cause__, urllib3.exceptions.MaxRetryError) else error.__cause__
    assert isinstance(reason, urllib3.exceptions.TimeoutError), repr(error.__cause__)


def test_an_api_unreachable_for_less_than_the_limit_is_ridden_out_with_every_line_once(
    local_cluster, core, pods, proxy, connection_through_proxy
):
    driver = _SimulatedDriver(local_cluster, core, pods, "short-outage")
    outage_seconds = 5  # the limit is 10 s

    async def scenario() -> dict:
        following = asyncio.create_task(_trigger(connection_through_proxy, driver.name, driver.handler,
                                                 timing=OUTAGE_TIMING))  # fmt: skip
        await _until(driver.is_running, timeout_seconds=60, what=f"{driver.name} to run")
        driver.prints("before the outage")
        await _until(lambda: driver.lines() == ["before the outage"], timeout_seconds=30, what="the first line")
        assert proxy.cut_off() > 0  # the watch's and the log's connections, at least
        driver.prints("during the outage")
        await asyncio.sleep(outage_seconds)
        assert not following.done()
        proxy.resume()
        driver.prints("after the outage")
        await _until(lambda: len(driver.lines()) == 3, timeout_seconds=60, what="the lines after the outage")
        driver.ends()
        return await asyncio.wait_for(following, timeout=60)

    event = asyncio.run(scenario())
    assert (event["status"], event["phase"]) == ("success", "Succeeded"), event
    assert driver.lines() == ["before the outage", "during the outage", "after the outage"]
    dropped = [m for m in driver.handler.messages if m.startswith(f"Watch of driver pod {driver.name} dropped (")]
    assert len(dropped) >= 2, driver.handler.messages  # asked again during the outage, unanswered


def test_an_api_unreachable_for_longer_than_the_limit_ends_the_follow_with_an_error_and_the_driver_is_kept(
    local_cluster, core, pods, proxy, connection_through_proxy
):
    driver = _SimulatedDriver(local_cluster, core, pods, "long-outage")
    outage_seconds = 20  # the limit is 10 s

    async def scenario() -> tuple[dict, float]:
        following = asyncio.create_task(_trigger(connection_through_proxy, driver.name, driver.handler,
                                                 timing=OUTAGE_TIMING))  # fmt: skip
        await _until(driver.is_running, timeout_seconds=60, what=f"{driver.name} to run")
        driver.prints("before the outage")
        await _until(lambda: driver.lines() == ["before the outage"], timeout_seconds=30, what="the first line")
        proxy.cut_off()
        cut_off_at = time.monotonic()
        try:
            event = await asyncio.wait_for(following, timeout=outage_seconds)  # it gives up before the API is back
        finally:
            proxy.resume()
        return event, time.monotonic() - cut_off_at

    event, gave_up_after_seconds = asyncio.run(scenario())
    # An error, not a failure: the driver's state is unknown, so the launcher keeps it and the
    # task's retry follows it (tests/kubernetes/test_driver_launcher.py).
    assert event["status"] == "error", event
    assert event["message"].startswith("ApiUnreachable: the Kubernetes API did not answer for "), event
    assert OUTAGE_TIMING.api_unreachable_seconds <= gave_up_after_seconds < outage_seconds
    assert driver.exists()
