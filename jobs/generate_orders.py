"""Generate a deterministic retail data set: customers and their orders.

The example pipeline needs realistic input without downloading anything, so this job makes it.
Every value is a hash of the row id and a seed, which means the same arguments always produce the
same rows, on one core or many, locally or on Kubernetes; tests rely on that.

About 1% of orders point at a customer id that does not exist, as real order feeds do, so the
downstream join has to decide what to do with them.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

REGIONS = ("north", "south", "east", "west", "central")
SEGMENTS = ("consumer", "small_business", "enterprise")
ORDER_STATUSES = ("completed",) * 18 + ("cancelled", "returned")
ORPHAN_CUSTOMER_SHARE = 0.01


def _pick(values: tuple[str, ...], bucket):
    """Return a column choosing ``values[bucket]`` for an integer bucket column."""
    from pyspark.sql import functions as F

    return F.element_at(F.array(*[F.lit(v) for v in values]), (bucket + 1).cast("int"))


def _bucket(id_column: str, seed: int, salt: int, modulus: int):
    """Return a deterministic integer column in ``[0, modulus)`` derived from the row id."""
    from pyspark.sql import functions as F

    return F.pmod(F.xxhash64(F.col(id_column), F.lit(seed), F.lit(salt)), F.lit(modulus))


def build_customers(spark: SparkSession, *, customers: int, seed: int) -> DataFrame:
    """Return ``customers`` rows of (customer_id, region, segment)."""
    frame = spark.range(customers).withColumnRenamed("id", "customer_id")
    return frame.select(
        "customer_id",
        _pick(REGIONS, _bucket("customer_id", seed, 1, len(REGIONS))).alias("region"),
        _pick(SEGMENTS, _bucket("customer_id", seed, 2, len(SEGMENTS))).alias("segment"),
    )


def build_orders(
    spark: SparkSession, *, orders: int, customers: int, days: int, first_day: date, seed: int
) -> DataFrame:
    """Return ``orders`` rows of (order_id, customer_id, order_date, amount, status)."""
    from pyspark.sql import functions as F

    customer_id_range = int(customers * (1 + ORPHAN_CUSTOMER_SHARE)) or 1
    frame = spark.range(orders).withColumnRenamed("id", "order_id")
    amount_cents = _bucket("order_id", seed, 4, 50_000) + 100  # 1.00 to 500.99
    return frame.select(
        "order_id",
        _bucket("order_id", seed, 3, customer_id_range).alias("customer_id"),
        F.date_add(F.lit(first_day), _bucket("order_id", seed, 5, days).cast("int")).alias(
            "order_date"
        ),
        (amount_cents.cast("decimal(12,2)") / 100).cast("decimal(12,2)").alias("amount"),
        _pick(ORDER_STATUSES, _bucket("order_id", seed, 6, len(ORDER_STATUSES))).alias("status"),
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="generate_orders", description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="folder for customers/ and orders/ Parquet")
    parser.add_argument("--orders", type=int, default=300_000, help="number of orders (default 300000)")
    parser.add_argument("--customers", type=int, default=20_000, help="number of customers")
    parser.add_argument("--days", type=int, default=28, help="days the orders spread over")
    parser.add_argument("--first-day", type=date.fromisoformat, default=date(2026, 1, 1),
                        help="date of the first day, YYYY-MM-DD")
    parser.add_argument("--seed", type=int, default=7, help="change it for a different data set")
    args = parser.parse_args(argv)
    for name in ("orders", "customers", "days"):
        if getattr(args, name) < 1:
            parser.error(f"argument --{name}: must be at least 1, got {getattr(args, name)}")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("generate_orders").getOrCreate()
    try:
        build_customers(spark, customers=args.customers, seed=args.seed).write.mode(
            "overwrite"
        ).parquet(f"{args.output}/customers")
        build_orders(
            spark,
            orders=args.orders,
            customers=args.customers,
            days=args.days,
            first_day=args.first_day,
            seed=args.seed,
        ).write.mode("overwrite").parquet(f"{args.output}/orders")
    finally:
        spark.stop()
    print(f"Wrote {args.customers} customers and {args.orders} orders to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
