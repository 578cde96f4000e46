"""The operator's check of the object store, against the cluster's real store (a real S3 API)."""

from __future__ import annotations

import time

import pytest
from localcluster import object_store
from sparkplane.job_spec import SparkJobSpec
from sparkplane.storage.object_store import ObjectStore
from sparkplane.storage.check import bucket_problem, buckets_named


def _spec(*arguments: str, conf: dict[str, str] | None = None) -> SparkJobSpec:
    return SparkJobSpec(application="job.py", name="dag.task", arguments=arguments, conf=conf or {})


def test_buckets_are_found_in_arguments_and_settings():
    spec = _spec("--input", "s3a://raw-data/orders/2026", "--output=s3a://reports/x", "--note", "s3://not-s3a/x",
                 conf={"spark.eventLog.dir": "s3a://spark-logs/prod"})  # fmt: skip
    assert buckets_named(spec) == ["raw-data", "reports", "spark-logs"]


def test_a_job_without_s3a_uris_names_no_bucket():
    assert buckets_named(_spec("--input", "/data/orders", conf={"spark.sql.shuffle.partitions": "8"})) == []


@pytest.fixture(scope="module")
def store(local_cluster) -> tuple[ObjectStore, str]:
    access = object_store.platform_access(local_cluster.settings)
    return ObjectStore(
        conn_id="object_store", endpoint=access.endpoint, region=access.region, path_style=True,
        kubernetes_secret="sparkplane-object-store",
        access_key_id=access.access_key_id, secret_access_key=access.secret_access_key,
    ), access.bucket  # fmt: skip


def _timed(store: ObjectStore, bucket: str):
    started = time.monotonic()
    problem = bucket_problem(store, bucket)
    print(f"checked {bucket!r} at {store.endpoint} in {time.monotonic() - started:.2f}s")
    return problem


@pytest.mark.cluster
def test_the_platform_bucket_answers(store):
    assert _timed(*store) is None


@pytest.mark.cluster
def test_a_wrong_key_is_named_with_the_connection_and_secret_to_fix(store):
    good, bucket = store
    wrong = ObjectStore(**{**good.__dict__, "secret_access_key": "not-the-secret"})
    problem = _timed(wrong, bucket)
    assert problem.retry_cannot_help
    assert "refused the connection's key for bucket 'sparkplane' (HTTP 403)" in problem.cause
    assert "http://10.244.0.1:7070" in problem.cause and "'object_store'" in problem.cause
    assert "connection 'object_store'" in problem.fix and "sparkplane-object-store" in problem.fix


@pytest.mark.cluster
def test_a_missing_bucket_is_named_with_the_setting_to_change(store):
    problem = _timed(store[0], "no-such-bucket")
    assert problem.retry_cannot_help
    assert problem.cause.startswith("Bucket 'no-such-bucket' does not exist in the object store at http://10.244.0.1:7070")
    assert "SPARKPLANE_DATA_ROOT" in problem.fix


def test_an_unreachable_endpoint_is_named_and_may_be_retried():
    # Port 9 on loopback: nothing listens, connections are refused at once.
    unreachable = ObjectStore(conn_id="object_store", endpoint="http://127.0.0.1:9", region="us-east-1",
                              path_style=True, access_key_id="a", secret_access_key="b")  # fmt: skip
    problem = _timed(unreachable, "sparkplane")
    assert not problem.retry_cannot_help
    assert problem.cause.startswith("The object store at http://127.0.0.1:9 (Airflow connection 'object_store') cannot be reached")
    assert "endpoint_url of connection 'object_store'" in problem.fix
