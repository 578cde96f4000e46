"""The example pipeline on Kubernetes with its data in the object store, beside the same pipeline
run locally against the same store: real Airflow, real Spark, the real S3 API."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
import pandas as pd
import pytest
from botocore.client import Config
from harness.airflow import run_dag
from harness.platform import OBJECT_STORE_CONN_ID
from localcluster import object_store

pytestmark = [pytest.mark.cluster, pytest.mark.airflow]

LOGICAL_DATE = "2026-11-20"
CONF = {"orders": 5_000, "customers": 400}


def _store_settings(connection: str, data_root: str) -> dict[str, str]:
    return {
        f"AIRFLOW_CONN_{OBJECT_STORE_CONN_ID.upper()}": connection,
        "SPARKPLANE_OBJECT_STORE_CONN_ID": OBJECT_STORE_CONN_ID,
        "SPARKPLANE_DATA_ROOT": data_root,
    }


@pytest.fixture(scope="module")
def store(local_cluster):
    access = object_store.platform_access(local_cluster.settings)
    s3 = boto3.client(
        "s3", endpoint_url=access.endpoint, region_name=access.region, aws_access_key_id=access.access_key_id,
        aws_secret_access_key=access.secret_access_key,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )  # fmt: skip
    return access, s3


@pytest.fixture(scope="module")
def runs(tmp_path_factory, spark_image, airflow_connection, object_store_connection, store):
    access, s3 = store
    prefix = f"tests/pipeline-{uuid.uuid4().hex[:8]}"
    root = f"s3a://{access.bucket}/{prefix}"
    on_cluster = run_dag(
        "revenue_by_region", CONF, image=spark_image, connection=airflow_connection, logical_date=LOGICAL_DATE,
        airflow_home=tmp_path_factory.mktemp("cluster-airflow"),
        extra_env=_store_settings(object_store_connection, f"{root}/cluster"),
    )  # fmt: skip
    local = run_dag(
        "revenue_by_region", CONF, connection=None, logical_date=LOGICAL_DATE,
        airflow_home=tmp_path_factory.mktemp("local-airflow"),
        extra_env=_store_settings(object_store_connection, f"{root}/local"),
    )  # fmt: skip
    yield on_cluster, local, prefix
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=access.bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=access.bucket, Key=item["Key"])


def _report(s3, bucket: str, prefix: str, into: Path) -> pd.DataFrame:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    parts = [item["Key"] for item in listed if item["Key"].endswith(".parquet")]
    assert parts, f"no Parquet files under s3://{bucket}/{prefix}: {[item['Key'] for item in listed]}"
    for key in parts:
        s3.download_file(bucket, key, str(into / key.replace("/", "_")))
    return pd.read_parquet(into).sort_values(["order_date", "region"]).reset_index(drop=True)


def _log(result) -> str:
    return result.stdout + result.stderr


def test_the_pipeline_runs_on_kubernetes_with_its_data_in_the_store(runs):
    on_cluster, _, _ = runs
    assert on_cluster.returncode == 0, _log(on_cluster)[-6000:]
    log = _log(on_cluster)
    assert f"Wrote {CONF['customers']} customers and {CONF['orders']} orders" in log
    assert "Data quality of revenue_by_region: passed, published to s3a://" in log
    assert "DagRun Finished" in log and "state=success" in log


def test_the_cluster_report_equals_the_local_report_of_the_same_day(runs, store, tmp_path):
    on_cluster, local, prefix = runs
    assert on_cluster.returncode == 0 and local.returncode == 0, _log(local)[-6000:]
    access, s3 = store
    (tmp_path / "cluster").mkdir()
    (tmp_path / "local").mkdir()
    cluster_report = _report(s3, access.bucket, f"{prefix}/cluster/revenue_by_region/{LOGICAL_DATE}/report/", tmp_path / "cluster")
    local_report = _report(s3, access.bucket, f"{prefix}/local/revenue_by_region/{LOGICAL_DATE}/report/", tmp_path / "local")
    assert len(cluster_report) > 28 * 5  # 28 days x 5 regions, and "unknown" on most days
    pd.testing.assert_frame_equal(cluster_report, local_report)


def test_the_key_is_in_no_task_log(runs, store):
    access, _ = store
    for result in runs[:2]:
        assert access.secret_access_key not in _log(result)
        assert json.dumps(access.secret_access_key) not in _log(result)
