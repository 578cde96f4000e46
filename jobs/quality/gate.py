"""Validate a job's DataFrames with Great Expectations and publish its output only if they pass.

Great Expectations 1.x is used directly: an ephemeral context (nothing on disk but what the gate
writes itself), a Spark data source with one DataFrame asset per data set, a whole-DataFrame
batch definition, and a checkpoint per data set whose action renders Data Docs. Results come
back in GX's ``SUMMARY`` format with at most ``MAX_SAMPLE_VALUES`` unexpected values, so no
validation collects a column's unexpected values into the driver, however many rows fail.

An expectation blocks publishing when its severity is ``critical`` (GX's default) and only warns
when it is ``warning`` or ``info``; the suites in ``jobs/expectations/`` say which is which.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quality.result_line import MAX_DATASETS, MAX_FAILURES, MAX_SAMPLE_VALUES, format_result_line, shorten
from quality.storage import Storage, sibling

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
    from great_expectations.core.expectation_suite import ExpectationSuite
    from pyspark.sql import DataFrame, SparkSession

#: Severities that only warn; GX's default, ``critical``, blocks.
WARN_ONLY_SEVERITIES = ("warning", "info")
#: Data Docs' decorative animations (3 MB); the pages read the same without them.
DATA_DOCS_LEFT_OUT = ("static/images/glossary_scroller.gif", "static/images/validation_failed_unexpected_values.gif")
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": MAX_SAMPLE_VALUES}


class DataQualityFailed(SystemExit):
    """A blocking expectation failed: the output stays unpublished and the job exits with 1."""


@dataclass
class DatasetResult:
    """What one data set's validation found, compact: the failed expectations, never the rows."""

    name: str
    expectations: int
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def blocking(self) -> list[dict[str, Any]]:
        return [failure for failure in self.failures if failure["blocking"]]

    def to_dict(self) -> dict[str, Any]:
        """Return the data set as the result line carries it: counts, then the failures, blocking ones first."""
        ordered = sorted(self.failures, key=lambda failure: not failure["blocking"])
        return {"name": self.name, "expectations": self.expectations, "failed": len(self.failures),
                "blocking": len(self.blocking), "failures": ordered[:MAX_FAILURES]}  # fmt: skip


def describe_expectation(kind: str, kwargs: dict[str, Any]) -> str:
    """Return ``expect_x(column=a, min_value=0)``: the expectation as a person reads it in a log."""
    shown = ", ".join(f"{name}={shorten(value)}" for name, value in kwargs.items() if name != "batch_id")
    return f"{kind}({shown})"


def describe_observed(result: dict[str, Any]) -> str:
    """Return what the data showed, in words: an observed value or the share of unexpected rows."""
    if "observed_value" in result:
        return f"observed {shorten(result['observed_value'])}"
    if "unexpected_count" in result:
        return (f"{result['unexpected_count']} of {result.get('element_count', '?')} rows unexpected "
                f"({result.get('unexpected_percent') or 0:.2f}%)")  # fmt: skip
    return "no observation"


def compact_failure(validation: ExpectationValidationResult) -> dict[str, Any]:
    """Return one failed expectation as the result line carries it: bounded, no DataFrame."""
    config = validation.expectation_config
    kwargs = {name: value for name, value in config.kwargs.items() if name != "batch_id"}
    result = validation.result or {}
    failure: dict[str, Any] = {
        "expectation": describe_expectation(config.type, kwargs),
        "blocking": str(getattr(config.severity, "value", config.severity)) not in WARN_ONLY_SEVERITIES,
        "observed": describe_observed(result),
        "sample": [shorten(value) for value in (result.get("partial_unexpected_list") or [])[:MAX_SAMPLE_VALUES]],
    }
    raised = raised_exception_message(validation.exception_info)
    if raised is not None:
        failure["observed"] = f"the check raised: {shorten(raised)}"
    return failure


def raised_exception_message(exception_info: Any) -> str | None:
    """Return the message of an exception GX caught while checking, or None.

    GX puts it either at the top (``raised_exception``) or, when computing a metric failed (a
    column that does not exist), one level down, per metric.
    """
    if not exception_info:
        return None
    candidates = [exception_info, *(exception_info.values() if isinstance(exception_info, dict) else ())]
    for info in candidates:
        if isinstance(info, dict):
            if info.get("raised_exception"):
                return str(info.get("exception_message"))
        elif getattr(info, "raised_exception", False):
            return str(getattr(info, "exception_message", ""))
    return None


class QualityGate:
    """Validates a job's data sets, then publishes its output or fails the job, and says which.

    :param spark: the job's session.
    :param job: the job's name, as the result line and Data Docs show it.
    :param output: where the job publishes (any URI Spark writes); the full result and Data Docs
        go to ``<parent>/_quality/<name>`` beside it.
    """

    def __init__(self, spark: SparkSession, *, job: str, output: str) -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # GX reports usage over the internet otherwise
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.spark = spark
        self.job = job
        self.output = output
        self.results_uri = sibling(output, "_quality")
        self.storage = Storage(spark)
        self.datasets: list[DatasetResult] = []
        #: Rows of the staged output, which is what gets published.
        self.rows: int | None = None
        self._full_results: dict[str, Any] = {}
        self._seconds = 0.0
        self._gx = gx
        self._context = gx.get_context(mode="ephemeral")
        self._context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self._source = self._context.data_sources.add_spark(name=job)

    @property
    def blocked(self) -> bool:
        """Whether a blocking expectation has failed so far."""
        return any(dataset.blocking for dataset in self.datasets)

    def validate(self, name: str, frame: DataFrame, suite: ExpectationSuite) -> DatasetResult:
        """Validate ``frame`` against ``suite`` as the data set ``name``; return what failed."""
        from great_expectations.checkpoint import UpdateDataDocsAction

        started = time.monotonic()
        batch = self._source.add_dataframe_asset(name=name).add_batch_definition_whole_dataframe(name)
        suite = self._context.suites.add(suite)
        definition = self._context.validation_definitions.add(
            self._gx.ValidationDefinition(name=f"{self.job}.{name}", data=batch, suite=suite))  # fmt: skip
        checkpoint = self._context.checkpoints.add(self._gx.Checkpoint(
            name=f"{self.job}.{name}", validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="data_docs")], result_format=RESULT_FORMAT))  # fmt: skip
        run: ExpectationSuiteValidationResult = next(iter(
            checkpoint.run(batch_parameters={"dataframe": frame}).run_results.values()))  # fmt: skip
        self._seconds += time.monotonic() - started
        self._full_results[name] = run.to_json_dict()
        dataset = DatasetResult(name, expectations=len(run.results),
                                failures=[compact_failure(each) for each in run.results if not each.success])  # fmt: skip
        self.datasets.append(dataset)
        return dataset

    def stage_and_validate(self, name: str, frame: DataFrame, suite: ExpectationSuite) -> str:
        """Write ``frame`` as Parquet to the staging folder and validate what was written; return the staging URI."""
        staged = sibling(self.output, "_staging")
        frame.write.mode("overwrite").parquet(staged)
        written = self.spark.read.parquet(staged)
        self.rows = written.count()
        self.validate(name, written, suite)
        return staged

    def conclude(self, staged: str | None) -> dict[str, Any]:
        """Write the full results, publish ``staged`` unless a blocking expectation failed, print the result line.

        Raise ``DataQualityFailed`` when the output was not published; return the result otherwise.
        """
        if self.storage.restore_interrupted_promotion(self.output):
            print(f"Put back {self.output}, which an interrupted promotion had left aside", flush=True)
        self._write_full_results()
        published = staged is not None and not self.blocked
        if published:
            self.storage.promote(staged, self.output)
        result = self.result(published=published)
        print(format_result_line(result), flush=True)
        if not published:
            failed = "; ".join(f"{failure['expectation']}: {failure['observed']}"
                               for dataset in self.datasets for failure in dataset.blocking)  # fmt: skip
            kept = f"; the rejected output stays in {staged}" if staged else ""
            raise DataQualityFailed(f"Not published: blocking expectations failed: {failed}{kept}. "
                                    f"Full result: {result['validation_result']}")  # fmt: skip
        return result

    def result(self, *, published: bool) -> dict[str, Any]:
        """Return the compact result the result line carries."""
        failures = [failure for dataset in self.datasets for failure in dataset.failures]
        status = "failed" if self.blocked else "warned" if failures else "passed"
        return {
            "job": self.job, "status": status, "published": published, "output": self.output, "rows": self.rows,
            "application_id": self.spark.sparkContext.applicationId,
            "datasets": [dataset.to_dict() for dataset in self.datasets][:MAX_DATASETS],
            "validation_result": f"{self.results_uri}/validation.json",
            "data_docs": f"{self.results_uri}/data_docs/index.html",
            "validation_seconds": round(self._seconds, 1),
        }  # fmt: skip

    def _write_full_results(self) -> None:
        self.storage.write_text(f"{self.results_uri}/validation.json",
                                json.dumps(self._full_results, indent=1, default=str))  # fmt: skip
        site = Path(self._context.get_config().data_docs_sites["local_site"]["store_backend"]["base_directory"])
        with tempfile.TemporaryDirectory(prefix="data-docs-") as copy:
            shutil.copytree(site, copy, dirs_exist_ok=True)
            for left_out in DATA_DOCS_LEFT_OUT:
                (Path(copy) / left_out).unlink(missing_ok=True)
            self.storage.upload_folder(copy, f"{self.results_uri}/data_docs")
        shutil.rmtree(site, ignore_errors=True)  # the ephemeral context's own temporary folder
