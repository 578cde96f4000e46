"""Daily revenue by customer region: the example pipeline's main job.

Reads the orders and customers written by ``generate_orders``, keeps completed orders, joins each
order to its customer's region and aggregates per day and region. Orders whose customer is unknown
are kept under the region ``unknown`` instead of being dropped by an inner join, so the revenue
total always equals the completed orders' total.

The report is published through the data-quality gate (``jobs/quality/``): the orders are
validated as read, the report as written to a staging folder, and only a report whose blocking
expectations (``jobs/expectations/revenue_by_region.py``) pass replaces the published one.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

UNKNOWN_REGION = "unknown"
REVENUE_STATUS = "completed"


def orders_with_region(orders: DataFrame, customers: DataFrame) -> DataFrame:
    """Return every order with its customer's region as ``customer_region`` (null for an unknown customer)."""
    return orders.join(
        customers.select("customer_id", customers["region"].alias("customer_region")), on="customer_id", how="left"
    )


def revenue_by_region(orders: DataFrame, customers: DataFrame) -> DataFrame:
    """Return one row per (order_date, region) with orders, customers, revenue, average order."""
    return report_from(orders_with_region(orders, customers))


def report_from(orders_with_region: DataFrame) -> DataFrame:
    """Return the report of ``orders_with_region``'s completed orders."""
    from pyspark.sql import functions as F

    completed = orders_with_region.where(F.col("status") == REVENUE_STATUS)
    with_region = completed.withColumn("region", F.coalesce(F.col("customer_region"), F.lit(UNKNOWN_REGION)))
    return (
        with_region.groupBy("order_date", "region")
        .agg(
            F.count("order_id").alias("orders"),
            F.countDistinct("customer_id").alias("customers"),
            F.sum("amount").cast("decimal(18,2)").alias("revenue"),
        )
        .withColumn("average_order", (F.col("revenue") / F.col("orders")).cast("decimal(12,2)"))
        .orderBy("order_date", "region")
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="revenue_by_region", description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="folder holding customers/ and orders/")
    parser.add_argument("--output", required=True, help="folder for the report (Parquet)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("revenue_by_region").getOrCreate()
    try:
        rows = publish_report(spark, input_folder=args.input, output=args.output)
    finally:
        spark.stop()
    print(f"Wrote {rows} (day, region) rows to {args.output}")
    return 0


def publish_report(spark: SparkSession, *, input_folder: str, output: str) -> int:
    """Build the report from ``input_folder`` and publish it to ``output`` if it passes the gate; return its rows.

    Raise ``DataQualityFailed`` (a ``SystemExit``) when a blocking expectation fails: then the
    published report, if any, is the previous one.
    """
    from expectations.revenue_by_region import orders_suite, report_suite
    from pyspark import StorageLevel
    from quality.gate import QualityGate

    orders = spark.read.parquet(f"{input_folder}/orders")
    customers = spark.read.parquet(f"{input_folder}/customers")
    gate = QualityGate(spark, job="revenue_by_region", output=output)
    # Kept once computed: the validation reads it once per metric, then the report reads it again.
    enriched = orders_with_region(orders, customers).persist(StorageLevel.MEMORY_AND_DISK)
    staged = None
    try:
        gate.validate("orders", enriched, orders_suite())
        if not gate.blocked:  # no report from orders that cannot be trusted
            staged = gate.stage_and_validate("report", report_from(enriched), report_suite())
    finally:
        enriched.unpersist()
    return gate.conclude(staged)["rows"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
