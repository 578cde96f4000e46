"""A Spark job on Kubernetes survives the death or restart of what follows it.

A deferred job that outlives the task's execution_timeout is stopped, not left running.

Real Airflow runs here as a deployment does (API server, scheduler with the LocalExecutor, DAG
processor, triggerer; tests/harness/airflow.py), against the real local cluster, as the
platform's least-privilege identity. Each case interrupts a run of the smoke-test job while its
driver prints 60 numbered lines, then checks that the task still succeeds, that exactly one
driver was ever created, and that the task log has each numbered line exactly once.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable, Iterator

import pytest
from harness.airflow import AirflowServices
from harness.cluster import restart_apiserver
from harness.platform import platform_airflow, wait_for_no_job_pods
from harness.pods import PodWatch, read_pod_log
from harness.waits import wait_for
from kubernetes import client
from sparkplane.kubernetes.identity import DRIVER_CONTAINER_NAME, SPARK_NAMESPACE

#: Real Spark jobs, five minutes together: ``make faults`` runs them; ``make test`` runs the same
#: faults with simulated drivers (tests/kubernetes/test_faults.py).
pytestmark = [pytest.mark.cluster, pytest.mark.long]

TASK_ID = "run"
LINES = 60  # tests/data/dags/operator_recovery.py
RUN_TIMEOUT_SECONDS = 600


@pytest.fixture(scope="module")
def airflow(local_cluster, spark_image, airflow_connection, tmp_path_factory) -> Iterator[AirflowServices]:
    with platform_airflow(tmp_path_factory.mktemp("recovery"), "operator_recovery.py", connection=airflow_connection,
                          image=spark_image) as services:  # fmt: skip
        yield services


class DriverCreations(PodWatch):
    """Every driver pod of one DAG that the API server creates while the block runs."""

    def __init__(self, local_cluster, dag_id: str) -> None:
        selector = f"app.kubernetes.io/managed-by=sparkplane,sparkplane.dev/dag-id={dag_id},spark-role=driver"
        super().__init__(client.CoreV1Api(local_cluster.api_client()), SPARK_NAMESPACE, selector)

    @property
    def names(self) -> dict[str, str]:
        return {uid: pod.metadata.name for uid, pod in self.created.items()}

    def running_driver(self) -> client.V1Pod | None:
        pods = self.core.list_namespaced_pod(SPARK_NAMESPACE, label_selector=self.selector).items
        return next((p for p in pods if p.status.phase == "Running"), None)

    def driver_has_printed(self, line: int) -> bool:
        driver = self.running_driver()
        if driver is None:
            return False
        log = read_pod_log(self.core, SPARK_NAMESPACE, driver.metadata.name, container=DRIVER_CONTAINER_NAME)
        return f"smoke line {line} of {LINES}" in log


def numbered_lines(log: str) -> list[int]:
    return [int(n) for n in re.findall(rf"smoke line (\d+) of {LINES}\b", log)]


def test_killed_task_process_is_retried_and_the_retry_follows_the_running_driver(local_cluster, airflow):
    dag_id = "operator_recovery_worker_killed"
    with DriverCreations(local_cluster, dag_id) as created:
        run_id = airflow.trigger(dag_id)
        wait_for(lambda: created.driver_has_printed(5), bool, timeout_seconds=RUN_TIMEOUT_SECONDS, interval_seconds=1,
                 what="the driver to print its fifth line", on_timeout=airflow.component_logs)
        ti = airflow.task_instance(dag_id, run_id, TASK_ID)
        assert ti["state"] == "running" and ti["try_number"] == 1 and ti["pid"], ti
        os.kill(ti["pid"], signal.SIGKILL)  # as the OOM killer or a lost node would: no on_kill
        state = airflow.wait_for_run(dag_id, run_id, timeout_seconds=RUN_TIMEOUT_SECONDS)
    retry_log = airflow.task_log(dag_id, run_id, TASK_ID, 2)
    assert state == "success", retry_log[-5000:]
    assert airflow.task_instance(dag_id, run_id, TASK_ID)["try_number"] == 2
    assert len(created.names) == 1, f"more than one driver was created: {sorted(created.names.values())}"
    assert re.search(r"Driver pod spark/\S+-1-driver \(Running\) of try 1 of this task exists; following it", retry_log)
    assert "Created driver pod" not in retry_log
    # The retry's own log has the whole driver log, each line once.
    assert numbered_lines(retry_log) == list(range(1, LINES + 1))
    wait_for_no_job_pods(local_cluster, dag_id)


def interrupt_deferred_run(airflow, local_cluster, dag_id: str, interrupt: Callable[[], None]) -> tuple[str, str, int]:
    """Run ``dag_id``, call ``interrupt`` once the task log streams; return state, log, drivers created."""
    with DriverCreations(local_cluster, dag_id) as created:
        run_id = airflow.trigger(dag_id)
        wait_for(lambda: numbered_lines(airflow.task_log(dag_id, run_id, TASK_ID, 1)), bool,
                 timeout_seconds=RUN_TIMEOUT_SECONDS, interval_seconds=1, what="the first numbered line in the task log",
                 on_timeout=airflow.component_logs)
        assert airflow.task_instance(dag_id, run_id, TASK_ID)["state"] == "deferred"
        interrupt()
        state = airflow.wait_for_run(dag_id, run_id, timeout_seconds=RUN_TIMEOUT_SECONDS)
    return state, airflow.task_log(dag_id, run_id, TASK_ID, 1), len(created.names)


def test_triggerer_restarted_mid_job_continues_the_log_without_repeating_a_line(local_cluster, airflow):
    def restart_triggerer() -> None:
        airflow.stop("triggerer")  # SIGTERM: how a deployment restarts it
        airflow.start("triggerer")

    dag_id = "operator_recovery_triggerer_restart"
    state, log, drivers = interrupt_deferred_run(airflow, local_cluster, dag_id, restart_triggerer)
    assert state == "success", log[-5000:]
    assert drivers == 1
    assert "Continuing the driver log after the lines up to" in log
    assert numbered_lines(log) == list(range(1, LINES + 1)), "lines were lost or repeated across the restart"
    wait_for_no_job_pods(local_cluster, dag_id)


def test_api_server_restarted_mid_job_the_trigger_reconnects_and_loses_no_line(local_cluster, airflow):
    dag_id = "operator_recovery_apiserver_restart"
    state, log, drivers = interrupt_deferred_run(airflow, local_cluster, dag_id, lambda: restart_apiserver(local_cluster))
    assert state == "success", log[-5000:]
    assert drivers == 1
    assert re.search(r"(Driver log stream|Watch of driver pod \S+) dropped", log), "the restart was not noticed"
    assert numbered_lines(log) == list(range(1, LINES + 1)), "lines were lost or repeated across the reconnect"
    wait_for_no_job_pods(local_cluster, dag_id)


def test_deferred_job_past_its_execution_timeout_fails_and_leaves_nothing_running(local_cluster, airflow):
    dag_id = "operator_recovery_execution_timeout"  # holds its executors 10 minutes; the task allows 60 s
    with DriverCreations(local_cluster, dag_id) as created:
        run_id = airflow.trigger(dag_id)
        state = airflow.wait_for_run(dag_id, run_id, timeout_seconds=RUN_TIMEOUT_SECONDS)
    log = airflow.task_log(dag_id, run_id, TASK_ID, 1)
    assert state == "failed", log[-5000:]
    assert len(created.names) == 1
    assert "Deferral ended without a result: deleting driver pod" in log
    wait_for_no_job_pods(local_cluster, dag_id)
