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


class PreflightFailed(AirflowFailException):
    """A check before submission shows the job cannot work as configured; retrying cannot help."""

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
