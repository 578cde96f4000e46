"""Recognise and bound the data-quality result line a job prints: pure, no I/O.

A job's gate prints ``sparkplane.quality: {json}`` (``jobs/quality/result_line.py`` writes it; a
test keeps the two prefixes equal). The job bounds what it prints, but the task log and XCom do
not trust the job: ``bounded`` cuts the result again to the same limits before anything is kept.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sparkplane.diagnosis import Diagnosis

RESULT_LINE_PREFIX = "sparkplane.quality: "
#: The XCom key the operator keeps the result under (the task's return value is its run record).
QUALITY_XCOM_KEY = "quality"
MAX_DATASETS = 10
MAX_FAILURES = 20
MAX_SAMPLE_VALUES = 5
MAX_TEXT_CHARS = 300
#: The whole result, as JSON, in XCom: samples and then the last failures are dropped to fit.
MAX_RESULT_BYTES = 16_000
#: Failures named in a Cause: line; the rest are counted.
MAX_FAILURES_IN_CAUSE = 5


def parse_result_line(line: str) -> dict[str, Any] | None:
    """Return the bounded result a result line carries, or None for any other line (or a malformed one)."""
    if not line.startswith(RESULT_LINE_PREFIX):
        return None
    try:
        result = json.loads(line[len(RESULT_LINE_PREFIX) :])
    except ValueError:
        return None
    return bounded(result) if isinstance(result, dict) else None


def last_result_line(lines: list[str]) -> dict[str, Any] | None:
    """Return the result of the last result line among ``lines`` (a log's tail), or None."""
    for line in reversed(lines):
        result = parse_result_line(line)
        if result is not None:
            return result
    return None


def bounded(result: dict[str, Any]) -> dict[str, Any]:
    """Return ``result`` with every field of the expected type (else empty), every list and text
    cut, and at most ``MAX_RESULT_BYTES`` of JSON in all."""
    kept = _typed(result)
    if _size(kept) > MAX_RESULT_BYTES:
        for dataset in kept["datasets"]:
            for failure in dataset["failures"]:
                failure["sample"] = []
    while _size(kept) > MAX_RESULT_BYTES:
        max(kept["datasets"], key=lambda dataset: len(dataset["failures"]))["failures"].pop()
    return kept


def log_summary(log: logging.Logger | logging.LoggerAdapter, result: dict[str, Any]) -> None:
    """Say ``result`` in the task log (``summary_lines``): at INFO when it passed, else as warnings."""
    say = log.info if result["status"] == "passed" else log.warning
    for line in summary_lines(result):
        say("%s", line)


def _typed(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "job": _text(result.get("job")),
        "status": _text(result.get("status")),
        "published": result.get("published") is True,
        "output": _text(result.get("output")),
        "rows": _number(result.get("rows")),
        "application_id": _text(result.get("application_id")),
        "validation_result": _text(result.get("validation_result")),
        "data_docs": _text(result.get("data_docs")),
        "validation_seconds": _number(result.get("validation_seconds")),
        "datasets": [_dataset(dataset) for dataset in _list(result.get("datasets"))[:MAX_DATASETS]
                     if isinstance(dataset, dict)],  # fmt: skip
    }


def summary_lines(result: dict[str, Any]) -> list[str]:
    """Return the task log's account of a result: one line per data set, one per failed expectation."""
    published = f"published to {result['output']}" if result["published"] else "NOT published"
    rows = "" if result["rows"] is None else f"{result['rows']} rows{'' if result['published'] else ' staged'}; "
    lines = [f"Data quality of {result['job']}: {result['status']}, {published} "
             f"({rows}validation took {result['validation_seconds']} s)"]  # fmt: skip
    for dataset in result["datasets"]:
        lines.append(f"  {dataset['name']}: {dataset['failed']} of {dataset['expectations']} expectations failed")
        for failure in dataset["failures"]:
            kind = "BLOCKING" if failure["blocking"] else "warning"
            sample = f"; e.g. {failure['sample']}" if failure["sample"] else ""
            lines.append(f"    {kind}: {failure['expectation']}: {failure['observed']}{sample}")
    lines.append(f"  Full result: {result['validation_result']}; Data Docs: {result['data_docs']}")
    return lines


def published_output(result: dict[str, Any] | None) -> str:
    """Return what a successful job's summary line says it published (``; published <output> (N rows)``), or ''."""
    if not result or not result["published"]:
        return ""
    rows = f" ({result['rows']} rows)" if result["rows"] is not None else ""
    return f"; published {result['output']}{rows}"


def run_record_fields(result: dict[str, Any] | None) -> dict[str, Any]:
    """Return what a job's run record (the task's XCom return value) takes from its result: the
    published output and its rows (None when nothing was published), the Spark application id."""
    published = bool(result and result["published"])
    return {
        "output": result["output"] if published else None,
        "rows": result["rows"] if published else None,
        **({"application_id": result["application_id"]} if result and result["application_id"] else {}),
    }


def explain_quality_failure(result: dict[str, Any] | None, *, application: str) -> Diagnosis | None:
    """Return the diagnosis of a job stopped by its gate, or None if the result shows no blocking failure."""
    if not result or result["published"]:
        return None
    listed = [(dataset["name"], failure) for dataset in result["datasets"] for failure in dataset["failures"]
              if failure["blocking"]]  # fmt: skip
    count = max(sum(dataset["blocking"] for dataset in result["datasets"]), len(listed))
    if not count:
        return None
    named = "; ".join(f"{name}: {failure['expectation']}: {failure['observed']}"
                      for name, failure in listed[:MAX_FAILURES_IN_CAUSE]) or "none listed, see the full result"  # fmt: skip
    more = f" (and {count - len(listed[:MAX_FAILURES_IN_CAUSE])} more)" if count > MAX_FAILURES_IN_CAUSE else ""
    return Diagnosis(
        cause=f"{application} did not publish {result['output']}: {count} blocking data-quality "
        f"expectation{'s' if count != 1 else ''} failed: {named}{more}.",
        fix=f"Find the bad rows with the samples above and the full result ({result['validation_result']}, Data "
        f"Docs {result['data_docs']}); correct the input upstream, or the expectation in the job's suite under "
        "jobs/expectations/ if the data is right, then clear the task. A retry would read the same data.",
        retry_cannot_help=True,
    )


def _dataset(dataset: dict[str, Any]) -> dict[str, Any]:
    failures = [_failure(failure) for failure in _list(dataset.get("failures"))[:MAX_FAILURES]
                if isinstance(failure, dict)]  # fmt: skip
    blocking = _number(dataset.get("blocking"))
    return {
        "name": _text(dataset.get("name")),
        "expectations": _number(dataset.get("expectations")),
        "failed": _number(dataset.get("failed")),
        "blocking": blocking if blocking is not None else sum(failure["blocking"] for failure in failures),
        "failures": failures,
    }


def _failure(failure: dict[str, Any]) -> dict[str, Any]:
    return {
        "expectation": _text(failure.get("expectation")),
        "blocking": failure.get("blocking") is True,
        "observed": _text(failure.get("observed")),
        "sample": [_sample_value(value) for value in _list(failure.get("sample"))[:MAX_SAMPLE_VALUES]],
    }


def _size(result: dict[str, Any]) -> int:
    return len(json.dumps(result, ensure_ascii=False).encode("utf-8"))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _sample_value(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, int, float)) else _text(value)


def _text(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 1] + "…"


def _number(value: Any) -> float | int | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
