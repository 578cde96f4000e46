"""Errors of the platform, named by what the caller should do next.

``JobDefinitionError`` means the task as written can never succeed: fix its arguments. It derives
from ``AirflowFailException`` so Airflow fails the task at once instead of retrying it.
``SparkJobFailed`` means the job ran and failed; a retry may help if the cause was transient.
Both messages carry the cause and the fix, so the last line of a task log is enough to act on.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException, AirflowFailException


class JobDefinitionError(AirflowFailException):
    """The task's arguments are invalid; fix the DAG, retrying cannot help."""


class SparkJobFailed(AirflowException):
    """The Spark job ran and did not succeed."""

    def __init__(self, cause: str, fix: str) -> None:
        super().__init__(f"{cause}\nFix: {fix}")
        self.cause = cause
        self.fix = fix


class SparkJobInvalid(AirflowFailException):
    """The Spark job ran and failed in a way every retry would repeat (its arguments, its file)."""

    def __init__(self, cause: str, fix: str) -> None:
        super().__init__(f"{cause}\nFix: {fix}")
        self.cause = cause
        self.fix = fix


def job_failure(cause: str, fix: str, *, retry_cannot_help: bool) -> SparkJobFailed | SparkJobInvalid:
    """Return the error a failed job ends its task with: retried, unless a retry cannot help."""
    return SparkJobInvalid(cause, fix) if retry_cannot_help else SparkJobFailed(cause, fix)


class PreflightFailed(AirflowFailException):
    """A check before submission shows the job cannot work as configured; retrying cannot help."""

    def __init__(self, cause: str, fix: str) -> None:
        super().__init__(f"{cause}\nFix: {fix}")
        self.cause = cause
        self.fix = fix


class RbacCheckFailed(AirflowFailException):
    """The RBAC check found something a namespace's Spark jobs need missing; fix RBAC, retrying cannot help."""

    def __init__(self, cause: str, fix: str) -> None:
        super().__init__(f"{cause}\nFix: {fix}")
        self.cause = cause
        self.fix = fix


class KubernetesPermissionDenied(AirflowFailException):
    """The platform's own identity may not do something it needs; fix RBAC, retrying cannot help."""

    def __init__(self, *, action: str, detail: str) -> None:
        super().__init__(
            f"Kubernetes denied the platform permission to {action} (403): {detail}\n"
            "Fix: apply spark-bootstrap/ (python -m sparkplane.bootstrap apply), which grants the "
            "Airflow identity what the platform needs, or check the kubernetes connection's credentials."
        )
        self.action = action


class PodRejected(AirflowFailException):
    """Admission refused the pod (Pod Security, an admission policy); as specified it can never run there."""

    def __init__(self, detail: str, *, fix: str) -> None:
        super().__init__(f"Kubernetes refused the driver pod: {detail}\nFix: {fix}")


class QuotaExceeded(AirflowException):
    """The namespace's quota had no room left when the pod was created; other jobs may free it."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"Namespace quota used up when the driver pod was created: {detail}\n"
            "Fix: the task's retry tries again once other jobs end; if it keeps failing, make the job "
            "smaller or ask the platform team to raise the quota (spark-bootstrap/15-spark-quota.yaml)."
        )


class ForeignDriverPod(AirflowException):
    """A pod holds this try's driver name but the platform did not create it; the next try uses a new name."""

    def __init__(self, name: str, namespace: str) -> None:
        super().__init__(
            f"Pod {namespace}/{name} has this try's driver name but not this platform's signature: someone "
            "else created it, so it is not followed and its result is not trusted.\n"
            f"Fix: the retry submits a driver of its own. Find who created the pod (the API server's audit "
            f"log), then delete it: kubectl delete pod -n {namespace} {name}"
        )
        self.name = name
        self.namespace = namespace


class PodChanged(AirflowException):
    """A pod was re-created or changed after it was judged; it was not deleted."""

    def __init__(self, name: str, namespace: str) -> None:
        super().__init__(f"pod {namespace}/{name} changed since it was judged; not deleted")
        self.name = name
        self.namespace = namespace


class PodAlreadyExists(AirflowException):
    """A pod of that name exists: for a driver, this try was already submitted."""

    def __init__(self, name: str, namespace: str) -> None:
        super().__init__(f"pod {namespace}/{name} already exists")
        self.name = name
        self.namespace = namespace


class KubernetesApiUnreachable(AirflowException):
    """The Kubernetes API did not answer (refused, reset, timed out); the task's retry tries again."""

    def __init__(self, *, server: str, call: str, detail: str) -> None:
        super().__init__(
            f"The Kubernetes API at {server} did not answer the platform's '{call}' call: {detail}\n"
            "Fix: the task's retry tries again (a driver this try started is followed, not started twice); "
            "if the API stays unreachable, check the cluster's control plane and the server address of "
            "the task's kubernetes connection."
        )
        self.server = server
        self.call = call


class PrepullIncomplete(AirflowException):
    """The image reached fewer eligible nodes than required; a retry pulls again where it is missing."""

    def __init__(self, cause: str, fix: str, *, nodes: list[str]) -> None:
        super().__init__(f"{cause}\nFix: {fix}")
        self.cause = cause
        self.fix = fix
        self.nodes = nodes
