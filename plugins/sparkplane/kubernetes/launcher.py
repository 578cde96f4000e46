"""The driver pods of one operator: find or create one per try, report how it ended, clean up.

The operator's Kubernetes mode in the spirit of the provider's ``PodManager``: the operator only
builds the spec, defers and hands back the trigger's event; this class does the calls around it
through the hook, and leaves the explaining to the pure rules in ``sparkplane.diagnosis`` (the
job's own failure, from its log) and ``pod_diagnosis`` (what Kubernetes did to the pod).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from secrets import token_bytes
from typing import TYPE_CHECKING, Any

from sparkplane import settings
from sparkplane.diagnosis import SIGKILL_EXIT_CODE, Diagnosis, explain_failure
from sparkplane.exceptions import (
    ForeignDriverPod,
    JobDefinitionError,
    KubernetesPermissionDenied,
    PodAlreadyExists,
    PodChanged,
    job_failure,
)
from sparkplane.kubernetes import pod_status
from sparkplane.kubernetes.debug_bundle import DebugBundleRequest, write_debug_bundle
from sparkplane.kubernetes.driver_pod import KubernetesTarget, build_driver_pod
from sparkplane.kubernetes.driver_signature import is_signed_by, load_signing_key, signature_of
from sparkplane.kubernetes.identity import (
    APPLICATION_ID_LABEL,
    DRIVER_CONTAINER_NAME,
    EXECUTOR_CONTAINER_NAME,
    SIGNATURE_ANNOTATION,
    TaskTry,
    executor_selector,
)
from sparkplane.kubernetes.pod_diagnosis import describe_failed_container, failed_containers
from sparkplane.kubernetes.pod_templates import check_pod_template
from sparkplane.kubernetes.preflight import check_quota_headroom, namespace_refusal, run_preflight
from sparkplane.kubernetes.reattach import driver_to_follow, try_number_of
from sparkplane.kubernetes.secret_refs import SecretReference, check_secret_references
from sparkplane.kubernetes.spark_auth import AUTH_SECRET_BYTES, auth_secret_manifest
from sparkplane.kubernetes.task_policy import (
    reserved_conf_problems,
    reserved_pod_template_problems,
    secret_value_problems,
)
from sparkplane.quality.result_line import (
    explain_quality_failure,
    last_result_line,
    log_summary,
    published_output,
    run_record_fields,
)
from sparkplane.task_log import log_section

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from kubernetes.client import V1Pod

    from sparkplane.job_spec import SparkJobSpec
    from sparkplane.rbac.hook import RbacHook

#: Driver log lines read back to explain a failed driver.
FAILURE_LOG_LINES = 200
#: Lines of the driver log's end searched for the data-quality result line (printed near the end).
QUALITY_LOG_LINES = 500
#: How long a driver of this try, created by another worker, may take to be signed.
SIGNATURE_WAIT_SECONDS = 10
#: Last lines of each failed executor's log shown in the digest.
EXECUTOR_DIGEST_LOG_LINES = 15


class DriverLauncher:
    """Finds, creates, reports on and deletes the driver pods of a task's tries.

    :param hook: the platform's Kubernetes hook (the Airflow identity's connection), with the RBAC
        reads that explain a denial.
    :param namespace: namespace of the drivers and executors.
    :param log: the task log.
    :param jobs_root: where the preflight reads a relative job file to check its imports.
    """

    def __init__(
        self,
        hook: RbacHook,
        *,
        namespace: str,
        log: logging.Logger | logging.LoggerAdapter,
        jobs_root: Path = settings.JOBS_ROOT,
        signing_key: bytes | None = None,
    ) -> None:
        self.hook = hook
        self.namespace = namespace
        self.log = log
        self.jobs_root = jobs_root
        self._signing_key = signing_key

    @cached_property
    def signing_key(self) -> bytes:
        """Return the key drivers are signed with (the Airflow Variable's, unless one was given)."""
        return self._signing_key or load_signing_key()

    # --- before the deferral ----------------------------------------------------------------

    def find_driver_to_follow(self, task_try: TaskTry) -> str | None:
        """Return the name of a driver this try should follow instead of submitting (see reattach).

        Only drivers this platform signed are candidates: labels can be written by anyone who may
        create pods in the namespace. This is the try's first call in the job's namespace, so a
        denial here fails the try with whether the namespace exists (see ``namespace_refusal``).
        """
        try:
            pods = self.hook.list_pods(self.namespace, task_try.drivers_selector())
        except KubernetesPermissionDenied as error:
            raise namespace_refusal(
                self.namespace, error, read_namespace=self.hook.read_namespace,
                platform_namespace=settings.SPARK_NAMESPACE,
            ) from error  # fmt: skip
        signed = []
        for pod in pods:
            if is_signed_by(pod, self.signing_key):
                signed.append(pod)
            else:
                self.log.warning(
                    "Pod %s/%s carries this task's driver labels but not this platform's signature: not "
                    "following it (it was created by someone else, or by another Airflow)",
                    self.namespace, pod.metadata.name,
                )  # fmt: skip
        driver = driver_to_follow(signed, task_try)
        if driver is None:
            return None
        self.log.info(
            "Driver pod %s/%s (%s) of try %s of this task exists; following it instead of submitting a "
            "second one (an earlier worker or triggerer stopped while it ran)",
            self.namespace, driver.metadata.name, pod_status.phase(driver) or "unknown", try_number_of(driver),
        )  # fmt: skip
        if pod_status.phase(driver) in (None, pod_status.POD_PENDING):
            # A worker that died between creating the driver and its secret left it waiting for it.
            self._create_auth_secret(driver)
        return driver.metadata.name

    def check_task(self, spec: SparkJobSpec, *, pod_template: Mapping[str, Any], secrets: Sequence[object]) -> None:
        """Refuse, before anything is created, what a task may not ask of Kubernetes mode (see task_policy)."""
        if problems := check_pod_template(pod_template):
            raise JobDefinitionError(
                f"pod_template cannot be used: {'; '.join(problems)}. Pass a partial pod manifest, for "
                "example {'spec': {'nodeSelector': {'disk': 'ssd'}}}."
            )
        if problems := check_secret_references(secrets, env_names=list(spec.env)):
            raise JobDefinitionError(f"secrets cannot be used: {'; '.join(problems)}.")
        if problems := reserved_conf_problems(spec.conf) + reserved_pod_template_problems(pod_template):
            raise JobDefinitionError(
                f"The task sets what the platform owns in Kubernetes mode: {'; '.join(problems)}. "
                "Remove those settings from the task."
            )
        if problems := secret_value_problems(spec):
            raise JobDefinitionError(
                f"Secrets would be written into the driver pod's spec in plain text: {'; '.join(problems)}. "
                f"Anyone who may read pods in namespace {self.namespace} could read them. Put the value in a "
                "Kubernetes Secret there and pass it by reference, e.g. secrets=[SecretEnv(name='DB_PASSWORD', "
                "secret='warehouse', key='password')] (an environment variable of the driver and executors) "
                "or SecretVolume(secret='warehouse', mount_path='/etc/secrets/warehouse'), and read it in the job."
            )

    def create_driver(
        self,
        spec: SparkJobSpec,
        task_try: TaskTry,
        target: KubernetesTarget,
        *,
        pod_template: Mapping[str, Any],
        secrets: Sequence[SecretReference] = (),
        keep_failed_seconds: int,
        preflight: bool,
    ) -> str:
        """Create this try's driver pod (after ``check_task`` and the preflight); return its name."""
        if preflight:
            with log_section(self.log, "Preflight: the cluster, the image, the quota"):
                self._preflight(spec, target)
        manifest = build_driver_pod(
            spec, task_try, target, keep_failed_seconds=keep_failed_seconds, pod_template=pod_template or None,
            secrets=secrets,
        )  # fmt: skip
        name = manifest["metadata"]["name"]
        try:
            created = self.hook.create_pod(manifest)
        except PodAlreadyExists:
            # Another worker of this very try created it between the lookup and now, and signs it
            # right after; or someone else took the name.
            self._wait_for_signature(name)
            self.log.info("Driver pod %s/%s of this try exists already; following it", self.namespace, name)
            return name
        self.hook.annotate_pod(
            name, self.namespace, {SIGNATURE_ANNOTATION: signature_of(created, self.signing_key)}, uid=created.metadata.uid
        )
        self._create_auth_secret(created)
        self.log.info("Created driver pod %s/%s running %s", self.namespace, name, spec.application)
        return name

    def _create_auth_secret(self, driver: V1Pod) -> None:
        """Create the driver's Spark authentication secret (see spark_auth); the driver starts once it exists."""
        self.hook.create_secret(auth_secret_manifest(driver, token_bytes(AUTH_SECRET_BYTES)))

    def _wait_for_signature(self, name: str) -> None:
        deadline = time.monotonic() + SIGNATURE_WAIT_SECONDS
        while True:
            pod = self.hook.read_pod(name, self.namespace)
            if pod is not None and is_signed_by(pod, self.signing_key):
                return
            if time.monotonic() >= deadline:
                raise ForeignDriverPod(name, self.namespace)
            time.sleep(1)

    def _preflight(
        self, spec: SparkJobSpec, target: KubernetesTarget, *, log: logging.Logger | logging.LoggerAdapter | None = None
    ) -> None:
        log = log or self.log

        def is_allowed(verb: str, resource: str) -> bool:
            return self.hook.is_allowed(
                service_account=target.driver_service_account, namespace=target.namespace, verb=verb, resource=resource
            )

        run_preflight(
            is_allowed=is_allowed,
            service_account=target.driver_service_account,
            namespace=target.namespace,
            image=target.image,
            job_file=None if Path(spec.application).is_absolute() else spec.application_path(self.jobs_root),
            jobs_root=self.jobs_root,
            log=log,
            read_rbac=lambda: self.hook.rbac_objects(target.namespace),
        )
        check_quota_headroom(
            spec, list_quotas=lambda: self.hook.list_resource_quotas(target.namespace), namespace=target.namespace,
            log=log,
        )

    # --- when the task stops or the deferral ends ------------------------------------------------

    def delete_driver(self, name: str, *, uid: str | None = None) -> None:
        """Delete a driver pod (only the one with ``uid``, when given); what it owns goes with it."""
        try:
            self.hook.delete_pod(name, self.namespace, uid=uid)
        except PodChanged:
            self.log.warning("Driver pod %s/%s was replaced by another pod of that name; not deleting that one",
                             self.namespace, name)  # fmt: skip

    def delete_unfinished_drivers(self, task_try: TaskTry) -> None:
        """Delete the task instance's drivers that have not failed: nothing follows them any more."""
        for driver in self.hook.list_pods(self.namespace, task_try.drivers_selector()):
            if pod_status.phase(driver) != pod_status.POD_FAILED:
                self.log.info("Deferral ended without a result: deleting driver pod %s/%s and its executors",
                              self.namespace, driver.metadata.name)  # fmt: skip
                self.delete_driver(driver.metadata.name, uid=driver.metadata.uid)

    def finish(
        self,
        event: dict[str, Any],
        *,
        application: str,
        delete_failed_driver: bool,
        keep_failed_driver: timedelta,
        on_quality_result: Callable[[dict[str, Any]], None] | None = None,
        argument_sources: Mapping[str, str] | None = None,
        debug_bundle: DebugBundleRequest | None = None,
    ) -> dict[str, Any]:
        """Report the driver's end from the trigger's event, clean up, and return the task's result.

        Raises ``SparkJobFailed`` (``SparkJobInvalid`` when a retry cannot help) with the cause and fix when the
        driver did not succeed, after writing the debug bundle (see ``debug_bundle``) and naming its folder.

        :param application: the job's file name, as the diagnosis names it.
        :param delete_failed_driver: delete a failed driver instead of keeping it to inspect.
        :param keep_failed_driver: how long a kept failed driver stays (for the log's advice).
        :param on_quality_result: called with the job's data-quality result, if its log ends with one.
        :param argument_sources: where the job's options get their values, named by a usage error's fix.
        :param debug_bundle: where a failed driver's debug bundle goes; None writes none.
        """
        name, namespace = event["pod_name"], event["namespace"]
        status = event["status"]
        self.log.info("Driver pod %s/%s ended: %s (%s)", namespace, name, status, event.get("message"))
        if status == "error":
            self._give_up_on_unknown_driver(event, application=application, debug_bundle=debug_bundle)
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
        result["failed_executors"] = self.log_failed_executors(app_id, namespace) if app_id else []
        if result["spark_history"]:
            self.log.info("Spark history: %s", result["spark_history"])
        uid = pod.metadata.uid if pod is not None else None
        quality = self.read_quality_result(event)
        if quality is not None:
            with log_section(self.log, "Data quality"):
                log_summary(self.log, quality)
            if on_quality_result is not None:
                on_quality_result(quality)
        published = run_record_fields(quality)  # the application id stays the driver's label
        result["output"], result["rows"] = published["output"], published["rows"]
        if status == "success":
            with log_section(self.log, "Cleanup"):
                self.delete_driver(name, uid=uid)
            self.log.info("%s succeeded on Kubernetes (%s)%s", application, pod_status.describe_stages(result["seconds"]),
                          published_output(quality))  # fmt: skip
            return result
        diagnosis = explain_quality_failure(quality, application=application) or self.diagnose(
            event, application=application, argument_sources=argument_sources)  # fmt: skip
        # Before the cleanup, which may delete the driver and, with it, its executors.
        bundle = self._write_debug_bundle(debug_bundle, event, diagnosis)
        with log_section(self.log, "Cleanup"):
            # A driver that never ran has no log to read, only events, which are logged above:
            # keeping it would only hold its resource requests (or retry a pull) until swept.
            if (delete_failed_driver or status == "timeout" or not event.get("container_started", True)
                    or event.get("being_deleted")):  # fmt: skip
                self.log.info("Deleting driver pod %s/%s (its executors go with it)", namespace, name)
                self.delete_driver(name, uid=uid)
            else:
                self.log.info(
                    "The failed driver pod is kept to inspect (annotated to keep %s):\n  kubectl -n %s describe pod %s\n"
                    "  kubectl -n %s logs %s\n  kubectl -n %s delete pod %s   # also removes its executors",
                    keep_failed_driver, namespace, name, namespace, name, namespace, name,
                )
        self._log_debug_bundle(bundle)
        raise job_failure(diagnosis.cause, diagnosis.fix, retry_cannot_help=diagnosis.retry_cannot_help)

    def _give_up_on_unknown_driver(
        self, event: dict[str, Any], *, application: str, debug_bundle: DebugBundleRequest | None
    ) -> None:
        """Fail the try for a driver the follower could not judge (the API unreachable, access
        denied): it may still run. Deleting it would throw its work away; the retry follows it
        instead. Nothing more is asked of the API, which may well still not answer (the debug
        bundle says so in place of what it would have read)."""
        diagnosis = self.diagnose(event, application=application)
        self.log.warning("Driver pod %s/%s is kept: its state is unknown, and the task's retry follows it "
                         "instead of starting the job again", event["namespace"], event["pod_name"])  # fmt: skip
        self._log_debug_bundle(self._write_debug_bundle(debug_bundle, event, diagnosis, ask_cluster=False))
        raise job_failure(diagnosis.cause, diagnosis.fix, retry_cannot_help=diagnosis.retry_cannot_help)

    def _write_debug_bundle(
        self, request: DebugBundleRequest | None, event: dict[str, Any], diagnosis: Diagnosis, *, ask_cluster: bool = True
    ) -> Path | None:
        """Write the failed driver's debug bundle; return its folder, or None (a warning says why).

        Never raises: the bundle is an aid, and the try must fail with its own cause and fix.
        """
        if request is None:
            return None
        spec, target = request.spec, request.target
        recheck = (lambda log: self._preflight(spec, target, log=log)) if spec and target and request.preflight else None
        try:
            return write_debug_bundle(self.hook, request, event=event, diagnosis=diagnosis, recheck_preflight=recheck,
                                      ask_cluster=ask_cluster)  # fmt: skip
        except Exception as error:  # a full disk, a folder it may not write: said, and the failure stays the job's
            self.log.warning("Could not write the debug bundle to %s: %s: %s", request.folder, type(error).__name__, error)
            return None

    def _log_debug_bundle(self, folder: Path | None) -> None:
        """Name the bundle's folder in the open, right before the operator logs Cause and Fix."""
        if folder is not None:
            self.log.warning("Debug bundle (driver pod, events, executors, nodes, preflight): %s", folder)

    def _stage_seconds(self, pod: V1Pod | None) -> dict[str, float | None] | None:
        if pod is None:
            return None
        events = self.hook.list_pod_events(pod.metadata.name, pod.metadata.namespace)
        return {**pod_status.stage_seconds(pod, DRIVER_CONTAINER_NAME), "pulling": pod_status.image_pull_seconds(events)}

    def log_failed_executors(self, application_id: str, namespace: str) -> list[str]:
        """Log a digest of the application's executors that failed (how they ended, their last lines); return it."""
        executors = self.hook.list_pods(namespace, label_selector=executor_selector(application_id))
        failed = failed_containers(executors)
        if not failed:
            return []
        digest = []
        with log_section(self.log, f"Executor digest: {len(failed)} failed"):
            for pod, status in failed:
                line = describe_failed_container(pod, status)
                digest.append(line)
                tail = self.hook.read_pod_log_tail(
                    pod.metadata.name, namespace, container=EXECUTOR_CONTAINER_NAME, lines=EXECUTOR_DIGEST_LOG_LINES
                )
                self.log.warning("Failed executor %s\n%s", line, "\n".join(f"    {text}" for text in tail))
        self.log.warning("%d executor(s) failed during the job (in the executor digest above)", len(digest))
        return digest

    def read_quality_result(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """Return the data-quality result the driver printed near its end, read from its log's tail.

        Read from the pod, not gathered by the follower: a follower restarted after the line
        passed would not see it again, the pod's log still holds it.
        """
        if event["status"] not in ("success", "failed") or not event.get("container_started", True):
            return None
        try:
            tail = self.hook.read_pod_log_tail(event["pod_name"], event["namespace"], container=DRIVER_CONTAINER_NAME,
                                               lines=QUALITY_LOG_LINES)  # fmt: skip
        except Exception as error:  # any API trouble: the result is a report, it never fails a job that succeeded
            self.log.warning("Could not read the driver's log for its data-quality result: %s", error)
            return None
        return last_result_line(tail)

    def diagnose(
        self, event: dict[str, Any], *, application: str, argument_sources: Mapping[str, str] | None = None
    ) -> Diagnosis:
        """Return the cause and fix of a driver that did not succeed, from the trigger's event.

        :param argument_sources: where the job's options get their values, named by a usage error's fix.
        """
        name, namespace = event["pod_name"], event["namespace"]
        if event["status"] == "timeout":
            return Diagnosis(
                cause=f"Driver pod {namespace}/{name}: {event['message']}.",
                fix="See the waiting reasons logged above; raise that stage's timeout if the wait was expected.",
            )
        if event["status"] == "error":
            return Diagnosis(
                cause=f"Following driver pod {namespace}/{name} failed: {event['message']}",
                fix="The task's retry follows the driver if it still exists; if retries fail the same way, check "
                "the kubernetes connection and the Airflow identity's permissions.",
            )
        pod = self.hook.read_pod(name, namespace)
        exit_code = pod_status.exit_code(pod, DRIVER_CONTAINER_NAME) if pod is not None else None
        if exit_code is None:
            exit_code = 1
        # A driver that never ran, that Kubernetes killed (OOMKilled) or lost with its node, is
        # explained by the pod; one that ran and failed, by its log: the job's own exception.
        if event.get("cause") and (
            not event.get("container_started") or exit_code == SIGKILL_EXIT_CODE or event.get("being_deleted")
        ):
            return Diagnosis(cause=event["cause"], fix=event["fix"])
        tail = self.hook.read_pod_log_tail(name, namespace, container=DRIVER_CONTAINER_NAME, lines=FAILURE_LOG_LINES)
        return explain_failure(exit_code, tail, application=application, argument_sources=argument_sources)
