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
from datetime import datetime, timedelta, timezone
from functools import cached_property
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR

from sparkplane import settings
from sparkplane.constants import (
    APPLICATION_ID_LABEL,
    DRIVER_CONTAINER_NAME,
    POD_FAILED,
    SPARK_ROLE_LABEL,
)
from sparkplane.diagnosis import explain_failure
from sparkplane.driver_outcome import diagnose_driver, log_failed_executors
from sparkplane.exceptions import JobDefinitionError, PodAlreadyExists, SparkJobFailed
from sparkplane.job_spec import SparkJobSpec
from sparkplane.manifests import KubernetesTarget, build_driver_pod
from sparkplane.pod_stages import FollowTimeouts
from sparkplane.pod_templates import check_pod_template
from sparkplane.pod_timeline import image_pull_seconds, stage_seconds
from sparkplane.preflight import run_preflight
from sparkplane.processes import StreamingProcess
from sparkplane.reattach import driver_to_follow
from sparkplane.run_identity import TRY_NUMBER_LABEL, TaskTry
from sparkplane.spark_submit import build_local_submit
from sparkplane.triggers import SparkDriverTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

    from sparkplane.hooks import SparkKubernetesHook


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
    :param pod_template: what to add to the driver and executor pods in Kubernetes mode: node
        selectors, tolerations, volumes and mounts, env, labels, sidecars; the platform's own
        fields win (see ``sparkplane.pod_templates``). (templated)
    :param deferrable: release the worker slot while the driver runs (Kubernetes mode).
    :param timeouts: per-stage limits while following the driver (Kubernetes mode).
    :param delete_failed_driver: delete a failed driver at once instead of keeping it to inspect.
    :param keep_failed_driver: how long a failed driver is kept to inspect before the pod sweep
        deletes it (with its executors).
    :param preflight: before submitting, check spark-sa's permissions and that the image fits the
        job (Python, pyspark, the job's imports); see ``sparkplane.preflight``.
    """

    template_fields: Sequence[str] = (
        "application", "application_args", "conf", "env", "name", "image", "pod_template",
        "driver_memory", "executor_memory", "executor_cores", "executor_instances",
    )
    template_fields_renderers = {"conf": "json", "env": "json", "application_args": "json", "pod_template": "json"}
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
        pod_template: Mapping[str, Any] | None = None,
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
        self.pod_template = dict(pod_template or {})
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
        # Imported here: the Kubernetes clients take seconds to import, and every DAG file that
        # uses this operator (and every task of it, local mode included) would pay that at parse.
        from sparkplane.hooks import SparkKubernetesHook

        return SparkKubernetesHook(self.kubernetes_conn_id)

    def _submit_to_kubernetes(self, spec: SparkJobSpec, context: Context) -> dict[str, Any]:
        if not self.image:
            raise JobDefinitionError(
                "No Spark image for Kubernetes mode. Build and push one with image/build, then set the "
                "operator's image argument or the deployment setting SPARKPLANE_SPARK_IMAGE to what it printed."
            )
        target = KubernetesTarget(namespace=self.namespace, image=self.image)
        task_try = _task_try(context)
        name = self._follow_existing_driver(task_try) or self._create_driver(spec, task_try, target)
        self._driver = (name, self.namespace)
        trigger = SparkDriverTrigger(
            kubernetes_conn_id=self.kubernetes_conn_id,
            namespace=self.namespace,
            pod_name=name,
            timeouts=self.timeouts.to_dict(),
            follower_key=task_try.key,
        )
        if self.deferrable:
            self.defer(trigger=trigger, method_name="execute_complete", timeout=self._time_left(context))
        return self.execute_complete(context, _first_event(trigger))

    def _follow_existing_driver(self, task_try: TaskTry) -> str | None:
        """Return the name of a driver this try should follow instead of submitting (see reattach)."""
        drivers = self.hook.list_pods(
            self.namespace, label_selector=f"{task_try.instance_selector()},{SPARK_ROLE_LABEL}=driver"
        )
        driver = driver_to_follow(drivers, task_try)
        if driver is None:
            return None
        phase = driver.status.phase if driver.status else "unknown"
        self.log.info(
            "Driver pod %s/%s (%s) of try %s of this task exists; following it instead of submitting a "
            "second one (an earlier worker or triggerer stopped while it ran)",
            self.namespace, driver.metadata.name, phase, driver.metadata.labels.get(TRY_NUMBER_LABEL),
        )
        return driver.metadata.name

    def _create_driver(self, spec: SparkJobSpec, task_try: TaskTry, target: KubernetesTarget) -> str:
        """Check, then create this try's driver pod; return its name."""
        if problems := check_pod_template(self.pod_template):
            raise JobDefinitionError(
                f"pod_template cannot be used: {'; '.join(problems)}. Pass a partial pod manifest, for "
                "example {'spec': {'nodeSelector': {'disk': 'ssd'}}}."
            )
        if self.preflight:
            self._preflight(spec, target)
        manifest = build_driver_pod(
            spec, task_try, target, keep_failed_seconds=int(self.keep_failed_driver.total_seconds()),
            pod_template=self.pod_template or None,
        )
        name = manifest["metadata"]["name"]
        try:
            self.hook.create_pod(manifest)
            self.log.info("Created driver pod %s/%s running %s", self.namespace, name, spec.application)
        except PodAlreadyExists:
            # Created between the lookup and now by another worker of this very try.
            self.log.info("Driver pod %s/%s of this try exists already; following it", self.namespace, name)
        return name

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

    def _stage_seconds(self, pod: Any) -> dict[str, float | None] | None:
        if pod is None:
            return None
        events = self.hook.list_pod_events(pod.metadata.name, pod.metadata.namespace)
        return {**stage_seconds(pod, DRIVER_CONTAINER_NAME), "pulling": image_pull_seconds(events)}

    def _time_left(self, context: Context) -> timedelta | None:
        """Return what is left of execution_timeout: Airflow does not apply it to a deferral itself."""
        if self.execution_timeout is None:
            return None
        started = context["ti"].start_date or datetime.now(timezone.utc)
        return max(self.execution_timeout - (datetime.now(timezone.utc) - started), timedelta(seconds=1))

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Resume after deferral; when the trigger timed out or crashed, stop the job first."""
        if next_method == TRIGGER_FAIL_REPR and self.kubernetes_conn_id:
            # execution_timeout of a deferred task ends its trigger without on_kill: the driver
            # would run on unwatched. Delete it (its executors go with it) before failing.
            task_try = _task_try(context)
            for driver in self.hook.list_pods(
                self.namespace, label_selector=f"{task_try.instance_selector()},{SPARK_ROLE_LABEL}=driver"
            ):
                if driver.status is None or driver.status.phase != POD_FAILED:
                    self.log.info("Deferral ended without a result: deleting driver pod %s/%s and its executors",
                                  self.namespace, driver.metadata.name)
                    self.hook.delete_pod(driver.metadata.name, self.namespace)
        return super().resume_execution(next_method, next_kwargs, context)

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
            "seconds": self._stage_seconds(pod),
            "spark_history": f"{settings.SPARK_HISTORY_URL}/history/{app_id}" if settings.SPARK_HISTORY_URL and app_id else None,
            "log_lines": event.get("log_lines"),
        }
        self.log.info("Driver stages (seconds): %s", result["seconds"])
        # By the driver's application id: a driver followed from an earlier try has that try's labels.
        result["failed_executors"] = log_failed_executors(self.hook, self.log, app_id, namespace) if app_id else []
        if result["spark_history"]:
            self.log.info("Spark history: %s", result["spark_history"])
        if status == "success":
            self.hook.delete_pod(name, namespace)
            return result
        diagnosis = diagnose_driver(self.hook, event, application=self.application.rsplit("/", 1)[-1])
        self.log.error("Cause: %s", diagnosis.cause)
        self.log.error("Fix: %s", diagnosis.fix)
        # A driver that never ran has no log to read, only events, which are logged above:
        # keeping it would only hold its resource requests (or retry a pull) until swept.
        if self.delete_failed_driver or status != "failed" or not event.get("container_started", True):
            self.log.info("Deleting driver pod %s/%s (its executors go with it)", namespace, name)
            self.hook.delete_pod(name, namespace)
        else:
            self.log.info(
                "The failed driver pod is kept to inspect (annotated to keep %s):\n  kubectl -n %s describe pod %s\n"
                "  kubectl -n %s logs %s\n  kubectl -n %s delete pod %s   # also removes its executors",
                self.keep_failed_driver, namespace, name, namespace, name, namespace, name,
            )
        raise SparkJobFailed(diagnosis.cause, diagnosis.fix)


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
