"""Run one Spark job in the Airflow worker: spark-submit with a local master, output into the task log.

Driver and Python workers run the worker's own interpreter: it has the locked libraries, and
PySpark refuses workers of another Python minor version. A failed job ends the log with a
``Cause:`` and a ``Fix:`` line; ``stop`` ends the job's whole process tree. A data-quality result
line (``sparkplane/quality/result_line.py``) is said in words in the log and handed to
``on_quality_result``; a job its gate stopped is explained by the failed expectations.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from functools import cached_property
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from sparkplane import settings
from sparkplane.diagnosis import explain_failure
from sparkplane.exceptions import JobDefinitionError, job_failure
from sparkplane.job_spec import SparkJobSpec
from sparkplane.local.process import StreamingProcess
from sparkplane.local.spark_submit import (
    JOB_RUNNER,
    build_local_submit,
    local_settings,
    secret_argument_positions,
)
from sparkplane.quality.result_line import (
    explain_quality_failure,
    log_summary,
    parse_result_line,
    published_output,
    run_record_fields,
)
from sparkplane.secret_conf import properties_text
from sparkplane.task_log import SparkOutput, log_section


class LocalLauncher:
    """Runs jobs with spark-submit and a local master (executors are driver threads).

    :param log: where the job's output and the outcome go (the task log).
    :param master: the local Spark master, e.g. ``local[2]``.
    :param jobs_root: folder that relative application paths are resolved against.
    :param terminate_grace_seconds: how long a stopped job gets to exit before it is killed, whether
        ``stop`` stops it or the task process died (then the guardian of ``process.py`` does).
    :param on_quality_result: called with the job's data-quality result (bounded) when it prints one.
    """

    def __init__(
        self,
        *,
        log: logging.Logger | logging.LoggerAdapter,
        master: str = settings.LOCAL_MASTER,
        jobs_root: Path = settings.JOBS_ROOT,
        terminate_grace_seconds: float = settings.TERMINATE_GRACE_SECONDS,
        on_quality_result: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.log = log
        self.on_quality_result = on_quality_result
        self.quality_result: dict[str, Any] | None = None
        self.master = master
        self.jobs_root = jobs_root
        self.terminate_grace_seconds = terminate_grace_seconds
        self._process: StreamingProcess | None = None
        self._output = SparkOutput(log)

    def run(self, spec: SparkJobSpec, *, argument_sources: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Run the job to its end; return what the task hands on, or raise with the cause and fix.

        :param argument_sources: where the job's options get their values, named by a usage error's fix.
        """
        application_path = spec.application_path(self.jobs_root)
        if not application_path.is_file():
            raise JobDefinitionError(
                f"Spark application {spec.application!r} not found: {application_path} does not exist. "
                f"Set application to a job file under {self.jobs_root} (for example "
                "'revenue_by_region.py'), or to an absolute path."
            )
        _, secret_settings = local_settings(spec)
        secret_arguments = secret_argument_positions(spec)
        _mask_secrets(spec, secret_settings)
        with _private_folder() as folder:
            properties_file = arguments_file = None
            if secret_settings:
                properties_file = _private_file(folder / "secret.properties", properties_text(secret_settings))
            if secret_arguments:
                arguments_file = _private_file(folder / "arguments.json", json.dumps(list(spec.arguments)))
            argv = build_local_submit(
                spec,
                spark_submit=self.spark_home / "bin" / "spark-submit",
                master=self.master,
                application_path=application_path,
                properties_file=properties_file,
                arguments_file=arguments_file,
            )
            self.log.info("Running %s with master %s (local mode)", spec.application, self.master)
            if secret_settings:
                self.log.info("Secret settings %s are passed in a file only this user can read, not shown here",
                              ", ".join(sorted(secret_settings)))  # fmt: skip
            if secret_arguments:
                self.log.info("Job arguments %s hold values Airflow masks: all arguments are passed in a file "
                              "only this user can read, through %s", secret_arguments, JOB_RUNNER.name)  # fmt: skip
            self.log.info("Command: %s", " ".join(argv))
            self._process = StreamingProcess(argv, env=self._environment(spec), cwd=str(application_path.parent),
                                             grace_seconds=self.terminate_grace_seconds)  # fmt: skip
            started = time.monotonic()
            with log_section(self.log, f"Driver log of {spec.application}"):
                result = self._process.run(on_line=self._pass_on)
                self._output.close()
            seconds = time.monotonic() - started
        if self.quality_result is not None:
            with log_section(self.log, "Data quality"):
                log_summary(self.log, self.quality_result)
        if result.exit_code != 0:
            diagnosis = explain_quality_failure(self.quality_result, application=spec.application) or explain_failure(
                result.exit_code, result.tail, application=spec.application, argument_sources=argument_sources)  # fmt: skip
            raise job_failure(diagnosis.cause, diagnosis.fix, retry_cannot_help=diagnosis.retry_cannot_help)
        self.log.info("%s finished successfully in %.0f s%s", spec.application, seconds,
                      published_output(self.quality_result))  # fmt: skip
        return {"application": spec.application, "master": self.master, "exit_code": 0, "seconds": round(seconds, 1),
                **run_record_fields(self.quality_result)}  # fmt: skip

    def _pass_on(self, line: str) -> None:
        """Log one line of the job's output; a data-quality result line is said in words and handed on."""
        quality = parse_result_line(line)
        if quality is None:
            self._output.line(line)
            return
        self.quality_result = quality
        if self.on_quality_result is not None:
            self.on_quality_result(quality)

    def stop(self) -> None:
        """Stop the running job and everything it started (SIGTERM, then SIGKILL after the grace)."""
        if self._process is not None:
            self.log.info("Task killed: stopping the Spark job and everything it started")
            self._process.terminate()

    def _environment(self, spec: SparkJobSpec) -> dict[str, str]:
        return {
            **os.environ,
            "SPARK_HOME": str(self.spark_home),
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
            # A local master needs no network beyond loopback; binding there also silences
            # Spark's warning about the host's address.
            "SPARK_LOCAL_IP": "127.0.0.1",
            **spec.env,
        }

    @cached_property
    def spark_home(self) -> Path:
        """Return the Spark distribution shipped inside the installed pyspark package."""
        found = find_spec("pyspark")
        if found is None or not found.submodule_search_locations:
            raise JobDefinitionError(
                "pyspark is not installed in the Airflow environment. Install the project's lock "
                "(make env) so local mode can run spark-submit."
            )
        return Path(next(iter(found.submodule_search_locations)))


def _mask_secrets(spec: SparkJobSpec, secret_settings: Mapping[str, str]) -> None:
    """Register the job's secret values with Airflow's masker before anything is logged."""
    from airflow.sdk.log import mask_secret

    for value in secret_settings.values():
        mask_secret(value)
    for name, value in spec.env.items():
        mask_secret(value, name)  # masked when the variable's name is a sensitive one


@contextlib.contextmanager
def _private_folder() -> Iterator[Path]:
    """Yield a new folder only this user can open (mode 0700); remove it and its files after."""
    folder = Path(tempfile.mkdtemp(prefix="sparkplane-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _private_file(path: Path, text: str) -> Path:
    """Write ``text`` to a new file only this user can read; return its path."""
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as file:
        file.write(text)
    return path
