"""The platform's Spark operator: one class for every place a PySpark job can run.

Where the job runs is deployment configuration, not a different operator: the same DAG runs a job
with a local Spark master on a laptop or in CI (the embedded default) and, configured with a
cluster, on Kubernetes. The operator only renders its arguments, builds a ``SparkJobSpec``, hands
it to the local or the Kubernetes launcher, defers, and hands the trigger's event back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR

from sparkplane import settings
from sparkplane.argument_sources import argument_sources
from sparkplane.deployment import deployment_id
from sparkplane.exceptions import JobDefinitionError
from sparkplane.job_spec import SparkJobSpec, check_application_origin, whole_number
from sparkplane.kubernetes.driver_pod import KubernetesTarget
from sparkplane.kubernetes.follower_timing import FollowerTiming
from sparkplane.kubernetes.identity import DEFAULT_KEEP_FAILED_SECONDS, TaskTry
from sparkplane.kubernetes.secret_refs import SecretReference
from sparkplane.kubernetes.stage_timeouts import FollowTimeouts
from sparkplane.local.launcher import LocalLauncher
from sparkplane.local.spark_submit import ignored_in_local_mode
from sparkplane.quality.result_line import QUALITY_XCOM_KEY
from sparkplane.spark_conf import event_log_conf
from sparkplane.storage.check import check_object_store
from sparkplane.storage.event_logs import prepare_event_log_dir
from sparkplane.storage.object_store import configured_object_store
from sparkplane.task_log import explained_failure, log_section

if TYPE_CHECKING:
    from airflow.sdk import Context

    from sparkplane.kubernetes.debug_bundle import DebugBundleRequest
    from sparkplane.kubernetes.launcher import DriverLauncher


class SparkJobOperator(BaseOperator):
    """Run a PySpark job from ``jobs/`` and stream its driver log into the task log.

    :param application: the job's ``.py`` file, relative to the jobs folder, or an absolute path
        written literally in the DAG (a path rendered from a template stays in the jobs folder). (templated)
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
    :param object_store_conn_id: the object store's Airflow connection: the job gets S3A's settings
        for it and its key by reference (``sparkplane.storage.object_store``); None gives none. Defaults
        to the deployment setting ``SPARKPLANE_OBJECT_STORE_CONN_ID``.
    :param event_log_dir: where the driver writes its Spark event logs (rolling), for a Spark
        History Server; None writes none. Defaults to ``SPARKPLANE_SPARK_EVENT_LOG_DIR``.
    :param image: the platform's Spark image (default: deployment setting). (templated)
    :param pod_template: what to add to the driver and executor pods in Kubernetes mode: node
        selectors, tolerations, volumes and mounts, env, labels, sidecars; the platform's own
        fields win (see ``sparkplane.kubernetes.pod_templates``). (templated)
    :param secrets: Kubernetes Secrets the driver and executors receive by reference, never by
        value: ``SecretEnv``, ``SecretEnvFrom``, ``SecretVolume`` (``sparkplane.kubernetes.secret_refs``).
        Kubernetes mode; a local run goes without them and says so.
    :param deferrable: release the worker slot while the driver runs (Kubernetes mode).
    :param timeouts: per-stage limits while following the driver (Kubernetes mode).
    :param follower_timing: how the follower paces itself and when it gives up on an unreachable
        or refusing API (Kubernetes mode); None for production's defaults (``FollowerTiming``).
    :param delete_failed_driver: delete a failed driver at once instead of keeping it to inspect.
    :param keep_failed_driver: how long a failed driver is kept to inspect before the pod sweep
        deletes it (with its executors).
    :param preflight: before submitting, check that the object store answers for the job's buckets
        (``sparkplane.storage.check``) and, in Kubernetes mode, spark-sa's permissions and that
        the image fits the job (Python, pyspark, the job's imports; ``sparkplane.kubernetes.preflight``).
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
        object_store_conn_id: str | None = settings.OBJECT_STORE_CONN_ID,
        event_log_dir: str | None = settings.SPARK_EVENT_LOG_DIR,
        image: str | None = settings.SPARK_IMAGE,
        pod_template: Mapping[str, Any] | None = None,
        secrets: Sequence[SecretReference] = (),
        deferrable: bool = True,
        timeouts: FollowTimeouts | None = None,
        follower_timing: FollowerTiming | None = None,
        delete_failed_driver: bool = False,
        keep_failed_driver: timedelta = timedelta(seconds=DEFAULT_KEEP_FAILED_SECONDS),
        preflight: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.application = application
        self._application_as_written = application
        self.application_args = list(application_args)
        self._argument_sources = argument_sources(self.application_args)
        self.conf = dict(conf or {})
        self.env = dict(env or {})
        self.name = name
        self.driver_memory = driver_memory
        self.executor_memory = executor_memory
        self.executor_cores = executor_cores
        self.executor_instances = executor_instances
        self.kubernetes_conn_id = kubernetes_conn_id
        self.namespace = namespace
        self.object_store_conn_id = object_store_conn_id
        self.event_log_dir = event_log_dir
        self.image = image
        self.pod_template = dict(pod_template or {})
        self.secrets = list(secrets)
        self.deferrable = deferrable
        self.timeouts = timeouts or FollowTimeouts()
        self.follower_timing = follower_timing
        self.delete_failed_driver = delete_failed_driver
        self.keep_failed_driver = keep_failed_driver
        self.preflight = preflight
        self._local: LocalLauncher | None = None
        self._driver: str | None = None

    def build_spec(self) -> SparkJobSpec:
        """Return the validated job specification from the rendered arguments."""
        check_application_origin(self.application, as_written=self._application_as_written)
        return SparkJobSpec(
            application=self.application,
            name=self.name or f"{self.dag_id}.{self.task_id}",
            arguments=tuple(self.application_args),
            conf=self.conf,
            env=self.env,
            driver_memory=self.driver_memory,
            executor_memory=self.executor_memory,
            executor_cores=whole_number("executor_cores", self.executor_cores),
            executor_instances=whole_number("executor_instances", self.executor_instances),
        )

    def execute(self, context: Context) -> dict[str, Any]:
        with explained_failure(self.log):
            return self._execute(context)

    def _execute(self, context: Context) -> dict[str, Any]:
        spec = self.build_spec()
        # The task's own settings win over the deployment's.
        if self.event_log_dir:
            spec = replace(spec, conf={**event_log_conf(self.event_log_dir), **spec.conf})
        store = configured_object_store(self.object_store_conn_id)
        if store is not None:
            spec = replace(spec, conf={**store.spark_conf(), **spec.conf})
            self.log.info("Object store: %s (connection %s)", store.endpoint or "AWS S3", store.conn_id)
            if self.preflight:
                with log_section(self.log, "Preflight: the object store"):
                    check_object_store(store, spec, self.log)
        if self.event_log_dir:
            prepare_event_log_dir(self.event_log_dir, store)
        if self.kubernetes_conn_id:
            secrets = [*self.secrets, *(store.pod_secrets() if store else [])]
            return self._submit_to_kubernetes(spec, context, secrets)
        for reference in self.secrets:
            self.log.warning("Local mode has no Kubernetes Secrets: the job runs without %s", reference)
        ignored = ignored_in_local_mode(spec, pod_template=bool(self.pod_template))
        if ignored:
            self.log.warning("Local mode (no kubernetes connection): the job runs in this worker with a local master, "
                             "so these settings do nothing here: %s", ", ".join(ignored))  # fmt: skip
        if store is not None:
            spec = replace(spec, env={**spec.env, **store.local_env()})
        self._local = LocalLauncher(log=self.log, on_quality_result=lambda result: self._push_quality(context, result))
        return self._local.run(spec, argument_sources=self._argument_sources)

    @staticmethod
    def _push_quality(context: Context, result: dict[str, Any]) -> None:
        """Put the job's data-quality result in XCom (key ``quality``), shown in the UI even when the task fails."""
        context["ti"].xcom_push(key=QUALITY_XCOM_KEY, value=result)

    def on_kill(self) -> None:
        if self._local is not None:
            self._local.stop()
        if self._driver is not None:
            self.log.info("Task killed: deleting driver pod %s/%s (its executors go with it)", self.namespace, self._driver)
            self.launcher.delete_driver(self._driver)

    # --- Kubernetes mode ------------------------------------------------------------------

    @cached_property
    def launcher(self) -> DriverLauncher:
        # Imported here: the Kubernetes clients take seconds to import, and every DAG file that
        # uses this operator (and every task of it, local mode included) would pay that at parse.
        from sparkplane.kubernetes.launcher import DriverLauncher
        from sparkplane.rbac.hook import RbacHook

        return DriverLauncher(RbacHook(self.kubernetes_conn_id), namespace=self.namespace, log=self.log)

    def _submit_to_kubernetes(
        self, spec: SparkJobSpec, context: Context, secrets: Sequence[SecretReference]
    ) -> dict[str, Any]:
        from sparkplane.kubernetes.trigger import SparkDriverTrigger, run_until_first_event

        if not self.image:
            raise JobDefinitionError(
                "No Spark image for Kubernetes mode. Build and push one with image/build, then set the "
                "operator's image argument or the deployment setting SPARKPLANE_SPARK_IMAGE to what it printed."
            )
        self.launcher.check_task(spec, pod_template=self.pod_template, secrets=secrets)
        task_try = self._task_try(context)
        self._driver = self.launcher.find_driver_to_follow(task_try) or self.launcher.create_driver(
            spec, task_try, KubernetesTarget(namespace=self.namespace, image=self.image),
            pod_template=self.pod_template, secrets=secrets,
            keep_failed_seconds=int(self.keep_failed_driver.total_seconds()), preflight=self.preflight,
        )  # fmt: skip
        trigger = SparkDriverTrigger(
            kubernetes_conn_id=self.kubernetes_conn_id, namespace=self.namespace, pod_name=self._driver,
            timeouts=self.timeouts.to_dict(), follower_key=task_try.key,
            timing=self.follower_timing.to_dict() if self.follower_timing else None,
        )
        if self.deferrable:
            self.defer(trigger=trigger, method_name="execute_complete", timeout=self._time_left(context))
        return self.execute_complete(context, run_until_first_event(trigger))

    @staticmethod
    def _task_try(context: Context) -> TaskTry:
        return TaskTry.of(context["ti"], context["dag_run"], deployment=deployment_id())

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
            self.launcher.delete_unfinished_drivers(self._task_try(context))
        return super().resume_execution(next_method, next_kwargs, context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Finish the task from the trigger's event: report, clean up, succeed or explain."""
        self._driver = event["pod_name"]
        with explained_failure(self.log):
            return self.launcher.finish(
                event,
                application=self.application.rsplit("/", 1)[-1],
                delete_failed_driver=self.delete_failed_driver,
                keep_failed_driver=self.keep_failed_driver,
                on_quality_result=lambda result: self._push_quality(context, result),
                argument_sources=self._argument_sources,
                debug_bundle=self._debug_bundle_request(context),
            )

    def _debug_bundle_request(self, context: Context) -> DebugBundleRequest | None:
        """Return where a failed driver's debug bundle goes (beside this try's log file) and what it re-checks."""
        from sparkplane.kubernetes.debug_bundle import DebugBundleRequest, debug_folder_of

        try:
            return DebugBundleRequest(
                folder=debug_folder_of(context["ti"]), spec=self.build_spec(),
                target=KubernetesTarget(namespace=self.namespace, image=self.image) if self.image else None,
                preflight=self.preflight,
            )  # fmt: skip
        except Exception as error:  # the bundle is an aid: it never stands between the task and its result
            self.log.warning("This try writes no debug bundle: %s: %s", type(error).__name__, error)
            return None
