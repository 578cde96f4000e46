"""The KWOK stages rendered by cluster/up: pure, no cluster needed."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from localcluster.kwok import NO_NODE, cri_log_line, kwok_config, node_manifests, pod_stages
from localcluster.settings import SIMULATE_PULL_LABEL, Settings


def _settings(**kwargs) -> Settings:
    return Settings(cache_dir=Path("/nonexistent"), **kwargs)


def _stage(stages: list[dict], name: str) -> dict:
    return next(s for s in stages if s["metadata"]["name"] == name)


def _values_for(stage: dict, key: str) -> list[str]:
    return next(e["values"] for e in stage["spec"]["selector"]["matchExpressions"] if e["key"] == key)


def test_failing_nodes_get_the_pull_failure_stage_and_never_the_ready_one():
    stages = pod_stages(_settings(kwok_nodes=4, kwok_pull_fail_nodes=2))

    assert _values_for(_stage(stages, "pod-pull-fail-by-node"), ".spec.nodeName") == ["kwok-node-002", "kwok-node-003"]
    assert _values_for(_stage(stages, "pod-ready"), ".spec.nodeName") == ["kwok-node-002", "kwok-node-003"]


def test_without_failing_nodes_there_is_no_node_failure_stage():
    stages = pod_stages(_settings(kwok_nodes=3, kwok_pull_fail_nodes=0))

    assert "pod-pull-fail-by-node" not in {s["metadata"]["name"] for s in stages}
    assert _values_for(_stage(stages, "pod-ready"), ".spec.nodeName") == [NO_NODE]


def test_only_the_failing_nodes_carry_the_simulate_pull_label():
    nodes = node_manifests(_settings(kwok_nodes=3, kwok_pull_fail_nodes=1))["items"]

    labelled = [n["metadata"]["name"] for n in nodes if SIMULATE_PULL_LABEL in n["metadata"]["labels"]]
    assert labelled == ["kwok-node-002"]


def test_more_failing_nodes_than_nodes_is_refused():
    with pytest.raises(SystemExit, match="SPARKPLANE_KWOK_PULL_FAIL_NODES=3"):
        _settings(kwok_nodes=2, kwok_pull_fail_nodes=3)


def test_kwok_serves_logs_on_the_simulated_nodes_address_with_one_shared_log_file():
    settings = _settings()
    options, *stages, logs = [json.loads(doc) for doc in kwok_config(settings).split("\n---\n")]

    assert options["options"]["serverAddress"] == f"{settings.kwok_node_ip}:{settings.kwok_server_port}"
    assert options["options"]["nodePort"] == settings.kwok_server_port
    assert logs["kind"] == "ClusterLogs"
    assert logs["spec"]["logs"] == [{"logsFile": str(settings.simulated_container_log), "follow": True}]


def test_cri_log_lines_carry_a_nanosecond_utc_timestamp_the_stream_and_the_full_line_tag():
    at = datetime(2026, 11, 26, 17, 3, 29, 579330, tzinfo=timezone.utc)
    assert cri_log_line("hello", at) == "2026-11-26T17:03:29.579330000Z stdout F hello\n"
