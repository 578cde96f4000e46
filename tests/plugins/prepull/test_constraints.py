"""Spark's scheduling constraints, read from its pod templates and the DAG's params."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sparkplane.exceptions import JobDefinitionError
from sparkplane.prepull.constraints import SchedulingConstraints, constraints_from_pod_templates, puller_tolerations

TEMPLATES = Path(__file__).resolve().parents[3] / "spark-bootstrap" / "pod-templates"
SPARK = {"key": "dedicated", "operator": "Equal", "value": "spark", "effect": "NoSchedule"}


def _template(container: str, **spec: object) -> dict:
    return {"spec": {"containers": [{"name": container}], **spec}}


def test_the_bootstrap_templates_hold_no_constraints_so_one_unconstrained_kind_remains():
    templates = [yaml.safe_load((TEMPLATES / name).read_text()) for name in ("driver.yaml", "executor.yaml")]
    assert constraints_from_pod_templates(*templates) == [SchedulingConstraints()]


def test_the_dags_selector_and_tolerations_apply_to_every_kind():
    driver = _template("driver", nodeSelector={"pool": "system"})
    executor = _template("executor", tolerations=[{"key": "spot", "operator": "Exists"}])
    kinds = constraints_from_pod_templates(driver, executor, node_selector={"team": "data"}, tolerations=[SPARK])
    assert [(k.pods, k.node_selector, list(k.tolerations)) for k in kinds] == [
        ("driver pods", {"pool": "system", "team": "data"}, [SPARK]),
        ("executor pods", {"team": "data"}, [{"key": "spot", "operator": "Exists"}, SPARK]),
    ]
    assert puller_tolerations(kinds) == [SPARK, {"key": "spot", "operator": "Exists"}]


def test_template_affinity_and_the_dags_affinity_must_both_hold():
    zone = {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
    ssd = {"matchExpressions": [{"key": "ssd", "operator": "Exists"}]}
    template = _template("executor", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [zone]}}})  # fmt: skip
    [kind] = constraints_from_pod_templates(template, node_selector_terms=[ssd])
    assert kind.node_selector_terms == (
        {"matchExpressions": [*zone["matchExpressions"], *ssd["matchExpressions"]], "matchFields": []},
    )


def test_a_selector_contradicting_a_template_says_which_label():
    with pytest.raises(JobDefinitionError, match=r"node_selector pool=batch contradicts the nodeSelector pool=system"):
        constraints_from_pod_templates(_template("driver", nodeSelector={"pool": "system"}), node_selector={"pool": "batch"})


@pytest.mark.parametrize(
    ("constraints", "problem"),
    [
        ({"tolerations": [{"key": "a", "operator": "Exists", "value": "x"}]}, "operator Exists takes no value"),
        ({"tolerations": [{"value": "x"}]}, "has no key, which only operator Exists allows"),
        ({"tolerations": [{"key": "a", "effect": "NoRun"}]}, "effect 'NoRun' is not one of"),
        ({"node_selector_terms": [{"matchExpressions": [{"key": "a", "operator": "Like"}]}]}, "operator 'Like'"),
        ({"node_selector_terms": [{"matchExpressions": [{"key": "a", "operator": "In"}]}]}, "operator In needs values"),
        ({"node_selector_terms": [{"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["x"]}]}]},
         "needs exactly one whole number"),
        ({"node_selector_terms": [{"matchFields": [{"key": "spec.podCIDR", "operator": "In", "values": ["x"]}]}]},
         "is not metadata.name"),
    ],
)
def test_invalid_constraints_fail_naming_the_field(constraints, problem):
    with pytest.raises(JobDefinitionError, match=problem):
        SchedulingConstraints(**constraints)
