"""The data-quality gate through real Airflow (``airflow dags test``, local mode, real Spark and GX).

A million orders, every one failing several expectations: the task fails on its first try
without using its retry, the report is not published, the task log names each failed
expectation with its observed value, and the XCom and the log stay small.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from harness.airflow import run_dag
from harness.platform import TEST_DAGS

pytestmark = pytest.mark.airflow

ORDERS = 1_000_000
#: Bounds, not targets: a result of a million failing rows is a few kB, a log a few hundred lines.
MAX_XCOM_CHARS = 8_000
MAX_LOG_CHARS = 200_000


def _write_failing_input(folder: Path) -> None:
    """Every order: the same id, no customer, a negative amount and an unknown status."""
    (folder / "orders").mkdir(parents=True)
    (folder / "customers").mkdir()
    pd.DataFrame({
        "order_id": np.ones(ORDERS, dtype="int64"),
        "customer_id": pd.array([None] * ORDERS, dtype="Int64"),
        "order_date": pd.to_datetime("2026-01-01").date(),
        "amount": -np.arange(1, ORDERS + 1) / 100,
        "status": "lost",
    }).to_parquet(folder / "orders" / "part-0.parquet")  # fmt: skip
    pd.DataFrame({"customer_id": [1, 2], "region": ["north", "south"], "segment": ["consumer"] * 2}).to_parquet(
        folder / "customers" / "part-0.parquet")  # fmt: skip


def test_a_million_failing_orders_fail_the_task_once_with_each_failure_named_and_stay_small(tmp_path):
    _write_failing_input(tmp_path / "input")
    output = tmp_path / "report"
    home = tmp_path / "airflow"

    result = run_dag("quality_gate", {"input": str(tmp_path / "input"), "output": str(output)},
                     connection=None, airflow_home=home, dags_folder=TEST_DAGS)  # fmt: skip

    log = result.stdout + result.stderr  # `airflow dags test` shows the task log there
    assert result.returncode != 0, log[-3000:]
    for failed in (
        "BLOCKING: expect_column_values_to_be_unique(column=order_id): 1000000 of 1000000 rows unexpected (100.00%)",
        "BLOCKING: expect_column_values_to_not_be_null(column=customer_id): 1000000 of 1000000 rows unexpected",
        "BLOCKING: expect_column_values_to_be_between(column=amount, min_value=0.0, max_value=100000.0): 1000000 of",
        "BLOCKING: expect_column_values_to_be_in_set(column=status, value_set=['completed', 'cancelled', 'returned'])"
        ": 1000000 of 1000000 rows unexpected (100.00%); e.g. ['lost', 'lost', 'lost', 'lost', 'lost']",
    ):
        assert failed in log, failed
    assert f"Cause: revenue_by_region.py did not publish {output}: 4 blocking data-quality expectations failed" in log
    assert "Fix: Find the bad rows with the samples above" in log
    assert not output.exists()

    with sqlite3.connect(home / "airflow.db") as database:
        [(state, tries)] = database.execute("SELECT state, try_number FROM task_instance").fetchall()
        [(stored,)] = database.execute("SELECT value FROM xcom WHERE key = 'quality'").fetchall()
    assert (state, tries) == ("failed", 1), "a data-quality failure must not be retried"
    quality = json.loads(stored)
    print(f"XCom 'quality': {len(stored)} characters; output of airflow dags test: {len(log)} characters")
    assert (quality["status"], quality["published"]) == ("failed", False)
    assert len(stored) < MAX_XCOM_CHARS and len(log) < MAX_LOG_CHARS
