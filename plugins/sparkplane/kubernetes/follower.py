"""The waiting: follow one driver pod and its log until the pod ends, fails hopelessly or times out.

Used by the trigger; kept apart so it can be driven directly against a real cluster. The log
position is checkpointed on the driver pod, so a restarted triggerer continues the task log
where it stopped instead of repeating it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sparkplane.kubernetes import pod_status
from sparkplane.kubernetes.api_errors import (
    HTTP_FORBIDDEN,
    HTTP_GONE,
    HTTP_NOT_FOUND,
    HTTP_UNAUTHORIZED,
    TRANSIENT_HTTP_STATUSES,
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
from sparkplane.kubernetes.pod_diagnosis import describe_wait, explain_pod_failure
from sparkplane.kubernetes.stage_timeouts import FollowTimeouts, exceeded_stage_timeout
from sparkplane.log_lines import LineSplitter

if TYPE_CHECKING:
    from kubernetes.client import V1Pod
    from kubernetes_asyncio.client import CoreV1Api


@dataclass(frozen=True)
class FollowerTiming:
    """How a follower paces itself, in seconds. The defaults are production's; tests shorten them.

    :param progress_interval_seconds: cadence of progress lines and timeout checks while the pod
        waits; also how long one watch request lasts.
    :param log_quiet_seconds: a driver silent this long gets its log stream reopened (quietly,
        and losing nothing): a connection that died without a word (half-open) is not waited on
        for ever.
    :param log_drain_seconds: how long to wait for the log stream to end after the pod ended.
    :param checkpoint_interval_seconds: at most one checkpoint PATCH per interval while lines
        flow; it bounds what a hard-killed triggerer repeats after its restart.
    :param api_unreachable_seconds: how long the API may stay unreachable (an API server
        restart, a network blip) before the follower gives up and the task fails with an error.
    :param access_denied_seconds: how long the API may deny access to the pod (401/403: an API
        server just restarted, or a revoked role) before the follower gives up.
    :param reconnect_delay_seconds: pause between reconnect attempts after the API server
        dropped a watch or a log stream.
    """

    progress_interval_seconds: float = 30.0
    log_quiet_seconds: float = 300.0
    log_drain_seconds: float = 30.0
    checkpoint_interval_seconds: float = 2.0
    api_unreachable_seconds: float = 300.0
    access_denied_seconds: float = 60.0
    reconnect_delay_seconds: float = 2.0

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


#: How long the pod's status may lag behind the end of its container's log stream.
LOG_END_GRACE_SECONDS = 5.0


class ApiUnreachable(RuntimeError):
    """The Kubernetes API stayed unreachable longer than the follower waits."""


class AccessDenied(RuntimeError):
    """The Kubernetes API denied access to the driver pod longer than the follower waits."""


class _Trouble:
    """How long one kind of trouble with the API has lasted, counted from its first occurrence."""

    def __init__(self) -> None:
        self._since: float | None = None

    def lasted_seconds(self) -> float:
        """Note one more occurrence; return the seconds since the first."""
        now = time.monotonic()
        if self._since is None:
            self._since = now
        return now - self._since

    def end(self) -> None:
        self._since = None


class DriverFollower:
    """Follow one driver pod; ``follow()`` returns the trigger's event.

    Two coroutines share the pod's latest state: ``_watch_pod`` keeps it fresh with a watch that
    wakes every ``FollowerTiming.progress_interval_seconds`` (to log progress and check timeouts)
    and resumes from the last resourceVersion; ``_follow_log`` streams the driver container's log
    once it has started.

    :param core_v1: an async CoreV1Api.
    :param namespace: the pod's namespace.
    :param pod_name: the pod's name.
    :param container: the container whose log is streamed.
    :param timeouts: the stage timeouts.
    :param log: where progress and the driver's log lines go (the task log, from a trigger).
    :param timing: how the follower paces itself (defaults: production's).
    :param follower_key: the key of the task try following the pod; with it, the log position is
        checkpointed on the pod and a restarted follower of the same try continues from there.
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
    ) -> None:
        self.core_v1 = core_v1
        self.namespace = namespace
        self.pod_name = pod_name
        self.container = container
        self.timeouts = timeouts
        self.timing = timing
        self.log = log
        self.deduplicator = LogDeduplicator(LogPosition())
        self.log_lines = 0
        self.reconnects = 0
        self.follower_key = follower_key
        self._pod: V1Pod | None = None
        self._checkpointed = self.deduplicator.position
        self._checkpointed_at = 0.0
        self._unreachable = _Trouble()
        self._denied = _Trouble()

    async def follow(self) -> dict[str, Any]:
        self._pod = await self._read_pod()
        if self._pod is None:
            return self._event("error", f"driver pod {self.namespace}/{self.pod_name} does not exist")
        self._resume_from_checkpoint(self._pod)
        log_task = asyncio.create_task(self._follow_log())
        try:
            event = await self._watch_pod()
            if log_task.done() and not log_task.cancelled() and (error := log_task.exception()) is not None:
                # Not silent: the lines after this point are missing from the task log.
                self.log.error("Following the driver log stopped (%s); later lines are not in this log",
                               _describe_error(error))
                event["log_error"] = _describe_error(error)
            # A container that never started has no log to drain (an evicted or unschedulable pod).
            if event["status"] in ("success", "failed") and event["container_started"] and not log_task.done():
                try:
                    await asyncio.wait_for(asyncio.shield(log_task), self.timing.log_drain_seconds)
                except asyncio.TimeoutError:
                    self.log.warning("The driver log did not end %ss after the pod did", self.timing.log_drain_seconds)
            return {**event, "log_position": self.deduplicator.position.to_dict(), "log_lines": self.log_lines,
                    "reconnects": self.reconnects}
        except asyncio.CancelledError:
            # The triggerer is stopping (or a user stopped the task): stop passing lines on, then
            # record how far the log got, so the next follower starts exactly there.
            log_task.cancel()
            await asyncio.gather(log_task, return_exceptions=True)
            await asyncio.shield(self._checkpoint(force=True))
            raise
        finally:
            if not log_task.done():
                log_task.cancel()
                await asyncio.gather(log_task, return_exceptions=True)

    # --- the pod ---------------------------------------------------------------------------

    async def _watch_pod(self) -> dict[str, Any]:
        from kubernetes_asyncio import watch
        from kubernetes_asyncio.client.exceptions import ApiException

        resource_version: str | None = self._pod.metadata.resource_version
        while True:
            try:
                if resource_version is None:
                    resource_version = await self._refresh_pod()
                    if self._pod is None:
                        return self._event("error", f"driver pod {self.namespace}/{self.pod_name} disappeared")
                verdict = await self._judge()
                if verdict is not None:
                    return verdict
                async with watch.Watch() as pod_watch:
                    async for change in pod_watch.stream(
                        self.core_v1.list_namespaced_pod,
                        namespace=self.namespace,
                        field_selector=f"metadata.name={self.pod_name}",
                        resource_version=resource_version,
                        allow_watch_bookmarks=True,
                        timeout_seconds=max(1, int(self.timing.progress_interval_seconds)),
                    ):
                        self._api_answered()
                        if change["type"] == "DELETED":
                            return self._event("error", f"driver pod {self.namespace}/{self.pod_name} was deleted "
                                               "before it finished (by a person, a cleanup job or node eviction)")
                        if change["type"] != "BOOKMARK":
                            self._pod = change["object"]
                        resource_version = pod_watch.resource_version or resource_version
                        if await self._judge(progress=False) is not None:
                            break
            except ApiException as error:
                if error.status == HTTP_GONE:
                    # The resourceVersion is older than the API server keeps: read the pod afresh.
                    self.log.info("Watch of %s expired (410 Gone); reading the pod again", self.pod_name)
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
        ends the follow with an error that says so.
        """
        denied_seconds = self._denied.lasted_seconds()
        first_line = _describe_error(error).splitlines()[0]
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

    def _api_answered(self) -> None:
        self._unreachable.end()
        self._denied.end()

    async def _refresh_pod(self) -> str | None:
        self._pod = await self._read_pod()
        self._api_answered()
        return self._pod.metadata.resource_version if self._pod else None

    async def _judge(self, *, progress: bool = True) -> dict[str, Any] | None:
        """Return the final event if the pod's state decides the outcome, else None."""
        pod = self._pod
        phase = pod_status.phase(pod)
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
            self.log.info("%s", describe_wait(pod, await self._events(), now=_now()))
        return None

    async def _read_pod(self) -> V1Pod | None:
        from kubernetes_asyncio.client.exceptions import ApiException

        try:
            return await self.core_v1.read_namespaced_pod(name=self.pod_name, namespace=self.namespace)
        except ApiException as error:
            if error.status == HTTP_NOT_FOUND:
                return None
            raise

    async def _events(self) -> list[Any]:
        result = await self.core_v1.list_namespaced_event(
            namespace=self.namespace, field_selector=f"involvedObject.kind=Pod,involvedObject.name={self.pod_name}"
        )
        return result.items

    # --- the log ---------------------------------------------------------------------------

    # Where the log has been passed on to is also written on the driver pod itself (annotation
    # ``sparkplane.dev/log-checkpoint``, tagged with the following task try's key), at most every
    # ``FollowerTiming.checkpoint_interval_seconds`` and once more when the follower is cancelled.
    # A triggerer that restarts runs the trigger again from its original arguments; the checkpoint
    # lets it continue after the last line already in the task log instead of repeating the log
    # from the start. After a graceful restart nothing repeats; after a hard kill at most the
    # lines of the last checkpoint interval do. A later try following the same driver (reattach)
    # starts a log of its own, from the beginning, because the checkpoint names another try.

    def _resume_from_checkpoint(self, pod: V1Pod) -> None:
        """Continue after the lines an earlier follower of this same try already passed on."""
        found = read_log_checkpoint(pod.metadata.annotations or {}, self.follower_key)
        if found is not None and found.timestamp_nanos > self.deduplicator.position.timestamp_nanos:
            self.log.info("Continuing the driver log after the %s already in this task log (checkpoint on the pod)",
                          _describe_position(found))
            self.deduplicator = LogDeduplicator(found)
            self._checkpointed = found

    async def _checkpoint(self, *, force: bool = False) -> None:
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
                name=self.pod_name, namespace=self.namespace, body=body, _preload_content=False
            )
            response.release()
            if not 200 <= response.status <= 299:
                raise ApiException(status=response.status, reason=response.reason)
            self._checkpointed = position
        except (ApiException, *transient_connection_errors()) as error:
            # Not fatal: a restart would then repeat a few more lines.
            self.log.warning("Could not record the log position on %s (%s)", self.pod_name, error)

    async def _follow_log(self) -> None:
        from aiohttp import SocketTimeoutError
        from kubernetes_asyncio.client.exceptions import ApiException

        while True:
            pod = self._pod
            if pod is None:
                return
            if not pod_status.container_started(pod, self.container):
                await asyncio.sleep(1)
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
                    # Not the client's default total timeout (60 s), which cuts every stream each minute.
                    _request_timeout=_log_stream_timeout(self.timing.log_quiet_seconds),
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
                        await self._checkpoint()
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
                self.log.warning("Driver log stream dropped (%s); reconnecting", _describe_error(error))
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
            self.log_lines += 1
            self.log.info("%s", line.text)

    def _event(self, status: str, message: str, **details: Any) -> dict[str, Any]:
        pod = self._pod
        started = pod is not None and pod_status.container_started(pod, self.container)
        return {"status": status, "message": message, "container_started": started, **details}


def _log_stream_timeout(quiet_seconds: float):
    from aiohttp import ClientTimeout

    return ClientTimeout(total=None, connect=60, sock_connect=60, sock_read=quiet_seconds)


def _describe_error(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _describe_position(position: LogPosition) -> str:
    stamp = datetime.fromtimestamp(position.timestamp_nanos / 1e9, tz=timezone.utc).isoformat(timespec="milliseconds")
    return f"lines up to {stamp}"


def _now() -> datetime:
    return datetime.now(timezone.utc)
