"""The operator in local mode, running real spark-submit: failures explain themselves and
nothing of a job outlives its task."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest

from sparkplane.exceptions import JobDefinitionError, SparkJobFailed, SparkJobInvalid
from sparkplane.operators import SparkJobOperator

TEST_JOBS = Path(__file__).parents[2] / "data" / "jobs"


def _operator(**kwargs) -> SparkJobOperator:
    return SparkJobOperator(task_id="job", name="sparkplane-test", **kwargs)


def _processes_with(marker: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(marker in part for part in process.info["cmdline"] or ()):
            found.append(process)
    return found


def _wait_until_gone(marker: str, timeout_seconds: float = 30) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout_seconds
    while (left := _processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def test_missing_job_file_fails_before_starting_spark():
    operator = _operator(application="no_such_job.py")
    with pytest.raises(JobDefinitionError) as raised:
        operator.execute(context={})
    message = str(raised.value)
    assert "Spark application 'no_such_job.py' not found" in message
    assert "Set application to a job file under" in message


def test_job_that_raises_fails_with_its_exception_and_leaves_no_process():
    marker = f"marker-{uuid.uuid4()}"
    operator = _operator(application=str(TEST_JOBS / "raises.py"), application_args=[marker])
    with pytest.raises(SparkJobFailed) as raised:
        operator.execute(context={})
    assert raised.value.cause.endswith("raises.py raised ValueError: expected 4 rows, found 3 "
                                       f"(run marker {marker})")
    assert "Fix: Read the traceback above" in str(raised.value)
    assert _wait_until_gone(marker, timeout_seconds=5) == []


def test_malformed_job_argument_names_the_argument_to_fix_and_is_not_retried():
    marker = f"marker-{uuid.uuid4()}"
    operator = _operator(
        application="generate_orders.py",
        application_args=["--orders", "ten", "--output", f"/tmp/{marker}"],
    )
    with pytest.raises(SparkJobInvalid) as raised:  # an AirflowFailException: no retry
        operator.execute(context={})
    assert raised.value.cause == (
        "generate_orders.py rejected its arguments: argument --orders: invalid int value: 'ten'"
    )
    assert "Correct the task's application_args" in raised.value.fix
    assert _wait_until_gone(marker, timeout_seconds=5) == []


def test_malformed_spark_setting_fails_before_starting_spark():
    operator = _operator(application="generate_orders.py", driver_memory="lots")
    with pytest.raises(JobDefinitionError, match="driver_memory='lots' is not a Spark memory size"):
        operator.execute(context={})


def test_killed_task_stops_spark_and_leaves_no_process():
    marker = f"marker-{uuid.uuid4()}"
    operator = _operator(application=str(TEST_JOBS / "waits.py"), application_args=[marker])
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            operator.execute(context={})
        except BaseException as error:  # the test inspects it below
            outcome["error"] = error

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    deadline = time.monotonic() + 120
    while not any("waits.py" in " ".join(p.info["cmdline"] or ()) for p in _processes_with(marker)):
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.5)
    time.sleep(5)  # let the JVM and the Python driver both come up
    operator.on_kill()
    runner.join(timeout=60)
    assert not runner.is_alive(), "execute() did not return after on_kill()"
    assert isinstance(outcome.get("error"), SparkJobFailed)
    assert "was stopped with SIGTERM" in outcome["error"].cause
    assert _wait_until_gone(marker) == []


def test_a_secret_setting_reaches_the_job_but_no_log_or_command_line(capfd):
    canary = f"canary-{uuid.uuid4()}"
    key = "spark.hadoop.fs.s3a.secret.key"
    operator = _operator(application=str(TEST_JOBS / "prints_secret_hash.py"), application_args=["--setting", key],
                         conf={key: canary, "spark.sql.shuffle.partitions": "4"})  # fmt: skip
    command_lines: list[str] = []
    done = threading.Event()

    def watch_processes() -> None:  # every command line on the machine while the job runs
        while not done.is_set():
            command_lines.extend(" ".join(p.info["cmdline"] or ()) for p in psutil.process_iter(["cmdline"]))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch_processes, daemon=True)
    watcher.start()
    try:
        operator.execute(context={})
    finally:
        done.set()
        watcher.join(timeout=10)
    log = "".join(capfd.readouterr())  # the task log, as the operator's logger writes it
    assert f"sha256 of {key}: {hashlib.sha256(canary.encode()).hexdigest()}" in log
    assert f"Secret settings {key} are passed in a file only this user can read" in log
    assert "spark.sql.shuffle.partitions=4" in log  # other settings are still shown
    assert any("--properties-file" in line and "prints_secret_hash.py" in line for line in command_lines)
    assert canary not in log
    assert not [line for line in command_lines if canary in line]
