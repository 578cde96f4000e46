"""Print what the data-quality gate costs the example report job, beside the same job without it.

For 300,000 and 3,000,000 orders (generated as the pipeline's first task does), the report is
built once written straight to its folder (no gate) and once through the gate (validate the
orders, stage the report, validate it, promote). Printed: both wall times, the validation time
the gate measured itself, and validation's share of the gated job. One local SparkSession with
the local-mode master, as a local-mode task gets; figures, not assertions.

``make bench-quality``; ``QUALITY_ROWS=300000`` for one size.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import time
from datetime import date
from pathlib import Path

from generate_orders import build_customers, build_orders
from quality.result_line import RESULT_LINE_PREFIX
from revenue_by_region import orders_with_region, publish_report, report_from
from sparkplane.settings import LOCAL_MASTER

ROWS = [int(rows) for rows in os.environ.get("QUALITY_ROWS", "300000,3000000").split(",")]  # the benchmark's own knob
CUSTOMERS = 20_000


def write_input(spark, folder: Path, orders: int) -> str:
    build_customers(spark, customers=CUSTOMERS, seed=7).write.mode("overwrite").parquet(f"{folder}/customers")
    build_orders(spark, orders=orders, customers=CUSTOMERS, days=28, first_day=date(2026, 1, 1),
                 seed=7).write.mode("overwrite").parquet(f"{folder}/orders")  # fmt: skip
    return str(folder)


def without_gate(spark, input_folder: str, output: str) -> float:
    started = time.perf_counter()
    orders = spark.read.parquet(f"{input_folder}/orders")
    customers = spark.read.parquet(f"{input_folder}/customers")
    report_from(orders_with_region(orders, customers)).write.mode("overwrite").parquet(output)
    return time.perf_counter() - started


def with_gate(spark, input_folder: str, output: str) -> tuple[float, float]:
    printed = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(printed):
        publish_report(spark, input_folder=input_folder, output=output)
    seconds = time.perf_counter() - started
    [line] = [line for line in printed.getvalue().splitlines() if line.startswith(RESULT_LINE_PREFIX)]
    return seconds, json.loads(line[len(RESULT_LINE_PREFIX) :])["validation_seconds"]


def main() -> None:
    from pyspark.sql import SparkSession

    master = LOCAL_MASTER
    spark = (SparkSession.builder.master(master).appName("bench-quality-gate").config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "8").getOrCreate())  # fmt: skip
    spark.sparkContext.setLogLevel("ERROR")
    print(f"master {master}, {os.cpu_count()} CPUs; each job run once after a warm-up run")
    print("| orders | without gate (s) | with gate (s) | validation (s) | validation share of the gated job |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as work:
        warm_up = write_input(spark, Path(work) / "warm", 10_000)
        without_gate(spark, warm_up, f"{work}/warm-plain")
        with_gate(spark, warm_up, f"{work}/warm-gated/report")
        for rows in ROWS:
            input_folder = write_input(spark, Path(work) / f"in-{rows}", rows)
            plain = without_gate(spark, input_folder, f"{work}/plain-{rows}")
            gated, validation = with_gate(spark, input_folder, f"{work}/gated-{rows}/report")
            print(f"| {rows:,} | {plain:.1f} | {gated:.1f} | {validation:.1f} | {validation / gated:.0%} |", flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
