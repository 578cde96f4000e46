"""Which nodes need the image: taints against tolerations, labels against selectors and affinity, node state."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from kubernetes.client import V1Node, V1NodeCondition, V1NodeSpec, V1NodeStatus, V1ObjectMeta, V1Taint

from sparkplane.prepull.constraints import SchedulingConstraints
from sparkplane.prepull.eligibility import (
    ELIGIBLE,
    NOT_ELIGIBLE,
    UNAVAILABLE,
    judge_node,
    judge_nodes,
    tolerates,
)

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
GPU = V1Taint(key="dedicated", value="gpu", effect="NoSchedule")


def _node(
    name: str = "node-1",
    *,
    labels: dict[str, str] | None = None,
    taints: list[V1Taint] | None = None,
    unschedulable: bool | None = None,
    ready: V1NodeCondition | None = None,
) -> V1Node:
    ready = ready or V1NodeCondition(type="Ready", status="True", last_transition_time=T0)
    return V1Node(
        metadata=V1ObjectMeta(name=name, labels={"kubernetes.io/hostname": name, **(labels or {})}),
        spec=V1NodeSpec(taints=taints, unschedulable=unschedulable),
        status=V1NodeStatus(conditions=[ready]),
    )


def _affinity(*expressions: dict, fields: list[dict] | None = None) -> SchedulingConstraints:
    term = {"matchExpressions": list(expressions), **({"matchFields": fields} if fields else {})}
    return SchedulingConstraints(node_selector_terms=[term])


@pytest.mark.parametrize(
    ("toleration", "expected"),
    [
        ({"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}, True),
        ({"key": "dedicated", "value": "gpu"}, True),  # Equal is the default; no effect matches every effect
        ({"key": "dedicated", "operator": "Equal", "value": "cpu"}, False),
        ({"key": "dedicated", "operator": "Exists"}, True),
        ({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}, False),
        ({"key": "other", "operator": "Exists"}, False),
        ({"operator": "Exists"}, True),  # an empty key with Exists tolerates every taint
        ({"operator": "Exists", "effect": "NoExecute"}, False),
    ],
)
def test_toleration_matching_follows_the_scheduler(toleration, expected):
    assert tolerates(toleration, GPU) is expected


def test_an_untolerated_taint_makes_a_node_not_eligible_with_the_taint_named():
    verdict = judge_node(_node("gpu-1", taints=[GPU]), SchedulingConstraints())
    assert verdict.category == NOT_ELIGIBLE
    assert verdict.why == "taint dedicated=gpu:NoSchedule not tolerated"


def test_a_tolerated_taint_and_a_prefer_no_schedule_taint_leave_a_node_eligible():
    soft = V1Taint(key="spot", value="true", effect="PreferNoSchedule")
    tolerating = SchedulingConstraints(tolerations=[{"key": "dedicated", "operator": "Exists"}])
    assert judge_node(_node(taints=[GPU, soft]), tolerating).category == ELIGIBLE


def test_a_no_execute_taint_excludes_like_no_schedule():
    taint = V1Taint(key="maintenance", effect="NoExecute")
    assert judge_node(_node(taints=[taint]), SchedulingConstraints()).why == "taint maintenance:NoExecute not tolerated"


def test_a_node_selector_label_that_differs_or_is_missing_is_named():
    wanted = SchedulingConstraints(node_selector={"sparkplane.dev/pool": "batch"})
    assert judge_node(_node(labels={"sparkplane.dev/pool": "batch"}), wanted).eligible
    assert judge_node(_node(labels={"sparkplane.dev/pool": "web"}), wanted).why == (
        "label sparkplane.dev/pool=batch does not match (the node has sparkplane.dev/pool=web)"
    )
    assert judge_node(_node(), wanted).why == "label sparkplane.dev/pool=batch does not match (the node has no such label)"


@pytest.mark.parametrize(
    ("expression", "labels", "eligible"),
    [
        ({"key": "zone", "operator": "In", "values": ["a", "b"]}, {"zone": "b"}, True),
        ({"key": "zone", "operator": "In", "values": ["a", "b"]}, {"zone": "c"}, False),
        ({"key": "zone", "operator": "In", "values": ["a"]}, {}, False),
        ({"key": "zone", "operator": "NotIn", "values": ["a"]}, {"zone": "b"}, True),
        ({"key": "zone", "operator": "NotIn", "values": ["a"]}, {}, True),  # no label is not in the set
        ({"key": "zone", "operator": "NotIn", "values": ["a"]}, {"zone": "a"}, False),
        ({"key": "ssd", "operator": "Exists"}, {"ssd": ""}, True),
        ({"key": "ssd", "operator": "Exists"}, {}, False),
        ({"key": "gpu", "operator": "DoesNotExist"}, {}, True),
        ({"key": "gpu", "operator": "DoesNotExist"}, {"gpu": "a100"}, False),
        ({"key": "cores", "operator": "Gt", "values": ["8"]}, {"cores": "16"}, True),
        ({"key": "cores", "operator": "Gt", "values": ["8"]}, {"cores": "8"}, False),
        ({"key": "cores", "operator": "Lt", "values": ["8"]}, {"cores": "4"}, True),
        ({"key": "cores", "operator": "Lt", "values": ["8"]}, {"cores": "many"}, False),
        ({"key": "cores", "operator": "Lt", "values": ["8"]}, {}, False),
    ],
)
def test_affinity_operators_match_like_the_scheduler(expression, labels, eligible):
    assert judge_node(_node(labels=labels), _affinity(expression)).eligible is eligible


def test_match_fields_compare_the_node_name():
    pinned = _affinity(fields=[{"key": "metadata.name", "operator": "In", "values": ["node-2"]}])
    assert judge_node(_node("node-2"), pinned).eligible
    assert judge_node(_node("node-1"), pinned).why == "node affinity not met: node name in (node-2) (the node is node-1)"


def test_a_node_meeting_any_affinity_term_is_eligible_and_one_meeting_none_hears_about_each():
    either = SchedulingConstraints(node_selector_terms=[
        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["batch"]}]},
        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["spark"]}]},
    ])  # fmt: skip
    assert judge_node(_node(labels={"pool": "spark"}), either).eligible
    assert judge_node(_node(labels={"pool": "web"}), either).why == (
        "node affinity not met by any term (term 1: label pool in (batch) (the node has pool=web); "
        "term 2: label pool in (spark) (the node has pool=web))"
    )


def test_an_empty_affinity_term_matches_no_node():
    assert judge_node(_node(), SchedulingConstraints(node_selector_terms=[{}])).category == NOT_ELIGIBLE


def test_a_cordoned_node_is_unavailable_not_ineligible():
    cordoned = _node(unschedulable=True, taints=[V1Taint(key="node.kubernetes.io/unschedulable", effect="NoSchedule")])
    verdict = judge_node(cordoned, SchedulingConstraints())
    assert (verdict.category, verdict.why) == (UNAVAILABLE, "cordoned (spec.unschedulable)")


def test_a_not_ready_node_is_unavailable_with_when_and_the_kubelets_words():
    ready = V1NodeCondition(type="Ready", status="Unknown", reason="NodeStatusUnknown",
                            message="Kubelet stopped posting node status.", last_transition_time=T0)  # fmt: skip
    taint = V1Taint(key="node.kubernetes.io/unreachable", effect="NoExecute")
    verdict = judge_node(_node(ready=ready, taints=[taint]), SchedulingConstraints())
    assert verdict.category == UNAVAILABLE
    assert verdict.why == "NotReady since 2026-11-25 10:00:00 UTC: NodeStatusUnknown: Kubelet stopped posting node status."


def test_a_node_under_disk_pressure_is_unavailable():
    taint = V1Taint(key="node.kubernetes.io/disk-pressure", effect="NoSchedule")
    verdict = judge_node(_node(taints=[taint]), SchedulingConstraints())
    assert verdict.category == UNAVAILABLE
    assert verdict.why == "taint node.kubernetes.io/disk-pressure:NoSchedule (the node's state)"


def test_a_cordoned_node_that_no_spark_pod_fits_is_reported_as_not_eligible():
    verdict = judge_node(_node(taints=[GPU], unschedulable=True), SchedulingConstraints())
    assert verdict.category == NOT_ELIGIBLE


def test_a_node_fitting_one_kind_of_pod_is_eligible_and_one_fitting_none_names_each_kind():
    drivers = SchedulingConstraints(node_selector={"pool": "system"}, pods="spark-kubernetes-driver pods")
    executors = SchedulingConstraints(node_selector={"pool": "batch"}, pods="spark-kubernetes-executor pods")
    verdicts = judge_nodes([_node("a", labels={"pool": "batch"}), _node("b", labels={"pool": "web"})], [drivers, executors])
    assert verdicts[0].eligible
    assert verdicts[1].reasons == (
        "spark-kubernetes-driver pods: label pool=system does not match (the node has pool=web)",
        "spark-kubernetes-executor pods: label pool=batch does not match (the node has pool=web)",
    )
