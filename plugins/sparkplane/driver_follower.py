"""The waiting: follow one driver pod and its log until the pod ends, fails hopelessly or times out.

Used by the trigger; kept apart so it can be driven directly against a real cluster. Two
coroutines share the pod's latest state: ``_watch_pod`` keeps it fresh with a watch that wakes
every ``progress_interval_seconds`` (to log progress and check timeouts) and resumes from the
last resourceVersion; ``_follow_log`` streams the driver container's log once it has started.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sparkplane.constants import POD_SUCCEEDED, POD_TERMINAL_PHASES
from sparkplane.log_position import LogDeduplicator, LogPosition, parse_log_line
from sparkplane.pod_diagnosis import describe_wait, explain_pod_failure

if TYPE_CHECKING:
    from kubernetes.client import V1Pod
    from kubernetes_asyncio.client import CoreV1Api

HTTP_GONE = 410
HTTP_NOT_FOUND = 404
#: Seconds between reconnect attempts after the API server dropped a watch or a log stream.
RECONNECT_DELAY_SECONDS = 2.0
#: Seconds to wait for the log stream to drain after the pod ended.
LOG_DRAIN_SECONDS = 30.0


@dataclass(frozen=True)
class FollowTimeouts:
    """How long each stage of a driver's life may take, in seconds; None means no limit.

    :param scheduling_seconds: from creation until a node is assigned.
    :param image_pull_seconds: from scheduling until the container was created (pulls happen here).
    :param start_seconds: from creation until the container runs, whatever it waited for.
    :param run_seconds: from the container's start until the pod ends.
    """

    scheduling_seconds: float | None = 600
    image_pull_seconds: float | None = 900
    start_seconds: float | None = 1800
    run_seconds: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        return asdict(self)


class DriverFollower:
    """Follow one driver pod; ``follow()`` returns the trigger's event.

    :param core_v1: an async CoreV1Api.
    :param namespace: the pod's namespace.
    :param pod_name: the pod's name.
    :param container: the container whose log is streamed.
    :param timeouts: the stage timeouts.
    :param log_position: where an earlier follower stopped passing on log lines.
    :param progress_interval_seconds: cadence of progress lines and timeout checks.
    :param log: where progress and the driver's log lines go (the task log, from a trigger).
    """

    def __init__(
        self,
        core_v1: CoreV1Api,
        *,
        namespace: str,
        pod_name: str,
        container: str,
        timeouts: FollowTimeouts,
        log_position: dict[str, int] | None,
        progress_interval_seconds: float,
        log: logging.Logger,
    ) -> None:
        self.core_v1 = core_v1
        self.namespace = namespace
        self.pod_name = pod_name
        self.container = container
        self.timeouts = timeouts
        self.progress_interval_seconds = progress_interval_seconds
        self.log = log
        self.deduplicator = LogDeduplicator(LogPosition.from_dict(log_position))
        self.log_lines = 0
        self.reconnects = 0
        self._pod: V1Pod | None = None

    async def follow(self) -> dict[str, Any]:
        self._pod = await self._read_pod()
        if self._pod is None:
            return self._event("error", f"driver pod {self.namespace}/{self.pod_name} does not exist")
        log_task = asyncio.create_task(self._follow_log())
        try:
            event = await self._watch_pod()
            if event["status"] in ("success", "failed") and not log_task.done():
                try:
                    await asyncio.wait_for(asyncio.shield(log_task), LOG_DRAIN_SECONDS)
                except asyncio.TimeoutError:
                    self.log.warning("The driver log did not end %ss after the pod did", LOG_DRAIN_SECONDS)
            return {**event, "log_position": self.deduplicator.position.to_dict(), "log_lines": self.log_lines,
                    "reconnects": self.reconnects}
        finally:
            if not log_task.done():
                log_task.cancel()
                await asyncio.gather(log_task, return_exceptions=True)

    # --- the pod ---------------------------------------------------------------------------

    async def _watch_pod(self) -> dict[str, Any]:
        from kubernetes_asyncio import watch
        from kubernetes_asyncio.client.exceptions import ApiException

        resource_version = self._pod.metadata.resource_version
        while True:
            verdict = await self._judge()
            if verdict is not None:
                return verdict
            try:
                async with watch.Watch() as pod_watch:
                    async for change in pod_watch.stream(
                        self.core_v1.list_namespaced_pod,
                        namespace=self.namespace,
                        field_selector=f"metadata.name={self.pod_name}",
                        resource_version=resource_version,
                        allow_watch_bookmarks=True,
                        timeout_seconds=max(1, int(self.progress_interval_seconds)),
                    ):
                        if change["type"] == "DELETED":
                            return self._event("error", f"driver pod {self.namespace}/{self.pod_name} was deleted "
                                               "before it finished (by a person, a cleanup job or node eviction)")
                        if change["type"] != "BOOKMARK":
                            self._pod = change["object"]
                        resource_version = pod_watch.resource_version or resource_version
                        if await self._judge(progress=False) is not None:
                            break
            except ApiException as error:
                if error.status != HTTP_GONE:
                    raise
                # The resourceVersion is older than the API server keeps: read the pod afresh.
                self.log.info("Watch of %s expired (410 Gone); reading the pod again", self.pod_name)
                resource_version = await self._refresh_pod()
            except (OSError, asyncio.TimeoutError) as error:
                self.reconnects += 1
                self.log.warning("Watch of %s dropped (%s); reconnecting", self.pod_name, error)
                await asyncio.sleep(RECONNECT_DELAY_SECONDS)
                resource_version = await self._refresh_pod()
            if self._pod is None:
                return self._event("error", f"driver pod {self.namespace}/{self.pod_name} disappeared")

    async def _refresh_pod(self) -> str | None:
        self._pod = await self._read_pod()
        return self._pod.metadata.resource_version if self._pod else None

    async def _judge(self, *, progress: bool = True) -> dict[str, Any] | None:
        """Return the final event if the pod's state decides the outcome, else None."""
        pod = self._pod
        phase = pod.status.phase if pod.status else None
        if phase in POD_TERMINAL_PHASES:
            return self._event("success" if phase == POD_SUCCEEDED else "failed", f"driver pod {phase}", phase=phase)
        failure = explain_pod_failure(pod, await self._events() if _looks_stuck(pod) else [])
        if failure is not None:
            return self._event("failed", failure.cause, phase=phase, cause=failure.cause, fix=failure.fix)
        timeout = self._timed_out(pod)
        if timeout is not None:
            return self._event("timeout", timeout, phase=phase)
        if progress and not _container_started(pod, self.container):
            self.log.info("%s", describe_wait(pod, await self._events(), now=_now()))
        return None

    def _timed_out(self, pod: V1Pod) -> str | None:
        now = _now()
        created = pod.metadata.creation_timestamp
        scheduled_at = _condition_time(pod, "PodScheduled")
        started_at = _container_started_at(pod, self.container)
        limits = self.timeouts
        if not pod.spec.node_name and _exceeds(now, created, limits.scheduling_seconds):
            return f"driver pod not scheduled within {limits.scheduling_seconds:.0f}s (scheduling timeout)"
        if started_at is None and scheduled_at and _waiting_reason(pod) == "ContainerCreating" and _exceeds(
            now, scheduled_at, limits.image_pull_seconds
        ):
            return f"driver container not created within {limits.image_pull_seconds:.0f}s of scheduling (image pull timeout)"
        if started_at is None and _exceeds(now, created, limits.start_seconds):
            return f"driver container not running within {limits.start_seconds:.0f}s (start timeout)"
        if started_at is not None and _exceeds(now, started_at, limits.run_seconds):
            return f"driver still running after {limits.run_seconds:.0f}s (run timeout)"
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

    async def _follow_log(self) -> None:
        from kubernetes_asyncio.client.exceptions import ApiException

        while True:
            pod = self._pod
            if pod is None:
                return
            if not _container_started(pod, self.container):
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
                )
                async for raw in response.content:
                    self._pass_on(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
            except (ApiException, OSError, asyncio.TimeoutError) as error:
                self.reconnects += 1
                self.log.warning("Driver log stream dropped (%s); reconnecting", error)
                await asyncio.sleep(RECONNECT_DELAY_SECONDS)
                continue
            # The stream ended: the container stopped, or the server closed it early.
            latest = await self._read_pod()
            if latest is None or _container_terminated(latest, self.container):
                return
            self.reconnects += 1
            await asyncio.sleep(RECONNECT_DELAY_SECONDS)

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
        started = pod is not None and _container_started(pod, self.container)
        return {"status": status, "message": message, "container_started": started, **details}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _exceeds(now: datetime, since: datetime | None, limit_seconds: float | None) -> bool:
    return since is not None and limit_seconds is not None and (now - since).total_seconds() > limit_seconds


def _statuses(pod: V1Pod) -> list[Any]:
    return (pod.status.container_statuses or []) if pod.status else []


def _status_of(pod: V1Pod, container: str) -> Any:
    return next((s for s in _statuses(pod) if s.name == container), None)


def _container_started(pod: V1Pod, container: str) -> bool:
    status = _status_of(pod, container)
    return bool(status and status.state and (status.state.running or status.state.terminated))


def _container_terminated(pod: V1Pod, container: str) -> bool:
    status = _status_of(pod, container)
    return bool(status and status.state and status.state.terminated)


def _container_started_at(pod: V1Pod, container: str) -> datetime | None:
    status = _status_of(pod, container)
    if not status or not status.state:
        return None
    if status.state.running:
        return status.state.running.started_at
    if status.state.terminated:
        return status.state.terminated.started_at
    return None


def _waiting_reason(pod: V1Pod) -> str | None:
    return next((s.state.waiting.reason for s in _statuses(pod) if s.state and s.state.waiting), None)


def _condition_time(pod: V1Pod, condition_type: str) -> datetime | None:
    conditions = (pod.status.conditions or []) if pod.status else []
    return next((c.last_transition_time for c in conditions if c.type == condition_type and c.status == "True"), None)


def _looks_stuck(pod: V1Pod) -> bool:
    return not pod.spec.node_name
