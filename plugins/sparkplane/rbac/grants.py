"""What live Roles and bindings grant an account, evaluated as the API server's RBAC does. Pure.

The RBAC-check DAG and the preflight read the objects (kubernetes.client models) and pass them
here; these functions say which bindings reach an account, through which subject, and whether
a rule grants a right. The API server's own answer (a SubjectAccessReview) stays the judge of
what is allowed; this evaluation explains it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sparkplane.rbac.needed_rights import Right, ServiceAccount

if TYPE_CHECKING:
    from kubernetes.client import (
        RbacV1Subject,
        V1ClusterRole,
        V1ClusterRoleBinding,
        V1PolicyRule,
        V1Role,
        V1RoleBinding,
    )

#: Kubernetes labels the bindings it creates and reconciles itself; some reach every account
#: (system:basic-user, system:discovery, system:public-info-viewer,
#: system:service-account-issuer-discovery). They are not the platform's to judge.
DEFAULTS_LABEL = ("kubernetes.io/bootstrapping", "rbac-defaults")


@dataclass(frozen=True)
class RbacObjects:
    """The RBAC objects read from the cluster.

    :param roles: Roles of the namespaces in ``namespaces``.
    :param role_bindings: RoleBindings of the namespaces in ``namespaces``.
    :param cluster_roles: every ClusterRole.
    :param cluster_role_bindings: every ClusterRoleBinding.
    :param namespaces: the namespaces whose Roles and RoleBindings were all read; a gap elsewhere
        cannot be explained.
    """

    roles: Sequence[V1Role] = ()
    role_bindings: Sequence[V1RoleBinding] = ()
    cluster_roles: Sequence[V1ClusterRole] = ()
    cluster_role_bindings: Sequence[V1ClusterRoleBinding] = ()
    namespaces: frozenset[str] = frozenset()

    def role(self, kind: str, name: str, namespace: str) -> V1Role | V1ClusterRole | None:
        """Return the Role (of ``namespace``) or ClusterRole of that name, or None when it does not exist."""
        if kind == "ClusterRole":
            return next((r for r in self.cluster_roles if r.metadata.name == name), None)
        return next((r for r in self.roles if r.metadata.name == name and r.metadata.namespace == namespace), None)


@dataclass(frozen=True)
class Reach:
    """A binding that reaches an account, and what it binds the account to.

    :param binding: the RoleBinding or ClusterRoleBinding.
    :param kind: ``RoleBinding`` or ``ClusterRoleBinding``.
    :param via: how its subjects name the account (``ServiceAccount spark/spark-sa``, ``group system:authenticated``).
    :param by_group: the binding reaches the account only through a group, so it reaches others too.
    """

    binding: V1RoleBinding | V1ClusterRoleBinding
    kind: str
    via: str
    by_group: bool = False

    @property
    def namespace(self) -> str:
        """Return the RoleBinding's namespace, ``""`` for a ClusterRoleBinding."""
        return (self.binding.metadata.namespace or "") if self.kind == "RoleBinding" else ""

    @property
    def role_kind(self) -> str:
        return self.binding.role_ref.kind

    @property
    def role_name(self) -> str:
        return self.binding.role_ref.name

    def describe(self) -> str:
        """Return ``RoleBinding spark/spark-driver`` or ``ClusterRoleBinding x``."""
        return f"{self.kind} {_qualified(self.namespace, self.binding.metadata.name)}"

    def describe_role(self) -> str:
        """Return the role it binds as ``Role spark/spark-driver`` or ``ClusterRole edit``."""
        return f"{self.role_kind} {_qualified(self.namespace if self.role_kind == 'Role' else '', self.role_name)}"


def _qualified(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


def subject_reaches(subject: RbacV1Subject, account: ServiceAccount, *, binding_namespace: str) -> str | None:
    """Return how ``subject`` names ``account`` (for the report), or None when it does not.

    A ServiceAccount subject without a namespace means the RoleBinding's own namespace, as in RBAC.
    """
    if subject.kind == "ServiceAccount":
        namespace = subject.namespace or binding_namespace
        return str(account) if (namespace, subject.name) == (account.namespace, account.name) else None
    if subject.kind == "User":
        return f"user {subject.name}" if subject.name == account.user else None
    if subject.kind == "Group":
        return f"group {subject.name}" if subject.name in account.groups else None
    return None


def bindings_reaching(account: ServiceAccount, namespace: str, rbac: RbacObjects) -> list[Reach]:
    """Return the bindings through which ``account`` may hold rights in ``namespace`` (``""``: cluster-scoped).

    RoleBindings count only in their own namespace; ClusterRoleBindings count everywhere.
    """
    candidates = [("RoleBinding", b) for b in rbac.role_bindings if namespace and b.metadata.namespace == namespace]
    candidates += [("ClusterRoleBinding", b) for b in rbac.cluster_role_bindings]
    reaches = []
    for kind, binding in candidates:
        binding_namespace = (binding.metadata.namespace or "") if kind == "RoleBinding" else ""
        vias = [(subject_reaches(s, account, binding_namespace=binding_namespace), s.kind) for s in binding.subjects or []]
        vias = [(via, subject_kind) for via, subject_kind in vias if via is not None]
        if vias:
            # A subject naming the account itself says more than a group that also holds it.
            via, subject_kind = min(vias, key=lambda v: v[1] == "Group")
            reaches.append(Reach(binding, kind, via, by_group=subject_kind == "Group"))
    return reaches


def is_kubernetes_default(binding: V1RoleBinding | V1ClusterRoleBinding) -> bool:
    """Tell whether Kubernetes itself made and keeps the binding (label ``kubernetes.io/bootstrapping``)."""
    labels = binding.metadata.labels or {}
    return labels.get(DEFAULTS_LABEL[0]) == DEFAULTS_LABEL[1]


def rules_of(reach: Reach, rbac: RbacObjects) -> list[V1PolicyRule] | None:
    """Return the rules of the role a binding binds, or None when that role does not exist."""
    role = rbac.role(reach.role_kind, reach.role_name, reach.namespace)
    return None if role is None else list(role.rules or [])


def rule_covers_resource(rule: V1PolicyRule, right: Right) -> bool:
    """Tell whether a rule is about the right's group and resource (wildcards and ``*/subresource`` too), any verb."""
    groups, resources = rule.api_groups or [], rule.resources or []
    return (right.group in groups or "*" in groups) and (
        "*" in resources
        or right.resource_path in resources
        or (right.subresource != "" and f"*/{right.subresource}" in resources)
    )


def rule_grants(rule: V1PolicyRule, right: Right) -> bool:
    """Tell whether one rule grants the right."""
    verbs = rule.verbs or []
    return (
        (right.verb in verbs or "*" in verbs)
        and rule_covers_resource(rule, right)
        and (not rule.resource_names or right.name in rule.resource_names)
    )


def granting_reaches(account: ServiceAccount, namespace: str, right: Right, rbac: RbacObjects) -> Iterator[Reach]:
    """Yield each binding whose role grants ``account`` the right in ``namespace``."""
    for reach in bindings_reaching(account, namespace, rbac):
        if any(rule_grants(rule, right) for rule in rules_of(reach, rbac) or []):
            yield reach


def is_granted(account: ServiceAccount, namespace: str, right: Right, rbac: RbacObjects) -> bool:
    """Tell whether the objects grant ``account`` the right in ``namespace`` (``""``: cluster-scoped)."""
    return next(granting_reaches(account, namespace, right, rbac), None) is not None
