"""The platform's Spark operator: one class for every place a PySpark job can run.

Where the job runs is deployment configuration, not a different operator: the same DAG runs a job
with a local Spark master on a laptop or in CI (the embedded default) and, configured with a
cluster, on Kubernetes. The operator only renders its arguments, builds a ``SparkJobSpec``,
submits it and reports the outcome; building the command and explaining failures are pure
functions in their own modules.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from functools import cached_property
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from sparkplane import settings
from sparkplane.diagnosis import explain_failure
from sparkplane.exceptions import JobDefinitionError, SparkJobFailed
from sparkplane.job_spec import SparkJobSpec
from sparkplane.processes import StreamingProcess
from sparkplane.spark_submit import build_local_submit

if TYPE_CHECKING:
    from airflow.sdk import Context


class SparkJobOperator(BaseOperator):
    """Run a PySpark job from ``jobs/`` and stream its driver log into the task log.

    :param application: the job's ``.py`` file, relative to the jobs folder or absolute. (templated)
    :param application_args: arguments passed to the job's ``main``. (templated)
    :param conf: Spark configuration, keys starting with ``spark.``. (templated)
    :param env: environment variables for the driver. (templated)
    :param name: Spark application name; defaults to ``<dag_id>.<task_id>``. (templated)
    :param driver_memory: driver JVM heap, e.g. ``"2g"``.
    :param executor_memory: executor JVM heap, e.g. ``"2g"``.
    :param executor_cores: cores per executor.
    :param executor_instances: number of executors.
    """

    template_fields: Sequence[str] = ("application", "application_args", "conf", "env", "name")
    template_fields_renderers = {"conf": "json", "env": "json", "application_args": "json"}
    ui_color = "#f6d7a7"

    def __init__(
        self,
        *,
        application: str,
        application_args: Sequence[str] = (),
        conf: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        name: str | None = None,
        driver_memory: str = "1g",
        executor_memory: str = "1g",
        executor_cores: int = 1,
        executor_instances: int = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.application = application
        self.application_args = list(application_args)
        self.conf = dict(conf or {})
        self.env = dict(env or {})
        self.name = name
        self.driver_memory = driver_memory
        self.executor_memory = executor_memory
        self.executor_cores = executor_cores
        self.executor_instances = executor_instances
        self._process: StreamingProcess | None = None

    def build_spec(self) -> SparkJobSpec:
        """Return the validated job specification from the rendered arguments."""
        return SparkJobSpec(
            application=self.application,
            name=self.name or f"{self.dag_id}.{self.task_id}",
            arguments=tuple(self.application_args),
            conf=self.conf,
            env=self.env,
            driver_memory=self.driver_memory,
            executor_memory=self.executor_memory,
            executor_cores=self.executor_cores,
            executor_instances=self.executor_instances,
        )

    def execute(self, context: Context) -> dict[str, Any]:
        spec = self.build_spec()
        application_path = spec.application_path(settings.JOBS_ROOT)
        if not application_path.is_file():
            raise JobDefinitionError(
                f"Spark application {spec.application!r} not found: {application_path} does not exist. "
                f"Set application to a job file under {settings.JOBS_ROOT} (for example "
                "'revenue_by_region.py'), or to an absolute path."
            )
        return self._run_locally(spec, application_path)

    def _run_locally(self, spec: SparkJobSpec, application_path: Path) -> dict[str, Any]:
        argv = build_local_submit(
            spec,
            spark_submit=self.spark_home / "bin" / "spark-submit",
            master=settings.LOCAL_MASTER,
            application_path=application_path,
        )
        self.log.info("Running %s with master %s (local mode)", spec.application, settings.LOCAL_MASTER)
        self.log.info("Command: %s", " ".join(argv))
        self._process = StreamingProcess(argv, env=self._local_env(spec), cwd=str(application_path.parent))
        result = self._process.run(on_line=lambda line: self.log.info("%s", line))
        if result.exit_code != 0:
            diagnosis = explain_failure(result.exit_code, result.tail, application=spec.application)
            self.log.error("Cause: %s", diagnosis.cause)
            self.log.error("Fix: %s", diagnosis.fix)
            raise SparkJobFailed(diagnosis.cause, diagnosis.fix)
        self.log.info("%s finished successfully", spec.application)
        return {"application": spec.application, "master": settings.LOCAL_MASTER, "exit_code": 0}

    def _local_env(self, spec: SparkJobSpec) -> dict[str, str]:
        # Driver and Python workers must run this very interpreter: it has the locked libraries,
        # and PySpark refuses workers of another Python minor version.
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

    def on_kill(self) -> None:
        if self._process is not None:
            self.log.info("Task killed: stopping the Spark job and everything it started")
            self._process.terminate(settings.TERMINATE_GRACE_SECONDS)
