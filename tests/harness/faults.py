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
import json
import os
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from sparkplane.kubernetes.identity import (
    AIRFLOW_NAMESPACE,
    AIRFLOW_SERVICE_ACCOUNT,
    DRIVER_CONTAINER_NAME,
    SPARK_NAMESPACE,
    TRY_NUMBER_LABEL,
)
from sparkplane.log_lines import MAX_LINE_BYTES

from harness.airflow import AirflowServices
from harness.cluster import LocalCluster, create_namespace, restart_apiserver
from harness.platform import delete_job_pods, platform_airflow
from harness.pods import PodWatch
from harness.simulated import append_log_line, mark_finished
from harness.simulated_nodes import make_not_ready, make_ready
from harness.tcp_proxy import TcpProxy, write_kubeconfig_through
from harness.waits import WaitTimeout, wait_for
from harness.watch_cache import push_out_of_the_watch_cache

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
        #: Set: the driver writes its lines; cleared: it holds the next one back (a quiet driver).
        self.writing = threading.Event()
        self.writing.set()
        self._log_lock = threading.Lock()
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
            while not self._stop.is_set() and not self.writing.wait(0.25):
                pass
            if self._stop.is_set():
                return
            self.prints(f"fault line {number} of {LINES}")
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

    def prints(self, text: str) -> None:
        """Write one line of the driver's log (whole, even when a fault writes one meanwhile)."""
        with self._log_lock:
            append_log_line(self.log_file, text)

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
    log_holds: str = ""

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
        if self.log_holds and self.log_holds not in outcome.final_log:
            problems.append(f"the final try's log lacks {self.log_holds!r}")
        if outcome.leftovers:
            problems.append(f"left behind {LEFTOVER_SECONDS}s after the run: {outcome.leftovers}")
        if outcome.detect_seconds is None:  # the run proves nothing about a fault that never took effect
            problems.append("the platform never showed that it met the fault (not detected in time)")
        return problems


@dataclass
class Fault:
    """One fault: what to do, when the platform has acted on it, and what it must come to.

    :param interrupt: does the fault (gets the run's context).
    :param detected: true once the platform has acted on the fault (polled after it).
    :param quick: whether ``make test`` runs it (the others run in ``make faults`` only).
    :param restore: undoes the fault once it is detected (and whatever happens, at the end).
    :param extra_seconds: how much longer than ``RUN_TIMEOUT_SECONDS`` its run may take.
    """

    name: str
    interrupt: Callable[[FaultContext], None]
    detected: Callable[[FaultContext], bool]
    expected: Expected
    quick: bool = True
    restore: Callable[[FaultContext], None] | None = None
    extra_seconds: float = 0


@dataclass
class FaultContext:
    airflow: AirflowServices
    cluster: LocalCluster
    core: client.CoreV1Api
    dag_id: str
    run_id: str
    driver: _Driver
    proxy: TcpProxy
    lines_before: int = 0
    lost_node: str = ""
    faulted_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def task_instance(self) -> dict:
        return self.airflow.task_instance(self.dag_id, self.run_id, TASK_ID) or {}

    def log(self, try_number: int) -> str:
        return self.airflow.task_log(self.dag_id, self.run_id, TASK_ID, try_number)

    def driver_pod(self) -> client.V1Pod:
        drivers = self.driver.drivers()
        assert len(drivers) == 1, f"expected one driver of {self.dag_id}, found {[p.metadata.name for p in drivers]}"
        return drivers[0]

    def later(self, seconds: float, action: Callable[[], None]) -> None:
        """Do ``action`` in ``seconds`` without holding up the run (``run_fault`` restores the proxy anyway)."""
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        timer.start()


@contextlib.contextmanager
def fault_airflow(home: Path, cluster: LocalCluster, *, image: str) -> Iterator[tuple[AirflowServices, TcpProxy]]:
    """Run the fault DAGs' Airflow for the block; it reaches the API server, as the platform's
    identity, through a proxy the faults may break. Yield the services and the proxy."""
    identity = cluster.serviceaccount_kubeconfig(AIRFLOW_NAMESPACE, AIRFLOW_SERVICE_ACCOUNT)
    with TcpProxy("127.0.0.1", cluster.settings.apiserver_port) as proxy:
        kubeconfig = write_kubeconfig_through(proxy, identity, home / "through-proxy.kubeconfig")
        connection = json.dumps({"conn_type": "kubernetes", "extra": {"kube_config_path": str(kubeconfig)}})
        with platform_airflow(home, "operator_faults.py", connection=connection, image=image) as services:
            yield services, proxy


def run_fault(airflow: AirflowServices, cluster: LocalCluster, fault: Fault, *, proxy: TcpProxy) -> FaultOutcome:
    """Run ``fault_<fault.name>`` once with the fault done mid-log; return what came of it."""
    dag_id = f"fault_{fault.name}"
    core = client.CoreV1Api(cluster.api_client())
    delete_job_pods(cluster, dag_id)  # left by an earlier session stopped midway
    log_file = cluster.settings.simulated_container_log
    log_file.write_text("")  # every simulated container shows this file: start it empty
    selector = f"app.kubernetes.io/managed-by=sparkplane,sparkplane.dev/dag-id={dag_id},spark-role=driver"
    timeout_seconds = RUN_TIMEOUT_SECONDS + fault.extra_seconds
    with PodWatch(core, SPARK_NAMESPACE, selector) as created:
        run_id = airflow.trigger(dag_id)
        with _Driver(core, log_file, dag_id, lambda: 1 in numbered_lines(airflow.task_log(dag_id, run_id, TASK_ID, 1))) as driver:
            context = FaultContext(airflow, cluster, core, dag_id, run_id, driver, proxy)
            try:
                wait_for(lambda: FAULT_AFTER_LINE in numbered_lines(context.log(1)), bool, timeout_seconds=RUN_TIMEOUT_SECONDS,
                         interval_seconds=0.5, what=f"line {FAULT_AFTER_LINE} in the task log of {dag_id}",
                         on_timeout=airflow.component_logs)  # fmt: skip
                context.lines_before = len(numbered_lines(context.log(1)))
                context.faulted_at, faulted = datetime.now(timezone.utc), time.monotonic()
                fault.interrupt(context)
                detect_seconds = _seconds_until(lambda: fault.detected(context), since=faulted,
                                                timeout_seconds=timeout_seconds)  # fmt: skip
                _undo(fault, context)
                state = airflow.wait_for_run(dag_id, run_id, timeout_seconds=timeout_seconds)
            finally:
                _undo(fault, context)
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


def _undo(fault: Fault, context: FaultContext) -> None:
    """Put the proxy, the driver's writing and what the fault changed back (idempotent)."""
    context.proxy.resume()
    context.driver.writing.set()
    if fault.restore is not None:
        fault.restore(context)


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


#: How long the proxy keeps the API from the platform in ``api_unreachable``: past the fault
#: DAG's 10 s give-up, shorter than its retry delay.
UNREACHABLE_SECONDS = 20
#: ``api_unreachable_6min``: production's give-up is 5 minutes.
LONG_UNREACHABLE_SECONDS = 360
#: How long every connection stays silent in ``half_open`` before they are reset.
SILENT_SECONDS = 15
LONG_LINE_BYTES = 5 * 1024 * 1024


def _cut_off_for(seconds: float) -> Callable[[FaultContext], None]:
    def cut_off(context: FaultContext) -> None:
        context.proxy.cut_off()  # open connections reset, new ones never answered
        context.later(seconds, context.proxy.resume)

    return cut_off


def _go_silent(context: FaultContext) -> None:
    """Every connection stays open and nothing comes back; later they die, as half-open ones do."""
    context.proxy.pause()

    def end() -> None:
        context.proxy.cut()  # the silent connections never come back: only reconnects do
        context.proxy.resume()

    context.later(SILENT_SECONDS, end)


def _silence_noticed(context: FaultContext) -> bool:
    """The follower took a silent watch or log stream for dead (a read timeout), not waited on for ever."""
    return any(("dropped (" in line and "Timeout" in line) or "No driver output for" in line
               for line in context.log(1).splitlines())  # fmt: skip


def _cut_connections(context: FaultContext) -> None:
    assert context.proxy.cut() > 0, "no connection to cut: the platform does not go through the proxy"


def _print_a_long_line(context: FaultContext) -> None:
    context.driver.prints("x" * LONG_LINE_BYTES)


def _long_line_passed_on(context: FaultContext) -> bool:
    return "[line cut: " in context.log(1)


def _not_ready_node(context: FaultContext) -> str:
    return context.driver_pod().spec.node_name


def _make_the_drivers_node_not_ready(context: FaultContext) -> None:
    node = _not_ready_node(context)
    context.lost_node = node
    make_not_ready(context.core, node)


def _bring_the_node_back(context: FaultContext) -> None:
    if context.lost_node:
        make_ready(context.core, context.lost_node)
        context.lost_node = ""


def _expire_the_drivers_watch(context: FaultContext) -> None:
    """Stop the triggerer, keep the driver quiet until the API server forgets its pod's version, start it again.

    A follower that resumes watches from the version of the pod's last change, which is no longer
    in the API server's watch cache: as after a triggerer outage longer than the cache keeps
    changes, with a driver that wrote nothing meanwhile. A running follower's own watch cannot be
    made to expire on demand: the bookmarks the API server sends move its version forward.
    """
    context.driver.writing.clear()
    context.airflow.stop("triggerer")  # gracefully: its follower checkpoints the log position on the pod
    changed_at = time.monotonic()
    scratch = f"faults-watch-cache-{int(time.time())}"
    create_namespace(context.core, scratch)
    try:
        push_out_of_the_watch_cache(context.core, lambda: context.driver_pod().metadata.resource_version, scratch,
                                    changed_at=changed_at)  # fmt: skip
    finally:
        context.core.delete_namespace(scratch)
        context.airflow.start("triggerer")
    # Quiet until the new follower has watched: a line now would change the pod (its checkpoint)
    # before the follower reads it, and it would watch from a version the server still has.
    with contextlib.suppress(WaitTimeout):
        wait_for(lambda: _watch_relisted(context), bool, timeout_seconds=120, interval_seconds=0.5,
                 what="the restarted follower's watch to be refused with 410 Gone")  # fmt: skip
    context.driver.writing.set()


def _watch_relisted(context: FaultContext) -> bool:
    return "expired (410 Gone); listing the pod again" in context.log(1)


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

#: make test runs the quick faults once; the others (quick=False) run in make faults only, being
#: long (outages of minutes), or close to a quick one or to a test of the follower alone:
#: scheduler_sigkill (the scheduler holds no part of a deferred task), driver_deleted
#: (tests/kubernetes/test_driver_follower.py), user_clears (the on_kill of user_marks_failed).
FAULTS = {
    fault.name: fault
    for fault in (
        Fault("triggerer_sigkill", _restart("triggerer"), _log_goes_on,
              Expected("success", 1, {1: 1}, repeated_at_most=_AFTER_A_HARD_KILL)),
        Fault("scheduler_sigkill", _restart("scheduler"), _scheduler_back, Expected("success", 1, {1: 1}), quick=False),
        # The follower reconnects and resumes the log after the last line it passed on.
        Fault("api_server_restart", _restart_api_server, _log_goes_on, Expected("success", 1, {1: 1})),
        # The follower gives up; the driver is kept, and the retry follows it to its end.
        # (Quick versions on the follower alone: tests/kubernetes/test_api_faults.py, test_driver_launcher.py.)
        Fault("api_server_down", _api_server_down_past_the_give_up, _retried, Expected("success", 2, {1: 1}),
              quick=False),
        # The retry follows the driver the killed try started.
        Fault("worker_sigkill", _kill_worker, _retried, Expected("success", 2, {1: 1})),
        # The follower reports the deletion; the retry starts a driver of its own.
        Fault("driver_deleted", _delete_driver, _retried, Expected("success", 2, {1: 1, 2: 1}), quick=False),
        # Proxy faults: the platform's connections to the API server break as networks break them.
        # make test runs their quick versions on the follower alone (test_api_faults.py,
        # test_driver_follower.py, test_follower_faults.py); make faults runs them under Airflow.
        # Gone from the network past the give-up: the driver is kept and the retry follows it.
        Fault("api_unreachable", _cut_off_for(UNREACHABLE_SECONDS), _retried, Expected("success", 2, {1: 1}),
              quick=False),
        Fault("api_unreachable_6min", _cut_off_for(LONG_UNREACHABLE_SECONDS), _retried, Expected("success", 2, {1: 1}),
              quick=False, extra_seconds=LONG_UNREACHABLE_SECONDS),
        # Silent without closing (half-open): read timeouts notice, reconnects resume after the last line.
        Fault("half_open", _go_silent, _silence_noticed, Expected("success", 1, {1: 1}), quick=False),
        # Every connection reset once: the watch and the log stream reconnect.
        Fault("log_stream_cut", _cut_connections, _log_goes_on, Expected("success", 1, {1: 1}), quick=False),
        # The pod's version forgotten by the API server while the triggerer was down (410 Gone): listed afresh.
        Fault("watch_410", _expire_the_drivers_watch, _watch_relisted, Expected("success", 1, {1: 1}), quick=False,
              extra_seconds=300),
        # A 5 MiB line: passed on cut, with a marker; the lines after it follow.
        Fault("long_line", _print_a_long_line, _long_line_passed_on,
              Expected("success", 1, {1: 1}, log_holds=f" bytes, the first {MAX_LINE_BYTES} shown]"), quick=False),
        # The driver's node goes NotReady: the driver, evicted and never confirmed gone, is taken
        # for lost; the retry starts a driver on another node. The node comes back afterwards.
        Fault("node_not_ready", _make_the_drivers_node_not_ready, _retried, Expected("success", 2, {1: 1, 2: 1}),
              restore=_bring_the_node_back),
        # The trigger's on_kill deletes the driver; no retry.
        Fault("user_marks_failed", _mark_failed, _first_driver_gone, Expected("failed", 1, {1: 1}, lines_checked=False)),
        # The first driver is deleted; the cleared task runs again with a driver of its own.
        Fault("user_clears", _clear, _first_driver_gone, Expected("success", 2, {1: 1, 2: 1}), quick=False),
        # Airflow ends the deferral without on_kill; the operator deletes the driver before failing.
        Fault("execution_timeout", _outlive_the_timeout, _first_driver_gone,
              Expected("failed", 1, {1: 1}, lines_checked=False)),
    )
}
