"""The data-quality gate with real Spark and real Great Expectations, through the example job.

A clean input publishes; corrupted input (nulls in keys, duplicated ids, negative amounts) is
refused with each failed expectation and its observed value named, and the earlier report stays
published; a warn-only failure is listed and publishes. A million failing rows through real
Airflow: tests/e2e/test_quality_gate_dag.py.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs.generate_orders import build_customers, build_orders
from jobs.revenue_by_region import publish_report
from quality.gate import DataQualityFailed
from quality.result_line import RESULT_LINE_PREFIX

ORDERS, CUSTOMERS = 2_000, 200


def _write_input(spark, folder: Path, *, orders=ORDERS, customers=CUSTOMERS, corrupt=None, orphan_customers=False):
    customer_rows = build_customers(spark, customers=customers, seed=7)
    if orphan_customers:  # a customer feed that lost a tenth of its rows
        customer_rows = customer_rows.where(F.col("customer_id") % 10 != 0)
    order_rows = build_orders(spark, orders=orders, customers=customers, days=7, first_day=date(2026, 1, 1), seed=7)
    if corrupt is not None:
        order_rows = corrupt(order_rows)
    customer_rows.write.mode("overwrite").parquet(str(folder / "customers"))
    order_rows.write.mode("overwrite").parquet(str(folder / "orders"))
    return str(folder)


def _result_line(capsys) -> tuple[dict, str]:
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.startswith(RESULT_LINE_PREFIX)]
    return json.loads(line[len(RESULT_LINE_PREFIX) :]), line


def _corrupted(orders):
    """Null keys on 3 orders, 5 ids used twice, negative amounts on 4 completed orders."""
    order_id = F.col("order_id")
    return orders.select(
        F.when(order_id < 5, order_id + 100).otherwise(order_id).alias("order_id"),  # ids 100-104 twice
        F.when(order_id.between(10, 12), F.lit(None)).otherwise(F.col("customer_id")).alias("customer_id"),
        "order_date",
        F.when(order_id.isin(20, 21, 22, 23), -F.col("amount")).otherwise(F.col("amount")).alias("amount"),
        F.when(order_id.isin(20, 21, 22, 23), F.lit("completed")).otherwise(F.col("status")).alias("status"),
    )


def test_a_clean_input_is_published_with_its_result_and_data_docs_beside_it(spark, tmp_path, capsys):
    input_folder = _write_input(spark, tmp_path / "input")
    output = tmp_path / "report"

    rows = publish_report(spark, input_folder=input_folder, output=str(output))

    result, _ = _result_line(capsys)
    assert (result["status"], result["published"], rows, result["rows"]) == ("passed", True, 7 * 6, 7 * 6)
    assert result["application_id"] == spark.sparkContext.applicationId
    assert [(d["name"], d["failed"]) for d in result["datasets"]] == [("orders", 0), ("report", 0)]
    assert spark.read.parquet(str(output)).count() == rows
    quality = tmp_path / "_quality" / "report"
    assert result["validation_result"] == str(quality / "validation.json")
    assert set(json.loads((quality / "validation.json").read_text())) == {"orders", "report"}
    assert "revenue_by_region.report" in (quality / "data_docs" / "index.html").read_text()
    assert not (tmp_path / "_staging").exists() and not (tmp_path / "_previous").exists()
    assert (output / "_SUCCESS").exists(), "a published output is marked complete"


def test_corrupted_input_is_refused_and_the_earlier_report_stays_published(spark, tmp_path, capsys):
    """Even when an earlier job died between moving the report aside and promoting its own."""
    output = tmp_path / "report"
    publish_report(spark, input_folder=_write_input(spark, tmp_path / "good"), output=str(output))
    published_before = sorted(path.name for path in output.iterdir())
    (tmp_path / "_previous").mkdir()
    output.rename(tmp_path / "_previous" / "report")  # as a job that died mid-promotion leaves it
    capsys.readouterr()

    with pytest.raises(DataQualityFailed) as refused:
        publish_report(spark, input_folder=_write_input(spark, tmp_path / "bad", corrupt=_corrupted), output=str(output))

    result, _ = _result_line(capsys)
    assert (result["status"], result["published"]) == ("failed", False)
    failures = {f["expectation"]: f for f in result["datasets"][0]["failures"]}
    assert failures["expect_column_values_to_not_be_null(column=customer_id)"]["observed"].startswith("3 of 2000 rows")
    assert failures["expect_column_values_to_be_unique(column=order_id)"]["observed"].startswith("10 of 2000 rows")
    negative = failures["expect_column_values_to_be_between(column=amount, min_value=0.0, max_value=100000.0)"]
    assert negative["observed"].startswith("4 of 2000 rows") and all(str(value).startswith("-") for value in negative["sample"])
    assert all(failure["blocking"] for failure in failures.values())
    assert [d["name"] for d in result["datasets"]] == ["orders"]  # no report is built from refused orders
    assert "Not published: blocking expectations failed" in str(refused.value.code)
    assert sorted(path.name for path in output.iterdir()) == published_before


def test_a_warn_only_failure_is_listed_and_the_report_is_published(spark, tmp_path, capsys):
    input_folder = _write_input(spark, tmp_path / "input", orphan_customers=True)

    publish_report(spark, input_folder=input_folder, output=str(tmp_path / "report"))

    result, _ = _result_line(capsys)
    assert (result["status"], result["published"]) == ("warned", True)
    [failure] = result["datasets"][0]["failures"]
    assert failure["expectation"] == "expect_column_values_to_not_be_null(column=customer_region, mostly=0.95)"
    assert not failure["blocking"] and failure["observed"].startswith("2")  # about a tenth of 2000 orders
