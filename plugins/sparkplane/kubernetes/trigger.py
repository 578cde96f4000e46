"""Follow a Spark driver pod from the triggerer until it ends, streaming its log into the task log.

The trigger follows the pod and its log through ``DriverFollower`` and yields exactly one event:
``status`` is ``success``, ``failed``, ``timeout`` or ``error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from sparkplane.kubernetes.api_errors import HTTP_NOT_FOUND, use_tcp_keepalive
from sparkplane.kubernetes.follower import DriverFollower
from sparkplane.kubernetes.follower_timing import FollowerTiming
from sparkplane.kubernetes.identity import DRIVER_CONTAINER_NAME
from sparkplane.kubernetes.stage_timeouts import FollowTimeouts

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient, CoreV1Api


class SparkDriverTrigger(BaseTrigger):
    """Wait for a Spark driver pod to finish.

    The trigger watches the one pod (a watch, not a poll loop), resuming from the last
    resourceVersion after the server closes the watch, relisting after ``410 Gone``, and
    reconnecting after dropped connections or an API server restart. The driver's log is followed
    with kubelet timestamps, so reconnecting neither repeats nor drops a line. Every call has a
    connect and a read timeout and the client's connections use TCP keepalive (``FollowerTiming``),
    so an API server gone silent is reconnected to, not waited on for ever. It yields exactly one
    event: ``status`` is ``success``, ``failed``, ``timeout`` or ``error``.

    One API client serves the whole follow; its credentials are read when it is built. When the
    API answers 401 (a short-lived token, an exec plugin's on EKS or GKE, has expired), the
    follower asks the trigger for a new client: built from the connection again (a new
    ``AsyncKubernetesHook``, so the kubeconfig, its token file or exec plugin are read anew),
    with TCP keepalive like the first. Every client built is closed when the follow ends.

    :param kubernetes_conn_id: the Airflow connection of the cluster.
    :param namespace: the driver pod's namespace.
    :param pod_name: the driver pod's name.
    :param timeouts: ``FollowTimeouts`` as a dict (seconds per stage; None means no limit).
    :param follower_key: the key of the task try this trigger follows the driver for; a restarted
        triggerer uses it to continue the log where the earlier one stopped.
    :param timing: ``FollowerTiming`` as a dict (how the follower paces itself); None for the defaults.
    """

    def __init__(
        self,
        *,
        kubernetes_conn_id: str,
        namespace: str,
        pod_name: str,
        timeouts: dict[str, float | None],
        follower_key: str | None = None,
        timing: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        self.kubernetes_conn_id = kubernetes_conn_id
        self.namespace = namespace
        self.pod_name = pod_name
        self.timeouts = timeouts
        self.follower_key = follower_key
        self.timing = timing

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "kubernetes_conn_id": self.kubernetes_conn_id,
                "namespace": self.namespace,
                "pod_name": self.pod_name,
                "timeouts": self.timeouts,
                "follower_key": self.follower_key,
                "timing": self.timing,
            },
        )

    @property
    def follower_timing(self) -> FollowerTiming:
        """The follower's pace: ``timing``, or production's."""
        return FollowerTiming(**(self.timing or {}))

    @contextlib.asynccontextmanager
    async def _api_client(self) -> AsyncIterator[ApiClient]:
        """Open the connection's API client, its connections with TCP keepalive."""
        from airflow.providers.cncf.kubernetes.hooks.kubernetes import AsyncKubernetesHook

        async with AsyncKubernetesHook(conn_id=self.kubernetes_conn_id).get_conn() as api_client:
            use_tcp_keepalive(api_client, self.follower_timing.keepalive_socket_options())
            yield api_client

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from kubernetes_asyncio.client import CoreV1Api

        started = time.monotonic()
        try:
            async with contextlib.AsyncExitStack() as clients:

                async def new_core_v1() -> CoreV1Api:
                    """Open a client of the connection, its credentials loaded anew; closed when the follow ends."""
                    return CoreV1Api(await clients.enter_async_context(self._api_client()))

                follower = DriverFollower(
                    await new_core_v1(),
                    namespace=self.namespace,
                    pod_name=self.pod_name,
                    container=DRIVER_CONTAINER_NAME,
                    timeouts=FollowTimeouts(**self.timeouts),
                    log=self.log,
                    timing=self.follower_timing,
                    follower_key=self.follower_key,
                    renew_client=new_core_v1,
                )
                event = await follower.follow()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the task must hear about anything that stopped the follower
            self.log.exception("Following driver pod %s/%s failed", self.namespace, self.pod_name)
            event = {"status": "error", "message": f"{type(error).__name__}: {error}"}
        event.update(
            namespace=self.namespace,
            pod_name=self.pod_name,
            followed_seconds=round(time.monotonic() - started, 3),
            finished_at=datetime.now(timezone.utc).isoformat(),
        )
        yield TriggerEvent(event)

    async def on_kill(self) -> None:
        """Delete the driver when a user marks the deferred task failed or success, or clears it.

        The triggerer calls this only for such user actions, never when it restarts or hands the
        trigger to another triggerer, so a job survives a triggerer restart. Executors, their
        ConfigMap and anything else the driver owns go with it (garbage collection).
        """
        from kubernetes_asyncio.client import CoreV1Api, V1DeleteOptions
        from kubernetes_asyncio.client.exceptions import ApiException

        self.log.info("Task stopped by a user: deleting driver pod %s/%s and its executors", self.namespace, self.pod_name)
        async with self._api_client() as api_client:
            try:
                await CoreV1Api(api_client).delete_namespaced_pod(
                    name=self.pod_name, namespace=self.namespace, body=V1DeleteOptions(propagation_policy="Background"),
                    _request_timeout=self.follower_timing.request_timeout(),
                )  # fmt: skip
            except ApiException as error:
                if error.status != HTTP_NOT_FOUND:
                    raise


def run_until_first_event(trigger: SparkDriverTrigger) -> dict[str, Any]:
    """Run the trigger in this process (the operator's non-deferrable mode) and return its event."""

    async def first() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise RuntimeError("the trigger ended without an event")

    return asyncio.run(first())
