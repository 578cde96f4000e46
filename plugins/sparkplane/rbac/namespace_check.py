"""Is a namespace ready for Spark jobs? The RBAC-check DAG's verdict, from what it read. Pure.

The DAG reads the namespace, the two ServiceAccounts and the RBAC objects, and asks the API
server the questions of ``needed_rights.access_questions``; ``check_namespace`` turns all of it
into one report:

- problems that fail the check: the namespace or an account is missing, the namespace does not
  enforce Pod Security ``restricted``, the executors' account mounts a token, an identity lacks
  a right it needs (``gaps``: what is missing, why, and the manifest that fixes it);
- warnings: what spark-sa holds beyond what Spark uses (``over_privilege``), and the linter's
  findings on the live objects that reach spark-sa (``live_lint``).

The API server's answers decide what is missing; the objects read only explain it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sparkplane.kubernetes.identity import EXECUTOR_SERVICE_ACCOUNT, SPARK_NAMESPACE
from sparkplane.rbac.gaps import Gap, explain_gaps
from sparkplane.rbac.live_lint import lint_live_objects, objects_reaching
from sparkplane.rbac.lint import Finding
from sparkplane.rbac.needed_rights import AccessQuestion, Need, Right, needs, questions_of
from sparkplane.rbac.over_privilege import Excess, excess_rights

if TYPE_CHECKING:
    from kubernetes.client import V1Namespace, V1ServiceAccount

    from sparkplane.rbac.grants import RbacObjects

PASS, WARN, FAIL = "pass", "warn", "fail"
#: The Pod Security label and level spark-bootstrap/00-namespaces.yaml sets.
POD_SECURITY_ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
POD_SECURITY_LEVEL = "restricted"
_APPLY = "spark-bootstrap/ (python -m sparkplane.bootstrap apply)"


@dataclass(frozen=True)
class Problem:
    """Something about the namespace or its accounts that fails the check, and the way out."""

    cause: str
    fix: str


@dataclass(frozen=True)
class NamespaceReport:
    """What the RBAC check found in one namespace.

    :param namespace: the namespace Spark's jobs run in.
    :param problems: missing or misconfigured namespace and accounts.
    :param gaps: rights an identity needs and lacks, with why and the fix.
    :param over_privilege: what spark-sa holds beyond what Spark's driver uses.
    :param lint: the linter's findings on the live objects that reach spark-sa.
    :param met: each need that is fully met.
    """

    namespace: str
    problems: tuple[Problem, ...]
    gaps: tuple[Gap, ...]
    over_privilege: tuple[Excess, ...]
    lint: tuple[Finding, ...]
    met: tuple[Need, ...] = ()

    @property
    def verdict(self) -> str:
        """Return ``fail`` when something needed is missing, ``warn`` on warnings only, else ``pass``."""
        if self.problems or self.gaps:
            return FAIL
        return WARN if self.over_privilege or self.lint else PASS

    def log_lines(self) -> list[str]:
        """Return the report for the task log: the verdict first, then each failure with its fix, then the warnings."""
        failures = len(self.problems) + len(self.gaps)
        warnings = len(self.over_privilege) + len(self.lint)
        verdict = f"{self.verdict.upper()} ({failures} to fix, {warnings} warnings)"
        lines = [f"RBAC check of namespace {self.namespace}: {verdict}"]
        lines += [f"OK: {need.account} has its {len(need.rights)} rights in {need.where}" for need in self.met]
        for problem in self.problems:
            lines += [f"FAIL: {problem.cause}", f"  Fix: {problem.fix}"]
        for gap in self.gaps:
            lines += [f"FAIL: {gap.describe()}", f"  Cause: {gap.reason}", f"  Fix: {gap.fix}"]
            lines += [f"    {line}" for line in gap.manifest.splitlines()]
        lines += [f"WARN: over-privilege: {excess.describe()}" for excess in self.over_privilege]
        lines += [f"WARN: lint: {finding.format()}" for finding in self.lint]
        return lines

    def as_xcom(self) -> dict[str, Any]:
        """Return the report as a small JSON-able dict: the verdict and one line per finding."""
        return {
            "namespace": self.namespace,
            "verdict": self.verdict,
            "problems": [problem.cause for problem in self.problems],
            "missing": [
                {"account": f"{gap.need.account.namespace}/{gap.need.account.name}", "where": gap.need.namespace,
                 "rights": [str(r) for r in gap.rights], "kind": gap.kind, "reason": gap.reason}
                for gap in self.gaps
            ],  # fmt: skip
            "over_privilege": [excess.describe() for excess in self.over_privilege],
            "lint": [finding.format() for finding in self.lint],
        }


def missing_rights(need: Need, answers: Mapping[AccessQuestion, bool]) -> list[Right]:
    """Return the rights of ``need`` the API server denied.

    :raises ValueError: a question of ``need`` has no answer (the caller must ask them all).
    """
    questions = questions_of(need)
    unasked = [q for q in questions if q not in answers]
    if unasked:
        raise ValueError(f"no answer to {len(unasked)} question(s), e.g. {unasked[0]}: ask every question of "
                         "sparkplane.rbac.needed_rights.access_questions")  # fmt: skip
    return [q.right for q in questions if not answers[q]]


def check_namespace(
    *,
    namespace: V1Namespace | None,
    driver_account: V1ServiceAccount | None,
    executor_account: V1ServiceAccount | None,
    rbac: RbacObjects,
    answers: Mapping[AccessQuestion, bool],
    spark_namespace: str = SPARK_NAMESPACE,
) -> NamespaceReport:
    """Return the RBAC check's report on ``spark_namespace``.

    :param namespace: the namespace as read, or None when it does not exist.
    :param driver_account: the driver's ServiceAccount (spark-sa), or None when it does not exist.
    :param executor_account: the executors' ServiceAccount (spark-executor), or None.
    :param rbac: the Roles and RoleBindings of the namespace, and every ClusterRole and ClusterRoleBinding.
    :param answers: the API server's answer to every question of ``access_questions(spark_namespace)``.
    :param spark_namespace: the namespace Spark's jobs run in.
    """
    all_needs = needs(spark_namespace)
    driver = all_needs[0]
    problems = _namespace_problems(spark_namespace, namespace)
    problems += _account_problems(driver, driver_account, executor_account)
    gaps, met = [], []
    for need in all_needs:
        missing = missing_rights(need, answers)
        if need.optional and len(missing) == len(need.rights):
            continue  # an identity this namespace does without (no notebooks here)
        gaps += explain_gaps(need, missing, rbac)
        if not missing:
            met.append(need)
    return NamespaceReport(
        namespace=spark_namespace,
        problems=tuple(problems),
        gaps=tuple(gaps),
        over_privilege=tuple(excess_rights(driver, rbac)),
        lint=tuple(lint_live_objects(objects_reaching(driver.account, driver.namespace, rbac))),
        met=tuple(met),
    )


def _namespace_problems(name: str, namespace: V1Namespace | None) -> list[Problem]:
    if namespace is None:
        return [Problem(f"Namespace {name} does not exist, so no Spark job can run there.",
                        f"Apply {_APPLY}, which creates it with its accounts and roles.")]  # fmt: skip
    level = (namespace.metadata.labels or {}).get(POD_SECURITY_ENFORCE_LABEL)
    if level == POD_SECURITY_LEVEL:
        return []
    return [Problem(
        f"Namespace {name} does not enforce Pod Security '{POD_SECURITY_LEVEL}' (label {POD_SECURITY_ENFORCE_LABEL} "
        f"is {level or 'not set'}): a pod there may run as root, privileged or with host paths.",
        f"kubectl label namespace {name} --overwrite {POD_SECURITY_ENFORCE_LABEL}={POD_SECURITY_LEVEL} (with the warn "
        f"and audit labels of spark-bootstrap/00-namespaces.yaml), or apply {_APPLY}.",
    )]  # fmt: skip


def _account_problems(
    driver: Need, driver_account: V1ServiceAccount | None, executor_account: V1ServiceAccount | None
) -> list[Problem]:
    namespace = driver.namespace
    problems = []
    if driver_account is None:
        problems.append(Problem(f"{driver.account} does not exist: Spark's driver pods cannot start.",
                                f"Apply {_APPLY} (10-spark-driver.yaml creates it)."))  # fmt: skip
    executor = f"ServiceAccount {namespace}/{EXECUTOR_SERVICE_ACCOUNT}"
    if executor_account is None:
        problems.append(Problem(f"{executor} does not exist: Spark's executor pods cannot start.",
                                f"Apply {_APPLY} (10-spark-driver.yaml creates it)."))  # fmt: skip
    elif executor_account.automount_service_account_token is not False:
        problems.append(Problem(
            f"{executor} mounts an API token into pods that do not say otherwise (automountServiceAccountToken is "
            f"{executor_account.automount_service_account_token}); executors never call the API.",
            f"kubectl -n {namespace} patch serviceaccount {EXECUTOR_SERVICE_ACCOUNT} -p "
            "'{\"automountServiceAccountToken\": false}', or apply " + _APPLY + ".",
        ))  # fmt: skip
    return problems
