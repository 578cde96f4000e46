"""The waiting: follow one driver pod and its log until the pod ends, fails hopelessly or times out.

Used by the trigger; kept apart so it can be driven directly against a real cluster. This module
watches the pod and judges it; ``DriverLog`` (driver_log.py) streams the driver's log and
checkpoints its position on the pod, so a restarted triggerer continues the task log where it
stopped instead of repeating it.

No call waits for ever: each has a connect and a read timeout (``FollowerTiming``), and the watch
a read timeout a little longer than the ``timeout_seconds`` the server ends it after, so a watch
gone silent is dropped and resumed like one the server closed. The stage timeouts do not depend
on the API answering either: a clock checks the pod as last seen against them on the local
clock, so a driver that waits for a node past its limit times out even while the API is silent.

A watch refused with ``410 Gone`` is resumed from a fresh list of the pod, never from the pod's
own resourceVersion: that is the version of its last change, and for a pod unchanged for long
(a driver running for hours) it is older than the API server keeps for watches, so a watch from
it would be refused again, at once and for ever. A ``401`` is answered by building the client
again with its credentials loaded afresh (``RenewableCoreV1``, api_errors.py) before it counts
as access denied.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sparkplane.kubernetes import pod_status
from sparkplane.kubernetes.api_errors import (
    HTTP_FORBIDDEN,
    HTTP_GONE,
    HTTP_NOT_FOUND,
    HTTP_UNAUTHORIZED,
    TRANSIENT_HTTP_STATUSES,
    RenewableCoreV1,
    describe_error,
    transient_connection_errors,
)
from sparkplane.kubernetes.driver_log import DriverLog
from sparkplane.kubernetes.follower_timing import AccessDenied, ApiUnreachable, FollowerTiming, Trouble
from sparkplane.kubernetes.pod_diagnosis import describe_wait, explain_pod_failure, explain_unconfirmed_deletion
from sparkplane.kubernetes.stage_timeouts import FollowTimeouts, exceeded_stage_timeout
from sparkplane.task_log import GROUP_END, GROUP_START

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from kubernetes.client import V1Pod
    from kubernetes_asyncio.client import CoreV1Api


def stage_timeout_as_last_seen(
    pod: V1Pod | None, container: str, limits: FollowTimeouts, *, now: datetime
) -> str | None:
    """Return the stage limit the pod, in the state last seen, has passed at ``now``, or None.

    None also when that state decides the outcome otherwise (the pod ended, or visibly failed):
    then the watch's verdict, not a timeout, is the event.
    """
    if pod is None or pod_status.phase(pod) in pod_status.POD_TERMINAL_PHASES:
        return None
    if explain_pod_failure(pod, []) is not None:  # what the pod's status alone shows; events need the API
        return None
    return exceeded_stage_timeout(pod, container, limits, now=now)


class DriverFollower:
    """Follow one driver pod; ``follow()`` returns the trigger's event.

    Three coroutines share the pod's latest state: ``_watch_pod`` keeps it fresh with a watch that
    wakes every ``FollowerTiming.progress_interval_seconds`` (to log progress and judge the pod)
    and resumes from the last resourceVersion; ``_stage_clock`` checks that state against the
    stage timeouts on the local clock, whether or not the API answers; ``DriverLog.follow``
    streams the driver container's log once it has started.

    :param core_v1: an async CoreV1Api.
    :param namespace: the pod's namespace.
    :param pod_name: the pod's name.
    :param container: the container whose log is streamed.
    :param timeouts: the stage timeouts.
    :param log: where progress and the driver's log lines go (the task log, from a trigger).
    :param timing: how the follower paces itself (defaults: production's).
    :param follower_key: the key of the task try following the pod; with it, the log position is
        checkpointed on the pod and a restarted follower of the same try continues from there.
    :param renew_client: builds a new async CoreV1Api with its credentials loaded again (the
        trigger: from the Airflow connection). Called when the API answers 401, as it does once a
        short-lived token has expired; the watch and the log then go on with the new client. A
        401 to the new client too counts as access denied. None: every 401 is access denied.
    """

    def __init__(
        self,
        core_v1: CoreV1Api,
        *,
        namespace: str,
        pod_name: str,
        container: str,
        timeouts: FollowTimeouts,
        log: logging.Logger,
        timing: FollowerTiming = FollowerTiming(),
        follower_key: str | None = None,
        renew_client: Callable[[], Awaitable[CoreV1Api]] | None = None,
    ) -> None:
        self.api = RenewableCoreV1(core_v1, build=renew_client, log=log)
        self.namespace = namespace
        self.pod_name = pod_name
        self.container = container
        self.timeouts = timeouts
        self.timing = timing
        self.log = log
        self.reconnects = 0
        self._pod: V1Pod | None = None
        self.driver_log = DriverLog(
            self.api, namespace=namespace, pod_name=pod_name, container=container, log=log, timing=timing,
            follower_key=follower_key, latest_pod=lambda: self._pod, read_pod=self._read_pod,
        )  # fmt: skip
        self._answered_at = time.monotonic()
        self._unreachable = Trouble()
        self._denied = Trouble()
        self._waiting_section = False

    @property
    def core_v1(self) -> CoreV1Api:
        """The client in use (a new one after its credentials were loaded again)."""
        return self.api.core_v1

    async def follow(self) -> dict[str, Any]:
        self._pod = await self._read_pod()
        if self._pod is None:
            return self._event("error", f"driver pod {self.namespace}/{self.pod_name} does not exist")
        self.driver_log.resume_from_checkpoint(self._pod)
        log_task = asyncio.create_task(self.driver_log.follow())
        try:
            event = await self._first_verdict()
            if log_task.done() and not log_task.cancelled() and (error := log_task.exception()) is not None:
                # Not silent: the lines after this point are missing from the task log.
                self.log.error("Following the driver log stopped (%s); later lines are not in this log",
                               describe_error(error))
                event["log_error"] = describe_error(error)
            # A container that never started has no log to drain (an evicted or unschedulable pod).
            if event["status"] in ("success", "failed") and event["container_started"] and not log_task.done():
                try:
                    await asyncio.wait_for(asyncio.shield(log_task), self.timing.log_drain_seconds)
                except asyncio.TimeoutError:
                    self.log.warning("The driver log did not end %ss after the pod did", self.timing.log_drain_seconds)
            return {**event, "log_position": self.driver_log.position.to_dict(), "log_lines": self.driver_log.lines,
                    "reconnects": self.reconnects + self.driver_log.reconnects,
                    "credential_renewals": self.api.renewals}
        except asyncio.CancelledError:
            # The triggerer is stopping (or a user stopped the task): stop passing lines on, then
            # record how far the log got, so the next follower starts exactly there.
            log_task.cancel()
            await asyncio.gather(log_task, return_exceptions=True)
            await asyncio.shield(self.driver_log.checkpoint(force=True))
            raise
        finally:
            self._end_waiting()
            if not log_task.done():
                log_task.cancel()
                await asyncio.gather(log_task, return_exceptions=True)

    def _say_waiting(self, line: str) -> None:
        """Log what the pending driver waits for, folded in one section until it starts."""
        if not self._waiting_section:
            self.log.info("%sWaiting for the driver to start", GROUP_START)
            self._waiting_section = True
        self.log.info("%s", line)

    def _end_waiting(self) -> None:
        if self._waiting_section:
            self.log.info("%s", GROUP_END)
            self._waiting_section = False

    async def _first_verdict(self) -> dict[str, Any]:
        """Return the watch's verdict, or the stage clock's if it comes first."""
        watching = asyncio.create_task(self._watch_pod())
        clock = asyncio.create_task(self._stage_clock())
        try:
            await asyncio.wait((watching, clock), return_when=asyncio.FIRST_COMPLETED)
            return (watching if watching.done() else clock).result()
        finally:
            for task in (watching, clock):
                task.cancel()
            await asyncio.gather(watching, clock, return_exceptions=True)

    # --- the pod ---------------------------------------------------------------------------

    async def _watch_pod(self) -> dict[str, Any]:
        from kubernetes_asyncio import watch
        from kubernetes_asyncio.client.exceptions import ApiException

        resource_version: str | None = self._pod.metadata.resource_version
        while True:
            core_v1 = self.core_v1
            try:
                if resource_version is None:
                    resource_version = await self._relist_pod(core_v1)
                    if self._pod is None:
                        return self._event("error", f"driver pod {self.namespace}/{self.pod_name} disappeared")
                verdict = await self._judge()
                if verdict is not None:
                    return verdict
                async with watch.Watch() as pod_watch:
                    async for change in pod_watch.stream(
                        core_v1.list_namespaced_pod,
                        namespace=self.namespace,
                        field_selector=f"metadata.name={self.pod_name}",
                        resource_version=resource_version,
                        allow_watch_bookmarks=True,
                        timeout_seconds=self.timing.watch_timeout_seconds,
                        # A little longer than the server's end of the watch: silence past it is a dead connection.
                        _request_timeout=self.timing.watch_request_timeout(),
                    ):
                        self._api_answered(core_v1)
                        if change["type"] == "DELETED":
                            return self._event("error", f"driver pod {self.namespace}/{self.pod_name} was deleted "
                                               "before it finished (by a person, a cleanup job or node eviction)")
                        if change["type"] != "BOOKMARK":
                            self._pod = change["object"]
                        resource_version = pod_watch.resource_version or resource_version
                        if await self._judge(progress=False) is not None:
                            break
                    else:
                        self._api_answered(core_v1)  # the server ended the watch as asked
            except ApiException as error:
                if error.status == HTTP_GONE:
                    # The resourceVersion is older than the API server keeps: list the pod afresh.
                    self.log.info("Watch of %s expired (410 Gone); listing the pod again", self.pod_name)
                elif error.status == HTTP_UNAUTHORIZED and await self.api.renew(core_v1):
                    continue  # the same watch, asked again with the credentials loaded afresh
                elif error.status in TRANSIENT_HTTP_STATUSES:
                    await self._wait_for_api("Watch of driver pod", error)
                elif error.status in (HTTP_UNAUTHORIZED, HTTP_FORBIDDEN):
                    await self._wait_for_access(error)
                else:
                    raise
                resource_version = None
            except transient_connection_errors() as error:
                await self._wait_for_api("Watch of driver pod", error)
                resource_version = None

    async def _stage_clock(self) -> dict[str, Any]:
        """Return a timeout event once the pod as last seen passes a stage limit; asks the API nothing."""
        while True:
            await asyncio.sleep(self.timing.progress_interval_seconds)
            lost = self._pod and explain_unconfirmed_deletion(
                self._pod, now=_now(), after_seconds=self.timing.unconfirmed_deletion_seconds)  # fmt: skip
            if lost:
                return self._event("failed", lost.cause, phase=pod_status.phase(self._pod), cause=lost.cause,
                                   fix=lost.fix, being_deleted=True)  # fmt: skip
            timeout = stage_timeout_as_last_seen(self._pod, self.container, self.timeouts, now=_now())
            if timeout is None:
                continue
            silent_seconds = time.monotonic() - self._answered_at
            if silent_seconds > self.timing.watch_read_timeout_seconds:
                self.log.warning("Judging driver pod %s as last seen %.0fs ago: the Kubernetes API has not answered "
                                 "since", self.pod_name, silent_seconds)  # fmt: skip
            return self._event("timeout", timeout, phase=pod_status.phase(self._pod))

    async def _wait_for_api(self, what: str, error: BaseException) -> None:
        """Pause before reconnecting; give up once the API has been unreachable for too long."""
        down_seconds = self._unreachable.lasted_seconds()
        if down_seconds > self.timing.api_unreachable_seconds:
            raise ApiUnreachable(
                f"the Kubernetes API did not answer for {down_seconds:.0f}s (last error: {type(error).__name__}: {error})"
            ) from error
        await self._retry_later("%s %s dropped (%s: %s); reconnecting", what, self.pod_name, type(error).__name__, error)

    async def _wait_for_access(self, error: BaseException) -> None:
        """Pause before asking again; give up once access has been denied for too long.

        An API server that has just restarted answers 401/403 until its authenticators and
        authorizer are ready, so a denial is retried for a while; one that lasts (a revoked role)
        ends the follow with an error that says so. A 401 comes here only once the credentials,
        loaded again, were refused too.
        """
        denied_seconds = self._denied.lasted_seconds()
        first_line = describe_error(error).splitlines()[0]
        if denied_seconds > self.timing.access_denied_seconds:
            raise AccessDenied(
                f"the Kubernetes API denied access to driver pod {self.namespace}/{self.pod_name} for "
                f"{denied_seconds:.0f}s ({first_line}); check the Airflow identity's permissions "
                "(python -m sparkplane.bootstrap apply)"
            ) from error
        await self._retry_later("Kubernetes denied access to driver pod %s (%s); asking again", self.pod_name, first_line)

    async def _retry_later(self, message: str, *args: Any) -> None:
        self.reconnects += 1
        self.log.warning(message, *args)
        await asyncio.sleep(self.timing.reconnect_delay_seconds)

    def _api_answered(self, core_v1: CoreV1Api) -> None:
        self._answered_at = time.monotonic()
        self._unreachable.end()
        self._denied.end()
        self.api.answered(core_v1)

    async def _relist_pod(self, core_v1: CoreV1Api) -> str | None:
        """Read the pod afresh; return the resourceVersion to watch it from (None if it is gone).

        A list, not a read: the list's resourceVersion is the API server's current one, which a
        watch can start from, while the pod's own is that of its last change (see the module's
        docstring).
        """
        pods = await core_v1.list_namespaced_pod(
            namespace=self.namespace, field_selector=f"metadata.name={self.pod_name}",
            _request_timeout=self.timing.request_timeout(),
        )  # fmt: skip
        self._pod = pods.items[0] if pods.items else None
        self._api_answered(core_v1)
        return pods.metadata.resource_version if self._pod else None

    async def _judge(self, *, progress: bool = True) -> dict[str, Any] | None:
        """Return the final event if the pod's state decides the outcome, else None."""
        pod = self._pod
        phase = pod_status.phase(pod)
        if phase != pod_status.POD_PENDING:
            self._end_waiting()  # before the driver log's own section opens
        if phase in pod_status.POD_TERMINAL_PHASES:
            status = "success" if phase == pod_status.POD_SUCCEEDED else "failed"
            return self._event(status, f"driver pod {phase}", phase=phase)
        failure = explain_pod_failure(pod, await self._events() if not pod.spec.node_name else [])
        if failure is not None:
            return self._event("failed", failure.cause, phase=phase, cause=failure.cause, fix=failure.fix)
        timeout = exceeded_stage_timeout(pod, self.container, self.timeouts, now=_now())
        if timeout is not None:
            return self._event("timeout", timeout, phase=phase)
        if progress and phase == pod_status.POD_PENDING:  # a pod that waits for a node, a pull or a start
            self._say_waiting(describe_wait(pod, await self._events(), now=_now()))
        return None

    async def _read_pod(self) -> V1Pod | None:
        from kubernetes_asyncio.client.exceptions import ApiException

        try:
            return await self.core_v1.read_namespaced_pod(
                name=self.pod_name, namespace=self.namespace, _request_timeout=self.timing.request_timeout()
            )
        except ApiException as error:
            if error.status == HTTP_NOT_FOUND:
                return None
            raise

    async def _events(self) -> list[Any]:
        result = await self.core_v1.list_namespaced_event(
            namespace=self.namespace,
            field_selector=f"involvedObject.kind=Pod,involvedObject.name={self.pod_name}",
            _request_timeout=self.timing.request_timeout(),
        )
        return result.items

    def _event(self, status: str, message: str, **details: Any) -> dict[str, Any]:
        pod = self._pod
        started = pod is not None and pod_status.container_started(pod, self.container)
        return {"status": status, "message": message, "container_started": started, **details}


def _now() -> datetime:
    return datetime.now(timezone.utc)
