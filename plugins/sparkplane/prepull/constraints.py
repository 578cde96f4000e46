"""Where Spark's pods may land, read from their pod templates and the DAG's params. Pure.

The constraints are kept in the pod spec's own shape (``nodeSelector``, the required node
affinity's ``nodeSelectorTerms``, ``tolerations``, as plain dicts), so what a template or a param
says is what is matched, field for field, the way the scheduler matches it (``eligibility``).

A node needs the image if a driver *or* an executor may land there, so the driver's and the
executors' templates stay separate kinds of pod: a node is eligible when one kind fits it. What
the DAG adds (a selector a task sets in its own ``pod_template``, which the DAG cannot see) applies
to every kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sparkplane.exceptions import JobDefinitionError

LABEL_OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"})
#: The only field a node selector term may match on, and how.
FIELD_KEY = "metadata.name"
FIELD_OPERATORS = frozenset({"In", "NotIn"})
TOLERATION_OPERATORS = frozenset({"", "Equal", "Exists"})
TAINT_EFFECTS = frozenset({"NoSchedule", "PreferNoSchedule", "NoExecute"})


@dataclass(frozen=True)
class SchedulingConstraints:
    """What one kind of Spark pod says about the nodes it may land on.

    :param node_selector: ``spec.nodeSelector``: labels a node must carry, with these values.
    :param node_selector_terms: ``spec.affinity.nodeAffinity.requiredDuringScheduling
        IgnoredDuringExecution.nodeSelectorTerms``: a node must meet one term; empty means no
        required affinity. Each term holds ``matchExpressions`` (on labels) and ``matchFields``
        (on ``metadata.name``).
    :param tolerations: ``spec.tolerations``.
    :param pods: which pods these are, named in the reasons a node is left out; not compared.
    """

    node_selector: Mapping[str, str] = field(default_factory=dict)
    node_selector_terms: Sequence[Mapping[str, Any]] = ()
    tolerations: Sequence[Mapping[str, Any]] = ()
    pods: str = field(default="Spark pods", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "node_selector", dict(self.node_selector or {}))
        object.__setattr__(self, "node_selector_terms", tuple(self.node_selector_terms or ()))
        object.__setattr__(self, "tolerations", tuple(self.tolerations or ()))
        problems = [
            *_selector_problems(self.node_selector),
            *(p for i, term in enumerate(self.node_selector_terms) for p in _term_problems(term, i)),
            *(p for i, toleration in enumerate(self.tolerations) for p in _toleration_problems(toleration, i)),
        ]
        if problems:
            raise JobDefinitionError(
                f"The scheduling constraints of {self.pods} are not valid pod-spec fields: {'; '.join(problems)}. "
                "Write them as in a pod spec, e.g. node_selector={'sparkplane.dev/pool': 'batch'}, "
                "tolerations=[{'key': 'dedicated', 'operator': 'Equal', 'value': 'spark', 'effect': 'NoSchedule'}]."
            )


def constraints_from_pod_templates(
    *templates: Mapping[str, Any],
    node_selector: Mapping[str, str] | None = None,
    node_selector_terms: Sequence[Mapping[str, Any]] = (),
    tolerations: Sequence[Mapping[str, Any]] = (),
) -> list[SchedulingConstraints]:
    """Return the constraints of each kind of Spark pod: its template's, with the DAG's added.

    :param templates: pod template dicts (spark-bootstrap/pod-templates/driver.yaml and
        executor.yaml); each is one kind of pod. Kinds that end up alike count once.
    :param node_selector: labels every Spark pod requires on top of its template's. A selector
        a task adds in its own ``pod_template`` is not known to the DAG, so it comes as a param.
    :param node_selector_terms: required node affinity every Spark pod has on top of its template's.
    :param tolerations: tolerations every Spark pod has on top of its template's.
    """
    kinds: list[SchedulingConstraints] = []
    for index, template in enumerate(templates or ({},)):
        spec = template.get("spec") or {}
        pods = _pods_name(spec, index) if templates else "Spark pods"
        required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        ) or {}
        kind = SchedulingConstraints(
            node_selector=_merge_selectors(spec.get("nodeSelector") or {}, node_selector or {}, pods),
            node_selector_terms=_and_terms(required.get("nodeSelectorTerms") or [], node_selector_terms),
            tolerations=[*(spec.get("tolerations") or []), *tolerations],
            pods=pods,
        )
        if kind not in kinds:
            kinds.append(kind)
    return kinds


def puller_tolerations(kinds: Sequence[SchedulingConstraints]) -> list[dict[str, Any]]:
    """Return every toleration of any kind, once: what a puller pod needs wherever a Spark pod fits."""
    tolerations: list[dict[str, Any]] = []
    for kind in kinds:
        tolerations.extend(dict(t) for t in kind.tolerations if dict(t) not in tolerations)
    return tolerations


def _pods_name(spec: Mapping[str, Any], index: int) -> str:
    containers = spec.get("containers") or []
    name = containers[0].get("name") if containers and isinstance(containers[0], Mapping) else None
    return f"{name} pods" if name else f"the pods of template {index + 1}"


def _merge_selectors(template: Mapping[str, str], extra: Mapping[str, str], pods: str) -> dict[str, str]:
    for key, value in extra.items():
        if key in template and template[key] != value:
            raise JobDefinitionError(
                f"node_selector {key}={value} contradicts the nodeSelector {key}={template[key]} of the "
                f"{pods}' template: no node could run them. Drop one of the two."
            )
    return {**template, **extra}


def _and_terms(
    terms: Sequence[Mapping[str, Any]], extra: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    # Terms are ORed; (a1 or a2) and (b1 or b2) is (a1+b1) or (a1+b2) or (a2+b1) or (a2+b2).
    if not terms or not extra:
        return [*terms, *extra]
    return [
        {
            "matchExpressions": [*(mine.get("matchExpressions") or []), *(theirs.get("matchExpressions") or [])],
            "matchFields": [*(mine.get("matchFields") or []), *(theirs.get("matchFields") or [])],
        }
        for mine in terms
        for theirs in extra
    ]


def _selector_problems(selector: Mapping[str, Any]) -> list[str]:
    return [
        f"node_selector {key!r}: {value!r} is not a label and a value"
        for key, value in selector.items()
        if not isinstance(key, str) or not key or not isinstance(value, str)
    ]


def _term_problems(term: Any, index: int) -> list[str]:
    where = f"nodeSelectorTerms[{index}]"
    if not isinstance(term, Mapping):
        return [f"{where} is a {type(term).__name__}, not a mapping"]
    problems = [f"{where} has unknown key {key!r}" for key in term if key not in ("matchExpressions", "matchFields")]
    for position, requirement in enumerate(term.get("matchExpressions") or []):
        problems += _requirement_problems(requirement, f"{where}.matchExpressions[{position}]", LABEL_OPERATORS)
    for position, requirement in enumerate(term.get("matchFields") or []):
        problems += _requirement_problems(requirement, f"{where}.matchFields[{position}]", FIELD_OPERATORS)
    return problems


def _requirement_problems(requirement: Any, where: str, operators: frozenset[str]) -> list[str]:
    if not isinstance(requirement, Mapping):
        return [f"{where} is not a mapping"]
    operator, values = requirement.get("operator"), requirement.get("values") or []
    if not requirement.get("key"):
        return [f"{where} has no key"]
    if operator not in operators:
        return [f"{where} operator {operator!r} is not one of {', '.join(sorted(operators))}"]
    if operators is FIELD_OPERATORS and requirement["key"] != FIELD_KEY:
        return [f"{where} key {requirement['key']!r} is not {FIELD_KEY}, the only field nodes are matched on"]
    if operator in ("In", "NotIn") and not values:
        return [f"{where} operator {operator} needs values"]
    if operator in ("Exists", "DoesNotExist") and values:
        return [f"{where} operator {operator} takes no values"]
    if operator in ("Gt", "Lt") and (len(values) != 1 or not str(values[0]).lstrip("-").isdigit()):
        return [f"{where} operator {operator} needs exactly one whole number, not {values!r}"]
    return []


def _toleration_problems(toleration: Any, index: int) -> list[str]:
    where = f"tolerations[{index}]"
    if not isinstance(toleration, Mapping):
        return [f"{where} is a {type(toleration).__name__}, not a mapping"]
    operator, effect = toleration.get("operator") or "", toleration.get("effect") or ""
    if operator not in TOLERATION_OPERATORS:
        return [f"{where} operator {operator!r} is not Equal or Exists"]
    if effect and effect not in TAINT_EFFECTS:
        return [f"{where} effect {effect!r} is not one of {', '.join(sorted(TAINT_EFFECTS))}"]
    if operator == "Exists" and toleration.get("value"):
        return [f"{where} operator Exists takes no value"]
    if not toleration.get("key") and operator != "Exists":
        return [f"{where} has no key, which only operator Exists allows (it then tolerates every taint)"]
    return []
