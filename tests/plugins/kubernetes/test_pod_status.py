"""Stage durations of a driver pod, from the timestamps Kubernetes records."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from kubernetes import client

from sparkplane.pod_timeline import image_pull_seconds, stage_seconds

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)


def _pod(*, scheduled: float | None, started: float | None = None, finished: float | None = None) -> client.V1Pod:
    conditions = [client.V1PodCondition(type="PodScheduled", status="True", last_transition_time=T0 + timedelta(seconds=scheduled))] if scheduled is not None else []
    state = client.V1ContainerState()
    if finished is not None:
        state.terminated = client.V1ContainerStateTerminated(
            exit_code=0, started_at=T0 + timedelta(seconds=started), finished_at=T0 + timedelta(seconds=finished)
        )
    elif started is not None:
        state.running = client.V1ContainerStateRunning(started_at=T0 + timedelta(seconds=started))
    statuses = [client.V1ContainerStatus(name="driver", image="i", image_id="", ready=False, restart_count=0, state=state)]
    return client.V1Pod(
        metadata=client.V1ObjectMeta(creation_timestamp=T0),
        status=client.V1PodStatus(conditions=conditions, container_statuses=statuses),
    )


def test_a_finished_pod_has_every_stage():
    assert stage_seconds(_pod(scheduled=2, started=14.5, finished=74.5), "driver") == {
        "queued": 2.0, "starting": 12.5, "running": 60.0,
    }


def test_a_stage_not_reached_is_none():
    assert stage_seconds(_pod(scheduled=None), "driver") == {"queued": None, "starting": None, "running": None}
    assert stage_seconds(_pod(scheduled=1, started=3), "driver") == {"queued": 1.0, "starting": 2.0, "running": None}


def _pulled(message: str) -> client.CoreV1Event:
    return client.CoreV1Event(metadata=client.V1ObjectMeta(name="e"), involved_object=client.V1ObjectReference(),
                              reason="Pulled", message=message)


def test_pull_time_is_read_from_the_kubelets_event():
    event = _pulled('Successfully pulled image "127.0.0.1:5000/sparkplane/spark@sha256:ab" in 1m2.5s '
                    "(1m2.5s including waiting). Image size: 1484148106 bytes.")
    assert image_pull_seconds([event]) == 62.5
    assert image_pull_seconds([_pulled('Successfully pulled image "x:1" in 523ms (523ms including waiting)')]) == 0.523


def test_an_image_already_on_the_node_took_no_pull_and_no_event_means_unknown():
    assert image_pull_seconds([_pulled('Container image "x:1" already present on machine')]) == 0.0
    assert image_pull_seconds([]) is None
