from __future__ import annotations

import json

from quality import result_line as job_side
from sparkplane.quality.result_line import (
    MAX_FAILURES,
    MAX_RESULT_BYTES,
    MAX_TEXT_CHARS,
    RESULT_LINE_PREFIX,
    bounded,
    explain_quality_failure,
    parse_result_line,
    published_output,
    run_record_fields,
    summary_lines,
)


def _result(*failures: dict, published: bool = False) -> dict:
    return {
        "job": "revenue_by_region", "status": "failed", "published": published, "output": "/data/report",
        "rows": 168, "application_id": "local-1796180440415", "validation_result": "/data/_quality/report/validation.json",
        "data_docs": "/data/_quality/report/data_docs/index.html", "validation_seconds": 4.2,
        "datasets": [{"name": "orders", "expectations": 8, "failed": len(failures),
                      "blocking": sum(failure["blocking"] for failure in failures), "failures": list(failures)}],
    }  # fmt: skip


NULL_KEYS = {"expectation": "expect_column_values_to_not_be_null(column=customer_id)", "blocking": True,
             "observed": "3 of 2000 rows unexpected (0.15%)", "sample": [None, None, None]}  # fmt: skip
FEW_CUSTOMERS = {"expectation": "expect_column_values_to_not_be_null(column=customer_region, mostly=0.95)",
                 "blocking": False, "observed": "200 of 2000 rows unexpected (10.00%)", "sample": []}  # fmt: skip


def test_the_job_and_the_operator_agree_on_the_prefix():
    assert job_side.RESULT_LINE_PREFIX == RESULT_LINE_PREFIX
    line = job_side.format_result_line(_result(NULL_KEYS))
    assert parse_result_line(line) == _result(NULL_KEYS)


def test_other_lines_and_malformed_results_are_not_results():
    assert parse_result_line("Wrote 168 (day, region) rows") is None
    assert parse_result_line(RESULT_LINE_PREFIX + "{not json") is None
    assert parse_result_line(RESULT_LINE_PREFIX + "[1, 2]") is None


def test_a_result_is_bounded_whatever_the_job_printed():
    huge = {**NULL_KEYS, "observed": "x" * 100_000, "sample": ["y" * 10_000] * 1_000}
    result = bounded({**_result(), "datasets": [_result(*[huge] * 500)["datasets"][0]] * 50})
    assert len(result["datasets"]) == 10 and all(dataset["failed"] == 500 for dataset in result["datasets"])
    assert all(len(dataset["failures"]) <= MAX_FAILURES for dataset in result["datasets"])
    assert len(result["datasets"][0]["failures"][0]["observed"]) == MAX_TEXT_CHARS
    assert len(json.dumps(result, ensure_ascii=False).encode()) <= MAX_RESULT_BYTES


def test_a_result_of_the_wrong_shape_is_emptied_not_an_error():
    result = parse_result_line(RESULT_LINE_PREFIX + json.dumps({"datasets": [{"failures": 3, "blocking": "x"}, 5],
                                                                 "published": "yes"}))  # fmt: skip
    assert result["published"] is False
    assert result["datasets"] == [{"name": "", "expectations": None, "failed": None, "blocking": 0, "failures": []}]
    weird = _result(NULL_KEYS)
    weird["datasets"][0]["failures"][0] = {**NULL_KEYS, "sample": {"a": 1}, "blocking": "yes"}
    [dataset] = bounded(weird)["datasets"]
    assert dataset["failures"][0]["sample"] == [] and dataset["failures"][0]["blocking"] is False


def test_blocking_failures_the_line_had_no_room_for_still_fail_the_task():
    result = _result(NULL_KEYS)
    result["datasets"][0]["blocking"] = 30  # the job counted 30, listed one
    diagnosis = explain_quality_failure(bounded(result), application="job.py")
    assert "30 blocking data-quality expectations failed: orders: expect_column_values_to_not_be_null" in diagnosis.cause
    assert diagnosis.cause.endswith("(and 29 more).")


def test_the_summary_names_each_failure_with_what_was_observed():
    lines = summary_lines(_result(NULL_KEYS, FEW_CUSTOMERS))
    assert lines[0] == "Data quality of revenue_by_region: failed, NOT published (168 rows staged; validation took 4.2 s)"
    assert ("    BLOCKING: expect_column_values_to_not_be_null(column=customer_id): 3 of 2000 rows unexpected "
            "(0.15%); e.g. [None, None, None]") in lines  # fmt: skip
    assert ("    warning: expect_column_values_to_not_be_null(column=customer_region, mostly=0.95): 200 of 2000 "
            "rows unexpected (10.00%)") in lines  # fmt: skip


def test_a_blocking_failure_is_the_cause_and_a_retry_cannot_help():
    diagnosis = explain_quality_failure(_result(NULL_KEYS, FEW_CUSTOMERS), application="revenue_by_region.py")
    assert diagnosis.cause == (
        "revenue_by_region.py did not publish /data/report: 1 blocking data-quality expectation failed: orders: "
        "expect_column_values_to_not_be_null(column=customer_id): 3 of 2000 rows unexpected (0.15%).")
    assert "/data/_quality/report/validation.json" in diagnosis.fix
    assert diagnosis.retry_cannot_help


def test_warnings_alone_or_a_published_output_explain_nothing():
    assert explain_quality_failure(_result(FEW_CUSTOMERS), application="job.py") is None
    assert explain_quality_failure(_result(NULL_KEYS, published=True), application="job.py") is None
    assert explain_quality_failure(None, application="job.py") is None


def test_a_run_record_and_summary_name_what_was_published_and_its_rows():
    published = bounded(_result(published=True))
    assert published_output(published) == "; published /data/report (168 rows)"
    assert run_record_fields(published) == {"output": "/data/report", "rows": 168, "application_id": "local-1796180440415"}
    refused = bounded(_result(NULL_KEYS))
    assert published_output(refused) == "" and run_record_fields(refused)["output"] is None
    # A job without a gate prints no result: the record says nothing was published.
    assert published_output(None) == "" and run_record_fields(None) == {"output": None, "rows": None}
    assert summary_lines(published)[0].endswith("(168 rows; validation took 4.2 s)")
