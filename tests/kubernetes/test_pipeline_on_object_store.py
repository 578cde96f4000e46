"""The example pipeline on Kubernetes with its data in the object store, beside the same pipeline
run locally against the same store: real Airflow, real Spark, the real S3 API."""

from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from harness.airflow import run_dag
from harness.platform import OBJECT_STORE_CONN_ID, delete_prefix, platform_store_client
from harness.pods import PodWatch
from kubernetes import client
from localcluster import object_store
from sparkplane.kubernetes.identity import SPARK_NAMESPACE

# make test proves the store on the cluster through the quality gate (test_quality_gate_on_cluster.py);
# this comparison with a local run is the longer proof (make test-long).
pytestmark = [pytest.mark.cluster, pytest.mark.airflow, pytest.mark.long]

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
    return platform_store_client(local_cluster)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, local_cluster, spark_image, airflow_connection, object_store_connection, store):
    access, s3 = store
    prefix = f"tests/pipeline-{uuid.uuid4().hex[:8]}"
    root = f"s3a://{access.bucket}/{prefix}"
    homes = {"cluster": tmp_path_factory.mktemp("cluster-airflow"), "local": tmp_path_factory.mktemp("local-airflow")}
    started = time.time() - 1
    core = client.CoreV1Api(local_cluster.api_client())
    with PodWatch(core, SPARK_NAMESPACE, "sparkplane.dev/dag-id=revenue_by_region") as seen:
        on_cluster = run_dag(
            "revenue_by_region", CONF, image=spark_image, connection=airflow_connection, logical_date=LOGICAL_DATE,
            airflow_home=homes["cluster"], extra_env=_store_settings(object_store_connection, f"{root}/cluster"),
        )  # fmt: skip
    local = run_dag(
        "revenue_by_region", CONF, connection=None, logical_date=LOGICAL_DATE,
        airflow_home=homes["local"], extra_env=_store_settings(object_store_connection, f"{root}/local"),
    )  # fmt: skip
    yield on_cluster, local, prefix, homes, started, list(seen.created.values())
    delete_prefix(s3, access.bucket, prefix)


def _report(s3, bucket: str, prefix: str, into: Path) -> pd.DataFrame:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    parts = [item["Key"] for item in listed if item["Key"].endswith(".parquet")]
    assert parts, f"no Parquet files under s3://{bucket}/{prefix}: {[item['Key'] for item in listed]}"
    for key in parts:
        s3.download_file(bucket, key, str(into / key.replace("/", "_")))
    return pd.read_parquet(into).sort_values(["order_date", "region"]).reset_index(drop=True)


def _published_report(result, bucket: str) -> str:
    """The key prefix (ending in /) of the report the run's log says it published."""
    [output] = set(re.findall(r"Data quality of revenue_by_region: passed, published to (\S+)", _log(result)))
    return output.removeprefix(f"s3a://{bucket}/").rstrip("/") + "/"


def _log(result) -> str:
    return result.stdout + result.stderr


def test_the_pipeline_runs_on_kubernetes_with_its_data_in_the_store(runs):
    on_cluster = runs[0]
    assert on_cluster.returncode == 0, _log(on_cluster)[-6000:]
    log = _log(on_cluster)
    assert f"Wrote {CONF['customers']} customers and {CONF['orders']} orders" in log
    assert "Data quality of revenue_by_region: passed, published to s3a://" in log
    assert "DagRun Finished" in log and "state=success" in log


def test_the_cluster_report_equals_the_local_report_of_the_same_day(runs, store, tmp_path):
    on_cluster, local, prefix = runs[:3]
    assert on_cluster.returncode == 0 and local.returncode == 0, _log(local)[-6000:]
    access, s3 = store
    (tmp_path / "cluster").mkdir()
    (tmp_path / "local").mkdir()
    cluster_folder, local_folder = _published_report(on_cluster, access.bucket), _published_report(local, access.bucket)
    assert cluster_folder.startswith(f"{prefix}/cluster/revenue_by_region/{LOGICAL_DATE}/runs/manual__"), cluster_folder
    cluster_report = _report(s3, access.bucket, cluster_folder, tmp_path / "cluster")
    local_report = _report(s3, access.bucket, local_folder, tmp_path / "local")
    assert len(cluster_report) > 28 * 5  # 28 days x 5 regions, and "unknown" on most days
    marker = f"{cluster_folder}_SUCCESS"
    assert s3.list_objects_v2(Bucket=access.bucket, Prefix=marker)["KeyCount"] == 1, "the published report is not marked complete"
    pd.testing.assert_frame_equal(cluster_report, local_report)


def _audit_events(local_cluster, since: float) -> list[str]:
    """The API server's audit events received since ``since``, as JSON text (the rotated file included)."""
    events = []
    for path in sorted(local_cluster.settings.log_dir.glob("audit*.log")):
        for line in path.read_text(errors="replace").splitlines():
            received = json.loads(line)["requestReceivedTimestamp"].replace("Z", "+00:00")
            if datetime.fromisoformat(received).timestamp() >= since:
                events.append(line)
    return events


def _stored(airflow_home: Path, query: str) -> list[str]:
    with sqlite3.connect(airflow_home / "airflow.db") as database:
        return [str(row[0]) for row in database.execute(query)]


def test_the_key_reaches_pods_by_reference_and_is_nowhere_in_plain_text(runs, store, local_cluster):
    """Task logs, XCom, rendered fields, the pods' specs and the API server's audit log."""
    on_cluster, local, _, homes, started, pods = runs
    assert on_cluster.returncode == 0 and local.returncode == 0
    secret = store[0].secret_access_key
    roles = {pod.metadata.labels.get("spark-role") for pod in pods}
    assert {"driver", "executor"} <= roles, roles
    for pod in pods:
        spec = json.dumps(client.ApiClient().sanitize_for_serialization(pod))
        assert spec.count(secret) == 0, f"the key is in the spec of {pod.metadata.name}"  # never print the key
        assert object_store.PLATFORM_SECRET in spec, f"{pod.metadata.name} does not reference the store's Secret"
    events = _audit_events(local_cluster, started)
    assert [event for event in events if object_store.PLATFORM_SECRET in event and '"pods"' in event], (
        "no audited pod names the Secret: the check saw nothing")
    assert sum(secret in event for event in events) == 0, "the key is in the API server's audit log"
    for result, home in ((on_cluster, homes["cluster"]), (local, homes["local"])):
        rendered = _stored(home, "SELECT rendered_fields FROM rendered_task_instance_fields")
        xcom = _stored(home, "SELECT value FROM xcom")
        assert rendered and xcom, "no rendered fields or XCom were stored"
        for what, text in (("task log", result.stdout + result.stderr), *(("rendered fields", r) for r in rendered),
                           *(("XCom", x) for x in xcom)):  # fmt: skip
            assert text.count(secret) == 0, f"the key is in the {what} of {home.name}"
