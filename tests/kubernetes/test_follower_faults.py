"""The trigger on the real API server when it says no: a refused log, expired credentials, 410 Gone.

Each test runs ``SparkDriverTrigger`` itself, through an Airflow connection (an environment
variable) to a kubeconfig: the client, its credentials and their renewal are the production ones.
Drivers run on simulated nodes (KWOK takes them to Running, serves one shared file as every
simulated container's log, never ends them): a test writes the driver's lines into that file,
each carrying a marker of the test, and ends the pod with a status patch. What goes wrong is
real: RBAC that lacks ``pods/log``, a ServiceAccount token bound to a Secret that the test
deletes (the API server answers 401 to it from then on), a watch cache that has forgotten the
pod's resourceVersion. Timings are shortened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from harness.log_capture import CapturedLines
from harness.simulated import SIMULATED_IMAGE, append_log_line, mark_finished, on_simulated_node, simulated_node
from harness.watch_cache import push_out_of_the_watch_cache
from kubernetes import client

from sparkplane.kubernetes.follower_timing import FollowerTiming
from sparkplane.kubernetes.identity import DRIVER_CONTAINER_NAME, SPARK_NAMESPACE
from sparkplane.kubernetes.pod_templates import restricted_container_security, restricted_pod_security
from sparkplane.kubernetes.trigger import SparkDriverTrigger

pytestmark = [pytest.mark.cluster, pytest.mark.long]

#: Quick enough for a test; no drain: a simulated container's log never ends.
TIMING = FollowerTiming(
    progress_interval_seconds=1, log_quiet_seconds=30, log_drain_seconds=0, checkpoint_interval_seconds=0.2,
    reconnect_delay_seconds=0.5,
)  # fmt: skip
#: What the follower needs, as spark-bootstrap/20-airflow.yaml grants it to the Airflow identity.
FOLLOWER_RULES = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "patch"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]},
]


class Driver:
    """One simulated driver pod, what the test makes it do, and what the trigger made of it."""

    def __init__(self, local_cluster, core: client.CoreV1Api, namespace: str) -> None:
        self.local_cluster, self.core, self.namespace = local_cluster, core, namespace
        self.marker = uuid.uuid4().hex[:8]
        self.name = f"faulted-{self.marker}"
        self.handler = CapturedLines()
        core.create_namespaced_pod(namespace, on_simulated_node({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": self.name},
            "spec": {"securityContext": restricted_pod_security(),
                     "containers": [{"name": DRIVER_CONTAINER_NAME, "image": SIMULATED_IMAGE,
                                     "securityContext": restricted_container_security()}]},
        }, simulated_node(core)))  # fmt: skip

    def prints(self, text: str) -> None:
        append_log_line(self.local_cluster.settings.simulated_container_log, f"{self.marker} {text}")

    def ends(self) -> None:
        mark_finished(self.core, self.namespace, self.name, container=DRIVER_CONTAINER_NAME, phase="Succeeded",
                      exit_code=0, reason="Completed")  # fmt: skip

    def lines(self) -> list[str]:
        """The driver's lines in the task log, in order."""
        return [m.removeprefix(f"{self.marker} ") for m in self.handler.messages if m.startswith(self.marker)]

    def logged(self, prefix: str) -> list[str]:
        """What the trigger logged that starts with ``prefix``."""
        return [m for m in self.handler.messages if m.startswith(prefix)]

    def exists(self) -> bool:
        try:
            self.core.read_namespaced_pod(self.name, self.namespace)
        except client.ApiException as error:
            if error.status == 404:
                return False
            raise
        return True

    def resource_version(self) -> str:
        return self.core.read_namespaced_pod(self.name, self.namespace).metadata.resource_version

    async def running(self) -> None:
        await _until(lambda: self.core.read_namespaced_pod(self.name, self.namespace).status.phase == "Running",
                     timeout_seconds=60, what=f"simulated driver {self.name} to run")  # fmt: skip

    async def followed(self, conn_id: str, *, timing: FollowerTiming) -> dict:
        """Run the trigger on this driver through connection ``conn_id``; return its event."""
        trigger = SparkDriverTrigger(kubernetes_conn_id=conn_id, namespace=self.namespace, pod_name=self.name,
                                     timeouts={}, timing=timing.to_dict())  # fmt: skip
        trigger._log = log = logging.getLogger(f"test.follower_faults.{self.name}")
        log.addHandler(self.handler)
        log.setLevel(logging.INFO)
        return (await trigger.run().__anext__()).payload

    def delete(self) -> None:
        with contextlib.suppress(client.ApiException):
            self.core.delete_namespaced_pod(self.name, self.namespace, grace_period_seconds=0)


async def _until(condition: Callable[[], bool], *, timeout_seconds: float, what: str) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not await asyncio.to_thread(condition):  # a blocking client call must not stall the trigger
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_seconds:.0f}s waiting for {what}")
        await asyncio.sleep(0.2)


@pytest.fixture
def core(local_cluster, airflow_connection) -> client.CoreV1Api:
    """The test's own client (cluster admin)."""
    # airflow_connection: spark-bootstrap/ applied, so the Spark namespace and the identity exist.
    return client.CoreV1Api(local_cluster.api_client())


@pytest.fixture
def drivers(local_cluster, core) -> Iterator[Callable[[str], Driver]]:
    made: list[Driver] = []

    def make(namespace: str = SPARK_NAMESPACE) -> Driver:
        made.append(Driver(local_cluster, core, namespace))
        return made[-1]

    yield make
    for driver in made:
        driver.delete()


@pytest.fixture
def connection(monkeypatch) -> Callable[[Path], str]:
    """Return ``use(kubeconfig)``: an Airflow connection to the cluster through ``kubeconfig``; its id."""

    def use(kubeconfig: Path) -> str:
        conn_id = f"follower_faults_{uuid.uuid4().hex[:8]}"
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}",
                           json.dumps({"conn_type": "kubernetes", "extra": {"kube_config_path": str(kubeconfig)}}))
        return conn_id

    return use


def _identity(local_cluster, namespace: str, rules: list[dict]) -> Path:
    """Create ServiceAccount ``follower`` in ``namespace``, allowed ``rules`` there; return its kubeconfig."""
    api_client = local_cluster.api_client()
    client.CoreV1Api(api_client).create_namespaced_service_account(namespace, {"metadata": {"name": "follower"}})
    rbac = client.RbacAuthorizationV1Api(api_client)
    rbac.create_namespaced_role(namespace, {"metadata": {"name": "follower"}, "rules": rules})
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": "follower"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "follower"},
        "subjects": [{"kind": "ServiceAccount", "name": "follower", "namespace": namespace}],
    })  # fmt: skip
    return local_cluster.serviceaccount_kubeconfig(namespace, "follower")


# --- a refused log -------------------------------------------------------------------------


def test_a_log_refused_for_longer_than_its_limit_is_given_up_with_one_line_and_the_job_still_counts(
    local_cluster, namespace, drivers, connection
):
    without_log = [rule for rule in FOLLOWER_RULES if rule["resources"] != ["pods/log"]]
    conn_id = connection(_identity(local_cluster, namespace, without_log))
    driver = drivers(namespace)
    timing = replace(TIMING, log_refused_seconds=3)

    async def scenario() -> dict:
        following = asyncio.create_task(driver.followed(conn_id, timing=timing))
        await driver.running()
        driver.prints("a line the task log cannot get")
        await _until(lambda: driver.logged("Kubernetes refused the log of driver pod"), timeout_seconds=30,
                     what="the follower to give the log up")  # fmt: skip
        await asyncio.sleep(2)  # the pod is still watched: its end is the task's outcome
        assert not following.done()
        driver.ends()
        return await asyncio.wait_for(following, timeout=60)

    event = asyncio.run(scenario())
    assert (event["status"], event["phase"]) == ("success", "Succeeded"), event
    assert driver.lines() == []
    first = driver.logged("Kubernetes refused the driver log of")
    assert len(first) == 1 and "(403: " in first[0] and 'cannot get resource "pods/log"' in first[0], first
    [given_up] = driver.logged("Kubernetes refused the log of driver pod")
    requests = int(re.search(r"\((\d+) requests, 403: ", given_up).group(1))
    assert requests >= 3, given_up  # asked again every half second, said once
    assert "the driver's later lines are not in this task log" in given_up
    assert f"may 'get pods/log' in namespace '{namespace}'" in given_up
    assert event["log_error"] == f"LogRefused: {given_up}"
    assert len(driver.logged("Following the driver log stopped (LogRefused: ")) == 1
    assert not driver.logged("Driver log stream dropped"), driver.handler.messages


# --- expired credentials -------------------------------------------------------------------


class BoundTokens:
    """ServiceAccount tokens bound to Secrets: deleting its Secret ends a token at once (401).

    The kubeconfig names a token file (``tokenFile``), read when a client is built, as a token
    refresher (or a projected volume) would keep it: ``rotate`` writes a new token there.
    """

    def __init__(self, local_cluster, namespace: str, kubeconfig: Path, directory: Path) -> None:
        self.core = client.CoreV1Api(local_cluster.api_client())
        self.namespace = namespace
        self.token_file = directory / "token"
        self.kubeconfig = directory / "token-file.kubeconfig"
        config = json.loads(kubeconfig.read_text())
        config["users"][0]["user"] = {"tokenFile": str(self.token_file)}
        self.kubeconfig.write_text(json.dumps(config))
        self.holders: list[str] = []

    def rotate(self) -> None:
        """Write a new token, bound to a new Secret, into the token file."""
        holder = f"token-holder-{len(self.holders) + 1}"
        secret = self.core.create_namespaced_secret(self.namespace, {"metadata": {"name": holder}})
        request = self.core.create_namespaced_service_account_token("follower", self.namespace, {"spec": {
            "expirationSeconds": 600,
            "boundObjectRef": {"apiVersion": "v1", "kind": "Secret", "name": holder, "uid": secret.metadata.uid},
        }})  # fmt: skip
        partial = self.token_file.with_suffix(".new")
        partial.write_text(request.status.token)
        partial.replace(self.token_file)
        self.holders.append(holder)

    def expire(self, holder: str) -> None:
        """End the tokens bound to ``holder``: the API server answers 401 to them from now on."""
        self.core.delete_namespaced_secret(holder, self.namespace)


@pytest.fixture
def bound_tokens(local_cluster, namespace, tmp_path) -> BoundTokens:
    tokens = BoundTokens(local_cluster, namespace, _identity(local_cluster, namespace, FOLLOWER_RULES), tmp_path)
    tokens.rotate()
    return tokens


def test_a_token_that_expires_while_following_is_loaded_again_and_the_follow_goes_on(
    drivers, connection, bound_tokens
):
    conn_id = connection(bound_tokens.kubeconfig)
    driver = drivers(bound_tokens.namespace)
    timing = replace(TIMING, log_quiet_seconds=2, access_denied_seconds=30)  # quiet: the log reopens too

    async def scenario() -> dict:
        following = asyncio.create_task(driver.followed(conn_id, timing=timing))
        await driver.running()
        driver.prints("before the expiry")
        await _until(lambda: driver.lines() == ["before the expiry"], timeout_seconds=30, what="the first line")
        bound_tokens.rotate()  # what a token refresher does before the old token ends
        bound_tokens.expire(bound_tokens.holders[0])
        await _until(lambda: driver.logged("Kubernetes answered 401 Unauthorized"), timeout_seconds=60,
                     what="the API server to refuse the expired token")  # fmt: skip
        driver.prints("after the expiry")
        await asyncio.sleep(4)  # quiet for longer than the limit: the log is reopened, with the new client
        driver.prints("after the reopen")
        await _until(lambda: len(driver.lines()) == 3, timeout_seconds=30, what="the lines after the expiry")
        driver.ends()
        return await asyncio.wait_for(following, timeout=60)

    event = asyncio.run(scenario())
    assert (event["status"], event["phase"]) == ("success", "Succeeded"), event
    assert driver.lines() == ["before the expiry", "after the expiry", "after the reopen"]
    assert event["credential_renewals"] == 1
    assert len(driver.logged("Kubernetes answered 401 Unauthorized")) == 1
    assert "No driver output for 2s; reopening the log stream" in driver.handler.messages
    assert not driver.logged("Kubernetes denied access"), driver.handler.messages


def test_a_token_that_stays_refused_after_loading_it_again_ends_the_follow_with_an_error_and_keeps_the_driver(
    drivers, connection, bound_tokens
):
    conn_id = connection(bound_tokens.kubeconfig)
    driver = drivers(bound_tokens.namespace)
    timing = replace(TIMING, access_denied_seconds=4)

    async def scenario() -> dict:
        following = asyncio.create_task(driver.followed(conn_id, timing=timing))
        await driver.running()
        await asyncio.sleep(1)
        bound_tokens.expire(bound_tokens.holders[0])  # and no new token in the file
        return await asyncio.wait_for(following, timeout=90)

    event = asyncio.run(scenario())
    assert event["status"] == "error", event
    assert event["message"].startswith(
        f"AccessDenied: the Kubernetes API denied access to driver pod {driver.namespace}/{driver.name} for "
    ), event
    assert "(401)" in event["message"]
    assert len(driver.logged("Kubernetes answered 401 Unauthorized")) == 1  # loaded again once, then denied
    assert driver.logged(f"Kubernetes denied access to driver pod {driver.name} (ApiException: (401)")
    assert driver.exists()  # an error event: the launcher keeps the driver for the retry to follow


# --- 410 Gone ------------------------------------------------------------------------------


def test_a_watch_refused_with_410_gone_is_resumed_from_a_fresh_list_without_losing_or_repeating_a_line(
    local_cluster, airflow_connection, namespace, core, drivers, connection, monkeypatch
):
    conn_id = f"follower_faults_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", airflow_connection)
    driver = drivers()
    # No follower key, so no checkpoint changes the pod, and watches of one second get no
    # bookmarks: the follower watches from the resourceVersion of the pod's last change.
    timing = TIMING

    async def scenario() -> dict:
        following = asyncio.create_task(driver.followed(conn_id, timing=timing))
        await driver.running()
        await asyncio.sleep(2)  # the simulated node has written the pod's status
        changed_at = time.monotonic()
        driver.prints("line 1")
        await _until(lambda: driver.lines() == ["line 1"], timeout_seconds=30, what="the first line")
        changes = await asyncio.to_thread(push_out_of_the_watch_cache, core, driver.resource_version, namespace,
                                          changed_at=changed_at)  # fmt: skip
        driver.prints("line 2")
        await _until(lambda: driver.logged(f"Watch of {driver.name} expired (410 Gone)"), timeout_seconds=30,
                     what=f"the follower's watch to be refused with 410 Gone ({changes} changes)")  # fmt: skip
        driver.prints("line 3")
        await _until(lambda: len(driver.lines()) == 3, timeout_seconds=30, what="the lines after the 410")
        await asyncio.sleep(3)  # a watch resumed from the pod's own, forgotten version would be refused again
        driver.ends()
        return await asyncio.wait_for(following, timeout=60)

    event = asyncio.run(scenario())
    assert (event["status"], event["phase"]) == ("success", "Succeeded"), event
    assert driver.lines() == ["line 1", "line 2", "line 3"]
    assert len(driver.logged(f"Watch of {driver.name} expired (410 Gone); listing the pod again")) == 1
