"""The data-quality gate in cluster mode: the example report job on Kubernetes, its input and output
in the object store. Bad data fails the task once, is not published, and each failed expectation is
named with its observed value; the warn-only one is listed. (A passing run on the cluster publishes:
tests/kubernetes/test_pipeline_on_object_store.py.)"""

from __future__ import annotations

import io
import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
from harness.airflow import run_dag
from harness.platform import OBJECT_STORE_CONN_ID, TEST_DAGS, scratch_prefix

pytestmark = [pytest.mark.cluster, pytest.mark.airflow]

ORDERS = 2_000


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


@pytest.fixture
def store(local_cluster):
    with scratch_prefix(local_cluster, "quality") as scratch:
        yield scratch


def test_bad_orders_on_the_cluster_fail_once_unpublished_with_each_failure_named(
    store, spark_image, airflow_connection, object_store_connection, tmp_path
):
    bucket, prefix, s3 = store
    # Every order: the same id, no customer, a negative amount and an unknown status.
    orders = pd.DataFrame({
        "order_id": np.ones(ORDERS, dtype="int64"),
        "customer_id": pd.array([None] * ORDERS, dtype="Int64"),
        "order_date": pd.to_datetime("2026-01-01").date(),
        "amount": -np.arange(1, ORDERS + 1) / 100,
        "status": "lost",
    })  # fmt: skip
    customers = pd.DataFrame({"customer_id": [1, 2], "region": ["north", "south"], "segment": ["consumer"] * 2})
    s3.put_object(Bucket=bucket, Key=f"{prefix}/input/orders/part-0.parquet", Body=_parquet(orders))
    s3.put_object(Bucket=bucket, Key=f"{prefix}/input/customers/part-0.parquet", Body=_parquet(customers))
    output = f"s3a://{bucket}/{prefix}/report"
    home = tmp_path / "airflow"

    result = run_dag(
        "quality_gate", {"input": f"s3a://{bucket}/{prefix}/input", "output": output},
        image=spark_image, connection=airflow_connection, airflow_home=home, dags_folder=TEST_DAGS,
        extra_env={f"AIRFLOW_CONN_{OBJECT_STORE_CONN_ID.upper()}": object_store_connection,
                   "SPARKPLANE_OBJECT_STORE_CONN_ID": OBJECT_STORE_CONN_ID},
    )  # fmt: skip

    log = result.stdout + result.stderr
    assert result.returncode != 0, log[-3000:]
    assert "Driver pod spark/" in log, "the job did not run on Kubernetes"
    for failed in (
        f"BLOCKING: expect_column_values_to_be_unique(column=order_id): {ORDERS} of {ORDERS} rows unexpected (100.00%)",
        f"BLOCKING: expect_column_values_to_not_be_null(column=customer_id): {ORDERS} of {ORDERS} rows unexpected",
        f"BLOCKING: expect_column_values_to_be_between(column=amount, min_value=0.0, max_value=100000.0): {ORDERS} of",
        "BLOCKING: expect_column_values_to_be_in_set(column=status, value_set=['completed', 'cancelled', 'returned'])"
        f": {ORDERS} of {ORDERS} rows unexpected (100.00%); e.g. ['lost', 'lost', 'lost', 'lost', 'lost']",
        "warning: expect_column_values_to_not_be_null(column=customer_region, mostly=0.95)",
    ):
        assert failed in log, failed
    assert f"Cause: revenue_by_region.py did not publish {output}: 4 blocking data-quality expectations failed" in log
    published = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/report/").get("KeyCount", 0)
    assert published == 0, "a failed gate must publish nothing"
    results = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/_quality/").get("Contents", [])]
    assert any(key.endswith("validation.json") for key in results), results

    with sqlite3.connect(home / "airflow.db") as database:
        [(state, tries)] = database.execute("SELECT state, try_number FROM task_instance").fetchall()
        [(stored,)] = database.execute("SELECT value FROM xcom WHERE key = 'quality'").fetchall()
    assert (state, tries) == ("failed", 1), "a data-quality failure must not be retried"
    quality = json.loads(stored)
    assert (quality["status"], quality["published"]) == ("failed", False)


@pytest.mark.long  # the warn-only path is proved locally in make test (tests/e2e/test_quality_gate_dag.py)
def test_a_warn_only_failure_on_the_cluster_is_listed_and_the_report_published(
    store, spark_image, airflow_connection, object_store_connection, tmp_path
):
    bucket, prefix, s3 = store
    # Clean orders, but a tenth of them name a customer the customer table lacks.
    orders = pd.DataFrame({
        "order_id": np.arange(ORDERS, dtype="int64"),
        "customer_id": pd.array(np.arange(ORDERS) % 100, dtype="Int64"),
        "order_date": pd.to_datetime("2026-01-01").date(),
        "amount": np.arange(1, ORDERS + 1) / 100,
        "status": "completed",
    })  # fmt: skip
    customers = pd.DataFrame({"customer_id": np.arange(90), "region": ["north", "south", "east"] * 30,
                              "segment": ["consumer"] * 90})  # fmt: skip
    s3.put_object(Bucket=bucket, Key=f"{prefix}/input/orders/part-0.parquet", Body=_parquet(orders))
    s3.put_object(Bucket=bucket, Key=f"{prefix}/input/customers/part-0.parquet", Body=_parquet(customers))
    output = f"s3a://{bucket}/{prefix}/report"

    result = run_dag(
        "quality_gate", {"input": f"s3a://{bucket}/{prefix}/input", "output": output},
        image=spark_image, connection=airflow_connection, airflow_home=tmp_path / "airflow", dags_folder=TEST_DAGS,
        extra_env={f"AIRFLOW_CONN_{OBJECT_STORE_CONN_ID.upper()}": object_store_connection,
                   "SPARKPLANE_OBJECT_STORE_CONN_ID": OBJECT_STORE_CONN_ID},
    )  # fmt: skip

    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert f"Data quality of revenue_by_region: warned, published to {output}" in log
    assert "warning: expect_column_values_to_not_be_null(column=customer_region, mostly=0.95): 200 of 2000" in log
    assert s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/report/_SUCCESS")["KeyCount"] == 1
