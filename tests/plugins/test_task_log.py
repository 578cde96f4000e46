"""How Spark's output and the platform's sections read in the task log."""

from __future__ import annotations

import logging

import pytest

from sparkplane.task_log import (
    GROUP_END,
    GROUP_START,
    SparkOutput,
    explained_failure,
    is_stack_trace_part,
    log_section,
    spark_level,
)

STACK_TRACE = """\
26/12/01 13:52:40 ERROR Executor: Exception in task 0.0 in stage 1.0 (TID 1)
org.apache.spark.api.python.PythonException: Traceback (most recent call last):
	at org.apache.spark.api.python.BasePythonRunner$ReaderIterator.handlePythonException(PythonRunner.scala:624)
	at org.apache.spark.scheduler.Task.run(Task.scala:147)
Caused by: java.io.FileNotFoundException: File file:/data/orders does not exist
	at org.apache.hadoop.fs.RawLocalFileSystem.deprecatedGetFileStatus(RawLocalFileSystem.java:917)
	... 81 more
26/12/01 13:52:41 WARN TaskSetManager: Lost task 0.0 in stage 1.0 (TID 1)"""


def _records(caplog) -> list[tuple[str, str]]:
    return [(record.levelname, record.getMessage()) for record in caplog.records]


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("26/12/01 13:51:53 WARN TaskSetManager: Lost task 0.0", logging.WARNING),
        ("26/12/01 13:51:53 ERROR Executor: Exception in task 0.0", logging.ERROR),
        ("26/12/01 13:51:53 INFO SparkContext: Running Spark version 4.1.4", logging.INFO),
        ("26/12/01 13:51:53 FATAL SparkUncaughtExceptionHandler: boom", logging.CRITICAL),
        ("Wrote 400 customers and 5000 orders", logging.INFO),
        ("a job that prints WARN in the middle of a line", logging.INFO),
        # The fixed start-up lines, in every driver's log.
        ("WARNING: Using incubator modules: jdk.incubator.vector", logging.DEBUG),
        ("Using Spark's default log4j profile: org/apache/spark/log4j2-defaults.properties", logging.DEBUG),
        ("26/12/01 13:51:53 WARN NativeCodeLoader: Unable to load native-hadoop library for your platform...",
         logging.DEBUG),
        ('Setting Spark log level to "WARN".', logging.DEBUG),
    ],
)
def test_each_line_gets_the_level_spark_gave_it(line, level):
    assert spark_level(line) == level


@pytest.mark.parametrize(
    ("line", "part"),
    [
        ("\tat org.apache.spark.scheduler.Task.run(Task.scala:147)", True),
        ("        at java.base/java.lang.Thread.run(Thread.java:1583)", True),
        ("\t... 81 more", True),
        ("Caused by: java.io.FileNotFoundException: gone", True),
        ("\tSuppressed: java.lang.IllegalStateException: closed", True),
        ("java.lang.RuntimeException: the exception itself", False),
        ("  File \"/opt/spark/jobs/report.py\", line 12, in main", False),
        ("at the end of the day", False),
    ],
)
def test_stack_trace_parts_are_recognised(line, part):
    assert is_stack_trace_part(line) is part


def test_a_java_stack_trace_is_folded_under_its_first_line_at_its_level(caplog):
    caplog.set_level(logging.DEBUG)
    output = SparkOutput(logging.getLogger("test.task"))
    for line in STACK_TRACE.splitlines():
        output.line(line)
    output.close()
    records = _records(caplog)
    assert records[0] == ("ERROR", STACK_TRACE.splitlines()[0])
    assert records[1] == ("INFO", "org.apache.spark.api.python.PythonException: Traceback (most recent call last):")
    assert records[2] == ("INFO", f"{GROUP_START}Java stack trace")
    folded = records[3:8]
    assert [message for _, message in folded] == STACK_TRACE.splitlines()[2:7]
    assert records[8] == ("INFO", GROUP_END)
    assert records[9] == ("WARNING", STACK_TRACE.splitlines()[7])
    assert len(records) == 10


def test_frames_after_an_error_line_keep_its_level(caplog):
    caplog.set_level(logging.DEBUG)
    output = SparkOutput(logging.getLogger("test.task"))
    output.line("26/12/01 13:52:40 ERROR Utils: Aborting task")
    output.line("\tat org.apache.spark.scheduler.Task.run(Task.scala:147)")
    output.close()
    assert _records(caplog)[2] == ("ERROR", "\tat org.apache.spark.scheduler.Task.run(Task.scala:147)")


def test_an_unclosed_trace_is_closed_once(caplog):
    output = SparkOutput(logging.getLogger("test.task"))
    caplog.set_level(logging.INFO)
    output.line("\tat a.b.C.d(C.java:1)")
    output.close()
    output.close()
    assert [message for _, message in _records(caplog)].count(GROUP_END) == 1


def test_a_section_is_closed_when_its_body_raises(caplog):
    caplog.set_level(logging.INFO)
    log = logging.getLogger("test.task")
    with pytest.raises(RuntimeError), log_section(log, "Preflight"):
        log.info("checking")
        raise RuntimeError("refused")
    assert [message for _, message in _records(caplog)] == [f"{GROUP_START}Preflight", "checking", GROUP_END]


def test_a_failure_without_cause_and_fix_is_passed_on_unexplained(caplog):
    caplog.set_level(logging.INFO)
    with pytest.raises(ValueError), explained_failure(logging.getLogger("test.task")):
        raise ValueError("plain")
    assert caplog.records == []
