"""What each identity of the platform needs from Kubernetes RBAC: one table. Pure.

The operator's preflight asks for the driver's rights before every job; the RBAC-check DAG asks
for all of them and compares the live Roles and bindings with them; spark-bootstrap/ grants
exactly them (tests/plugins/rbac checks the bootstrap against this table). One table, so the
three cannot disagree.

Design decisions:

- A right is one verb on one resource (with its API group, its subresource, and the one object
  it is limited to, if any), because that is what a SubjectAccessReview asks and answers.
- Each constant below is granted by one Role (or ClusterRole) of the bootstrap, named in
  ``Need.role``, so a fix can name the object to change.
- No right is needed to ask the questions: Kubernetes lets every authenticated user review its
  own access (ClusterRole ``system:basic-user``: selfsubjectaccessreviews), and the Airflow
  identity asks about spark-sa with the localsubjectaccessreviews right it has for the preflight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from sparkplane.kubernetes.identity import (
    AIRFLOW_NAMESPACE,
    AIRFLOW_SERVICE_ACCOUNT,
    DRIVER_SERVICE_ACCOUNT,
    NOTEBOOK_SERVICE_ACCOUNT,
    PREPULL_PRIORITY_CLASS,
    SPARK_NAMESPACE,
)

if TYPE_CHECKING:
    from kubernetes.client import V1LocalSubjectAccessReview, V1SelfSubjectAccessReview

#: The namespace of a need that is cluster-scoped (nodes, ClusterRoles, namespaces themselves).
CLUSTER = ""
#: The order verbs are listed in, in messages and in the manifests of fixes.
VERB_ORDER = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
RBAC_GROUP = "rbac.authorization.k8s.io"


@dataclass(frozen=True, order=True)
class Right:
    """One verb on one kind of object, as a SubjectAccessReview asks it.

    :param verb: ``get``, ``list``, ``create``...
    :param resource: the plural resource name, ``pods``.
    :param group: the API group, ``""`` for the core group.
    :param subresource: ``log`` for ``pods/log``, else ``""``.
    :param name: the one object the right is limited to (a rule's ``resourceNames``), else ``""``.
    """

    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    name: str = ""

    @property
    def resource_path(self) -> str:
        """Return ``resource/subresource`` as RBAC rules write it."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    def __str__(self) -> str:
        what = self.resource_path + (f".{self.group}" if self.group else "")
        return f"{self.verb} {what}" + (f" named {self.name}" if self.name else "")


def describe_rights(rights: Sequence[Right]) -> str:
    """Return rights as people read them, verbs grouped by resource: ``get, watch pods; get pods/log``."""
    verbs: dict[str, list[str]] = {}
    for right in rights:
        what = str(Right("", right.resource, right.group, right.subresource, right.name)).strip()
        verbs.setdefault(what, []).append(right.verb)
    return "; ".join(f"{', '.join(v)} {what}" for what, v in verbs.items())


def rights(resources: Sequence[str], verbs: Sequence[str], *, group: str = "", name: str = "") -> tuple[Right, ...]:
    """Return every verb on every resource (``pods/log`` is resource ``pods``, subresource ``log``)."""
    result = []
    for path in resources:
        resource, _, subresource = path.partition("/")
        result += [Right(verb, resource, group, subresource, name) for verb in verbs]
    return tuple(result)


@dataclass(frozen=True)
class ServiceAccount:
    """A ServiceAccount as RBAC sees it: a user name and the groups it belongs to.

    :param namespace: the account's namespace.
    :param name: the account's name.
    """

    namespace: str
    name: str

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"

    @property
    def groups(self) -> tuple[str, ...]:
        """Return the groups the API server puts every token of the account in."""
        return ("system:serviceaccounts", f"system:serviceaccounts:{self.namespace}", "system:authenticated")

    @classmethod
    def from_user(cls, user: str) -> ServiceAccount:
        """Return the account of a ``system:serviceaccount:<namespace>:<name>`` user name."""
        parts = user.split(":")
        if len(parts) != 4 or parts[:2] != ["system", "serviceaccount"]:
            raise ValueError(f"{user!r} is not a ServiceAccount's user name (system:serviceaccount:<namespace>:<name>)")
        return cls(parts[2], parts[3])

    def __str__(self) -> str:
        return f"ServiceAccount {self.namespace}/{self.name}"


# --- the table ---------------------------------------------------------------------------------
# Spark 4.1's driver, read from Spark's Kubernetes backend (spark-bootstrap/README.md, point 4):
# executor pods are created, listed and watched; spark-submit and the driver write with
# server-side apply (patch, and create for a new object); the driver patches the labels of
# decommissioned executors and deletes its executors, headless service and configmaps one by one
# or by label (deletecollection) when it stops. The same verbs on the driver's headless service
# and on the configmaps of spark.properties and the executor pod template. No update: nothing
# replaces whole objects; no persistentvolumeclaims (spark.kubernetes.driver.ownPersistentVolumeClaim
# is false). Asked by kubernetes/preflight.run_preflight (one SubjectAccessReview each) and by
# the RBAC-check DAG; granted by Role spark-driver (10-spark-driver.yaml).
SPARK_DRIVER_VERBS = ("get", "list", "watch", "create", "patch", "delete", "deletecollection")
DRIVER_RIGHTS = rights(("pods", "services", "configmaps"), SPARK_DRIVER_VERBS)
# A notebook's kernel as Spark's client-mode driver (Role spark-notebook, 40-notebooks.yaml): the
# driver's verbs on its executors and their configmap; no services, since executors reach the
# notebook's host directly. Asked by the RBAC-check DAG, used by notebook/client_session.py. And
# each session's Spark authentication secret (notebook/session_auth.py): create only, never read;
# it is owned by the session's anchor ConfigMap, whose deletion deletes it.
NOTEBOOK_RIGHTS = rights(("pods", "configmaps"), SPARK_DRIVER_VERBS) + rights(["secrets"], ["create"])

# The operator in namespace spark (Role sparkplane-airflow there, 20-airflow.yaml):
AIRFLOW_JOB_RIGHTS = (
    # kubernetes/launcher.py creates, reads, lists (reattach, clean-up) and deletes drivers and
    # annotates them (signature); kubernetes/follower.py watches them and driver_log.py patches
    # the log checkpoint annotation; kubernetes/sweep.py lists and deletes what is left.
    *rights(["pods"], ["get", "list", "watch", "create", "patch", "delete"]),
    # kubernetes/driver_log.py and the launcher's failure digest read the driver's log.
    *rights(["pods/log"], ["get"]),
    # kubernetes/spark_auth.py: each driver's Spark authentication secret. Create only.
    *rights(["secrets"], ["create"]),
    # kubernetes/follower.py and pod_diagnosis.py explain a pod that does not run.
    *rights(["events"], ["get", "list", "watch"]),
    # kubernetes/preflight.py asks "may spark-sa ...?" (and the RBAC-check DAG, the same).
    *rights(["localsubjectaccessreviews"], ["create"], group="authorization.k8s.io"),
    # kubernetes/preflight.check_quota_headroom reads what the quotas leave. Read-only.
    *rights(["resourcequotas"], ["get", "list"]),
    # kubernetes/notebook_sweep.py deletes the anchor ConfigMaps of notebook sessions whose kernel
    # is gone (and, through owner references, their Spark authentication secrets).
    *rights(["configmaps"], ["list", "delete"]),
)
# The RBAC-check DAG in namespace spark (same Role): reads the Roles and bindings that reach
# spark-sa, and spark-sa and spark-executor themselves. Read-only.
AIRFLOW_RBAC_CHECK_RIGHTS = (
    *rights(["roles", "rolebindings"], ["get", "list"], group=RBAC_GROUP),
    *rights(["serviceaccounts"], ["get"]),
)
# The pre-pull DAG in sparkplane-system (Role sparkplane-airflow there): one bare puller pod per
# node, owned by one ConfigMap per run (deleting it collects the pods), and the pods' events to
# say which node failed to pull (prepull/).
AIRFLOW_PREPULL_RIGHTS = (
    *rights(["pods"], ["get", "list", "watch", "create", "delete"]),
    *rights(["configmaps"], ["get", "create", "delete"]),
    *rights(["events"], ["get", "list", "watch"]),
)
# Cluster-scoped, so granted by ClusterRoles and ClusterRoleBindings; all read-only.
# Nodes: the pre-pull DAG picks the nodes a Spark pod may land on and skips those that list the
# image already (ClusterRole sparkplane-airflow-node-reader).
AIRFLOW_NODE_RIGHTS = rights(["nodes"], ["get", "list", "watch"])
# ClusterRole sparkplane-airflow-cluster-reader: the pre-pull DAG reads its PriorityClass (only
# that one); the RBAC-check DAG reads namespace spark (its Pod Security labels), and the
# ClusterRoles and ClusterRoleBindings that may reach spark-sa. Reading a namespace also lets the
# operator tell a namespace that does not exist from one it may not use.
AIRFLOW_CLUSTER_READ_RIGHTS = (
    *rights(["priorityclasses"], ["get"], group="scheduling.k8s.io", name=PREPULL_PRIORITY_CLASS),
    *rights(["namespaces"], ["get"]),
    *rights(["clusterroles", "clusterrolebindings"], ["get", "list"], group=RBAC_GROUP),
)


@dataclass(frozen=True)
class Need:
    """What one identity needs in one namespace, and the bootstrap's Role that grants it.

    :param account: who needs the rights.
    :param namespace: where (``CLUSTER`` for cluster-scoped rights).
    :param rights: the rights.
    :param role: the bootstrap's Role (ClusterRole when cluster-scoped) granting them, named in fixes.
    :param manifest: the bootstrap file holding that Role and its binding.
    :param optional: a namespace may go without this identity altogether (the notebook one); it is
        checked only where it has at least one of its rights.
    """

    account: ServiceAccount
    namespace: str
    rights: tuple[Right, ...]
    role: str
    manifest: str
    optional: bool = False

    @property
    def where(self) -> str:
        return f"namespace {self.namespace}" if self.namespace else "the cluster"


def driver_need(namespace: str = SPARK_NAMESPACE, service_account: str = DRIVER_SERVICE_ACCOUNT) -> Need:
    """Return what Spark's driver needs in the namespace its jobs run in."""
    return Need(ServiceAccount(namespace, service_account), namespace, DRIVER_RIGHTS, "spark-driver", "10-spark-driver.yaml")


def needs(spark_namespace: str = SPARK_NAMESPACE) -> tuple[Need, ...]:
    """Return every need of the platform's identities, spark-sa's first."""
    airflow = ServiceAccount(AIRFLOW_NAMESPACE, AIRFLOW_SERVICE_ACCOUNT)
    return (
        driver_need(spark_namespace),
        Need(airflow, spark_namespace, AIRFLOW_JOB_RIGHTS + AIRFLOW_RBAC_CHECK_RIGHTS, AIRFLOW_SERVICE_ACCOUNT,
             "20-airflow.yaml"),  # fmt: skip
        Need(airflow, AIRFLOW_NAMESPACE, AIRFLOW_PREPULL_RIGHTS, AIRFLOW_SERVICE_ACCOUNT, "20-airflow.yaml"),
        Need(airflow, CLUSTER, AIRFLOW_NODE_RIGHTS, "sparkplane-airflow-node-reader", "20-airflow.yaml"),
        Need(airflow, CLUSTER, AIRFLOW_CLUSTER_READ_RIGHTS, "sparkplane-airflow-cluster-reader", "20-airflow.yaml"),
        Need(ServiceAccount(spark_namespace, NOTEBOOK_SERVICE_ACCOUNT), spark_namespace, NOTEBOOK_RIGHTS,
             NOTEBOOK_SERVICE_ACCOUNT, "40-notebooks.yaml", optional=True),  # fmt: skip
    )


class AccessQuestion(NamedTuple):
    """One SubjectAccessReview: may ``subject`` do this (in ``namespace``, ``""`` cluster-wide)?"""

    subject: str
    namespace: str
    verb: str
    group: str
    resource: str
    subresource: str
    name: str = ""

    @property
    def right(self) -> Right:
        return Right(self.verb, self.resource, self.group, self.subresource, self.name)


def questions_of(need: Need) -> list[AccessQuestion]:
    """Return the SubjectAccessReviews that tell whether ``need`` is met, one per right."""
    return [
        AccessQuestion(need.account.user, need.namespace, r.verb, r.group, r.resource, r.subresource, r.name)
        for r in need.rights
    ]


def access_questions(spark_namespace: str = SPARK_NAMESPACE) -> list[AccessQuestion]:
    """Return every question the RBAC-check DAG asks, without repeats, in the table's order."""
    return list(dict.fromkeys(q for need in needs(spark_namespace) for q in questions_of(need)))


def access_review(question: AccessQuestion, *, asker: str) -> V1SelfSubjectAccessReview | V1LocalSubjectAccessReview:
    """Return the review that answers ``question`` when asked by the user ``asker``.

    About the asker itself, a SelfSubjectAccessReview (every user may ask those); about another
    account, a LocalSubjectAccessReview in the question's namespace, with the groups the API
    server gives that account's tokens (bindings to ``system:serviceaccounts`` count).
    """
    from kubernetes import client

    attributes = client.V1ResourceAttributes(
        namespace=question.namespace or None, verb=question.verb, group=question.group, resource=question.resource,
        subresource=question.subresource or None, name=question.name or None,
    )  # fmt: skip
    if question.subject == asker:
        return client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attributes))
    if not question.namespace:
        raise ValueError(f"a cluster-scoped question about {question.subject} can only be asked by that account itself")
    account = ServiceAccount.from_user(question.subject)
    return client.V1LocalSubjectAccessReview(
        metadata=client.V1ObjectMeta(namespace=question.namespace),
        spec=client.V1SubjectAccessReviewSpec(
            user=account.user, groups=list(account.groups), resource_attributes=attributes
        ),
    )
