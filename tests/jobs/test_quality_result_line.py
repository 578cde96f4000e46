"""The result line a job's gate prints: bounded in bytes whatever the data held."""

from __future__ import annotations

import json

from quality.result_line import MAX_LINE_BYTES, RESULT_LINE_PREFIX, format_result_line


def _result(datasets: int, failures: int, value: str) -> dict:
    return {"job": "j", "status": "failed", "published": False, "output": "/o", "validation_result": "/v",
            "data_docs": "/d", "validation_seconds": 1.0, "datasets": [
                {"name": f"d{n}", "expectations": failures, "failed": failures, "blocking": failures // 2,
                 "failures": [{"expectation": f"expect_{i}(column={value})", "blocking": i < failures // 2,
                               "observed": f"{i} rows", "sample": [value] * 5} for i in range(failures)]}
                for n in range(datasets)]}  # fmt: skip


def test_a_small_result_is_printed_whole_and_readable():
    line = format_result_line(_result(1, 2, "é"))
    assert json.loads(line[len(RESULT_LINE_PREFIX) :]) == _result(1, 2, "é")
    assert "é" in line  # not escaped: six bytes a character would fill the line for nothing


def test_the_worst_case_fits_one_atomic_write_with_the_blocking_failures_first():
    line = format_result_line(_result(10, 20, "😀" * 80))
    assert len(line.encode("utf-8")) <= MAX_LINE_BYTES
    result = json.loads(line[len(RESULT_LINE_PREFIX) :])
    assert [dataset["failed"] for dataset in result["datasets"]] == [20] * 10  # the counts stay whole
    kept = [failure for dataset in result["datasets"] for failure in dataset["failures"]]
    assert kept and all(failure["sample"] == [] for failure in kept)
    assert all(dataset["failures"] == sorted(dataset["failures"], key=lambda f: not f["blocking"])
               for dataset in result["datasets"])  # fmt: skip
