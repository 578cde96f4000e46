"""What Spark's driver may do in its namespace, and the failure that names what is missing. Pure.

The preflight asks the API server (SubjectAccessReview) for each of these before a job is
submitted; a check of a namespace as a whole asks the same questions.
"""

from __future__ import annotations

from collections.abc import Callable

from sparkplane.exceptions import PreflightFailed

#: What Spark's driver does in its namespace when it runs in a pod of its own: it creates,
#: watches and deletes executor pods, and one ConfigMap with the executors' configuration.
DRIVER_PERMISSIONS: tuple[tuple[str, str], ...] = (
    ("create", "pods"),
    ("get", "pods"),
    ("list", "pods"),
    ("watch", "pods"),
    ("delete", "pods"),
    ("create", "configmaps"),
    ("delete", "configmaps"),
)


def missing_permissions(is_allowed: Callable[[str, str], bool]) -> list[str]:
    """Return ``verb resource`` for each driver permission ``is_allowed(verb, resource)`` denies."""
    return [f"{verb} {resource}" for verb, resource in DRIVER_PERMISSIONS if not is_allowed(verb, resource)]


def permission_failure(missing: list[str], *, service_account: str, namespace: str) -> PreflightFailed:
    """Return the failure that names the missing permissions and how to grant them."""
    return PreflightFailed(
        cause=f"ServiceAccount {namespace}/{service_account} may not {', '.join(missing)} in namespace "
        f"{namespace}: Spark's driver would fail creating its executors.",
        fix=f"Apply spark-bootstrap/ (python -m sparkplane.bootstrap apply), which binds the Role spark-driver "
        f"to {service_account}, or check that its RoleBinding exists: kubectl -n {namespace} get rolebindings.",
    )
