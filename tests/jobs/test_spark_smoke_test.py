"""The smoke-test job: its checks run on the executors and its output is countable."""

from __future__ import annotations

from jobs.spark_smoke_test import executor_facts, parse_args


def test_every_partition_reports_its_host_python_and_rows(spark):
    facts = executor_facts(spark, partitions=3)
    assert len(facts) == 3
    assert sum(rows for _, _, rows in facts) == 300


def test_holding_is_off_unless_asked_for():
    assert parse_args([]).hold_seconds == 0
    assert parse_args(["--hold-seconds", "2.5", "--lines", "3"]).hold_seconds == 2.5
