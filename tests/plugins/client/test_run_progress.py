"""The text a person sees while a run goes, and the Cause:/Fix: lines of a failed task."""

from __future__ import annotations

from sparkplane.client.progress import cause_and_fix, log_lines, render


def test_structured_log_entries_become_lines_without_the_source_group():
    entries = [
        {"event": "::group::Log message source details", "sources": ["/logs/attempt=1.log"]},
        {"event": "::endgroup::"},
        {"timestamp": "2026-12-01T17:20:38.123456Z", "level": "info", "event": "line 1 of 3", "logger": "x"},
        {"timestamp": "2026-12-01T17:20:39Z", "level": "error", "event": "Cause: the job exited with 1"},
        "plain text\nsecond",
    ]
    assert log_lines(entries) == ["17:20:38 INFO line 1 of 3", "17:20:39 ERROR Cause: the job exited with 1",
                                  "plain text", "second"]  # fmt: skip


def test_the_last_cause_and_fix_are_kept_in_that_order():
    lines = ["Cause: first try", "x ERROR Fix: old", "y ERROR Cause: the input is missing", "z ERROR Fix: write it first"]
    assert cause_and_fix(lines) == ["Cause: the input is missing", "Fix: write it first"]
    assert cause_and_fix(["nothing"]) == []


def test_the_block_shows_the_run_its_tasks_and_the_tail():
    text = render(dag_id="daily_sales", run_id="manual__1", url="http://a/dags/daily_sales/runs/manual__1",
                  state="running", tasks=[{"task_id": "daily_sales", "state": "running", "try_number": 1},
                                          {"task_id": "publish", "state": None, "try_number": 0}],
                  tail_task="daily_sales", tail=["line 9"])  # fmt: skip
    assert text.splitlines() == ["daily_sales  manual__1  running", "http://a/dags/daily_sales/runs/manual__1",
                                 "  daily_sales: running (try 1)", "  publish: waiting (try 0)",
                                 "--- last lines of daily_sales's log", "line 9"]  # fmt: skip
