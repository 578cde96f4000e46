# Generated from notebooks/daily_sales.ipynb by `sparkplane notebook convert`: change the notebook and convert again.
# Converting refuses to replace this file once edited by hand (--force replaces it).
# sparkplane-generated: notebook-sha256=1d29e81b9a96bb3e content-sha256=a07a4c617d101ed7
"""Daily sales per region and order size

Usage: spark-submit daily_sales.py [OPTIONS]; --help lists the notebook's parameters.
"""

import argparse
import datetime as dt
from collections.abc import Sequence

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The notebook's parameters cell as command-line options, with its values as defaults."""
    parser = argparse.ArgumentParser(
        prog="daily_sales.py", description="Daily sales per region and order size"
    )
    parser.add_argument(
        "--run-date",
        type=_iso_date,
        default="2026-11-30",
        help="last day of the report (YYYY-MM-DD) (default: %(default)s)",
    )
    parser.add_argument(
        "--days", type=int, default=7, help="days in the window (1 to 31) (default: %(default)s)"
    )
    parser.add_argument(
        "--min-amount",
        type=float,
        default=0.0,
        help="orders below this amount are left out (0.0 to 100000.0) (default: %(default)s)",
    )
    parser.add_argument(
        "--region",
        default="all",
        choices=["all", "emea", "amer", "apac"],
        help="region (default: %(default)s)",
    )
    parser.add_argument(
        "--orders-path",
        default="data/orders",
        help="Parquet orders: order_id, region, amount, order_date (default: %(default)s)",
    )
    parser.add_argument(
        "--output-path", default="data/daily_sales", help="the report, Parquet (default: %(default)s)"
    )
    options = parser.parse_args(argv)
    if not 1 <= options.days <= 31:
        parser.error(f"--days must be from 1 to 31, not {options.days}")
    if not 0.0 <= options.min_amount <= 100000.0:
        parser.error(f"--min-amount must be from 0.0 to 100000.0, not {options.min_amount}")
    return options


def _iso_date(text: str) -> str:
    """A date in ISO form (YYYY-MM-DD), kept as the string the notebook used."""
    import datetime

    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in the form YYYY-MM-DD") from None
    return text


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_arguments(argv)
    run_date = options.run_date
    days = options.days
    min_amount = options.min_amount
    region = options.region
    orders_path = options.orders_path
    output_path = options.output_path

    # notebook cell 4
    spark = SparkSession.builder.appName("daily-sales").getOrCreate()

    # notebook cell 7
    @F.udf("string")
    def size_band(amount):
        import numpy as np  # runs on the executors: the image must have numpy

        return ["small", "medium", "large"][int(np.digitize(amount, [50.0, 200.0]))]

    # notebook cell 8
    end = dt.date.fromisoformat(run_date)
    start = end - dt.timedelta(days=days - 1)
    orders = (
        spark.read.parquet(orders_path)
        .where(F.col("order_date").between(start, end))
        .where(F.col("amount") >= min_amount)
    )
    if region != "all":
        orders = orders.where(F.col("region") == region)
    daily = (
        orders.withColumn("size_band", size_band("amount"))
        .groupBy("order_date", "region", "size_band")
        .agg(F.count("*").alias("orders"), F.round(F.sum("amount"), 2).alias("revenue"))
        .orderBy("order_date", "region", "size_band")
    )

    # notebook cell 9
    daily.write.mode("overwrite").parquet(output_path)
    print(f"{daily.count()} rows written to {output_path}")


if __name__ == "__main__":
    main()
