"""The DAG converted from the sample notebook, on Kubernetes: real Airflow runs the generated
``daily_sales`` DAG with the platform's operator, the job's numpy UDF runs on executor pods from
the platform image, and the report lands in the object store under the run's own folder.

A second proof: the stack's worked-example test runs the same DAG on the cluster through the real
scheduler, so ``make test`` leaves this one to ``make test-long``."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from harness.airflow import run_dag
from harness.platform import OBJECT_STORE_CONN_ID, reports_under, scratch_prefix
from harness.pods import PodWatch
from kubernetes import client
from sparkplane.kubernetes.identity import SPARK_NAMESPACE

pytestmark = [pytest.mark.cluster, pytest.mark.airflow, pytest.mark.long]

RUN_DATE = "2026-11-30"
#: The notebook's test-input cell: six orders over eleven days.
ORDERS = pd.DataFrame({
    "order_id": [1, 2, 3, 4, 5, 6],
    "region": ["emea", "emea", "amer", "apac", "amer", "emea"],
    "amount": [12.5, 250.0, 75.0, 5.0, 420.0, 99.0],
    "order_date": pd.to_datetime(["2026-11-30", "2026-11-30", "2026-11-29", "2026-11-28", "2026-11-24",
                                  "2026-11-20"]).date,
})  # fmt: skip
#: Ten days to the run date, orders of 10.0 or more: order 4 is too small, order 6 too early.
EXPECTED = pd.DataFrame({
    "order_date": pd.to_datetime(["2026-11-24", "2026-11-29", "2026-11-30", "2026-11-30"]).date,
    "region": ["amer", "amer", "emea", "emea"],
    "size_band": ["large", "medium", "large", "small"],
    "orders": [1, 1, 1, 1],
    "revenue": [420.0, 75.0, 250.0, 12.5],
})  # fmt: skip


@pytest.fixture
def store(local_cluster):
    with scratch_prefix(local_cluster, "daily-sales") as scratch:
        yield scratch


def _report(s3, bucket: str, prefix: str) -> pd.DataFrame:
    reports = reports_under(s3, bucket, prefix)
    assert len(reports) == 1, f"not one report under s3://{bucket}/{prefix}: {sorted(reports)}"
    [frame] = reports.values()
    frame["orders"] = frame["orders"].astype("int64")
    return frame.sort_values(["order_date", "region", "size_band"]).reset_index(drop=True)


def test_the_generated_dag_runs_on_the_cluster_and_writes_its_run_folder(
    store, local_cluster, spark_image, airflow_connection, object_store_connection, tmp_path
):
    bucket, prefix, s3 = store
    buffer = io.BytesIO()
    ORDERS.to_parquet(buffer)
    s3.put_object(Bucket=bucket, Key=f"{prefix}/data/orders/part-0.parquet", Body=buffer.getvalue())
    core = client.CoreV1Api(local_cluster.api_client())

    with PodWatch(core, SPARK_NAMESPACE, "sparkplane.dev/dag-id=daily_sales") as seen:
        result = run_dag(
            "daily_sales", {"days": 10, "min_amount": 10.0}, image=spark_image, connection=airflow_connection,
            logical_date=RUN_DATE, airflow_home=tmp_path / "airflow",
            extra_env={f"AIRFLOW_CONN_{OBJECT_STORE_CONN_ID.upper()}": object_store_connection,
                       "SPARKPLANE_OBJECT_STORE_CONN_ID": OBJECT_STORE_CONN_ID,
                       "SPARKPLANE_DATA_ROOT": f"s3a://{bucket}/{prefix}"},
        )  # fmt: skip

    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    assert "Driver pod spark/" in log, "the job did not run on Kubernetes"
    assert "4 rows written to s3a://" in log
    roles = {pod.metadata.labels.get("spark-role") for pod in seen.created.values()}
    assert {"driver", "executor"} <= roles, f"the UDF needs executors: {roles}"
    runs = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/data/daily_sales/{RUN_DATE}/", Delimiter="/")
    assert [p["Prefix"].rsplit("/", 2)[-2] for p in runs.get("CommonPrefixes", [])] == ["runs"], runs
    pd.testing.assert_frame_equal(_report(s3, bucket, f"{prefix}/data/daily_sales/{RUN_DATE}/runs/manual__"), EXPECTED)
