"""Reading a pod's status: stage durations, container states and times, as Kubernetes records them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from harness.pod_models import container_status, event, running, terminated, waiting
from harness.pod_models import pod as new_pod
from harness.pod_models import scheduled as scheduled_at
from kubernetes import client

from sparkplane.kubernetes.pod_status import (
    container_started,
    container_statuses,
    container_terminated,
    describe_stages,
    ended_at,
    exit_code,
    first_waiting,
    image_pull_seconds,
    phase,
    pod_conditions,
    stage_seconds,
    waiting_reason,
)

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)


def _pod(*, scheduled: float | None, started: float | None = None, finished: float | None = None) -> client.V1Pod:
    conditions = [scheduled_at(T0 + timedelta(seconds=scheduled))] if scheduled is not None else []
    state = client.V1ContainerState()
    if finished is not None:
        state = terminated(0, started_at=T0 + timedelta(seconds=started), finished_at=T0 + timedelta(seconds=finished))
    elif started is not None:
        state = running(T0 + timedelta(seconds=started))
    return new_pod(name=None, created=T0, conditions=conditions, containers={"driver": state})


def test_a_finished_pod_has_every_stage():
    assert stage_seconds(_pod(scheduled=2, started=14.5, finished=74.5), "driver") == {
        "queued": 2.0, "starting": 12.5, "running": 60.0,
    }


def test_a_stage_not_reached_is_none():
    assert stage_seconds(_pod(scheduled=None), "driver") == {"queued": None, "starting": None, "running": None}
    assert stage_seconds(_pod(scheduled=1, started=3), "driver") == {"queued": 1.0, "starting": 2.0, "running": None}


def _pulled(message: str) -> client.CoreV1Event:
    return event("Pulled", message)


def test_pull_time_is_read_from_the_kubelets_event():
    event = _pulled('Successfully pulled image "127.0.0.1:5000/sparkplane/spark@sha256:ab" in 1m2.5s '
                    "(1m2.5s including waiting). Image size: 1484148106 bytes.")
    assert image_pull_seconds([event]) == 62.5
    assert image_pull_seconds([_pulled('Successfully pulled image "x:1" in 523ms (523ms including waiting)')]) == 0.523


def test_an_image_already_on_the_node_took_no_pull_and_no_event_means_unknown():
    assert image_pull_seconds([_pulled('Container image "x:1" already present on machine')]) == 0.0
    assert image_pull_seconds([]) is None


def test_a_pod_the_api_has_not_given_a_status_yet_reads_as_nothing_happened():
    pod = new_pod("new", created=T0, with_status=False)
    assert phase(pod) is None
    assert container_statuses(pod, init=True) == [] and pod_conditions(pod) == []
    assert not container_started(pod, "driver") and exit_code(pod, "driver") is None
    assert waiting_reason(pod) is None and first_waiting(pod) is None
    assert ended_at(pod, "driver") == T0


def test_exit_code_is_known_only_once_the_container_ended():
    assert exit_code(_pod(scheduled=1, started=3), "driver") is None
    assert exit_code(_pod(scheduled=1, started=3, finished=9), "driver") == 0
    assert container_terminated(_pod(scheduled=1, started=3, finished=9), "driver")


def test_a_waiting_init_container_counts_as_the_first_waiting_one():
    init = container_status("init", waiting("PodInitializing"))
    pod = _pod(scheduled=1)
    pod.status.init_container_statuses = [init]
    assert first_waiting(pod).name == "init"
    assert waiting_reason(pod) is None  # the stage timeouts look at the Spark container only


def test_a_driver_ended_when_its_container_did_else_at_its_last_change():
    assert ended_at(_pod(scheduled=1, started=3, finished=9), "driver") == T0 + timedelta(seconds=9)
    assert ended_at(_pod(scheduled=1, started=3, finished=9), "other") == T0 + timedelta(seconds=9)
    assert ended_at(_pod(scheduled=5), "driver") == T0 + timedelta(seconds=5)


def test_stage_seconds_are_said_in_words():
    said = describe_stages({"queued": 0.2, "starting": 51.0, "running": 3.4, "pulling": 49.61})
    assert said == "queued 0 s, starting 51 s (pulling 49.6 s), running 3 s"
    assert describe_stages({"queued": 1.0, "starting": 2.0, "running": None, "pulling": 0}) == (
        "queued 1 s, starting 2 s")
    assert describe_stages(None) == "stages unknown"
