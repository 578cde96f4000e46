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
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sparkplane.kubernetes import pod_status
from sparkplane.kubernetes.api_errors import describe_error, transient_connection_errors
from sparkplane.kubernetes.identity import LOG_CHECKPOINT_ANNOTATION
from sparkplane.kubernetes.log_position import (
    LogDeduplicator,
    LogPosition,
    log_checkpoint_value,
    parse_log_line,
    read_log_checkpoint,
)
from sparkplane.log_lines import LineSplitter

if TYPE_CHECKING:
    from aiohttp import ClientTimeout
    from kubernetes.client import V1Pod
    from kubernetes_asyncio.client import CoreV1Api

    from sparkplane.kubernetes.follower import FollowerTiming

#: How long the pod's status may lag behind the end of its container's log stream.
LOG_END_GRACE_SECONDS = 5.0
#: How often to look again whether a container that has not started yet has.
CONTAINER_START_POLL_SECONDS = 1.0


class DriverLog:
    """Pass one container's log on to ``log``, line by line, from its start until it ends.

    :param core_v1: an async CoreV1Api.
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
        core_v1: CoreV1Api,
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
        self.core_v1 = core_v1
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
        """Stream the log until the container has ended (or the pod is gone), reconnecting as needed."""
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
            try:
                response = await self.core_v1.read_namespaced_pod_log(
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
                        raise ApiException(status=response.status, reason=(await response.text())[:500])
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
            except (ApiException, *transient_connection_errors()) as error:
                self.reconnects += 1
                self.log.warning("Driver log stream dropped (%s); reconnecting", describe_error(error))
                await asyncio.sleep(self.timing.reconnect_delay_seconds)

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
            self.log.info("%s", line.text)


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
