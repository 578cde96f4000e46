"""The preflight's RBAC failures: what Spark's driver may not do, and a namespace that is not the platform's. Pure.

The preflight asks the API server (one SubjectAccessReview each) for the driver's rights of
``needed_rights.DRIVER_RIGHTS``, the same the RBAC-check DAG asks. When some are denied, the
failure says why when the caller could read the Roles and bindings (a missing RoleBinding, or a
Role that lacks a verb, see ``gaps``), and names both when it could not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sparkplane.exceptions import PreflightFailed
from sparkplane.kubernetes.identity import SPARK_NAMESPACE
from sparkplane.rbac.gaps import NOT_READ, explain_gaps
from sparkplane.rbac.grants import RbacObjects
from sparkplane.rbac.needed_rights import DRIVER_RIGHTS, Right, describe_rights, driver_need


def missing_rights(is_allowed: Callable[[str, str], bool]) -> list[Right]:
    """Return each driver right that ``is_allowed(verb, resource)`` denies.

    The driver's rights are all in the core API group, on no subresource, so a verb and a
    resource are the whole question.
    """
    return [right for right in DRIVER_RIGHTS if not is_allowed(right.verb, right.resource)]


def permission_failure(
    missing: Sequence[Right], *, service_account: str, namespace: str, rbac: RbacObjects | None = None
) -> PreflightFailed:
    """Return the failure that names the missing rights, why they are missing, and how to grant them.

    :param missing: the driver's rights the API server denied.
    :param service_account: the driver's ServiceAccount.
    :param namespace: the job's namespace.
    :param rbac: the namespace's Roles and RoleBindings and the cluster's ClusterRoles and
        ClusterRoleBindings, if the caller could read them; without them both causes are named.
    """
    need = driver_need(namespace, service_account)
    gaps = explain_gaps(need, missing, rbac)
    cause = (
        f"ServiceAccount {namespace}/{service_account} may not {describe_rights(missing)} in namespace "
        f"{namespace}: Spark's driver would fail managing its executors. " + " ".join(f"Why: {g.reason}." for g in gaps)
    )
    fix = " ".join(g.fix for g in gaps)
    if all(g.kind != NOT_READ for g in gaps):
        fix += f" The spark_rbac_check DAG lists everything missing in namespace {namespace}."
    manifests = "\n---\n".join(g.manifest for g in gaps if g.manifest)
    return PreflightFailed(cause=cause.rstrip(), fix=fix + (f"\n{manifests}" if manifests else ""))


def namespace_failure(
    namespace: str, *, denied: str, namespace_exists: bool | None, platform_namespace: str = SPARK_NAMESPACE
) -> PreflightFailed:
    """Return the failure for a job whose namespace the platform may not use.

    The platform's Airflow identity has rights only where the bootstrap granted them, so its
    first call in another namespace is denied (403), whether that namespace exists or not:
    reading the namespace (``namespaces get``) tells which.

    :param namespace: the job's namespace.
    :param denied: the API server's denial, as the hook reported it.
    :param namespace_exists: whether the namespace exists, or None when it could not be read.
    :param platform_namespace: the namespace the bootstrap sets up for jobs.
    """
    use_platform = (
        f"Set the operator's namespace to {platform_namespace!r}, the namespace spark-bootstrap/ sets up for jobs "
        "(or leave it unset: the deployment's SPARKPLANE_SPARK_NAMESPACE)"
    )
    set_up = (
        "a platform operator applies the bootstrap's accounts, Roles and RoleBindings (spark-bootstrap/"
        f"10-spark-driver.yaml, 20-airflow.yaml) to namespace {namespace}, then runs the spark_rbac_check DAG for it"
    )
    if namespace == platform_namespace:
        return PreflightFailed(
            cause=f"The platform may not work in its own namespace {namespace}: {denied}",
            fix="Apply spark-bootstrap/ (python -m sparkplane.bootstrap apply), which grants the Airflow identity "
            "what jobs need there; the spark_rbac_check DAG lists what is missing.",
        )
    if namespace_exists is False:
        return PreflightFailed(
            cause=f"Namespace {namespace!r} does not exist, so no job can run there ({denied}).",
            fix=f"{use_platform}. A new namespace for jobs is created by the platform team: {set_up}.",
        )
    if namespace_exists:
        return PreflightFailed(
            cause=f"Namespace {namespace!r} exists but is not set up for the platform: its Airflow identity has no "
            f"rights there ({denied}).",
            fix=f"{use_platform}; or {set_up}.",
        )
    return PreflightFailed(
        cause=f"Namespace {namespace!r} is not the platform's namespace {platform_namespace!r}, and the platform may "
        f"not work there: it does not exist, or was not set up for the platform ({denied}).",
        fix=f"{use_platform}; or, if the namespace is meant for jobs, {set_up}.",
    )
