"""Checks before a driver pod is submitted, each failing the task at once with the fix.

The driver's permissions, the image's Python and pyspark, the job's imports, and whether the
job's pods fit what the namespace's ResourceQuotas leave are checked. The decisions are pure
functions; ``run_preflight`` and ``check_quota_headroom`` do the I/O through the hook and the
image's labels.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from sparkplane import spark_conf as c
from sparkplane.exceptions import KubernetesPermissionDenied, PreflightFailed
from sparkplane.image.contents import (
    ImageContents,
    ImageContentsError,
    ImageNotInRegistry,
    read_image_contents,
)
from sparkplane.image.fit import image_problems, job_code_problems
from sparkplane.image.job_code import job_code_sha256
from sparkplane.image.job_imports import job_third_party_imports
from sparkplane.kubernetes.driver_pod import driver_cpu_request, memory_request_mib
from sparkplane.rbac.driver_permissions import missing_rights, namespace_failure, permission_failure
from sparkplane.rbac.needed_rights import DRIVER_RIGHTS

if TYPE_CHECKING:
    from kubernetes.client import V1ResourceQuota

    from sparkplane.job_spec import SparkJobSpec
    from sparkplane.rbac.grants import RbacObjects

#: Quota scopes every driver and executor pod falls under: each requests resources
#: (NotBestEffort) and has no activeDeadlineSeconds (NotTerminating). A quota with another scope
#: (BestEffort, Terminating, PriorityClass) may not count the job's pods and is not checked.
JOB_POD_SCOPES = frozenset({"NotBestEffort", "NotTerminating"})
#: The quota resources a job's pods are charged for, by what they measure, in the order reported.
QUOTA_RESOURCES = {
    "requests.cpu": "cpu", "cpu": "cpu",
    "requests.memory": "memory", "memory": "memory", "limits.memory": "memory",
    "pods": "pods", "count/pods": "pods",
}
_MIB = 1024 * 1024
_GIB = 1024 * _MIB


def run_preflight(
    *,
    is_allowed: Callable[[str, str], bool],
    service_account: str,
    namespace: str,
    image: str,
    job_file: Path | None,
    jobs_root: Path,
    log: logging.Logger,
    read_rbac: Callable[[], RbacObjects] | None = None,
) -> None:
    """Raise ``PreflightFailed`` with the cause and fix when the job cannot work as configured.

    A job that cannot work should fail in a second with one line of cause and one of fix, not
    after an image pull and a JVM start with a stack trace from an executor. Four questions are
    asked:

    - may ``spark-sa`` do what Spark's driver does (one SubjectAccessReview per verb and resource)?
    - does the image run the Python minor version and pyspark of the Airflow environment, where
      the job was developed and tested (the image records both, see ``sparkplane.image.contents``)?
    - is every library the job imports installed in the image (else executors fail with
      ``ModuleNotFoundError``), with those the ``jobs/`` modules it imports need?
    - is the job's code in the image the code here (the image records each job file's sha256)?
      Else the driver would run the copy from the image's build.

    Like every failure of a job, a failed check ends the task log with a ``Cause:`` and a ``Fix:``
    line (the operator logs the exception's, outside every folded section) before the task fails.

    :param read_rbac: reads the namespace's Roles and RoleBindings and the cluster's ClusterRoles
        and ClusterRoleBindings, called only when a driver right is missing, so the failure can say
        whether a binding is missing or a Role lacks a verb.
    """
    missing = missing_rights(is_allowed)
    if missing:
        rbac = _read_rbac_if_allowed(read_rbac, namespace=namespace, log=log)
        raise permission_failure(missing, service_account=service_account, namespace=namespace, rbac=rbac)
    log.info("Preflight: %s/%s has the driver's %d rights", namespace, service_account, len(DRIVER_RIGHTS))
    try:
        contents = read_image_contents(image)
    except ImageNotInRegistry as error:
        raise PreflightFailed(
            cause=f"Image {error}",
            fix="Set the operator's image (or SPARKPLANE_SPARK_IMAGE) to the reference image/build printed, "
            "or build and push the image with image/build.",
        ) from error  # fmt: skip
    except ImageContentsError as error:
        # Unreadable labels do not prove the image wrong; the job itself will tell.
        log.warning("Preflight: cannot read what image %s contains (%s); skipping the image checks", image, error)
        return
    imports: set[str] = set()
    code_problems: list[str] = []
    if job_file is not None and job_file.is_file():
        imports = job_third_party_imports(job_file, jobs_root)
        code_problems = _job_code_problems(contents, image=image, job_file=job_file, jobs_root=jobs_root, log=log)
    else:
        log.info("Preflight: the job file is not readable here; its imports are not checked against the image")
    problems = image_problems(
        contents,
        driver_python=platform.python_version(),
        driver_pyspark=_installed_version("pyspark"),
        imports=imports,
        module_distributions=metadata.packages_distributions(),
    )
    if problems:
        also = f" Nor does it hold this job's code: {' '.join(code_problems)}" if code_problems else ""
        raise PreflightFailed(
            cause=f"Image {image} does not fit the job: " + " ".join(problems) + also,
            fix="Build the image from the project's lock (make lock, then image/build) and run the task with "
            "the image reference image/build printed.",
        )  # fmt: skip
    if code_problems:
        raise PreflightFailed(
            cause=f"Image {image} does not hold this job's code: " + " ".join(code_problems),
            fix="Build the image again (make image, or image/build) so it carries the current jobs/, and run the "
            "task with the image reference it prints.",
        )  # fmt: skip
    log.info(
        "Preflight: image has Python %s, pyspark %s and the job's imports (%s)",
        contents.python_version, contents.spark_version, ", ".join(sorted(imports)) or "none",
    )


def _job_code_problems(contents: ImageContents, *, image: str, job_file: Path, jobs_root: Path,
                       log: logging.Logger | logging.LoggerAdapter) -> list[str]:  # fmt: skip
    """Say how the job, or a jobs/ module it imports, is not the same in the image as here."""
    if not job_file.resolve().is_relative_to(jobs_root.resolve()):
        return []  # a file outside the jobs folder is not the image's to run
    if not contents.job_sha256:
        log.info("Preflight: image %s records no job files (built before they were recorded); the job's code "
                 "is not compared with it", image)  # fmt: skip
        return []
    return job_code_problems(contents, job_code_sha256(job_file, jobs_root))


def namespace_refusal(
    namespace: str,
    error: KubernetesPermissionDenied,
    *,
    read_namespace: Callable[[str], object | None],
    platform_namespace: str,
) -> PreflightFailed:
    """Return the failure for a job whose first call in its namespace was denied.

    The namespace is read (``namespaces get``, which the Airflow identity has cluster-wide) to
    tell one that does not exist from one that is not the platform's.

    :param read_namespace: returns the namespace, or None when it does not exist.
    :param platform_namespace: the deployment's namespace for jobs.
    """
    try:
        exists: bool | None = read_namespace(namespace) is not None
    except KubernetesPermissionDenied:
        exists = None
    denied = str(error).splitlines()[0]
    return namespace_failure(namespace, denied=denied, namespace_exists=exists, platform_namespace=platform_namespace)


@dataclass(frozen=True)
class JobResources:
    """What a job's pods ask a namespace's quota for: one driver and ``executors`` equal executors.

    Memory is each pod's request and its limit alike (both the pod builder and Spark set them equal).

    :param driver_cpu: the driver pod's CPU request, in cores.
    :param driver_memory_mib: the driver pod's memory, heap and overhead.
    :param executors: how many executor pods the driver starts.
    :param executor_cpu: each executor pod's CPU request, in cores.
    :param executor_memory_mib: each executor pod's memory, heap and overhead.
    """

    driver_cpu: Decimal
    driver_memory_mib: int
    executors: int
    executor_cpu: Decimal
    executor_memory_mib: int

    @property
    def cpu(self) -> Decimal:
        return self.driver_cpu + self.executors * self.executor_cpu

    @property
    def memory_bytes(self) -> int:
        return (self.driver_memory_mib + self.executors * self.executor_memory_mib) * _MIB

    @property
    def pods(self) -> int:
        return 1 + self.executors


def job_resources(spec: SparkJobSpec) -> JobResources:
    """Return what the job's pods request: the driver as the pod builder sets it, executors as Spark does.

    The task's ``conf`` wins over the operator's arguments, as in the driver's settings.
    """
    executor = {
        c.SPARK_EXECUTOR_INSTANCES: str(spec.executor_instances),
        c.SPARK_EXECUTOR_MEMORY: spec.executor_memory,
        c.SPARK_EXECUTOR_CORES: str(spec.executor_cores),
        **spec.conf,
    }
    return JobResources(
        driver_cpu=_quantity(driver_cpu_request(spec.conf)),
        driver_memory_mib=memory_request_mib(spec.driver_memory),
        executors=int(executor[c.SPARK_EXECUTOR_INSTANCES]),
        executor_cpu=_quantity(executor.get(c.SPARK_EXECUTOR_REQUEST_CORES) or executor[c.SPARK_EXECUTOR_CORES]),
        executor_memory_mib=memory_request_mib(executor[c.SPARK_EXECUTOR_MEMORY]),
    )


@dataclass(frozen=True)
class QuotaShortfall:
    """One line of one quota that cannot hold the job.

    :param quota: the ResourceQuota's name.
    :param resource: the quota's resource name (``requests.cpu``, ``limits.memory``, ``pods``...).
    :param asked: what the job asks, described with its parts.
    :param left: what is left of the quota, in the same unit.
    :param hard: the quota's limit, in the same unit.
    :param never_fits: the job asks for more than the whole quota, so waiting cannot help.
    """

    quota: str
    resource: str
    asked: str
    left: str
    hard: str
    never_fits: bool

    def describe(self) -> str:
        """Return the shortfall as one clause."""
        return f"{self.resource}: this job asks for {self.asked} and {self.left} of the quota's {self.hard} are left"


def quota_shortfalls(quotas: Iterable[V1ResourceQuota], job: JobResources) -> list[QuotaShortfall]:
    """Return each quota line that has less left than the job asks (empty when the job fits).

    Reads ``status.hard`` and ``status.used``, which the API server enforces; a quota whose status
    the controller has not written yet, or whose scopes may not count the job's pods, is skipped.
    """
    shortfalls = []
    for quota in quotas:
        if quota.status is None or not quota.status.hard or not _counts_job_pods(quota):
            continue
        used = quota.status.used or {}
        for resource, measure in QUOTA_RESOURCES.items():
            if resource not in quota.status.hard:
                continue
            asked, asked_text = _asked(job, measure)
            hard = _quantity(quota.status.hard[resource])
            left = max(hard - _quantity(used.get(resource, "0")), Decimal(0))
            if asked > left:
                shortfalls.append(QuotaShortfall(
                    quota=quota.metadata.name, resource=resource, asked=asked_text, left=_text(left, measure),
                    hard=_text(hard, measure), never_fits=asked > hard,
                ))  # fmt: skip
    return shortfalls


def quota_failure(shortfalls: Sequence[QuotaShortfall], *, namespace: str) -> PreflightFailed:
    """Return the failure for a job the namespace's quotas cannot hold, with the way out."""
    quotas = list(dict.fromkeys(s.quota for s in shortfalls))
    cause = f"The job does not fit the resource quota of namespace {namespace}. " + " ".join(
        f"Quota {quota}: " + "; ".join(s.describe() for s in shortfalls if s.quota == quota) + "." for quota in quotas
    )
    smaller = (
        "ask for fewer executors (executor_instances) or smaller pods (executor_memory, driver_memory, "
        f"executor_cores or {c.SPARK_EXECUTOR_REQUEST_CORES})"
    )
    if any(s.never_fits for s in shortfalls):
        fix = (
            f"The whole quota cannot hold this job: {smaller}. If the job needs that much, a platform operator "
            "raises the quota (spark-bootstrap/15-spark-quota.yaml, then python -m sparkplane.bootstrap apply)."
        )
    else:
        fix = (
            f"Other jobs hold the rest (kubectl -n {namespace} describe resourcequota {' '.join(quotas)}): run the task "
            f"again when they have finished, or {smaller}."
        )
    return PreflightFailed(cause=cause, fix=fix)


def check_quota_headroom(
    spec: SparkJobSpec,
    *,
    list_quotas: Callable[[], Sequence[V1ResourceQuota]],
    namespace: str,
    log: logging.Logger | logging.LoggerAdapter,
) -> None:
    """Raise ``PreflightFailed`` when the job's pods cannot fit what the namespace's quotas leave.

    Without this, an over-large job's driver is refused by the API server, or worse, the driver
    starts and its executors wait for quota that never comes. A pod template's sidecars are not
    counted. When the quotas may not be read (a bootstrap from before this check), the job goes on
    and the log says so.
    """
    try:
        quotas = list_quotas()
    except KubernetesPermissionDenied as error:
        log.warning(
            "Preflight: may not read the ResourceQuotas of namespace %s (403), so the job's size is not checked "
            "against them; going on. %s", namespace, error,
        )  # fmt: skip
        return
    job = job_resources(spec)
    if shortfalls := quota_shortfalls(quotas, job):
        raise quota_failure(shortfalls, namespace=namespace)
    log.info(
        "Preflight: the job's %d pods (%s CPU, %s) fit the resource quota of namespace %s (%s)",
        job.pods, _text(job.cpu, "cpu"), _text(Decimal(job.memory_bytes), "memory"), namespace,
        ", ".join(q.metadata.name for q in quotas) or "none set",
    )  # fmt: skip


def _read_rbac_if_allowed(
    read_rbac: Callable[[], RbacObjects] | None, *, namespace: str, log: logging.Logger | logging.LoggerAdapter
) -> RbacObjects | None:
    """Return the RBAC objects that explain a missing right, or None when they may not be read."""
    if read_rbac is None:
        return None
    try:
        return read_rbac()
    except KubernetesPermissionDenied as error:
        log.warning("Preflight: may not read the RBAC objects of namespace %s (403), so the failure names both "
                    "possible causes. %s", namespace, error)  # fmt: skip
        return None


def _counts_job_pods(quota: V1ResourceQuota) -> bool:
    scopes = set(quota.spec.scopes or []) if quota.spec else set()
    if quota.spec and quota.spec.scope_selector:
        scopes |= {e.scope_name for e in quota.spec.scope_selector.match_expressions or []}
    return scopes <= JOB_POD_SCOPES


def _asked(job: JobResources, measure: str) -> tuple[Decimal, str]:
    """Return what the job asks of one measure, as a number and in words with its parts."""
    if measure == "cpu":
        parts = f"driver {_text(job.driver_cpu, measure)} + {job.executors} executors x {_text(job.executor_cpu, measure)}"
        return job.cpu, f"{_text(job.cpu, measure)} CPU ({parts})"
    if measure == "memory":
        parts = f"driver {job.driver_memory_mib} MiB + {job.executors} executors x {job.executor_memory_mib} MiB"
        return Decimal(job.memory_bytes), f"{_text(Decimal(job.memory_bytes), measure)} ({parts})"
    return Decimal(job.pods), f"{job.pods} pods (driver + {job.executors} executors)"


def _text(amount: Decimal, measure: str) -> str:
    """Return an amount as people read it: memory in GiB, cores and pods as plain numbers."""
    if measure == "memory":
        amount = (amount / _GIB).quantize(Decimal("0.1"))
        return f"{amount.normalize():f} GiB"
    return f"{amount.normalize():f}"


def _quantity(text: str) -> Decimal:
    """Return a Kubernetes quantity (``500m``, ``2.75``, ``256Gi``) as a number."""
    from kubernetes.utils.quantity import parse_quantity

    return parse_quantity(text)


def _installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
