"""The smoke-test job: its checks run on the executors and its output is countable."""

from __future__ import annotations

import hashlib
import re

from jobs.spark_smoke_test import executor_facts, executor_fingerprints, expected_items, parse_args, report_fingerprints


def test_every_partition_reports_its_host_python_and_rows(spark):
    facts = executor_facts(spark, partitions=3)
    assert len(facts) == 3
    assert sum(rows for _, _, rows in facts) == 300


def test_holding_is_off_unless_asked_for():
    assert parse_args([]).hold_seconds == 0
    assert parse_args(["--hold-seconds", "2.5", "--lines", "3"]).hold_seconds == 2.5


def test_expected_env_and_files_are_fingerprinted_everywhere_never_printed(spark, tmp_path, capsys):
    secret_file = tmp_path / "password"
    secret_file.write_text("file-canary-1234")
    # The session's Python workers started before this test: PATH is a variable they surely have.
    items = expected_items(parse_args(["--expect-env", "PATH", "--expect-file", str(secret_file),
                                       "--expect-env", "SMOKE_ABSENT"]))
    seen = executor_fingerprints(spark, items, partitions=2)
    missing = report_fingerprints(items, seen)
    out = capsys.readouterr().out
    assert missing == ["env SMOKE_ABSENT"]
    digest = hashlib.sha256(b"file-canary-1234").hexdigest()
    assert f"file {secret_file} on the driver: sha256 {digest}" in out
    assert re.search(rf"file {re.escape(str(secret_file))} on executor \S+: sha256 {digest}", out)
    assert "env SMOKE_ABSENT on the driver: sha256 missing" in out
    assert "canary" not in out
