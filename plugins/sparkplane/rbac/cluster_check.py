"""The RBAC-check DAG's work: read one namespace's RBAC from the cluster, ask the API server, report.

The reads go through ``RbacHook``; the verdict is ``namespace_check.check_namespace``'s. Design
decisions:

- Whose rights: the table (``needed_rights``) asks about spark-sa and the platform's Airflow
  identity, whoever asks. The connection's own user is read first (a SelfSubjectReview) and
  logged. Questions about that user are SelfSubjectAccessReviews, which need no right. When the
  connection is someone else (an administrator's kubeconfig), the Airflow identity's rights are
  asked about it like spark-sa's: LocalSubjectAccessReviews in a namespace, and cluster-wide a
  SubjectAccessReview, which needs that cluster right; the log warns that the check did not run
  as the identity, so what the identity itself may read was not tried.
- A namespace that does not exist fails at once; a read the checker is denied fails with what to
  grant. Nothing is guessed.
- Something needed and missing fails the task (``RbacCheckFailed``, no retry: only a change to
  RBAC helps); rights held beyond the need and the linter's findings are warnings.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kubernetes import client

from sparkplane.diagnosis import log_cause_and_fix
from sparkplane.exceptions import KubernetesPermissionDenied, RbacCheckFailed
from sparkplane.kubernetes.identity import (
    AIRFLOW_NAMESPACE,
    AIRFLOW_SERVICE_ACCOUNT,
    DRIVER_SERVICE_ACCOUNT,
    EXECUTOR_SERVICE_ACCOUNT,
)
from sparkplane.rbac.namespace_check import FAIL, NamespaceReport, check_namespace
from sparkplane.rbac.needed_rights import AccessQuestion, ServiceAccount, access_questions, access_review

if TYPE_CHECKING:
    from sparkplane.rbac.hook import RbacHook

AIRFLOW_IDENTITY = ServiceAccount(AIRFLOW_NAMESPACE, AIRFLOW_SERVICE_ACCOUNT)
_APPLY = "spark-bootstrap/ (python -m sparkplane.bootstrap apply)"


def run_rbac_check(hook: RbacHook, namespace: str, *, log: logging.Logger | logging.LoggerAdapter) -> dict[str, Any]:
    """Check that ``namespace`` is ready for Spark jobs; log the report and return it as the XCom.

    :raises RbacCheckFailed: something the namespace's jobs need is missing (logged as
        ``Cause:`` and ``Fix:`` lines first).
    """
    asker = hook.read_own_username()
    _log_asker(asker, log)
    try:
        namespace_object = hook.read_namespace(namespace)
        if namespace_object is None:
            raise _logged(RbacCheckFailed(
                cause=f"Namespace {namespace} does not exist, so no Spark job can run there (nothing else was checked).",
                fix="Set the DAG's namespace param to the namespace Spark jobs run in, or create the namespace with "
                f"its accounts and roles: apply {_APPLY}.",
            ), log)  # fmt: skip
        report = check_namespace(
            namespace=namespace_object,
            driver_account=hook.read_service_account(DRIVER_SERVICE_ACCOUNT, namespace),
            executor_account=hook.read_service_account(EXECUTOR_SERVICE_ACCOUNT, namespace),
            rbac=hook.rbac_objects(namespace),
            answers={question: _answer(hook, question, asker=asker) for question in access_questions(namespace)},
            spark_namespace=namespace,
        )
    except KubernetesPermissionDenied as error:
        raise _logged(RbacCheckFailed(
            cause=f"The RBAC check itself may not read what it checks in namespace {namespace}: "
            f"{str(error).splitlines()[0]}",
            fix=f"Grant {asker} the reads spark-bootstrap/20-airflow.yaml grants the Airflow identity (for a namespace "
            f"other than spark, its Role sparkplane-airflow and RoleBinding with namespace {namespace}), or check a "
            "namespace the bootstrap set up.",
        ), log) from error  # fmt: skip
    _log_report(report, log)
    if report.verdict == FAIL:
        raise _logged(report_failure(report), log)
    return {**report.as_xcom(), "checked_as": asker}


def report_failure(report: NamespaceReport) -> RbacCheckFailed:
    """Return the failure for a report with something to fix: every cause, then every fix."""
    causes = [problem.cause for problem in report.problems]
    causes += [f"{gap.describe()}: {gap.reason}." for gap in report.gaps]
    fixes = [problem.fix for problem in report.problems] + [gap.fix for gap in report.gaps]
    return RbacCheckFailed(
        cause=f"Namespace {report.namespace} is not ready for Spark jobs ({len(causes)} to fix). " + " ".join(causes),
        fix=" ".join(fixes) + " The rules and manifests each fix names are in the report above.",
    )


def _answer(hook: RbacHook, question: AccessQuestion, *, asker: str) -> bool:
    """Return the API server's answer to one question, asked as ``asker`` may ask it."""
    if question.subject != asker and not question.namespace:
        # Cluster-wide rights of another account: a SubjectAccessReview, with the question's
        # attributes as the account would ask them about itself.
        attributes = access_review(question, asker=question.subject).spec.resource_attributes
        account = ServiceAccount.from_user(question.subject)
        return hook.review_cluster_access(client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(
            user=account.user, groups=list(account.groups), resource_attributes=attributes,
        )))  # fmt: skip
    review = access_review(question, asker=asker)
    if isinstance(review, client.V1SelfSubjectAccessReview):
        return hook.review_own_access(review)
    return hook.review_access(review)


def _log_asker(asker: str, log: logging.Logger | logging.LoggerAdapter) -> None:
    if asker == AIRFLOW_IDENTITY.user:
        log.info("Checking as %s, the platform's Airflow identity (the connection's user)", asker)
        return
    log.warning(
        "The connection acts as %s, not as the platform's Airflow identity %s: the rights checked are still "
        "spark-sa's and the identity's, asked about them by %s, but what the identity itself may read was not "
        "tried. Run the check with the platform's kubernetes connection to try that too.",
        asker, AIRFLOW_IDENTITY.user, asker,
    )  # fmt: skip


def _log_report(report: NamespaceReport, log: logging.Logger | logging.LoggerAdapter) -> None:
    """Log the report's lines: failures (with their indented cause, fix and YAML) as errors, warnings as warnings."""
    level = logging.INFO
    for line in report.log_lines():
        if not line.startswith(" "):
            level = {"FAIL": logging.ERROR, "WARN": logging.WARNING}.get(line.partition(":")[0], logging.INFO)
        log.log(level, "%s", line)


def _logged(failure: RbacCheckFailed, log: logging.Logger | logging.LoggerAdapter) -> RbacCheckFailed:
    log_cause_and_fix(log, failure.cause, failure.fix)
    return failure
