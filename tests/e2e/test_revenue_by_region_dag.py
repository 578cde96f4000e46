"""The example pipeline, run by real Airflow (metadata database, `airflow dags test`) with real
Spark in local mode: the report it writes is checked against an independent pandas computation
over the very input the first task generated."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.airflow

LOGICAL_DATE = "2026-11-20"
ORDERS, CUSTOMERS = 20_000, 1_500


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory):
    data_root = tmp_path_factory.mktemp("data")
    env = {**os.environ, "SPARKPLANE_DATA_ROOT": str(data_root)}
    airflow = [sys.executable, "-m", "airflow"]
    subprocess.run([*airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    result = subprocess.run(
        [*airflow, "dags", "test", "revenue_by_region", LOGICAL_DATE,
         "--conf", json.dumps({"orders": ORDERS, "customers": CUSTOMERS})],
        env=env, capture_output=True, text=True, timeout=900,
    )
    # `airflow dags test` makes a manual run: it writes to a folder of its own under its date.
    run_folders = list((data_root / "revenue_by_region" / LOGICAL_DATE / "runs").glob("manual__*"))
    return result, run_folders


def _expected_report(input_folder: Path) -> pd.DataFrame:
    orders = pd.read_parquet(input_folder / "orders")
    customers = pd.read_parquet(input_folder / "customers")
    completed = orders[orders["status"] == "completed"]
    joined = completed.merge(customers[["customer_id", "region"]], on="customer_id", how="left")
    joined["region"] = joined["region"].fillna("unknown")
    report = (
        joined.groupby(["order_date", "region"])
        .agg(orders=("order_id", "count"), customers=("customer_id", "nunique"), revenue=("amount", "sum"))
        .reset_index()
    )
    report["average_order"] = [
        (revenue / count).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        for revenue, count in zip(report["revenue"], report["orders"])
    ]
    return report


def test_pipeline_succeeds_and_streams_the_job_output_into_the_task_log(pipeline_run):
    result, run_folders = pipeline_run
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    [run_folder] = run_folders
    log = result.stdout + result.stderr
    assert f"Wrote {CUSTOMERS} customers and {ORDERS} orders" in log
    assert re.search(r"revenue_by_region\.py finished successfully in \d+ s; published \S+/report", log)
    assert "Data quality of revenue_by_region: passed, published to" in log
    # Sections fold in the UI; the start-up lines every driver prints are not in the task log.
    assert "::group::Driver log of revenue_by_region.py" in log and "::group::Data quality" in log
    assert "NativeCodeLoader" not in log and "Using incubator modules" not in log
    # The task hands on where it published and how long it took, for a downstream task or a person.
    with sqlite3.connect(Path(os.environ["AIRFLOW_HOME"]) / "airflow.db") as database:
        [(returned,)] = database.execute("SELECT value FROM xcom WHERE dag_id = 'revenue_by_region' AND "
                                         "task_id = 'revenue_by_region' AND key = 'return_value'").fetchall()  # fmt: skip
    result = json.loads(returned)
    assert result["output"] == str(run_folder / "report") and result["seconds"] > 0, result


def test_report_matches_an_independent_computation(pipeline_run):
    result, run_folders = pipeline_run
    assert result.returncode == 0, "the pipeline failed; see the previous test"
    [run_folder] = run_folders
    report = pd.read_parquet(run_folder / "report").sort_values(["order_date", "region"])
    expected = _expected_report(run_folder / "input").sort_values(["order_date", "region"])
    assert len(report) == 28 * 6  # 28 days x (5 regions + unknown)
    assert report["orders"].sum() == expected["orders"].sum()
    pd.testing.assert_frame_equal(
        report.reset_index(drop=True)[list(expected.columns)],
        expected.reset_index(drop=True),
        check_dtype=False,
    )
