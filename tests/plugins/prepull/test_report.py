"""The run's report: coverage of eligible nodes, the task log's lines, the XCom, the threshold."""

from __future__ import annotations

import json

import pytest

from sparkplane.exceptions import PrepullIncomplete
from sparkplane.prepull.eligibility import ELIGIBLE, NOT_ELIGIBLE, UNAVAILABLE, NodeVerdict
from sparkplane.prepull.progress import ALREADY_PRESENT, CANNOT_SCHEDULE, FAILED, PULLED, PULLING, PullerProgress
from sparkplane.prepull.report import PrepullReport

IMAGE = "registry.example.com:5000/sparkplane/spark:c0ffee"
TAINT = "taint dedicated=gpu:NoSchedule not tolerated"


def _report() -> PrepullReport:
    verdicts = [
        *(NodeVerdict(f"node-{i}", ELIGIBLE) for i in range(1, 9)),
        NodeVerdict("gpu-1", NOT_ELIGIBLE, (TAINT,)),
        NodeVerdict("gpu-2", NOT_ELIGIBLE, (TAINT,)),
        NodeVerdict("old-1", UNAVAILABLE, ("cordoned (spec.unschedulable)",)),
    ]
    outcomes = [
        PullerProgress("node-1", PULLED, seconds=62.5),
        PullerProgress("node-2", PULLED, seconds=12.0),
        PullerProgress("node-3", PULLED),
        PullerProgress("node-4", ALREADY_PRESENT),
        PullerProgress("node-5", ALREADY_PRESENT),
        PullerProgress("node-6", FAILED, message="ErrImagePull: 401 Unauthorized"),
        PullerProgress("node-7", CANNOT_SCHEDULE, message="0/11 nodes are available: 1 Too many pods."),
        PullerProgress("node-8", PULLING),
    ]
    return PrepullReport.of(IMAGE, verdicts, outcomes)


def test_each_node_lands_in_one_category_and_an_unfinished_pull_timed_out():
    report = _report()
    assert report.pulled == {"node-1": 62.5, "node-2": 12.0, "node-3": None}
    assert report.already_present == ["node-4", "node-5"]
    assert report.failed == {"node-6": "ErrImagePull: 401 Unauthorized"}
    assert report.unschedulable == {"node-7": "0/11 nodes are available: 1 Too many pods."}
    assert report.timed_out == ["node-8"]
    assert report.not_eligible == {"gpu-1": TAINT, "gpu-2": TAINT}
    assert report.unavailable == {"old-1": "cordoned (spec.unschedulable)"}


def test_coverage_counts_eligible_nodes_only():
    report = _report()
    assert report.coverage == "image present on 5/8 eligible nodes"
    assert report.coverage_percent == 62.5
    assert report.missing == ["node-6", "node-7", "node-8"]


def test_the_xcom_is_plain_json_and_leaves_out_empty_categories():
    xcom = PrepullReport(IMAGE, already_present=["b", "a"], not_eligible={"gpu-1": TAINT}).as_xcom()
    assert xcom == {"image": IMAGE, "coverage": "2/2", "coverage_percent": 100.0, "already_present": ["a", "b"],
                    "not_eligible": {"gpu-1": TAINT}}  # fmt: skip
    assert json.loads(json.dumps(_report().as_xcom())) == _report().as_xcom()


def test_the_log_report_lists_every_category_and_groups_shared_reasons():
    assert _report().log_lines() == [
        f"{IMAGE}: image present on 5/8 eligible nodes (62.5%)",
        "Pulled on 3 nodes: node-1 62.5 s, node-2 12 s, node-3 (time unknown)",
        "Already present on 2 nodes: node-4, node-5",
        "Pull failed on 1 node:",
        "  node-6: ErrImagePull: 401 Unauthorized",
        "Puller could not be scheduled on 1 node:",
        "  node-7: 0/11 nodes are available: 1 Too many pods.",
        "Timed out on 1 node: node-8",
        "Unavailable, reported and not waited for, 1 node:",
        "  old-1: cordoned (spec.unschedulable)",
        "Not eligible for Spark's pods, 2 nodes:",
        f"  gpu-1, gpu-2: {TAINT}",
    ]


def test_coverage_at_the_threshold_passes():
    _report().check_threshold(62.5)
    PrepullReport(IMAGE, not_eligible={"gpu-1": TAINT}).check_threshold(0)


def test_coverage_below_the_threshold_names_the_nodes_without_the_image_and_how_to_fix_it():
    with pytest.raises(PrepullIncomplete) as raised:
        _report().check_threshold(90)
    error = raised.value
    assert error.nodes == ["node-6", "node-7", "node-8"]
    assert error.cause == (
        f"{IMAGE}: image present on 5/8 eligible nodes (62.5%), below the required 90%. Nodes without it: "
        "node-6 (pull failed: ErrImagePull: 401 Unauthorized), node-7 (puller could not be scheduled: "
        "0/11 nodes are available: 1 Too many pods.), node-8 (timed out)."
    )
    assert "may pull it (the DAG's image pull secrets)" in error.fix and "raise the DAG's timeout" in error.fix
    assert "lower min_coverage_percent" in error.fix and "\nFix: " in str(error)


def test_a_cluster_without_an_eligible_node_fails_any_positive_threshold():
    with pytest.raises(PrepullIncomplete, match="No node is eligible"):
        PrepullReport(IMAGE, not_eligible={"gpu-1": TAINT}, unavailable={"old-1": "cordoned"}).check_threshold(50)


def test_a_slightly_short_coverage_never_reads_as_full():
    report = PrepullReport(IMAGE, already_present=[f"n{i}" for i in range(1999)], timed_out=["last"])
    assert report.coverage_percent == 99.9
    with pytest.raises(PrepullIncomplete):
        report.check_threshold(100)
