"""Explain why a Spark job failed, from facts only: exit code and the last lines of its log.

Pure functions, no I/O. Each rule recognises one kind of failure and returns the cause in one line
and the fix in one line, so the end of a task log tells an on-call engineer what to do.
Rules are tried in order; the first that matches wins, and a generic explanation is the fallback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from sparkplane.argument_sources import rejected_option_fix

#: Exit code of a process killed by SIGKILL (128 + 9): the kernel's OOM killer, or a kill -9.
SIGKILL_EXIT_CODE = 137
#: Both ways a SIGKILL shows: a shell's 128 + 9, and Python's subprocess's minus the signal number.
SIGKILL_EXIT_CODES = (SIGKILL_EXIT_CODE, -9)
#: Exit code of a process stopped by SIGTERM (128 + 15): the task was killed or timed out.
SIGTERM_EXIT_CODES = (143, -15)
#: Exit code argparse uses for a usage error.
USAGE_ERROR_EXIT_CODE = 2

_ARGPARSE_ERROR = re.compile(r"^(?P<prog>[\w.\-]+): error: (?P<message>.+)$")
_PYTHON_EXCEPTION = re.compile(
    r"^(?P<type>(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Warning))"
    r"(?::\s*(?P<message>.*))?$"
)
#: Python's words when the file it was asked to run does not exist.
_MISSING_FILE = re.compile(r"can't open file '(?P<path>[^']+)': \[Errno 2\] No such file or directory")
_MISSING_MODULE = re.compile(r"No module named '(?P<module>[\w.]+)'")
#: PySpark's own words when a Python worker's minor version differs from the driver's.
_PYTHON_VERSION_MISMATCH = re.compile(
    r"Python in worker has different version:? (?P<worker>[\d.]+) than that in driver:? (?P<driver>[\d.]+)"
)
_SPARK_ERROR_CLASS = re.compile(r"\[(?P<error_class>[A-Z_]+(?:\.[A-Z_]+)*)\]")


@dataclass(frozen=True)
class Diagnosis:
    """Why a job failed (``cause``) and what to do about it (``fix``), one line each.

    :param retry_cannot_help: the job fails the same way however often it runs (its arguments,
        its file): the task fails without using its retries.
    """

    cause: str
    fix: str
    retry_cannot_help: bool = False


def log_cause_and_fix(log: logging.Logger | logging.LoggerAdapter, cause: str, fix: str) -> None:
    """Log the two lines every failed task ends with, for the on-call engineer: ``Cause:`` then ``Fix:``."""
    log.error("Cause: %s", cause)
    log.error("Fix: %s", fix)


def explain_failure(
    exit_code: int, log_tail: Sequence[str], *, application: str, argument_sources: Mapping[str, str] | None = None
) -> Diagnosis:
    """Return the diagnosis of a Spark job that exited with ``exit_code``.

    :param argument_sources: where the job's options get their values (``sparkplane.argument_sources``):
        a usage error's fix then names the DAG param or conf key to correct.
    """
    lines = [line.rstrip() for line in log_tail]
    for rule in _RULES:
        diagnosis = rule(exit_code, lines, application)
        if diagnosis is not None:
            if rule is _usage_error and argument_sources:
                fix = rejected_option_fix(diagnosis.cause, argument_sources)
                return replace(diagnosis, fix=fix) if fix else diagnosis
            return diagnosis
    return Diagnosis(
        cause=f"spark-submit for {application} exited with code {exit_code}.",
        fix="Read the driver log above for the first error; fix the job or its input, then clear the task.",
    )


def _usage_error(exit_code: int, lines: list[str], application: str) -> Diagnosis | None:
    if exit_code != USAGE_ERROR_EXIT_CODE:
        return None
    for line in reversed(lines):
        match = _ARGPARSE_ERROR.match(line)
        if match:
            return Diagnosis(
                cause=f"{application} rejected its arguments: {match['message']}",
                fix="Correct the task's application_args (the job's usage line is in the log above).",
                retry_cannot_help=True,
            )
    return None


def _missing_application(exit_code: int, lines: list[str], application: str) -> Diagnosis | None:
    match = next((m for line in reversed(lines) if (m := _MISSING_FILE.search(line))), None)
    if match is None or not match["path"].endswith(application.rsplit("/", 1)[-1]):
        return None
    return Diagnosis(
        cause=f"The job file {match['path']} does not exist where the driver looked for it: the image holds jobs/ "
        "as it was when image/build ran.",
        fix="Check the operator's application against the files in jobs/; a new job file needs a new image "
        "(image/build, then SPARKPLANE_SPARK_IMAGE or the operator's image set to what it printed).",
        retry_cannot_help=True,
    )


def _killed(exit_code: int, lines: list[str], application: str) -> Diagnosis | None:
    out_of_memory = any("java.lang.OutOfMemoryError" in line for line in lines)
    if exit_code not in SIGKILL_EXIT_CODES and not out_of_memory:
        return None
    cause = (
        f"{application} ran out of JVM heap (java.lang.OutOfMemoryError)."
        if out_of_memory
        else f"{application} was killed with SIGKILL (exit {exit_code}), most often by the out-of-memory killer."
    )
    return Diagnosis(
        cause=cause,
        fix="Raise driver_memory (and executor_memory), or reduce the data each task handles "
        "(more partitions via spark.sql.shuffle.partitions).",
    )


def _terminated(exit_code: int, lines: list[str], application: str) -> Diagnosis | None:
    if exit_code not in SIGTERM_EXIT_CODES:
        return None
    return Diagnosis(
        cause=f"{application} was stopped with SIGTERM (exit {exit_code}): the task was killed, "
        "marked failed or success by hand, or ran past its execution_timeout.",
        fix="If nobody stopped it on purpose, raise the task's execution_timeout or make the job faster.",
    )


def _python_version_mismatch(exit_code: int, lines: list[str], application: str) -> Diagnosis | None:
    for line in reversed(lines):
        match = _PYTHON_VERSION_MISMATCH.search(line)
        if match:
            return Diagnosis(
                cause=f"{application}: the Python workers run Python {match['worker']} but the driver runs "
                f"Python {match['driver']}; PySpark needs the same minor version on both.",
                fix=f"Rebuild the executor image from the project lock (image/build) so it has Python "
                f"{match['driver']}, and keep preflight on: it compares the image's Python with the driver's "
                "before submitting.",
            )
    return None


def _python_exception(exit_code: int, lines: list[str], application: str) -> Diagnosis | None:
    last = _last_exception(lines)
    if last is None:
        return None
    exception_type, message = last
    missing = _MISSING_MODULE.search(message)
    if exception_type.endswith("ModuleNotFoundError") and missing:
        package = missing["module"].split(".")[0]
        return Diagnosis(
            cause=f"{application} imports '{missing['module']}', which is not installed where the job ran.",
            fix=f"Add the package that provides '{package}' to the [jobs] extra in pyproject.toml and "
            "run 'make lock', so the driver environment and the executor image both get it.",
        )
    error_class = _SPARK_ERROR_CLASS.search(message)
    if error_class and error_class["error_class"].startswith("PATH_NOT_FOUND"):
        return Diagnosis(
            cause=f"{application} read a path that does not exist: {message}",
            fix="Check the input path in the task's application_args, and that the upstream task wrote it.",
        )
    short_type = exception_type.rsplit(".", 1)[-1]
    return Diagnosis(
        cause=f"{application} raised {short_type}: {message}".rstrip(": "),
        fix="Read the traceback above; fix the job code or its input, then clear the task to run it again.",
    )


def _last_exception(lines: list[str]) -> tuple[str, str] | None:
    """Return (type, message) of the last Python exception line after a traceback, if any."""
    seen_traceback = False
    found: tuple[str, str] | None = None
    for line in lines:
        if line.startswith("Traceback (most recent call last):"):
            seen_traceback = True
            continue
        match = _PYTHON_EXCEPTION.match(line)
        if seen_traceback and match:
            found = (match["type"], match["message"] or "")
    return found


_RULES: tuple[Callable[[int, list[str], str], Diagnosis | None], ...] = (
    _missing_application,
    _usage_error,
    _terminated,
    _killed,
    _python_version_mismatch,
    _python_exception,
)
