"""Why an account lacks rights it needs, and the manifest that grants them. Pure.

The API server's answers (SubjectAccessReviews) say *what* is missing; the Roles and bindings
read from the cluster say *why*, and so what to change. A gap is one cause shared by one or more
missing rights:

- ``NO_BINDING``: no binding names the account there (or none binds the bootstrap's Role, which
  exists): create the binding. Bindings that reach it only through a group (``system:authenticated``)
  are not its own to change, and so are not offered as the fix.
- ``MISSING_ROLE``: a binding reaches the account but binds a Role that does not exist, which
  grants nothing: create the Role.
- ``ROLE_LACKS``: the bound Role exists and lacks the verb, or has no rule for the resource:
  add the rule.
- ``NOT_READ``: the Roles and bindings there could not be read: one of the above, not known which.
- ``UNEXPLAINED``: the objects read grant the right, yet the API server denies it (its cache is a
  moment behind, or an authorizer other than RBAC said no).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from sparkplane.rbac.grants import (
    RbacObjects,
    Reach,
    bindings_reaching,
    is_granted,
    rule_covers_resource,
    rules_of,
)
from sparkplane.rbac.needed_rights import RBAC_GROUP, VERB_ORDER, Need, Right, describe_rights

if TYPE_CHECKING:
    from kubernetes.client import V1PolicyRule

NO_BINDING = "no-binding"
MISSING_ROLE = "missing-role"
ROLE_LACKS = "role-lacks"
NOT_READ = "not-read"
UNEXPLAINED = "unexplained"

_APPLY = "python -m sparkplane.bootstrap apply"


@dataclass(frozen=True)
class Gap:
    """Rights an account needs and lacks, for one cause.

    :param need: whose rights, where, and the bootstrap's Role granting them.
    :param rights: the missing rights this cause explains.
    :param kind: ``NO_BINDING``, ``MISSING_ROLE``, ``ROLE_LACKS``, ``NOT_READ`` or ``UNEXPLAINED``.
    :param reason: why they are missing, naming the objects.
    :param fix: what to do, in one sentence.
    :param manifest: the YAML to add or apply (empty when there is none).
    """

    need: Need
    rights: tuple[Right, ...]
    kind: str
    reason: str
    fix: str
    manifest: str = ""

    def describe(self) -> str:
        """Return ``ServiceAccount spark/spark-sa may not watch pods in namespace spark``."""
        return f"{self.need.account} may not {describe_rights(self.rights)} in {self.need.where}"


def explain_gaps(need: Need, missing: Sequence[Right], rbac: RbacObjects | None) -> list[Gap]:
    """Return why each right of ``missing`` is missing, grouped by cause.

    :param need: the need the rights belong to.
    :param missing: the rights the API server denied.
    :param rbac: the Roles and bindings read, or None when they could not be read.
    """
    if not missing:
        return []
    if rbac is None or (need.namespace and need.namespace not in rbac.namespaces):
        return [_not_read(need, tuple(missing))]
    granted = tuple(r for r in missing if is_granted(need.account, need.namespace, r, rbac))
    denied = tuple(r for r in missing if r not in granted)
    gaps = [_not_granted(need, denied, rbac)] if denied else []
    if granted:
        gaps.append(Gap(
            need, granted, UNEXPLAINED,
            f"the Roles and bindings read grant {need.account.name} {describe_rights(granted)} in {need.where}, "
            "yet the API server denied it",
            "RBAC changes reach the API server a few seconds after they are made: check again. If the denial "
            "stays, an authorizer other than RBAC (a webhook) refuses it: ask the cluster's administrators.",
        ))  # fmt: skip
    return gaps


def _not_granted(need: Need, rights: tuple[Right, ...], rbac: RbacObjects) -> Gap:
    # Only bindings that name the account are its own to change: a binding through a group
    # (Kubernetes' defaults among them) reaches other accounts too.
    reaches = [r for r in bindings_reaching(need.account, need.namespace, rbac) if not r.by_group]
    bootstrap_role = _role_kind(need)
    to_bootstrap_role = [r for r in reaches if (r.role_kind, r.role_name) == (bootstrap_role, need.role)]
    if not to_bootstrap_role and (not reaches or rbac.role(bootstrap_role, need.role, need.namespace) is not None):
        return _no_binding(need, rights, reaches, rbac)
    dangling = [r for r in to_bootstrap_role or reaches if rules_of(r, rbac) is None]
    if dangling:
        reach = dangling[0]
        role_manifest = _role_manifest(reach.role_kind, reach.role_name, reach.namespace, rights)
        return Gap(
            need, rights, MISSING_ROLE,
            f"{reach.describe()} binds {need.account.name} to {reach.describe_role()}, which does not exist",
            f"Create {reach.describe_role()} below{_bootstrap_note(need, reach.role_name)}.",
            role_manifest,
        )  # fmt: skip
    reach = (to_bootstrap_role or reaches)[0]
    return _role_lacks(need, rights, reach, rules_of(reach, rbac) or [])


def _no_binding(need: Need, rights: tuple[Right, ...], reaches: list[Reach], rbac: RbacObjects) -> Gap:
    role_kind, binding_kind = _role_kind(need), "RoleBinding" if need.namespace else "ClusterRoleBinding"
    role_exists = rbac.role(role_kind, need.role, need.namespace) is not None
    if reaches:
        reason = f"no {binding_kind} binds {need.account.name} to {role_kind} {need.role} in {need.where}"
    elif need.namespace:
        reason = (
            f"no RoleBinding binds {need.account.name} in namespace {need.namespace} (nor does a ClusterRoleBinding)"
        )
    else:
        reason = f"no ClusterRoleBinding binds {need.account.name}"
    documents = [] if role_exists else [_role_manifest(role_kind, need.role, need.namespace, rights)]
    documents.append(_binding_manifest(need, role_kind))
    what = f"the {binding_kind}" if role_exists else f"{role_kind} {need.role} and the {binding_kind} that binds it"
    return Gap(need, rights, NO_BINDING, reason, f"Create {what} below{_bootstrap_note(need, need.role)}.",
               "---\n".join(documents))  # fmt: skip


def _role_lacks(need: Need, rights: tuple[Right, ...], reach: Reach, rules: Sequence[V1PolicyRule]) -> Gap:
    lacking: dict[tuple[str, ...], list[str]] = {}
    no_rule: list[str] = []
    for right, verbs in _verbs_by_resource(rights):
        what = f"{right.resource_path}.{right.group}" if right.group else right.resource_path
        if any(rule_covers_resource(rule, right) for rule in rules):
            lacking.setdefault(tuple(verbs), []).append(what)
        else:
            no_rule.append(f"{what} ({', '.join(verbs)})")
    clauses = [f"the verb{'s' if len(verbs) > 1 else ''} {', '.join(verbs)} on {', '.join(resources)}"
               for verbs, resources in lacking.items()]  # fmt: skip
    if no_rule:
        clauses.append(f"a rule for {', '.join(no_rule)}")
    reason = (
        f"{reach.role_kind} {reach.role_name} lacks {'; and '.join(clauses)} "
        f"(it is bound to {need.account.name} by {reach.describe()})"
    )
    if reach.role_kind == "Role":
        how = f"kubectl -n {reach.namespace} edit role {reach.role_name}"
    else:
        how = f"kubectl edit clusterrole {reach.role_name}; every binding of that ClusterRole gains it"
    fix = f"Add the rule below to the rules of {reach.describe_role()} ({how}){_bootstrap_note(need, reach.role_name)}."
    return Gap(need, rights, ROLE_LACKS, reason, fix, _dump(_rules(rights)))


def _not_read(need: Need, rights: tuple[Right, ...]) -> Gap:
    role_kind = _role_kind(need)
    binding_kind = "RoleBinding" if need.namespace else "ClusterRoleBinding"
    return Gap(
        need, rights, NOT_READ,
        f"the Roles and bindings of {need.where} could not be read, so it is not known whether no {binding_kind} "
        f"binds {need.account.name} or the {role_kind} it binds lacks the rights",
        f"Either bind {role_kind} {need.role} to {need.account.name}, or add the rules below to the {role_kind} "
        f"that is bound: applying spark-bootstrap/ ({_APPLY}) does both; the spark_rbac_check DAG says which is missing.",
        _dump(_rules(rights)),
    )  # fmt: skip


def _bootstrap_note(need: Need, role: str) -> str:
    if role != need.role:
        return ""
    return f" (spark-bootstrap/{need.manifest} has it: {_APPLY})"


def _role_kind(need: Need) -> str:
    return "Role" if need.namespace else "ClusterRole"


def _verbs_by_resource(rights: Sequence[Right]) -> list[tuple[Right, list[str]]]:
    """Return one right of each resource with the verbs missing on it."""
    by_resource: dict[tuple[str, str], tuple[Right, set[str]]] = {}
    for right in rights:
        by_resource.setdefault((right.group, right.resource_path), (right, set()))[1].add(right.verb)
    return [(right, _ordered(verbs)) for right, verbs in by_resource.values()]


def _ordered(verbs: set[str]) -> list[str]:
    return sorted(verbs, key=lambda v: (VERB_ORDER.index(v) if v in VERB_ORDER else len(VERB_ORDER), v))


def _rules(rights: Sequence[Right]) -> list[dict[str, Any]]:
    """Return RBAC rules granting exactly ``rights``: resources with the same verbs share a rule."""
    by_scope: dict[tuple[str, str], dict[str, set[str]]] = {}
    for right in rights:
        by_scope.setdefault((right.group, right.name), {}).setdefault(right.resource_path, set()).add(right.verb)
    rules = []
    for (group, name), resources in by_scope.items():
        by_verbs: dict[tuple[str, ...], list[str]] = {}
        for resource, verbs in resources.items():
            by_verbs.setdefault(tuple(_ordered(verbs)), []).append(resource)
        for verbs, same_verbs in by_verbs.items():
            rule: dict[str, Any] = {"apiGroups": [group], "resources": same_verbs}
            if name:
                rule["resourceNames"] = [name]
            rules.append({**rule, "verbs": list(verbs)})
    return rules


def _role_manifest(kind: str, name: str, namespace: str, rights: Sequence[Right]) -> str:
    metadata = {"name": name, "namespace": namespace} if kind == "Role" else {"name": name}
    return _dump({"apiVersion": f"{RBAC_GROUP}/v1", "kind": kind, "metadata": metadata, "rules": _rules(rights)})


def _binding_manifest(need: Need, role_kind: str) -> str:
    kind = "RoleBinding" if role_kind == "Role" else "ClusterRoleBinding"
    metadata = {"name": need.role, "namespace": need.namespace} if kind == "RoleBinding" else {"name": need.role}
    return _dump({
        "apiVersion": f"{RBAC_GROUP}/v1", "kind": kind, "metadata": metadata,
        "subjects": [{"kind": "ServiceAccount", "name": need.account.name, "namespace": need.account.namespace}],
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": role_kind, "name": need.role},
    })  # fmt: skip


def _dump(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=None)
