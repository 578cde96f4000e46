"""Kubernetes model objects for the unit tests of pure functions: pods, container states, events.

Real ``kubernetes.client`` models, as the API client returns them, built in one line each; a
test names only what it is about and gets the rest filled in the way the API server fills it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

from kubernetes.client import (
    CoreV1Event,
    V1ConfigMap,
    V1ContainerState,
    V1ContainerStateRunning,
    V1ContainerStateTerminated,
    V1ContainerStateWaiting,
    V1ContainerStatus,
    V1ObjectMeta,
    V1ObjectReference,
    V1Pod,
    V1PodCondition,
    V1PodSpec,
    V1PodStatus,
)

#: When the pods of a test were created, unless it says otherwise.
CREATED = datetime(2026, 11, 25, 3, 0, 0, tzinfo=timezone.utc)
#: The name of the Spark container of a driver pod the platform creates.
DRIVER = "spark-kubernetes-driver"


def pod(
    name: str = "driver",
    *,
    namespace: str | None = None,
    created: datetime | None = CREATED,
    node: str | None = None,
    phase: str | None = None,
    containers: Mapping[str, V1ContainerState | None] | None = None,
    image: str = "i",
    conditions: list[V1PodCondition] | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    deleted_at: datetime | None = None,
    with_status: bool = True,
) -> V1Pod:
    """Return a pod; ``containers`` maps each container's name to its state (None: no state yet)."""
    statuses = [container_status(name_, state, image=image) for name_, state in (containers or {}).items()] or None
    return V1Pod(
        metadata=V1ObjectMeta(
            name=name, namespace=namespace, creation_timestamp=created, deletion_timestamp=deleted_at,
            labels=dict(labels) if labels is not None else None,
            annotations=dict(annotations) if annotations is not None else None,
        ),  # fmt: skip
        spec=V1PodSpec(containers=[], node_name=node),
        status=V1PodStatus(phase=phase, conditions=conditions, container_statuses=statuses) if with_status else None,
    )


def container_status(name: str, state: V1ContainerState | None, *, image: str = "i") -> V1ContainerStatus:
    """Return a container's status in ``state``."""
    return V1ContainerStatus(name=name, image=image, image_id="", ready=False, restart_count=0, state=state)


def waiting(reason: str, message: str | None = None) -> V1ContainerState:
    """Return the state of a container that waits (ContainerCreating, ErrImagePull, ...)."""
    return V1ContainerState(waiting=V1ContainerStateWaiting(reason=reason, message=message))


def running(started_at: datetime) -> V1ContainerState:
    """Return the state of a container running since ``started_at``."""
    return V1ContainerState(running=V1ContainerStateRunning(started_at=started_at))


def terminated(
    exit_code: int, *, reason: str | None = None, started_at: datetime | None = None, finished_at: datetime | None = None
) -> V1ContainerState:
    """Return the state of a container that ended."""
    return V1ContainerState(terminated=V1ContainerStateTerminated(
        exit_code=exit_code, reason=reason, started_at=started_at, finished_at=finished_at,
    ))  # fmt: skip


def scheduled(at: datetime) -> V1PodCondition:
    """Return the condition of a pod the scheduler bound to a node at ``at``."""
    return V1PodCondition(type="PodScheduled", status="True", last_transition_time=at)


def event(reason: str, message: str, *, about: str = "driver", at: datetime | None = None) -> CoreV1Event:
    """Return an event about the pod named ``about``."""
    return CoreV1Event(
        metadata=V1ObjectMeta(name=f"{about}.{reason}"),
        involved_object=V1ObjectReference(kind="Pod", name=about),
        reason=reason, message=message, last_timestamp=at,
    )  # fmt: skip


class RecordingHook:
    """The calls a sweep makes of ``SparkKubernetesHook``, answered from ``pods`` and ``config_maps``;
    it records the selectors asked and the objects deleted, and refuses those named in ``changed``
    (a pod with ``PodChanged``, a ConfigMap by answering that it was gone)."""

    def __init__(self, pods: list[V1Pod], config_maps: list[V1ConfigMap] = ()):
        self.pods = pods
        self.config_maps = list(config_maps)
        self.deleted: list[tuple[str, str]] = []
        self.selectors: list[tuple[str, str]] = []
        self.changed: set[str] = set()

    def list_config_maps(self, namespace: str, label_selector: str) -> list[V1ConfigMap]:
        self.selectors.append((namespace, label_selector))
        return self.config_maps

    def delete_config_map(self, name: str, namespace: str, *, uid: str) -> bool:
        if name in self.changed:
            return False
        self.deleted.append((namespace, name))
        return True

    def list_pods(self, namespace: str, label_selector: str) -> list[V1Pod]:
        self.selectors.append((namespace, label_selector))
        return self.pods

    def delete_pod(self, name: str, namespace: str, *, uid: str | None = None, resource_version: str | None = None) -> bool:
        from sparkplane.exceptions import PodChanged

        if name in self.changed:
            raise PodChanged(name, namespace)
        self.deleted.append((namespace, name))
        return True
