from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.revenue_by_region import parse_args, revenue_by_region

DAY_1, DAY_2 = date(2026, 1, 1), date(2026, 1, 2)
ORDER_COLUMNS = "order_id long, customer_id long, order_date date, amount decimal(12,2), status string"


@pytest.fixture
def customers(spark):
    return spark.createDataFrame(
        [(1, "north", "consumer"), (2, "north", "enterprise"), (3, "south", "consumer")],
        "customer_id long, region string, segment string",
    )


def test_revenue_is_summed_per_day_and_region(spark, customers):
    orders = spark.createDataFrame(
        [
            (10, 1, DAY_1, Decimal("10.00"), "completed"),
            (11, 2, DAY_1, Decimal("5.50"), "completed"),
            (12, 1, DAY_1, Decimal("2.25"), "completed"),
            (13, 3, DAY_1, Decimal("7.00"), "completed"),
            (14, 3, DAY_2, Decimal("1.00"), "completed"),
        ],
        ORDER_COLUMNS,
    )
    expected = spark.createDataFrame(
        [
            (DAY_1, "north", 3, 2, Decimal("17.75"), Decimal("5.92")),
            (DAY_1, "south", 1, 1, Decimal("7.00"), Decimal("7.00")),
            (DAY_2, "south", 1, 1, Decimal("1.00"), Decimal("1.00")),
        ],
        "order_date date, region string, orders long, customers long, "
        "revenue decimal(18,2), average_order decimal(12,2)",
    )
    assertDataFrameEqual(revenue_by_region(orders, customers), expected, checkRowOrder=True)


def test_cancelled_and_returned_orders_earn_nothing(spark, customers):
    orders = spark.createDataFrame(
        [
            (10, 1, DAY_1, Decimal("10.00"), "completed"),
            (11, 1, DAY_1, Decimal("99.00"), "cancelled"),
            (12, 1, DAY_1, Decimal("50.00"), "returned"),
        ],
        ORDER_COLUMNS,
    )
    [row] = revenue_by_region(orders, customers).collect()
    assert (row.orders, row.revenue) == (1, Decimal("10.00"))


def test_orders_of_unknown_customers_are_kept_under_unknown_region(spark, customers):
    orders = spark.createDataFrame(
        [(10, 1, DAY_1, Decimal("3.00"), "completed"), (11, 999, DAY_1, Decimal("4.00"), "completed")],
        ORDER_COLUMNS,
    )
    report = {row.region: row.revenue for row in revenue_by_region(orders, customers).collect()}
    assert report == {"north": Decimal("3.00"), "unknown": Decimal("4.00")}


def test_arguments_are_required():
    with pytest.raises(SystemExit) as raised:
        parse_args(["--input", "/tmp/in"])
    assert raised.value.code == 2
