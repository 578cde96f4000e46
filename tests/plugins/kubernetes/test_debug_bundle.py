"""The debug bundle's texts, from the API's model objects, and where it goes beside the task's log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import yaml
from harness.pod_models import CREATED, DRIVER, event, pod, terminated
from kubernetes.client import V1ManagedFieldsEntry, V1Node, V1NodeCondition, V1NodeSpec, V1NodeStatus, V1ObjectMeta

from sparkplane.diagnosis import Diagnosis
from sparkplane.kubernetes.debug_bundle import debug_folder_beside, render_log_path, unread_cluster, write_bundle
from sparkplane.kubernetes.debug_bundle_files import (
    DRIVER_POD_FILE,
    EXECUTORS_FILE,
    NODES_FILE,
    PREFLIGHT_FILE,
    SUMMARY_FILE,
    ClusterReading,
    ExecutorReading,
    PreflightReading,
    Unreadable,
    bundle_files,
    describe_container,
    driver_pod_text,
    events_text,
    executors_text,
    node_names,
    nodes_text,
    preflight_text,
)
from sparkplane.kubernetes.identity import EXECUTOR_CONTAINER_NAME

#: Airflow's default ``[logging] log_filename_template``.
DEFAULT_TEMPLATE = (
    "dag_id={{ ti.dag_id }}/run_id={{ ti.run_id }}/task_id={{ ti.task_id }}/"
    "{% if ti.map_index >= 0 %}map_index={{ ti.map_index }}/{% endif %}attempt={{ try_number|default(ti.try_number) }}.log"
)
EVENT = {"status": "failed", "message": "driver failed", "pod_name": "report-driver", "namespace": "spark"}
DIAGNOSIS = Diagnosis(cause="report.py raised ValueError: bad row", fix="Fix the input.")


@dataclass
class _TaskInstance:
    dag_id: str = "daily_sales"
    run_id: str = "scheduled__2026-12-01T00:00:00+00:00"
    task_id: str = "report"
    map_index: int = -1
    try_number: int = 2


def _driver(**kwargs):
    return pod("report-driver", namespace="spark", node="node-1", phase="Failed",
               containers={DRIVER: terminated(1, reason="Error")}, labels={"spark-app-selector": "spark-1"}, **kwargs)  # fmt: skip


def _executor(name: str, node: str, exit_code: int, reason: str):
    return pod(name, namespace="spark", node=node, phase="Failed",
               containers={EXECUTOR_CONTAINER_NAME: terminated(exit_code, reason=reason)})  # fmt: skip


def _node(name: str, *, ready: str = "True", cordoned: bool = False) -> V1Node:
    return V1Node(metadata=V1ObjectMeta(name=name), spec=V1NodeSpec(unschedulable=cordoned or None),
                  status=V1NodeStatus(conditions=[
                      V1NodeCondition(type="Ready", status=ready, reason="KubeletReady", message="kubelet is ready",
                                      last_transition_time=CREATED),
                      V1NodeCondition(type="MemoryPressure", status="False", last_transition_time=CREATED)]))  # fmt: skip


def test_the_log_folder_is_rendered_as_airflow_names_the_try_s_log_file():
    assert render_log_path(DEFAULT_TEMPLATE, _TaskInstance()) == (
        "dag_id=daily_sales/run_id=scheduled__2026-12-01T00:00:00+00:00/task_id=report/attempt=2.log")
    assert "/map_index=3/attempt=2.log" in render_log_path(DEFAULT_TEMPLATE, _TaskInstance(map_index=3))


def test_the_bundle_folder_sits_beside_the_log_file():
    assert debug_folder_beside(Path("/logs/dag_id=d/attempt=2.log")) == Path("/logs/dag_id=d/attempt=2.debug")
    assert debug_folder_beside(Path("/logs/d/2.txt")) == Path("/logs/d/2.txt.debug")


def test_the_driver_manifest_keeps_its_status_and_drops_managed_fields():
    driver = _driver()
    driver.metadata.managed_fields = [V1ManagedFieldsEntry(manager="kubelet", operation="Update")]
    manifest = yaml.safe_load(driver_pod_text(driver))
    assert "managedFields" not in manifest["metadata"]
    assert manifest["status"]["phase"] == "Failed"
    assert manifest["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1


def test_events_are_one_line_each_with_time_reason_and_message():
    text = events_text([event("BackOff", "Back-off restarting failed container", about="report-driver", at=CREATED)])
    assert text == "2026-11-25T03:00:00Z - BackOff [unknown]: Back-off restarting failed container\n"
    assert events_text([]).startswith("No events")


def test_executors_show_how_each_container_ended_and_its_last_lines():
    executors = [ExecutorReading(_executor("exec-1", "node-2", 137, "OOMKilled"), ["line 1", "Killed"]),
                 ExecutorReading(_executor("exec-2", "node-2", 1, "Error"), Unreadable("the log of exec-2", "Forbidden"))]  # fmt: skip
    text = executors_text(executors)
    assert "exec-1 on node node-2: phase Failed\n  container spark-kubernetes-executor: exit code 137 (OOMKilled)" in text
    assert "  Last 2 lines of its log:\n    line 1\n    Killed" in text
    assert "  Not read: the log of exec-2: Forbidden" in text
    assert executors_text([]).startswith("No executor pod of the application exists")


def test_a_container_s_message_and_restarts_are_kept():
    status = _executor("exec-1", "node-2", 52, "Error").status.container_statuses[0]
    status.restart_count, status.state.terminated.message = 2, "  ExecutorLostFailure\n"
    assert describe_container(status) == (
        "container spark-kubernetes-executor: exit code 52 (Error), restarted 2 times: ExecutorLostFailure")


def test_nodes_list_their_conditions_and_which_pods_ran_there():
    driver = _driver()
    executors = [ExecutorReading(_executor("exec-1", "node-2", 137, "OOMKilled"), [])]
    assert node_names(driver, executors) == ["node-1", "node-2"]
    text = nodes_text({"node-1": _node("node-1"), "node-2": Unreadable("node node-2", "it does not exist (any more)")},
                      driver, executors)  # fmt: skip
    assert "Node node-1 (ran driver report-driver)\n  Ready=True since 2026-11-25T03:00:00Z (KubeletReady): kubelet is ready" in text
    assert "  MemoryPressure=False since" in text
    assert "Node node-2 (ran executor exec-1)\n  Not read: node node-2: it does not exist (any more)" in text
    assert "cordoned" in nodes_text({"node-1": _node("node-1", cordoned=True)}, driver, [])


def test_a_driver_never_scheduled_has_no_node_to_show():
    assert nodes_text({}, pod("report-driver", phase="Pending"), []).startswith("No node: the driver was never scheduled")


def test_the_preflight_says_it_passed_before_the_driver_and_what_it_says_now():
    checked = PreflightReading(enabled=True, checked_at=CREATED + timedelta(hours=1),
                               lines=("Preflight: spark/spark-sa has the driver's 12 rights", "Fails now: Image x",
                                      "Fix: build it"))  # fmt: skip
    text = preflight_text(checked)
    assert "a failed check creates none: it passed for this driver" in text
    assert "Checked again at failure time, 2026-11-25T04:00:00Z" in text
    assert "  Fails now: Image x\n  Fix: build it\n" in text
    assert preflight_text(PreflightReading(enabled=False)).startswith("The task runs without the preflight")


def test_the_summary_names_the_failure_the_files_and_every_gap():
    reading = ClusterReading(driver=_driver(), events=Unreadable("the events of pod spark/report-driver", "Forbidden"),
                             executors=[], nodes={"node-1": _node("node-1")}, preflight=PreflightReading(enabled=False))  # fmt: skip
    files = bundle_files(reading, event=EVENT, diagnosis=DIAGNOSIS, written_at=CREATED)
    assert set(files) == {SUMMARY_FILE, DRIVER_POD_FILE, "driver-events.txt", EXECUTORS_FILE, NODES_FILE, PREFLIGHT_FILE}
    summary = files[SUMMARY_FILE]
    assert summary.startswith("Debug bundle of driver pod spark/report-driver, written 2026-11-25T03:00:00Z.\n"
                              "Ended: failed (driver failed)\nCause: report.py raised ValueError: bad row\nFix: Fix the input.\n")  # fmt: skip
    assert summary.endswith("Could not be read:\n  Not read: the events of pod spark/report-driver: Forbidden\n")


def test_a_cluster_not_asked_says_so_in_every_part():
    reading = unread_cluster("the API did not answer", namespace="spark", driver_name="report-driver", preflight=True)
    files = bundle_files(reading, event=EVENT, diagnosis=DIAGNOSIS, written_at=CREATED)
    assert files[DRIVER_POD_FILE] == "Not read: driver pod spark/report-driver: the API did not answer\n"
    assert files[EXECUTORS_FILE] == "Not read: the executor pods: the API did not answer\n"
    assert files[NODES_FILE].startswith("No node is known")
    assert "Not run again at failure time." in files[PREFLIGHT_FILE]


def test_written_files_are_masked_as_the_task_log_is(tmp_path):
    from airflow.sdk.log import mask_secret

    secret = "bundle-unit-secret-7c1e9a"
    mask_secret(secret)
    folder = write_bundle(tmp_path / "attempt=1.debug", {"a.txt": f"token={secret}\n"})
    assert (folder / "a.txt").read_text() == "token=***\n"
