"""The operator in local mode, running real spark-submit: failures explain themselves and
nothing of a job outlives its task."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest

from sparkplane.exceptions import JobDefinitionError, SparkJobFailed
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


def test_malformed_job_argument_names_the_argument_to_fix():
    marker = f"marker-{uuid.uuid4()}"
    operator = _operator(
        application="generate_orders.py",
        application_args=["--orders", "ten", "--output", f"/tmp/{marker}"],
    )
    with pytest.raises(SparkJobFailed) as raised:
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
