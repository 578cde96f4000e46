# Generated from notebooks/daily_sales.ipynb by `sparkplane notebook convert`: change the notebook and convert again.
# Converting refuses to replace this file once edited by hand (--force replaces it).
# sparkplane-generated: notebook-sha256=1d29e81b9a96bb3e content-sha256=44ea711ffa624068
"""Generated with jobs/daily_sales.py: main() on the tiny input of the notebook's "test-input" cell."""

from __future__ import annotations

from pathlib import Path

import daily_sales
from pyspark.sql import functions as F


def write_test_input(spark, orders_path):
    """The notebook's test-input cell (cell 6)."""
    sample = [
        (1, "emea", 12.5, "2026-11-30"),
        (2, "emea", 250.0, "2026-11-30"),
        (3, "amer", 75.0, "2026-11-29"),
        (4, "apac", 5.0, "2026-11-28"),
        (5, "amer", 420.0, "2026-11-24"),
        (6, "emea", 99.0, "2026-11-20"),
    ]
    orders = spark.createDataFrame(sample, "order_id long, region string, amount double, order_date string")
    orders.withColumn("order_date", F.to_date("order_date")).write.mode("overwrite").parquet(orders_path)


def test_main_runs_on_the_notebooks_tiny_input(spark, tmp_path):
    orders_path = str(tmp_path / "orders_path")
    output_path = str(tmp_path / "output_path")
    write_test_input(spark, orders_path=orders_path)
    daily_sales.main(
        [
            "--orders-path",
            orders_path,
            "--output-path",
            output_path,
        ]
    )
    assert Path(orders_path).exists(), orders_path
    assert Path(output_path).exists(), output_path
