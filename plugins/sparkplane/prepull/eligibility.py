"""Which nodes need the image, and why each other node is left out. Pure.

A node is judged the way the scheduler would judge a Spark pod (``constraints``): its taints
against the pod's tolerations, its labels against the node selector and the required node
affinity. Three verdicts, because the report lists them apart:

* eligible: a Spark pod may land there, so the image should be there;
* not eligible: no Spark pod ever lands there by design (a GPU pool, another team's nodes);
* unavailable: a Spark pod would fit but the node takes no pods now (cordoned, NotReady, under
  pressure). Reported, not waited for: a puller there would only wait.

Taints with effect PreferNoSchedule only steer the scheduler, so they never exclude a node. The
taints the node controller sets for a node's state (``node.kubernetes.io/not-ready`` ...) make a
node unavailable, not ineligible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sparkplane.prepull.constraints import FIELD_KEY, SchedulingConstraints

if TYPE_CHECKING:
    from datetime import datetime

    from kubernetes.client import V1Node, V1Taint

ELIGIBLE = "eligible"
NOT_ELIGIBLE = "not-eligible"
UNAVAILABLE = "unavailable"

#: Effects that keep a pod off a node; PreferNoSchedule only makes the scheduler avoid it.
EXCLUDING_EFFECTS = frozenset({"NoSchedule", "NoExecute"})
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
#: Taints the node controller sets for a node's state; cordon and Ready are read from the node itself.
STATE_TAINTS = frozenset({
    UNSCHEDULABLE_TAINT,
    "node.kubernetes.io/not-ready",
    "node.kubernetes.io/unreachable",
    "node.kubernetes.io/memory-pressure",
    "node.kubernetes.io/disk-pressure",
    "node.kubernetes.io/pid-pressure",
    "node.kubernetes.io/network-unavailable",
    "node.kubernetes.io/out-of-service",
    "node.cloudprovider.kubernetes.io/uninitialized",
    "node.cloudprovider.kubernetes.io/shutdown",
})
_READ_FROM_READY = frozenset({"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"})


@dataclass(frozen=True)
class NodeVerdict:
    """Whether a node needs the image.

    :param node: the node's name.
    :param category: ``ELIGIBLE``, ``NOT_ELIGIBLE`` or ``UNAVAILABLE``.
    :param reasons: why a node is not eligible or unavailable, for people to read.
    """

    node: str
    category: str
    reasons: tuple[str, ...] = ()

    @property
    def eligible(self) -> bool:
        """Return whether the image should be on the node."""
        return self.category == ELIGIBLE

    @property
    def why(self) -> str:
        """Return the reasons as one line."""
        return "; ".join(self.reasons)


def judge_nodes(
    nodes: Sequence[V1Node], kinds: SchedulingConstraints | Sequence[SchedulingConstraints]
) -> list[NodeVerdict]:
    """Return the verdict on each node, in the order given."""
    return [judge_node(node, kinds) for node in nodes]


def judge_node(node: V1Node, kinds: SchedulingConstraints | Sequence[SchedulingConstraints]) -> NodeVerdict:
    """Return whether some kind of Spark pod may land on the node, and if not why."""
    kinds = [kinds] if isinstance(kinds, SchedulingConstraints) else list(kinds) or [SchedulingConstraints()]
    name = node.metadata.name
    unmet = [(kind, unmet_constraints(node, kind)) for kind in kinds]
    if all(reasons for _, reasons in unmet):
        if len(unmet) == 1:
            return NodeVerdict(name, NOT_ELIGIBLE, tuple(unmet[0][1]))
        return NodeVerdict(name, NOT_ELIGIBLE, tuple(f"{kind.pods}: {r}" for kind, reasons in unmet for r in reasons))
    fitting = [kind for kind, reasons in unmet if not reasons]
    if reasons := unavailable_reasons(node, fitting):
        return NodeVerdict(name, UNAVAILABLE, tuple(reasons))
    return NodeVerdict(name, ELIGIBLE)


def unmet_constraints(node: V1Node, kind: SchedulingConstraints) -> list[str]:
    """Return what about the node keeps this kind of pod off it by design (empty: it fits)."""
    labels = node.metadata.labels or {}
    reasons = [
        f"taint {describe_taint(taint)} not tolerated"
        for taint in _taints(node)
        if taint.key not in STATE_TAINTS and not _tolerated(taint, kind.tolerations)
    ]
    for key, value in kind.node_selector.items():
        if labels.get(key) != value:
            reasons.append(f"label {key}={value} does not match{_has_label(labels, key)}")
    terms = kind.node_selector_terms
    term_reasons = [_unmet_in_term(term, node.metadata.name, labels) for term in terms]
    if terms and all(term_reasons):
        if len(terms) == 1:
            reasons.append(f"node affinity not met: {', '.join(term_reasons[0])}")
        else:
            each = "; ".join(f"term {i + 1}: {', '.join(r)}" for i, r in enumerate(term_reasons))
            reasons.append(f"node affinity not met by any term ({each})")
    return reasons


def unavailable_reasons(node: V1Node, kinds: Sequence[SchedulingConstraints]) -> list[str]:
    """Return why the node takes no pods now (empty: it does)."""
    reasons = ["cordoned (spec.unschedulable)"] if node.spec and node.spec.unschedulable else []
    conditions = (node.status.conditions if node.status else None) or []
    ready = next((c for c in conditions if c.type == "Ready"), None)
    if ready is None:
        reasons.append("NotReady: the node reports no Ready condition")
    elif ready.status != "True":
        detail = ": ".join(part for part in (ready.reason, ready.message) if part) or f"Ready is {ready.status}"
        since = f" since {_when(ready.last_transition_time)}" if ready.last_transition_time else ""
        reasons.append(f"NotReady{since}: {detail}")
    reasons += [
        f"taint {describe_taint(taint)} (the node's state)"
        for taint in _taints(node)
        if taint.key in STATE_TAINTS - _READ_FROM_READY - {UNSCHEDULABLE_TAINT}
        and not any(_tolerated(taint, kind.tolerations) for kind in kinds)
    ]
    return reasons


def tolerates(toleration: Mapping[str, Any], taint: V1Taint) -> bool:
    """Return whether the toleration tolerates the taint, by the scheduler's rule.

    An empty effect matches every effect; an empty key with operator Exists matches every taint;
    operator Exists ignores the value, Equal (the default) compares it.
    """
    effect = toleration.get("effect") or ""
    if effect and effect != taint.effect:
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if not key:
        return operator == "Exists"
    if key != taint.key:
        return False
    return operator == "Exists" or (toleration.get("value") or "") == (taint.value or "")


def describe_taint(taint: V1Taint) -> str:
    """Return the taint as kubectl writes it: ``key=value:Effect``."""
    value = f"={taint.value}" if taint.value else ""
    return f"{taint.key}{value}:{taint.effect}"


def _taints(node: V1Node) -> list[V1Taint]:
    taints = (node.spec.taints if node.spec else None) or []
    return [taint for taint in taints if taint.effect in EXCLUDING_EFFECTS]


def _tolerated(taint: V1Taint, tolerations: Sequence[Mapping[str, Any]]) -> bool:
    return any(tolerates(toleration, taint) for toleration in tolerations)


def _unmet_in_term(term: Mapping[str, Any], node_name: str, labels: Mapping[str, str]) -> list[str]:
    expressions, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not expressions and not fields:
        return ["the term is empty, which matches no node"]
    unmet = [
        f"{_describe(requirement, 'label ' + requirement['key'])}{_has_label(labels, requirement['key'])}"
        for requirement in expressions
        if not _label_requirement_met(requirement, labels)
    ]
    unmet += [
        f"{_describe(requirement, 'node name')} (the node is {node_name})"
        for requirement in fields
        if not _label_requirement_met({**requirement, "key": FIELD_KEY}, {FIELD_KEY: node_name})
    ]
    return unmet


def _label_requirement_met(requirement: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, operator = requirement["key"], requirement["operator"]
    values = [str(value) for value in requirement.get("values") or []]
    value = labels.get(key)
    if operator == "In":
        return value in values
    if operator == "NotIn":
        return value not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    # Gt and Lt compare whole numbers; a label that is not one matches neither.
    try:
        number = int(value) if value is not None else None
    except ValueError:
        return False
    if number is None:
        return False
    return number > int(values[0]) if operator == "Gt" else number < int(values[0])


def _describe(requirement: Mapping[str, Any], subject: str) -> str:
    operator = requirement["operator"]
    values = ", ".join(str(value) for value in requirement.get("values") or [])
    wording = {
        "In": f"in ({values})", "NotIn": f"not in ({values})", "Exists": "exists", "DoesNotExist": "absent",
        "Gt": f"> {values}", "Lt": f"< {values}",
    }  # fmt: skip
    return f"{subject} {wording[operator]}"


def _has_label(labels: Mapping[str, str], key: str) -> str:
    return f" (the node has {key}={labels[key]})" if key in labels else " (the node has no such label)"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
