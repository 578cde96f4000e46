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
from datetime import timedelta
from functools import cached_property
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from sparkplane import settings
from sparkplane.constants import (
    APPLICATION_ID_LABEL,
    DRIVER_CONTAINER_NAME,
    EXECUTOR_CONTAINER_NAME,
    SPARK_ROLE_LABEL,
)
from sparkplane.diagnosis import Diagnosis, explain_failure
from sparkplane.driver_follower import FollowTimeouts
from sparkplane.exceptions import JobDefinitionError, PodAlreadyExists, SparkJobFailed
from sparkplane.hooks import SparkKubernetesHook
from sparkplane.job_spec import SparkJobSpec
from sparkplane.manifests import KubernetesTarget, build_driver_pod
from sparkplane.pod_diagnosis import SIGKILL_EXIT_CODE, describe_failed_container, failed_containers
from sparkplane.pod_timeline import stage_seconds
from sparkplane.preflight import run_preflight
from sparkplane.processes import StreamingProcess
from sparkplane.run_identity import TaskTry
from sparkplane.spark_submit import build_local_submit
from sparkplane.triggers import SparkDriverTrigger

#: Driver log lines read back to explain a failed driver.
FAILURE_LOG_LINES = 200
#: Last lines of each failed executor's log shown in the digest.
EXECUTOR_DIGEST_LOG_LINES = 15

if TYPE_CHECKING:
    from airflow.sdk import Context


class SparkJobOperator(BaseOperator):
    """Run a PySpark job from ``jobs/`` and stream its driver log into the task log.

    :param application: the job's ``.py`` file, relative to the jobs folder or absolute. (templated)
    :param application_args: arguments passed to the job's ``main``. (templated)
    :param conf: Spark configuration, keys starting with ``spark.``. (templated)
    :param env: environment variables for the driver. (templated)
    :param name: Spark application name; defaults to ``<dag_id>.<task_id>``. (templated)
    :param driver_memory: driver JVM heap, e.g. ``"2g"``. (templated)
    :param executor_memory: executor JVM heap, e.g. ``"2g"``. (templated)
    :param executor_cores: cores per executor. (templated; a rendered string of digits is accepted)
    :param executor_instances: number of executors. (templated, like executor_cores)
    :param kubernetes_conn_id: the cluster's Airflow connection; None runs the job locally.
        Defaults to the deployment setting ``SPARKPLANE_KUBERNETES_CONN_ID``.
    :param namespace: namespace of the driver and executors (default: deployment setting).
    :param image: the platform's Spark image (default: deployment setting). (templated)
    :param deferrable: release the worker slot while the driver runs (Kubernetes mode).
    :param timeouts: per-stage limits while following the driver (Kubernetes mode).
    :param delete_failed_driver: delete a failed driver at once instead of keeping it to inspect.
    :param keep_failed_driver: how long a failed driver is kept to inspect before the pod sweep
        deletes it (with its executors).
    :param preflight: before submitting, check spark-sa's permissions and that the image fits the
        job (Python, pyspark, the job's imports); see ``sparkplane.preflight``.
    """

    template_fields: Sequence[str] = (
        "application", "application_args", "conf", "env", "name", "image",
        "driver_memory", "executor_memory", "executor_cores", "executor_instances",
    )
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
        executor_cores: int | str = 1,
        executor_instances: int | str = 2,
        kubernetes_conn_id: str | None = settings.KUBERNETES_CONN_ID,
        namespace: str = settings.SPARK_NAMESPACE,
        image: str | None = settings.SPARK_IMAGE,
        deferrable: bool = True,
        timeouts: FollowTimeouts | None = None,
        delete_failed_driver: bool = False,
        keep_failed_driver: timedelta = timedelta(hours=24),
        preflight: bool = True,
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
        self.kubernetes_conn_id = kubernetes_conn_id
        self.namespace = namespace
        self.image = image
        self.deferrable = deferrable
        self.timeouts = timeouts or FollowTimeouts()
        self.delete_failed_driver = delete_failed_driver
        self.keep_failed_driver = keep_failed_driver
        self.preflight = preflight
        self._process: StreamingProcess | None = None
        self._driver: tuple[str, str] | None = None

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
            executor_cores=_whole_number("executor_cores", self.executor_cores),
            executor_instances=_whole_number("executor_instances", self.executor_instances),
        )

    def execute(self, context: Context) -> dict[str, Any]:
        spec = self.build_spec()
        if self.kubernetes_conn_id:
            return self._submit_to_kubernetes(spec, context)
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
        if self._driver is not None:
            name, namespace = self._driver
            self.log.info("Task killed: deleting driver pod %s/%s (its executors go with it)", namespace, name)
            self.hook.delete_pod(name, namespace)

    # --- Kubernetes mode ------------------------------------------------------------------

    @cached_property
    def hook(self) -> SparkKubernetesHook:
        return SparkKubernetesHook(self.kubernetes_conn_id)

    def _submit_to_kubernetes(self, spec: SparkJobSpec, context: Context) -> dict[str, Any]:
        if not self.image:
            raise JobDefinitionError(
                "No Spark image for Kubernetes mode. Build and push one with image/build, then set the "
                "operator's image argument or the deployment setting SPARKPLANE_SPARK_IMAGE to what it printed."
            )
        target = KubernetesTarget(namespace=self.namespace, image=self.image)
        if self.preflight:
            self._preflight(spec, target)
        task_try = _task_try(context)
        manifest = build_driver_pod(
            spec, task_try, target, keep_failed_seconds=int(self.keep_failed_driver.total_seconds())
        )
        name = manifest["metadata"]["name"]
        self._driver = (name, self.namespace)
        try:
            self.hook.create_pod(manifest)
            self.log.info("Created driver pod %s/%s running %s", self.namespace, name, spec.application)
        except PodAlreadyExists:
            # Same try, same name: an earlier worker of this try submitted it and died.
            self.log.info("Driver pod %s/%s of this try exists already; following it instead of submitting again",
                          self.namespace, name)
        trigger = SparkDriverTrigger(
            kubernetes_conn_id=self.kubernetes_conn_id,
            namespace=self.namespace,
            pod_name=name,
            timeouts=self.timeouts.to_dict(),
        )
        if self.deferrable:
            self.defer(trigger=trigger, method_name="execute_complete")
        return self.execute_complete(context, _first_event(trigger))

    def _preflight(self, spec: SparkJobSpec, target: KubernetesTarget) -> None:
        def is_allowed(verb: str, resource: str) -> bool:
            return self.hook.is_allowed(
                service_account=target.driver_service_account, namespace=target.namespace, verb=verb, resource=resource
            )

        job_file = spec.application_path(settings.JOBS_ROOT)
        run_preflight(
            is_allowed=is_allowed,
            service_account=target.driver_service_account,
            namespace=target.namespace,
            image=target.image,
            job_file=job_file if not Path(spec.application).is_absolute() else None,
            jobs_root=settings.JOBS_ROOT,
            log=self.log,
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Finish the task from the trigger's event: report, clean up, succeed or explain."""
        name, namespace = event["pod_name"], event["namespace"]
        self._driver = (name, namespace)
        status = event["status"]
        self.log.info("Driver pod %s/%s ended: %s (%s)", namespace, name, status, event.get("message"))
        pod = self.hook.read_pod(name, namespace)
        app_id = pod.metadata.labels.get(APPLICATION_ID_LABEL) if pod is not None else None
        result = {
            "mode": "kubernetes",
            "application_id": app_id,
            "namespace": namespace,
            "driver_pod": name,
            "final_state": status,
            "seconds": stage_seconds(pod, DRIVER_CONTAINER_NAME) if pod is not None else None,
            "spark_history": f"{settings.SPARK_HISTORY_URL}/history/{app_id}" if settings.SPARK_HISTORY_URL and app_id else None,
            "log_lines": event.get("log_lines"),
        }
        self.log.info("Driver stages (seconds): %s", result["seconds"])
        result["failed_executors"] = self._log_failed_executors(_task_try(context), namespace)
        if result["spark_history"]:
            self.log.info("Spark history: %s", result["spark_history"])
        if status == "success":
            self.hook.delete_pod(name, namespace)
            return result
        diagnosis = self._diagnose(event)
        self.log.error("Cause: %s", diagnosis.cause)
        self.log.error("Fix: %s", diagnosis.fix)
        # A driver that never ran has no log to read, only events, which are logged above:
        # keeping it would only hold its resource requests (or retry a pull) until swept.
        if self.delete_failed_driver or status != "failed" or not event.get("container_started", True):
            self.log.info("Deleting driver pod %s/%s (its executors go with it)", namespace, name)
            self.hook.delete_pod(name, namespace)
        else:
            self.log.info(
                "The failed driver pod is kept %s to inspect, then swept:\n  kubectl -n %s describe pod %s\n"
                "  kubectl -n %s logs %s\n  kubectl -n %s delete pod %s   # also removes its executors",
                self.keep_failed_driver, namespace, name, namespace, name, namespace, name,
            )
        raise SparkJobFailed(diagnosis.cause, diagnosis.fix)

    def _log_failed_executors(self, task_try: TaskTry, namespace: str) -> list[str]:
        """Log a digest of the executors that failed (how they ended, their last lines); return it."""
        executors = self.hook.list_pods(namespace, label_selector=f"{task_try.selector()},{SPARK_ROLE_LABEL}=executor")
        digest = []
        for pod, status in failed_containers(executors):
            line = describe_failed_container(pod, status)
            digest.append(line)
            tail = self.hook.read_pod_log_tail(
                pod.metadata.name, namespace, container=EXECUTOR_CONTAINER_NAME, lines=EXECUTOR_DIGEST_LOG_LINES
            )
            self.log.warning("Failed executor %s\n%s", line, "\n".join(f"    {text}" for text in tail))
        if digest:
            self.log.warning("%d executor(s) failed during the job (listed above)", len(digest))
        return digest

    def _diagnose(self, event: dict[str, Any]) -> Diagnosis:
        name, namespace = event["pod_name"], event["namespace"]
        if event["status"] == "timeout":
            return Diagnosis(
                cause=f"Driver pod {namespace}/{name}: {event['message']}.",
                fix="See the waiting reasons logged above; raise that stage's timeout if the wait was expected.",
            )
        if event["status"] == "error":
            return Diagnosis(
                cause=f"Following driver pod {namespace}/{name} failed: {event['message']}",
                fix="Check the kubernetes connection and that the pod still exists; clear the task to retry.",
            )
        pod = self.hook.read_pod(name, namespace)
        exit_code = _driver_exit_code(pod) if pod is not None else 1
        # A driver that never ran, or that Kubernetes killed (OOMKilled), is explained by the pod;
        # one that ran and failed, by its log: the job's own exception.
        if event.get("cause") and (not event.get("container_started") or exit_code == SIGKILL_EXIT_CODE):
            return Diagnosis(cause=event["cause"], fix=event["fix"])
        tail = self.hook.read_pod_log_tail(name, namespace, container=DRIVER_CONTAINER_NAME, lines=FAILURE_LOG_LINES)
        application = self.application.rsplit("/", 1)[-1]
        return explain_failure(exit_code, tail, application=application)


def _whole_number(field_name: str, value: int | str) -> int:
    """Return a rendered template's digits as an int; anything else goes to the spec's check."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, str):
        raise JobDefinitionError(
            f"{field_name}={value!r} is not a whole number. Pass an int, or a template that renders "
            "to digits, such as '{{ params.executors }}'."
        )
    return value


def _task_try(context: Context) -> TaskTry:
    ti = context["ti"]
    return TaskTry(
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        run_id=ti.run_id,
        try_number=ti.try_number,
        map_index=ti.map_index if ti.map_index is not None else -1,
    )


def _first_event(trigger: SparkDriverTrigger) -> dict[str, Any]:
    """Run the trigger in this process (non-deferrable mode) and return its event."""
    import asyncio

    async def first() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise RuntimeError("the trigger ended without an event")

    return asyncio.run(first())


def _driver_exit_code(pod: Any) -> int:
    for status in (pod.status.container_statuses or []) if pod.status else []:
        if status.name == DRIVER_CONTAINER_NAME and status.state and status.state.terminated:
            return status.state.terminated.exit_code
    return 1
