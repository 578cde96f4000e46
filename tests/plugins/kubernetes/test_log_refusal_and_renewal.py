"""A refused driver log is given up after a while, and a 401 renews the client once: the parts
that need no API server (the cluster tests are tests/kubernetes/test_follower_faults.py).

The "clients" here are plain objects: ``RenewableCoreV1`` only hands them out and compares them.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from harness.log_capture import CapturedLines
from kubernetes_asyncio.client.exceptions import ApiException

from sparkplane.kubernetes.api_errors import RenewableCoreV1, api_message, status_message
from sparkplane.kubernetes.driver_log import DriverLog, LogRefused, refused_log_advice
from sparkplane.kubernetes.follower_timing import FollowerTiming

FORBIDDEN_LOG = json.dumps({
    "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
    "message": 'pods "d" is forbidden: User "system:serviceaccount:x:y" cannot get resource "pods/log"',
})  # fmt: skip


def _captured(name: str) -> tuple[logging.Logger, CapturedLines]:
    log, handler = logging.getLogger(f"test.refusal.{name}"), CapturedLines()
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    return log, handler


# --- the API's message ---------------------------------------------------------------------


def test_the_message_of_a_status_answer_is_what_the_api_server_said():
    assert status_message(FORBIDDEN_LOG).startswith('pods "d" is forbidden: User')
    assert api_message(ApiException(status=403, reason=status_message(FORBIDDEN_LOG))).endswith('"pods/log"')


def test_an_answer_that_is_not_a_status_is_passed_on_as_text_cut_short():
    assert status_message("container c is not valid for pod d\n") == "container c is not valid for pod d"
    assert len(status_message("x" * 2000)) == 500


def test_advice_for_a_refused_log_names_what_to_check():
    where = {"namespace": "spark", "pod_name": "d", "container": "c"}
    assert "may 'get pods/log' in namespace 'spark'" in refused_log_advice(403, **where)
    assert "token, token file or exec plugin" in refused_log_advice(401, **where)
    assert "kubectl -n spark logs d -c c" in refused_log_advice(400, **where)


# --- giving the log up ---------------------------------------------------------------------


def _driver_log(log: logging.Logger, *, refused_seconds: float) -> DriverLog:
    return DriverLog(
        RenewableCoreV1(None), namespace="spark", pod_name="d", container="c", log=log,
        timing=FollowerTiming(log_refused_seconds=refused_seconds), follower_key=None,
        latest_pod=lambda: None, read_pod=None,
    )  # fmt: skip


def test_a_refused_log_is_reported_once_then_given_up_with_one_line_that_says_what_to_check():
    log, handler = _captured("given-up")
    driver_log = _driver_log(log, refused_seconds=0)
    refusal = ApiException(status=400, reason="container c is not valid for pod d")
    driver_log._log_refused(refusal)
    with pytest.raises(LogRefused) as given_up:
        driver_log._log_refused(refusal)
    assert handler.messages[0].startswith("Kubernetes refused the driver log of d (400: container c is not valid")
    assert len(handler.messages) == 2
    assert handler.messages[1] == str(given_up.value)
    assert str(given_up.value).startswith("Kubernetes refused the log of driver pod spark/d for 0s (2 requests, 400: ")
    assert "the driver's later lines are not in this task log" in str(given_up.value)


def test_a_log_refused_for_less_than_the_limit_is_asked_again_quietly_and_its_recovery_said():
    log, handler = _captured("recovered")
    driver_log = _driver_log(log, refused_seconds=60)
    for _ in range(30):
        driver_log._log_refused(ApiException(status=403, reason="forbidden"))
    driver_log._log_readable(None)
    assert len(handler.messages) == 2, handler.messages
    assert handler.messages[1].startswith("The driver log is readable again after 0s (30 requests refused)")


def test_a_different_refusal_starts_its_own_count():
    log, handler = _captured("another")
    driver_log = _driver_log(log, refused_seconds=0)
    driver_log._log_refused(ApiException(status=403, reason="forbidden"))
    driver_log._log_refused(ApiException(status=400, reason="not valid"))  # not the same one: no give-up yet
    assert [m.split("(")[1][:3] for m in handler.messages] == ["403", "400"]


# --- renewing the client after a 401 -------------------------------------------------------


class _Client:
    """A stand-in client: ``RenewableCoreV1`` tells clients apart by identity."""

    def __init__(self, name: str) -> None:
        self.name = name


class _Builds:
    """Builds numbered stand-in clients, and keeps them."""

    def __init__(self) -> None:
        self.built: list[_Client] = []

    async def __call__(self) -> _Client:
        await asyncio.sleep(0)  # a real build awaits the connection and the kubeconfig
        self.built.append(_Client(f"client-{len(self.built) + 1}"))
        return self.built[-1]


FIRST = _Client("client-0")


def test_a_401_builds_one_new_client_and_a_401_to_that_one_is_access_denied():
    builds = _Builds()
    api = RenewableCoreV1(FIRST, build=builds)

    async def scenario() -> list[bool]:
        renewed = await api.renew(FIRST)
        return [renewed, await api.renew(api.core_v1)]

    assert asyncio.run(scenario()) == [True, False]
    assert (api.core_v1.name, api.renewals, len(builds.built)) == ("client-1", 1, 1)


def test_the_watch_and_the_log_meeting_the_same_expiry_build_one_client():
    builds = _Builds()
    api = RenewableCoreV1(FIRST, build=builds)

    async def scenario() -> list[bool]:
        return list(await asyncio.gather(api.renew(FIRST), api.renew(FIRST)))

    assert asyncio.run(scenario()) == [True, True]
    assert [client.name for client in builds.built] == ["client-1"]


def test_a_renewed_client_that_was_answered_may_be_renewed_again_when_its_token_expires_in_turn():
    builds = _Builds()
    api = RenewableCoreV1(FIRST, build=builds)

    async def scenario() -> bool:
        await api.renew(FIRST)
        api.answered(FIRST)  # an answer to the replaced client proves nothing about the new one
        assert not await api.renew(api.core_v1)
        api.answered(api.core_v1)
        return await api.renew(api.core_v1)

    assert asyncio.run(scenario()) is True
    assert [client.name for client in builds.built] == ["client-1", "client-2"]


def test_without_a_way_to_build_a_client_a_401_is_access_denied_at_once():
    assert asyncio.run(RenewableCoreV1(FIRST).renew(FIRST)) is False


def test_a_client_that_cannot_be_built_leaves_the_401_to_the_access_denied_path():
    log, handler = _captured("unbuildable")

    async def failing() -> _Client:
        raise RuntimeError("exec plugin aws-iam-authenticator not found")

    api = RenewableCoreV1(FIRST, build=failing, log=log)
    assert asyncio.run(api.renew(FIRST)) is False
    assert api.core_v1 is FIRST
    assert handler.messages[-1] == (
        "Could not load the credentials again (RuntimeError: exec plugin aws-iam-authenticator not found)"
    )
