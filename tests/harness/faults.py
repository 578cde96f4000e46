"""Faults production does to a running job, done for real to the platform under real Airflow.

``run_fault`` starts a run of DAG ``fault_<name>`` (tests/data/dags/operator_faults.py) on an
``AirflowServices`` deployment. Its driver runs on a simulated node: the harness writes the
driver's numbered log lines once the driver runs, does the fault once the task log streams, and
ends each driver as its kubelet would once every line is written. What happened is a
``FaultOutcome``: the quick fault tests assert on it, ``benchmarks/faults.py`` tabulates it over
several runs. One fault at a time: all simulated containers share one log file.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from sparkplane.kubernetes.identity import DRIVER_CONTAINER_NAME, SPARK_NAMESPACE, TRY_NUMBER_LABEL

from harness.airflow import AirflowServices
from harness.cluster import LocalCluster, restart_apiserver
from harness.platform import delete_job_pods
from harness.pods import PodWatch
from harness.simulated import append_log_line, mark_finished
from harness.waits import WaitTimeout, wait_for

TASK_ID = "run"
LINES = 40
LINE_INTERVAL_SECONDS = 0.25
#: The line after which the fault is done (the task log must show it first).
FAULT_AFTER_LINE = 8
RUN_TIMEOUT_SECONDS = 300
#: How long after the run ends the job's pods may take to go (the garbage collector included).
LEFTOVER_SECONDS = 60


@dataclass
class FaultOutcome:
    """What one run under a fault came to.

    :param state: the DAG run's end state.
    :param tries: the task's try number at the end.
    :param drivers_per_try: how many driver pods each try created.
    :param lines_missing: numbered lines the final try's task log lacks.
    :param lines_repeated: numbered lines the final try's task log has more than once.
    :param leftovers: the job's pods still there ``LEFTOVER_SECONDS`` after the run ended.
    :param detect_seconds: from the fault to the platform acting on it (see each fault).
    """

    fault: str
    state: str
    tries: int
    drivers_per_try: dict[int, int]
    lines_missing: int
    lines_repeated: int
    leftovers: list[str]
    detect_seconds: float | None
    final_log: str = field(repr=False, default="")


class _Driver:
    """The simulated driver of one run: writes its lines, ends every driver once they are all written."""

    def __init__(self, core: client.CoreV1Api, log_file: Path, dag_id: str, first_line_passed_on: Callable[[], bool]) -> None:
        self.core, self.log_file = core, log_file
        self.selector = f"sparkplane.dev/dag-id={dag_id},spark-role=driver"
        self.first_line_passed_on = first_line_passed_on
        self.finishing = True
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def drivers(self) -> list[client.V1Pod]:
        """The run's driver pods not being deleted (none while the API does not answer)."""
        try:
            pods = self.core.list_namespaced_pod(SPARK_NAMESPACE, label_selector=self.selector).items
        except (ApiException, urllib3.exceptions.HTTPError):  # some faults stop the API server
            return []
        return [pod for pod in pods if pod.metadata.deletion_timestamp is None]

    def _run(self) -> None:
        while not self._stop.is_set() and not any(p.status.phase == "Running" for p in self.drivers()):
            self._stop.wait(0.5)
        for number in range(1, LINES + 1):
            if self._stop.is_set():
                return
            append_log_line(self.log_file, f"fault line {number} of {LINES}")
            if number == 1:  # then at a steady pace: no backlog for the follower to catch up on
                while not self._stop.is_set() and not self.first_line_passed_on():
                    self._stop.wait(0.25)
            self._stop.wait(LINE_INTERVAL_SECONDS)
        while not self._stop.wait(1):
            if not self.finishing:
                continue
            for pod in self.drivers():
                if pod.status.phase == "Running" and _running_for(pod) > 3:
                    with contextlib.suppress(ApiException, urllib3.exceptions.HTTPError):  # tried again in a second
                        mark_finished(self.core, SPARK_NAMESPACE, pod.metadata.name, container=DRIVER_CONTAINER_NAME,
                                      phase="Succeeded", exit_code=0, reason="Completed",
                                      image=pod.spec.containers[0].image)  # fmt: skip

    def __enter__(self) -> _Driver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _running_for(pod: client.V1Pod) -> float:
    started = pod.status.start_time
    return time.time() - started.timestamp() if started else 0.0


def numbered_lines(log: str) -> list[int]:
    return [int(n) for n in re.findall(rf"fault line (\d+) of {LINES}\b", log)]


@dataclass(frozen=True)
class Expected:
    """The outcome a fault must come to.

    :param lines_checked: whether the final try's log must hold every line exactly once (up to
        ``repeated_at_most`` repeats); a run a user stopped has no complete log to check.
    """

    state: str
    tries: int
    drivers_per_try: dict[int, int]
    lines_checked: bool = True
    repeated_at_most: int = 0

    def problems(self, outcome: FaultOutcome) -> list[str]:
        """Return how ``outcome`` differs from what was expected (nothing when it is as expected)."""
        problems = [
            f"{what} {got!r}, expected {want!r}"
            for what, got, want in (("run state", outcome.state, self.state), ("tries", outcome.tries, self.tries),
                                    ("drivers per try", outcome.drivers_per_try, self.drivers_per_try))
            if got != want
        ]  # fmt: skip
        if self.lines_checked and outcome.lines_missing:
            problems.append(f"{outcome.lines_missing} lines missing from the final try's log")
        if self.lines_checked and outcome.lines_repeated > self.repeated_at_most:
            problems.append(f"{outcome.lines_repeated} lines repeated, at most {self.repeated_at_most} expected")
        if outcome.leftovers:
            problems.append(f"left behind {LEFTOVER_SECONDS}s after the run: {outcome.leftovers}")
        return problems


@dataclass
class Fault:
    """One fault: what to do, when the platform has acted on it, and what it must come to.

    :param interrupt: does the fault (gets the run's context).
    :param detected: true once the platform has acted on the fault (polled after it).
    :param quick: whether ``make test`` runs it (the others run in ``make faults`` only).
    """

    name: str
    interrupt: Callable[[FaultContext], None]
    detected: Callable[[FaultContext], bool]
    expected: Expected
    quick: bool = True


@dataclass
class FaultContext:
    airflow: AirflowServices
    cluster: LocalCluster
    core: client.CoreV1Api
    dag_id: str
    run_id: str
    driver: _Driver
    lines_before: int = 0
    faulted_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def task_instance(self) -> dict:
        return self.airflow.task_instance(self.dag_id, self.run_id, TASK_ID) or {}

    def log(self, try_number: int) -> str:
        return self.airflow.task_log(self.dag_id, self.run_id, TASK_ID, try_number)


def run_fault(airflow: AirflowServices, cluster: LocalCluster, fault: Fault) -> FaultOutcome:
    """Run ``fault_<fault.name>`` once with the fault done mid-log; return what came of it."""
    dag_id = f"fault_{fault.name}"
    core = client.CoreV1Api(cluster.api_client())
    delete_job_pods(cluster, dag_id)  # left by an earlier session stopped midway
    log_file = cluster.settings.simulated_container_log
    log_file.write_text("")  # every simulated container shows this file: start it empty
    selector = f"app.kubernetes.io/managed-by=sparkplane,sparkplane.dev/dag-id={dag_id},spark-role=driver"
    with PodWatch(core, SPARK_NAMESPACE, selector) as created:
        run_id = airflow.trigger(dag_id)
        with _Driver(core, log_file, dag_id, lambda: 1 in numbered_lines(airflow.task_log(dag_id, run_id, TASK_ID, 1))) as driver:
            context = FaultContext(airflow, cluster, core, dag_id, run_id, driver)
            wait_for(lambda: FAULT_AFTER_LINE in numbered_lines(context.log(1)), bool, timeout_seconds=RUN_TIMEOUT_SECONDS,
                     interval_seconds=0.5, what=f"line {FAULT_AFTER_LINE} in the task log of {dag_id}",
                     on_timeout=airflow.component_logs)  # fmt: skip
            context.lines_before = len(numbered_lines(context.log(1)))
            context.faulted_at, faulted = datetime.now(timezone.utc), time.monotonic()
            fault.interrupt(context)
            detect_seconds = _seconds_until(lambda: fault.detected(context), since=faulted)
            state = airflow.wait_for_run(dag_id, run_id, timeout_seconds=RUN_TIMEOUT_SECONDS)
    tries = context.task_instance().get("try_number") or 1
    final_log = context.log(tries)
    counts = Counter(numbered_lines(final_log))
    drivers = Counter(int(pod.metadata.labels[TRY_NUMBER_LABEL]) for pod in created.created.values())
    return FaultOutcome(
        fault=fault.name, state=state, tries=tries, drivers_per_try=dict(sorted(drivers.items())),
        lines_missing=sum(1 for n in range(1, LINES + 1) if n not in counts),
        lines_repeated=sum(count - 1 for count in counts.values() if count > 1),
        leftovers=_leftovers(core, dag_id), detect_seconds=detect_seconds, final_log=final_log,
    )  # fmt: skip


def _seconds_until(done: Callable[[], bool], *, since: float, timeout_seconds: float = RUN_TIMEOUT_SECONDS) -> float | None:
    try:
        wait_for(done, bool, timeout_seconds=timeout_seconds, interval_seconds=0.25, what="the platform to act")
    except WaitTimeout:
        return None
    return round(time.monotonic() - since, 1)


def _leftovers(core: client.CoreV1Api, dag_id: str) -> list[str]:
    """Poll until the job's pods are gone; return those still there after ``LEFTOVER_SECONDS``."""
    selector = f"app.kubernetes.io/managed-by=sparkplane,sparkplane.dev/dag-id={dag_id}"

    def left() -> list[str]:
        return sorted(pod.metadata.name for pod in core.list_namespaced_pod(SPARK_NAMESPACE, label_selector=selector).items)

    try:
        return wait_for(left, lambda names: not names, timeout_seconds=LEFTOVER_SECONDS, interval_seconds=1,
                        what=f"the pods of {dag_id} to go")  # fmt: skip
    except WaitTimeout:
        return left()


# --- the faults ------------------------------------------------------------------------------


def _restart(component: str) -> Callable[[FaultContext], None]:
    def kill_and_start(context: FaultContext) -> None:
        context.airflow.stop(component, sig=signal.SIGKILL)  # no shutdown: as the OOM killer would
        context.airflow.start(component)

    return kill_and_start


def _restart_api_server(context: FaultContext) -> None:
    restart_apiserver(context.cluster)


def _api_server_down_past_the_give_up(context: FaultContext) -> None:
    restart_apiserver(context.cluster, down_seconds=20)  # the fault DAGs give up after 10 s


def _outlive_the_timeout(context: FaultContext) -> None:
    context.driver.finishing = False  # the driver runs on; the task's execution_timeout must end it


def _log_goes_on(context: FaultContext) -> bool:
    """The follow resumed: the task log has a line it did not have at the fault, or the run ended."""
    tries = context.task_instance().get("try_number") or 1
    return len(numbered_lines(context.log(tries))) > context.lines_before or context.airflow.run_state(
        context.dag_id, context.run_id) in ("success", "failed")  # fmt: skip


def _scheduler_back(context: FaultContext) -> bool:
    """A scheduler started after the fault heartbeats (the trigger follows on meanwhile)."""
    since = context.faulted_at.strftime("%Y-%m-%d %H:%M:%S.%f")
    return bool(context.airflow.query("SELECT 1 FROM job WHERE job_type = 'SchedulerJob' AND start_date > ? "
                                      "AND latest_heartbeat > start_date", since))  # fmt: skip


def _kill_worker(context: FaultContext) -> None:
    os.kill(context.task_instance()["pid"], signal.SIGKILL)


def _retried(context: FaultContext) -> bool:
    return (context.task_instance().get("try_number") or 1) > 1


def _delete_driver(context: FaultContext) -> None:
    for pod in context.driver.drivers():
        context.core.delete_namespaced_pod(pod.metadata.name, SPARK_NAMESPACE, grace_period_seconds=0)


def _mark_failed(context: FaultContext) -> None:
    context.driver.finishing = False  # only the platform may end this driver
    context.airflow.rest("PATCH", f"/dags/{context.dag_id}/dagRuns/{context.run_id}/taskInstances/{TASK_ID}",
                         {"new_state": "failed"})  # fmt: skip


def _clear(context: FaultContext) -> None:
    context.airflow.rest("POST", f"/dags/{context.dag_id}/clearTaskInstances", {
        "dry_run": False, "dag_run_id": context.run_id, "task_ids": [TASK_ID], "only_failed": False})  # fmt: skip


def _first_driver_gone(context: FaultContext) -> bool:
    return not [pod for pod in context.driver.drivers() if pod.metadata.labels[TRY_NUMBER_LABEL] == "1"]


#: A hard-killed triggerer repeats what it passed on after the last checkpoint (at most one
#: checkpoint interval of lines, 1 s in the fault DAGs) and the lines of the checkpoint's own
#: second. A follower catching up on a backlog passes many lines in one interval: the driver
#: writes at a steady pace once its first line is in the task log, so the bound is in lines.
_AFTER_A_HARD_KILL = int(2 / LINE_INTERVAL_SECONDS)

FAULTS = {
    fault.name: fault
    for fault in (
        Fault("triggerer_sigkill", _restart("triggerer"), _log_goes_on,
              Expected("success", 1, {1: 1}, repeated_at_most=_AFTER_A_HARD_KILL)),
        Fault("scheduler_sigkill", _restart("scheduler"), _scheduler_back, Expected("success", 1, {1: 1})),
        # The follower reconnects and resumes the log after the last line it passed on.
        Fault("api_server_restart", _restart_api_server, _log_goes_on, Expected("success", 1, {1: 1})),
        # The follower gives up; the driver is kept, and the retry follows it to its end.
        # (Quick versions on the follower alone: tests/kubernetes/test_api_faults.py, test_driver_launcher.py.)
        Fault("api_server_down", _api_server_down_past_the_give_up, _retried, Expected("success", 2, {1: 1}),
              quick=False),
        # The retry follows the driver the killed try started.
        Fault("worker_sigkill", _kill_worker, _retried, Expected("success", 2, {1: 1})),
        # The follower reports the deletion; the retry starts a driver of its own.
        Fault("driver_deleted", _delete_driver, _retried, Expected("success", 2, {1: 1, 2: 1})),
        # The trigger's on_kill deletes the driver; no retry.
        Fault("user_marks_failed", _mark_failed, _first_driver_gone, Expected("failed", 1, {1: 1}, lines_checked=False)),
        # The first driver is deleted; the cleared task runs again with a driver of its own.
        Fault("user_clears", _clear, _first_driver_gone, Expected("success", 2, {1: 1, 2: 1})),
        # Airflow ends the deferral without on_kill; the operator deletes the driver before failing.
        Fault("execution_timeout", _outlive_the_timeout, _first_driver_gone,
              Expected("failed", 1, {1: 1}, lines_checked=False)),
    )
}
