"""The task log as an on-call engineer reads it: folded sections, and Spark's output at its own levels.

Airflow's UI folds the lines between ``::group::<title>`` and ``::endgroup::`` under the title
(groups nest). The platform puts each stage of a job in one (preflight, waiting for the driver to
start, driver log, executor digest, data quality, cleanup; the submission itself is one line, the
driver pod's name), so that what stays visible is the run's summary and, on failure, its
``Cause:``/``Fix:``.

Spark's driver output is passed on by ``SparkOutput``:

- a log4j line (``26/12/01 13:51:53 WARN TaskSetManager: ...``) is logged at its own level: a
  Spark WARN is a warning, an ERROR an error;
- the fixed start-up lines every driver prints (the JVM's incubator notice, the log4j profile,
  the missing native Hadoop library, the log level banner) go to DEBUG: the same in every run,
  they say nothing about this one;
- a Java stack trace is folded under its first line (the exception), ``Caused by:`` parts and
  ``... 12 more`` with it; the Python traceback of a job stays as it is, shown once.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator

from sparkplane.diagnosis import log_cause_and_fix

GROUP_START = "::group::"
GROUP_END = "::endgroup::"

#: log4j's level in Spark's default layout: ``yy/MM/dd HH:mm:ss LEVEL Logger: message``.
_LOG4J_LINE = re.compile(r"^\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} (TRACE|DEBUG|INFO|WARN|ERROR|FATAL) ")
_LOG4J_LEVELS = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
}
#: The lines of a Java stack trace after its first: frames, elided frames, causes, suppressed ones.
_STACK_TRACE_PART = re.compile(r"^\s+at \S+|^\s+\.\.\. \d+ (more|common frames omitted)$|^\s*Caused by: |^\s+Suppressed: ")
#: Printed by every driver, whatever the job: said at DEBUG.
STARTUP_NOISE = (
    "WARNING: Using incubator modules:",
    "Using Spark's default log4j profile:",
    "NativeCodeLoader: Unable to load native-hadoop library",
    'Setting Spark log level to "',
    "Setting default log level to ",
    "To adjust logging level use sc.setLogLevel(newLevel)",
)

Logger = logging.Logger | logging.LoggerAdapter


def spark_level(line: str) -> int:
    """Return the logging level of one line of Spark output (INFO for anything not log4j's)."""
    if any(noise in line for noise in STARTUP_NOISE):
        return logging.DEBUG
    matched = _LOG4J_LINE.match(line)
    return _LOG4J_LEVELS[matched.group(1)] if matched else logging.INFO


def is_stack_trace_part(line: str) -> bool:
    """True for a line of a Java stack trace after its first (a frame, a cause, an elision)."""
    return bool(_STACK_TRACE_PART.match(line))


@contextlib.contextmanager
def log_section(log: Logger, title: str) -> Iterator[None]:
    """Fold what is logged inside under ``title`` in Airflow's UI (closed even when it raises)."""
    log.info("%s%s", GROUP_START, title)
    try:
        yield
    finally:
        log.info("%s", GROUP_END)


@contextlib.contextmanager
def explained_failure(log: Logger) -> Iterator[None]:
    """End the log of a failure that carries a cause and a fix with its ``Cause:`` and ``Fix:`` lines.

    Logged here, once, where the task's work is done: every section it opened is closed by then,
    so the two lines are the last the platform writes and stay in the open.
    """
    try:
        yield
    except Exception as error:
        cause, fix = getattr(error, "cause", None), getattr(error, "fix", None)
        if isinstance(cause, str) and isinstance(fix, str):
            log_cause_and_fix(log, cause, fix)
        raise


class SparkOutput:
    """Pass lines of Spark output on to ``log``, each at its level, stack traces folded.

    Call ``close`` when the output ends (or pauses for other lines): it ends an open trace's group.
    """

    def __init__(self, log: Logger) -> None:
        self.log = log
        self._in_trace = False
        self._trace_level = logging.INFO

    def line(self, text: str) -> None:
        if is_stack_trace_part(text):
            if not self._in_trace:
                self.log.info("%sJava stack trace", GROUP_START)
                self._in_trace = True
            self.log.log(self._trace_level, "%s", text)
            return
        self.close()
        level = spark_level(text)
        # The frames that follow are the trace of this line's exception: logged at its level.
        self._trace_level = max(level, logging.INFO)
        self.log.log(level, "%s", text)

    def close(self) -> None:
        if self._in_trace:
            self.log.info("%s", GROUP_END)
            self._in_trace = False
