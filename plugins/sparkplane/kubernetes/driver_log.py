"""The driver container's log, streamed into the task log: each line once, across reconnects.

The stream is read with kubelet timestamps, so a reopened stream (``sinceSeconds``, then
de-duplicated) neither repeats nor drops a line. A stream with no output for
``FollowerTiming.log_quiet_seconds`` is reopened: its connection may have died without a word.

Where the log has been passed on to is also written on the driver pod itself (annotation
``sparkplane.dev/log-checkpoint``, tagged with the following task try's key), at most every
``FollowerTiming.checkpoint_interval_seconds`` and once more when the follower is cancelled.
A triggerer that restarts runs the trigger again from its original arguments; the checkpoint
lets it continue after the last line already in the task log instead of repeating the log from
the start. After a graceful restart nothing repeats; after a hard kill at most the lines of the
last checkpoint interval do. A later try following the same driver (reattach) starts a log of
its own, from the beginning, because the checkpoint names another try.

A refused log is not a dropped one. A ``403`` (the identity may not get pods/log), a ``400`` (the
API server cannot serve this log) or a ``401`` that fresh credentials did not cure is asked again
every ``FollowerTiming.reconnect_delay_seconds``, saying so once, for up to
``FollowerTiming.log_refused_seconds``; then the log is given up with one line naming what was
refused, the API's message and what to check (``LogRefused``), while the follower goes on
watching the pod. Other failures (a dropped connection, a 5xx) are reconnected to for as long as
the pod is followed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sparkplane.kubernetes import pod_status
from sparkplane.kubernetes.api_errors import (
    HTTP_BAD_REQUEST,
    HTTP_FORBIDDEN,
    HTTP_UNAUTHORIZED,
    api_message,
    describe_error,
    status_message,
    transient_connection_errors,
)
from sparkplane.kubernetes.identity import LOG_CHECKPOINT_ANNOTATION
from sparkplane.kubernetes.log_position import (
    LogDeduplicator,
    LogPosition,
    log_checkpoint_value,
    parse_log_line,
    read_log_checkpoint,
)
from sparkplane.log_lines import LineSplitter
from sparkplane.quality.result_line import parse_result_line
from sparkplane.task_log import GROUP_END, GROUP_START, SparkOutput

if TYPE_CHECKING:
    from aiohttp import ClientTimeout
    from kubernetes.client import V1Pod
    from kubernetes_asyncio.client import CoreV1Api
    from kubernetes_asyncio.client.exceptions import ApiException

    from sparkplane.kubernetes.api_errors import RenewableCoreV1
    from sparkplane.kubernetes.follower_timing import FollowerTiming

#: How long the pod's status may lag behind the end of its container's log stream.
LOG_END_GRACE_SECONDS = 5.0
#: How often to look again whether a container that has not started yet has.
CONTAINER_START_POLL_SECONDS = 1.0
#: Answers to a log request that say no rather than "not now": asking again cures them only if
#: someone changes a setting (a 401 comes here after the credentials, loaded again, were refused).
LOG_REFUSED_STATUSES = frozenset({HTTP_BAD_REQUEST, HTTP_UNAUTHORIZED, HTTP_FORBIDDEN})


class LogRefused(RuntimeError):
    """The API refused the driver's log longer than the follower asks; the rest of it is not in the task log."""


class _Refusal:
    """One refusal of the log, asked again since its first answer."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.since = time.monotonic()
        self.requests = 1

    def lasted_seconds(self) -> float:
        return time.monotonic() - self.since


def refused_log_advice(status: int, *, namespace: str, pod_name: str, container: str) -> str:
    """Return what to check when the API refuses a container's log with ``status``."""
    if status == HTTP_FORBIDDEN:
        return (f"Check that the Airflow identity may 'get pods/log' in namespace {namespace!r} "
                "(spark-bootstrap/20-airflow.yaml: python -m sparkplane.bootstrap apply).")  # fmt: skip
    if status == HTTP_UNAUTHORIZED:
        return ("The kubernetes connection's credentials were refused, also loaded again: check its token, "
                "token file or exec plugin.")  # fmt: skip
    return (f"The API server could not serve this log (the message says why): check the pod's node and its "
            f"kubelet; `kubectl -n {namespace} logs {pod_name} -c {container}` gets the same answer.")  # fmt: skip


class DriverLog:
    """Pass one container's log on to ``log``, line by line, from its start until it ends.

    :param api: the async CoreV1Api, shared with the follower, renewed after a 401.
    :param namespace: the pod's namespace.
    :param pod_name: the pod's name.
    :param container: the container whose log is streamed.
    :param log: where the lines go (the task log, from a trigger).
    :param timing: the follower's pace: the quiet limit, checkpoint interval and timeouts.
    :param follower_key: the key of the task try following the pod; with it, the position is
        checkpointed on the pod.
    :param latest_pod: returns the pod as last seen (kept fresh by the follower's watch).
    :param read_pod: reads the pod from the API; None if it no longer exists.
    """

    def __init__(
        self,
        api: RenewableCoreV1,
        *,
        namespace: str,
        pod_name: str,
        container: str,
        log: logging.Logger,
        timing: FollowerTiming,
        follower_key: str | None,
        latest_pod: Callable[[], V1Pod | None],
        read_pod: Callable[[], Awaitable[V1Pod | None]],
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.pod_name = pod_name
        self.container = container
        self.log = log
        self.timing = timing
        self.follower_key = follower_key
        self._latest_pod = latest_pod
        self._read_pod = read_pod
        self.deduplicator = LogDeduplicator(LogPosition())
        self.lines = 0
        self.reconnects = 0
        self._checkpointed = self.deduplicator.position
        self._checkpointed_at = 0.0
        self._refusal: _Refusal | None = None
        self._output = SparkOutput(log)
        self._section_open = False

    @property
    def core_v1(self) -> CoreV1Api:
        return self.api.core_v1

    @property
    def position(self) -> LogPosition:
        return self.deduplicator.position

    def resume_from_checkpoint(self, pod: V1Pod) -> None:
        """Continue after the lines an earlier follower of this same try already passed on."""
        found = read_log_checkpoint(pod.metadata.annotations or {}, self.follower_key)
        if found is not None and found.timestamp_nanos > self.deduplicator.position.timestamp_nanos:
            self.log.info("Continuing the driver log after the %s already in this task log (checkpoint on the pod)",
                          _describe_position(found))
            self.deduplicator = LogDeduplicator(found)
            self._checkpointed = found

    async def checkpoint(self, *, force: bool = False) -> None:
        """Write the log position on the pod if it moved (and, unless forced, the interval passed)."""
        position = self.deduplicator.position
        if self.follower_key is None or position == self._checkpointed:
            return
        if not force and time.monotonic() - self._checkpointed_at < self.timing.checkpoint_interval_seconds:
            return
        from kubernetes_asyncio.client.exceptions import ApiException

        self._checkpointed_at = time.monotonic()
        body = {"metadata": {"annotations": {LOG_CHECKPOINT_ANNOTATION: log_checkpoint_value(self.follower_key, position)}}}
        try:
            # The answer is the whole pod; not turning it into objects keeps a checkpoint cheap
            # for a triggerer that follows hundreds of drivers.
            response = await self.core_v1.patch_namespaced_pod(
                name=self.pod_name, namespace=self.namespace, body=body, _preload_content=False,
                _request_timeout=self.timing.request_timeout(),
            )  # fmt: skip
            response.release()
            if not 200 <= response.status <= 299:
                raise ApiException(status=response.status, reason=response.reason)
            self._checkpointed = position
        except (ApiException, *transient_connection_errors()) as error:
            # Not fatal: a restart would then repeat a few more lines.
            self.log.warning("Could not record the log position on %s (%s)", self.pod_name, describe_error(error))

    async def follow(self) -> None:
        """Stream the log until the container has ended (or the pod is gone), reconnecting as needed.

        The lines are one folded section of the task log, opened at the first. Raises ``LogRefused``
        once the API has refused the log for ``log_refused_seconds``.
        """
        try:
            await self._follow()
        finally:
            self._output.close()
            if self._section_open:
                self.log.info("%s", GROUP_END)
                self._section_open = False

    async def _follow(self) -> None:
        from aiohttp import SocketTimeoutError
        from kubernetes_asyncio.client.exceptions import ApiException

        while True:
            pod = self._latest_pod()
            if pod is None:
                return
            if not pod_status.container_started(pod, self.container):
                await asyncio.sleep(CONTAINER_START_POLL_SECONDS)
                continue
            self.deduplicator.restart()
            core_v1 = self.core_v1
            try:
                response = await core_v1.read_namespaced_pod_log(
                    name=self.pod_name,
                    namespace=self.namespace,
                    container=self.container,
                    follow=True,
                    timestamps=True,
                    since_seconds=self.deduplicator.since_seconds(_now()),
                    _preload_content=False,
                    _request_timeout=_log_stream_timeout(self.timing),
                )
                try:
                    if not 200 <= response.status <= 299:  # unread here, the error would pass as a log line
                        raise ApiException(status=response.status, reason=status_message(await response.text()))
                    self._log_readable(core_v1)
                    # In chunks, not lines: a line of megabytes must not end the stream (aiohttp
                    # refuses lines longer than its buffer); the splitter passes it on cut.
                    splitter = LineSplitter()
                    async for chunk in response.content.iter_any():
                        for raw in splitter.feed(chunk):
                            self._pass_on(raw)
                        await self.checkpoint()
                    for raw in splitter.flush():
                        self._pass_on(raw)
                finally:
                    response.close()  # also when cancelled: the connection is not left to the collector
                # The stream ended: normally because the container stopped, else the server closed it early.
                if await self._container_ended():
                    return
                self.reconnects += 1
                self.log.info("The driver log stream ended while the container still runs; reopening it")
                continue
            except SocketTimeoutError:  # the read timeout, nothing else
                self.reconnects += 1
                self.log.info("No driver output for %.0fs; reopening the log stream", self.timing.log_quiet_seconds)
                continue
            except ApiException as error:
                if error.status == HTTP_UNAUTHORIZED and await self.api.renew(core_v1):
                    continue  # asked again with the credentials loaded afresh
                if error.status in LOG_REFUSED_STATUSES:
                    self._log_refused(error)
                else:
                    self.log.warning("Driver log stream dropped (%s); reconnecting", describe_error(error))
                self.reconnects += 1
                await asyncio.sleep(self.timing.reconnect_delay_seconds)
            except transient_connection_errors() as error:
                self.reconnects += 1
                self.log.warning("Driver log stream dropped (%s); reconnecting", describe_error(error))
                await asyncio.sleep(self.timing.reconnect_delay_seconds)

    def _log_refused(self, error: ApiException) -> None:
        """Count one more refusal; say so on the first, give up (``LogRefused``) once the same one lasts too long."""
        if self._refusal is None or self._refusal.status != error.status:
            self._refusal = _Refusal(error.status)
            self.log.warning(
                "Kubernetes refused the driver log of %s (%s: %s); asking again every %ss for up to %ss",
                self.pod_name, error.status, api_message(error), self.timing.reconnect_delay_seconds,
                self.timing.log_refused_seconds,
            )  # fmt: skip
            return
        self._refusal.requests += 1
        lasted_seconds = self._refusal.lasted_seconds()
        if lasted_seconds <= self.timing.log_refused_seconds:
            return
        advice = refused_log_advice(error.status, namespace=self.namespace, pod_name=self.pod_name,
                                    container=self.container)  # fmt: skip
        message = (
            f"Kubernetes refused the log of driver pod {self.namespace}/{self.pod_name} for {lasted_seconds:.0f}s "
            f"({self._refusal.requests} requests, {error.status}: {api_message(error)}); the driver's later lines "
            f"are not in this task log, its outcome still is. {advice}"
        )
        self.log.error("%s", message)
        raise LogRefused(message) from error

    def _log_readable(self, core_v1: CoreV1Api) -> None:
        """Note a log request the API answered; say so if it had refused the ones before."""
        self.api.answered(core_v1)
        if self._refusal is not None:
            self.log.info("The driver log is readable again after %.0fs (%d requests refused)",
                          self._refusal.lasted_seconds(), self._refusal.requests)  # fmt: skip
            self._refusal = None

    async def _container_ended(self) -> bool:
        """Return whether the container has ended, giving the kubelet a moment to report it.

        The kubelet closes a log stream as its container exits, a moment before the pod's status
        says so: the end of a finished container's log is not a dropped stream.
        """
        deadline = time.monotonic() + LOG_END_GRACE_SECONDS
        while True:
            latest = await self._read_pod()
            if latest is None or pod_status.container_terminated(latest, self.container):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.5)

    def _pass_on(self, raw: str) -> None:
        if not raw:
            return
        try:
            line = parse_log_line(raw)
        except ValueError:
            self.log.info("%s", raw)  # not timestamped (should not happen); pass it on as is
            return
        if self.deduplicator.admit(line):
            self.lines += 1
            if not self._section_open:
                self.log.info("%sDriver log of %s", GROUP_START, self.pod_name)
                self._section_open = True
            quality = parse_result_line(line.text)
            if quality is None:
                self._output.line(line.text)
                return
            self._output.close()
            # Said in full by the operator, in the task's Data quality section, read from the pod's log.
            self.log.info("Data quality of %s: %s (the failures, if any, are in the Data quality section)",
                          quality["job"], quality["status"])  # fmt: skip


def _log_stream_timeout(timing: FollowerTiming) -> ClientTimeout:
    from aiohttp import ClientTimeout

    # No total timeout (the provider's client would default to 60 s), which would cut every stream
    # each minute: the read timeout is the quiet limit.
    return ClientTimeout(
        total=None, connect=timing.connect_timeout_seconds, sock_connect=timing.connect_timeout_seconds,
        sock_read=timing.log_quiet_seconds,
    )  # fmt: skip


def _describe_position(position: LogPosition) -> str:
    stamp = datetime.fromtimestamp(position.timestamp_nanos / 1e9, tz=timezone.utc).isoformat(timespec="milliseconds")
    return f"lines up to {stamp}"


def _now() -> datetime:
    return datetime.now(timezone.utc)
