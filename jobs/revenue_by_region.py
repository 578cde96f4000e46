"""Daily revenue by customer region: the example pipeline's main job.

Reads the orders and customers written by ``generate_orders``, keeps completed orders, joins each
order to its customer's region and aggregates per day and region. Orders whose customer is unknown
are kept under the region ``unknown`` instead of being dropped by an inner join, so the revenue
total always equals the completed orders' total.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

UNKNOWN_REGION = "unknown"
REVENUE_STATUS = "completed"


def revenue_by_region(orders: DataFrame, customers: DataFrame) -> DataFrame:
    """Return one row per (order_date, region) with orders, customers, revenue, average order."""
    from pyspark.sql import functions as F

    completed = orders.where(F.col("status") == REVENUE_STATUS)
    with_region = completed.join(
        customers.select("customer_id", "region"), on="customer_id", how="left"
    ).withColumn("region", F.coalesce(F.col("region"), F.lit(UNKNOWN_REGION)))
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
        orders = spark.read.parquet(f"{args.input}/orders")
        customers = spark.read.parquet(f"{args.input}/customers")
        report = revenue_by_region(orders, customers)
        report.write.mode("overwrite").parquet(args.output)
        rows = spark.read.parquet(args.output).count()
    finally:
        spark.stop()
    print(f"Wrote {rows} (day, region) rows to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
