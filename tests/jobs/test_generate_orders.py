from __future__ import annotations

from datetime import date

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.generate_orders import REGIONS, build_customers, build_orders, parse_args

FIRST_DAY = date(2026, 3, 1)


def _orders(spark, **overrides):
    arguments = dict(orders=5_000, customers=400, days=7, first_day=FIRST_DAY, seed=7) | overrides
    return build_orders(spark, **arguments)


def test_same_seed_gives_the_same_orders(spark):
    assertDataFrameEqual(_orders(spark), _orders(spark))


def test_another_seed_gives_other_orders(spark):
    first = _orders(spark).select("customer_id", "amount").collect()
    second = _orders(spark, seed=8).select("customer_id", "amount").collect()
    assert first != second


def test_orders_stay_within_their_ranges(spark):
    stats = _orders(spark).agg(
        F.count("*").alias("rows"),
        F.countDistinct("order_id").alias("ids"),
        F.min("order_date").alias("first"),
        F.max("order_date").alias("last"),
        F.min("amount").alias("low"),
        F.max("amount").alias("high"),
    ).first()
    assert (stats.rows, stats.ids) == (5_000, 5_000)
    assert stats.first >= FIRST_DAY and (stats.last - FIRST_DAY).days <= 6
    assert 1 <= stats.low and stats.high <= 501


def test_about_one_percent_of_orders_have_no_customer(spark):
    orders = _orders(spark, orders=20_000, customers=1_000)
    orphans = orders.where(F.col("customer_id") >= 1_000).count()
    assert 0 < orphans < 20_000 * 0.02


def test_customers_have_known_regions(spark):
    customers = build_customers(spark, customers=300, seed=7)
    regions = {row.region for row in customers.select("region").distinct().collect()}
    assert customers.count() == 300
    assert regions == set(REGIONS)


@pytest.mark.parametrize("flag", ["--orders", "--customers", "--days"])
def test_counts_below_one_are_rejected(flag, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--output", "/tmp/out", flag, "0"])
    assert f"argument {flag}: must be at least 1" in capsys.readouterr().err
