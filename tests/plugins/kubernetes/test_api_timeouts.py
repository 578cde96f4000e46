"""No Kubernetes call waits for ever: the timeouts, TCP keepalive and the stage clock.

The pure parts with plain values and model objects; the wiring against real local sockets (a
tiny HTTP server, or a proxy that swallows every request), no cluster and no mocks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException
from harness.pod_models import CREATED, DRIVER, pod, running, terminated
from harness.tcp_proxy import TcpProxy

from sparkplane.exceptions import KubernetesApiUnreachable
from sparkplane.kubernetes.api_errors import (
    CONNECT_TIMEOUT_SECONDS,
    READ_TIMEOUT_SECONDS,
    WATCH_READ_MARGIN_SECONDS,
    tcp_keepalive_socket_options,
)
from sparkplane.kubernetes.follower import DriverFollower, stage_timeout_as_last_seen
from sparkplane.kubernetes.follower_timing import FollowerTiming
from sparkplane.kubernetes.hook import SparkKubernetesHook
from sparkplane.kubernetes.stage_timeouts import FollowTimeouts
from sparkplane.kubernetes.trigger import SparkDriverTrigger

#: kube-apiserver's default --request-timeout: it answers an ordinary call by then, 504 if need be.
API_SERVER_REQUEST_TIMEOUT_SECONDS = 60
CONN_ID = "api_timeouts_test"


# --- the values ----------------------------------------------------------------------------


def test_every_call_has_a_finite_connect_and_read_timeout_by_default():
    timing = FollowerTiming()
    assert timing.request_timeout() == (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)
    assert 0 < CONNECT_TIMEOUT_SECONDS < READ_TIMEOUT_SECONDS
    # Not shorter than what the API server itself allows an ordinary call.
    assert READ_TIMEOUT_SECONDS > API_SERVER_REQUEST_TIMEOUT_SECONDS


def test_a_watch_may_stay_silent_a_little_longer_than_the_server_keeps_it_open():
    timing = FollowerTiming(progress_interval_seconds=30)
    assert timing.watch_timeout_seconds == 30
    assert timing.watch_request_timeout() == (CONNECT_TIMEOUT_SECONDS, 30 + WATCH_READ_MARGIN_SECONDS)


def test_a_shortened_watch_still_asks_the_server_for_at_least_a_second():
    timing = FollowerTiming(progress_interval_seconds=0.2, watch_read_margin_seconds=0.5, connect_timeout_seconds=1)
    assert timing.watch_timeout_seconds == 1
    assert timing.watch_request_timeout() == (1, 1.5)


def test_keepalive_options_turn_keepalive_on_in_whole_seconds():
    options = tcp_keepalive_socket_options(idle_seconds=0.3, interval_seconds=10, probes=3)
    assert options == [
        (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
        (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1),
        (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 10),
        (socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3),
    ]


def test_a_trigger_serializes_the_shortened_timeouts_with_the_rest_of_its_timing():
    timing = FollowerTiming(read_timeout_seconds=3, watch_read_margin_seconds=1, keepalive_probes=2)
    trigger = SparkDriverTrigger(kubernetes_conn_id="c", namespace="spark", pod_name="p", timeouts={},
                                 timing=timing.to_dict())  # fmt: skip
    assert SparkDriverTrigger(**trigger.serialize()[1]).follower_timing == timing


# --- the stage clock -----------------------------------------------------------------------

LIMITS = FollowTimeouts(scheduling_seconds=2, run_seconds=60)


def test_a_pod_last_seen_waiting_for_a_node_times_out_on_the_local_clock():
    waiting = pod("d", phase="Pending")
    assert stage_timeout_as_last_seen(waiting, DRIVER, LIMITS, now=CREATED + timedelta(seconds=1)) is None
    timeout = stage_timeout_as_last_seen(waiting, DRIVER, LIMITS, now=CREATED + timedelta(seconds=3))
    assert timeout == "driver pod not scheduled within 2s (scheduling timeout)"


def test_a_pod_last_seen_ended_or_failed_is_left_to_the_watch():
    later = CREATED + timedelta(hours=1)
    succeeded = pod("d", node="n", phase="Succeeded", containers={DRIVER: terminated(0)})
    crashed = pod("d", node="n", phase="Running", containers={DRIVER: terminated(1)})
    assert stage_timeout_as_last_seen(succeeded, DRIVER, LIMITS, now=later) is None
    assert stage_timeout_as_last_seen(crashed, DRIVER, LIMITS, now=later) is None
    assert stage_timeout_as_last_seen(None, DRIVER, LIMITS, now=later) is None


def test_a_running_pod_last_seen_past_its_run_limit_times_out():
    busy = pod("d", node="n", phase="Running", containers={DRIVER: running(CREATED)})
    timeout = stage_timeout_as_last_seen(busy, DRIVER, LIMITS, now=CREATED + timedelta(seconds=61))
    assert timeout == "driver still running after 60s (run timeout)"


def test_the_stage_clock_ends_the_follow_without_asking_the_api():
    follower = DriverFollower(
        None, namespace="spark", pod_name="d", container=DRIVER, timeouts=LIMITS, log=logging.getLogger("test"),
        timing=FollowerTiming(progress_interval_seconds=0.05),
    )  # fmt: skip  # no API client at all: the clock must not need one
    follower._pod = pod("d", phase="Pending")  # as last seen, long ago
    event = asyncio.run(asyncio.wait_for(follower._stage_clock(), timeout=5))
    assert (event["status"], event["phase"]) == ("timeout", "Pending")
    assert event["message"] == "driver pod not scheduled within 2s (scheduling timeout)"


# --- the wiring ----------------------------------------------------------------------------


def _kubeconfig(path: Path, server: str) -> Path:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "local", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": "u"}}],
        "current-context": "local",
    }))  # fmt: skip
    return path


@pytest.fixture
def connection_to(tmp_path, monkeypatch):
    """Return ``use(server)``: points the Airflow connection ``CONN_ID`` at ``server`` over plain HTTP."""

    def use(server: str) -> None:
        kubeconfig = _kubeconfig(tmp_path / "kubeconfig", server)
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}",
                           json.dumps({"conn_type": "kubernetes", "extra": {"kube_config_path": str(kubeconfig)}}))

    return use


@pytest.fixture
def silent_server() -> Iterator[TcpProxy]:
    """A server that accepts every connection and never answers (a blackholed proxy)."""
    with TcpProxy("127.0.0.1", 9) as proxy:  # the target is never reached
        proxy.blackhole()
        yield proxy


async def _answer_endlessly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer one HTTP request with a stream that goes on until the client leaves (a stand-in log stream)."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
    await writer.drain()
    await reader.read()


def test_the_triggers_client_opens_its_connections_with_tcp_keepalive(connection_to):
    timing = FollowerTiming(keepalive_idle_seconds=7, keepalive_interval_seconds=3, keepalive_probes=4)
    trigger = SparkDriverTrigger(kubernetes_conn_id=CONN_ID, namespace="spark", pod_name="p", timeouts={},
                                 timing=timing.to_dict())  # fmt: skip

    async def scenario() -> tuple[int, int, int, int]:
        server = await asyncio.start_server(_answer_endlessly, "127.0.0.1", 0)
        async with server:
            connection_to(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
            async with trigger._api_client() as api_client:
                response = await api_client.rest_client.GET(
                    f"{api_client.configuration.host}/log", _preload_content=False, _request_timeout=(5, 5)
                )
                sock = response.connection.transport.get_extra_info("socket")
                options = tuple(sock.getsockopt(level, name) for level, name in (
                    (socket.SOL_SOCKET, socket.SO_KEEPALIVE), (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                    (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL), (socket.IPPROTO_TCP, socket.TCP_KEEPCNT)))  # fmt: skip
                response.close()
                return options

    assert asyncio.run(scenario()) == (1, 7, 3, 4)


HOOK_CALLS = {
    "create_pod": lambda hook: hook.create_pod({"metadata": {"name": "p", "namespace": "spark"}}),
    "read_pod": lambda hook: hook.read_pod("p", "spark"),
    "list_pods": lambda hook: hook.list_pods("spark", "a=b"),
    "delete_pod": lambda hook: hook.delete_pod("p", "spark"),
    "list_pod_events": lambda hook: hook.list_pod_events("p", "spark"),
    "read_pod_log_tail": lambda hook: hook.read_pod_log_tail("p", "spark", container="c", lines=5),
    "is_allowed": lambda hook: hook.is_allowed(service_account="sa", namespace="spark", verb="get", resource="pods"),
    "annotate_pod": lambda hook: hook.annotate_pod("p", "spark", {"a": "b"}, uid="u"),
    "create_secret": lambda hook: hook.create_secret({"metadata": {"name": "s", "namespace": "spark"}}),
    "list_resource_quotas": lambda hook: hook.list_resource_quotas("spark"),
}


@pytest.mark.parametrize("call", HOOK_CALLS.values(), ids=HOOK_CALLS.keys())
def test_every_hook_call_gives_up_on_a_server_that_never_answers_with_an_error_airflow_retries(
    silent_server, connection_to, call
):
    import urllib3

    connection_to(f"http://127.0.0.1:{silent_server.port}")
    hook = SparkKubernetesHook(CONN_ID, connect_timeout_seconds=0.5, read_timeout_seconds=0.2)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            call(hook)
        except BaseException as error:  # noqa: BLE001 - the test looks at it
            outcome.append(error)

    caller = threading.Thread(target=run, daemon=True)  # a hung call must not keep the test process alive
    caller.start()
    caller.join(timeout=30)
    assert not caller.is_alive(), "the call still waits for an answer after 30s"
    assert outcome, "the call returned although the server never answered"
    error = outcome[0]
    assert isinstance(error, KubernetesApiUnreachable) and not isinstance(error, AirflowFailException), repr(error)
    assert f"The Kubernetes API at http://127.0.0.1:{silent_server.port} did not answer" in str(error)
    cause = error.__cause__
    reason = cause.reason if isinstance(cause, urllib3.exceptions.MaxRetryError) else cause
    assert isinstance(reason, urllib3.exceptions.ReadTimeoutError), repr(cause)
