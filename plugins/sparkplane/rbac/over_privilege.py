"""Rights an account holds beyond what it needs, binding by binding. Pure.

Every running driver holds spark-sa's token, and so does any job's code: a right spark-sa has
and Spark does not use is a right every job has. The bindings that reach the account are read
from the cluster (directly, or through the groups every ServiceAccount is in:
``system:serviceaccounts``, ``system:serviceaccounts:<namespace>``, ``system:authenticated``);
each rule of the role they bind is compared with the account's needs. Kubernetes' own default
bindings, which reach every account, are left out (see ``grants.is_kubernetes_default``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sparkplane.rbac.grants import RbacObjects, Reach, bindings_reaching, is_kubernetes_default, rules_of
from sparkplane.rbac.lint import VALID_VERBS
from sparkplane.rbac.needed_rights import Need, Right

if TYPE_CHECKING:
    from kubernetes.client import V1PolicyRule


@dataclass(frozen=True)
class Excess:
    """More than an account needs, granted through one binding.

    :param binding: the binding, as ``RoleBinding spark/x`` or ``ClusterRoleBinding y``.
    :param role: the role it binds, as ``Role spark/x`` or ``ClusterRole y``.
    :param via: how the binding's subjects reach the account.
    :param what: what it grants beyond the need, and the way out.
    """

    binding: str
    role: str
    via: str
    what: str

    def describe(self) -> str:
        return f"{self.binding} (subject {self.via}) {self.what}"


def excess_rights(need: Need, rbac: RbacObjects) -> list[Excess]:
    """Return what the bindings reaching ``need.account`` grant beyond ``need.rights``."""
    return [
        excess
        for reach in bindings_reaching(need.account, need.namespace, rbac)
        if not is_kubernetes_default(reach.binding)
        for excess in _excess_of(reach, need, rbac)
    ]


def _excess_of(reach: Reach, need: Need, rbac: RbacObjects) -> Iterator[Excess]:
    def excess(what: str) -> Excess:
        return Excess(reach.describe(), reach.describe_role(), reach.via, what)

    name = need.account.name
    if reach.kind == "ClusterRoleBinding" and need.namespace:
        yield excess(
            f"grants {reach.describe_role()} to {name} in every namespace (kube-system included) and cluster-wide; "
            f"{name} needs rights only in namespace {need.namespace}: bind the role there with a RoleBinding "
            "and delete the ClusterRoleBinding."
        )
    for rule in rules_of(reach, rbac) or []:
        extra = _beyond(rule, need.rights)
        if extra:
            yield excess(f"grants {name} through {reach.describe_role()} {extra}, which it does not need: "
                         "remove it from the rule.")  # fmt: skip


def _beyond(rule: V1PolicyRule, needed: tuple[Right, ...]) -> str:
    """Return what one rule grants beyond ``needed``, in words (empty when nothing)."""
    if rule.non_resource_urls:
        return f"the non-resource URLs {', '.join(rule.non_resource_urls)}"
    groups, resources, verbs = rule.api_groups or [], rule.resources or [], rule.verbs or []
    wildcards = [f"every {what} (*)" for what, values in (("verb", verbs), ("resource", resources), ("API group", groups))
                 if "*" in values]  # fmt: skip
    if wildcards:
        return f"{' and '.join(wildcards)} in a rule for {', '.join(verbs)} on {', '.join(resources)}"
    extra = []
    for group in groups:
        for resource in resources:
            resource_name, _, subresource = resource.partition("/")
            for verb in verbs:
                right = Right(verb, resource_name, group, subresource)
                # A verb Kubernetes does not have grants nothing; the linter reports it.
                if verb in VALID_VERBS and not any(_same_but_name(right, n) for n in needed):
                    extra.append(str(right))
    return ", ".join(extra)


def _same_but_name(granted: Right, needed: Right) -> bool:
    return (granted.verb, granted.group, granted.resource_path) == (needed.verb, needed.group, needed.resource_path)
