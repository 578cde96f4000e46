"""The cluster's object store: a real S3 API, the platform's key confined to its bucket, reachable from pods."""

from __future__ import annotations

import uuid

import boto3
import pytest
from botocore.client import Config
from botocore.exceptions import ClientError
from harness.pods import python_pod, run_to_completion
from kubernetes import client
from localcluster import object_store

pytestmark = pytest.mark.cluster


def _s3(access: object_store.StoreAccess, *, access_key_id: str | None = None, secret: str | None = None):
    return boto3.client(
        "s3",
        endpoint_url=access.endpoint,
        region_name=access.region,
        aws_access_key_id=access_key_id or access.access_key_id,
        aws_secret_access_key=secret or access.secret_access_key,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def platform(local_cluster) -> object_store.StoreAccess:
    return object_store.platform_access(local_cluster.settings)


def _error_code(error: ClientError) -> str:
    return error.response["Error"]["Code"]


def test_the_platform_key_writes_lists_reads_and_deletes_in_its_bucket(platform):
    s3 = _s3(platform)
    key = f"tests/{uuid.uuid4().hex}/part-0.txt"
    s3.put_object(Bucket=platform.bucket, Key=key, Body=b"hello store")
    listed = s3.list_objects_v2(Bucket=platform.bucket, Prefix=key.rsplit("/", 1)[0])
    assert [o["Key"] for o in listed["Contents"]] == [key]
    assert s3.get_object(Bucket=platform.bucket, Key=key)["Body"].read() == b"hello store"
    s3.delete_object(Bucket=platform.bucket, Key=key)
    assert s3.list_objects_v2(Bucket=platform.bucket, Prefix=key).get("KeyCount") == 0


def test_the_platform_key_reaches_no_other_bucket_and_creates_none(local_cluster, platform):
    other = f"other-{uuid.uuid4().hex[:8]}"
    object_store.ensure_user(local_cluster.settings, "other-team")
    object_store.ensure_bucket(local_cluster.settings, other, "other-team")
    s3 = _s3(platform)
    with pytest.raises(ClientError) as denied:
        s3.put_object(Bucket=other, Key="x", Body=b"x")
    assert _error_code(denied.value) == "AccessDenied"
    with pytest.raises(ClientError) as denied:
        s3.list_objects_v2(Bucket=other)
    assert _error_code(denied.value) == "AccessDenied"
    with pytest.raises(ClientError) as denied:
        s3.create_bucket(Bucket=f"mine-{uuid.uuid4().hex[:8]}")
    assert _error_code(denied.value) == "AccessDenied"


def test_a_wrong_key_is_refused(platform):
    with pytest.raises(ClientError) as refused:
        _s3(platform, secret="not-the-secret").head_bucket(Bucket=platform.bucket)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_setting_up_platform_access_again_keeps_the_key_and_the_data(local_cluster, platform):
    s3 = _s3(platform)
    key = f"tests/{uuid.uuid4().hex}"
    s3.put_object(Bucket=platform.bucket, Key=key, Body=b"kept")
    again = object_store.ensure_platform_access(local_cluster.settings)
    assert (again.access_key_id, again.secret_access_key) == (platform.access_key_id, platform.secret_access_key)
    assert s3.get_object(Bucket=platform.bucket, Key=key)["Body"].read() == b"kept"
    s3.delete_object(Bucket=platform.bucket, Key=key)


def test_pods_reach_the_store_at_the_same_endpoint(local_cluster, namespace, python_image, platform):
    s3 = _s3(platform)
    key = f"tests/{uuid.uuid4().hex}"
    s3.put_object(Bucket=platform.bucket, Key=key, Body=b"seen from a pod")
    # A presigned GET: the pod needs no key, and no key is in its spec.
    url = s3.generate_presigned_url("get_object", Params={"Bucket": platform.bucket, "Key": key}, ExpiresIn=300)
    core = client.CoreV1Api(local_cluster.api_client())
    script = f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=10).read().decode())"
    log = run_to_completion(
        core, namespace, python_pod("reader", python_image, script, node_selector=local_cluster.real_node_selector)
    )
    assert "seen from a pod" in log
    s3.delete_object(Bucket=platform.bucket, Key=key)


def test_the_platform_secret_holds_the_key_under_the_sdk_variable_names(platform):
    manifest = object_store.secret_manifest(platform, "spark")
    assert manifest["metadata"] == {
        "name": "sparkplane-object-store", "namespace": "spark", "labels": {"app.kubernetes.io/part-of": "sparkplane"},
    }  # fmt: skip
    assert manifest["stringData"] == {
        "AWS_ACCESS_KEY_ID": platform.access_key_id, "AWS_SECRET_ACCESS_KEY": platform.secret_access_key,
    }  # fmt: skip
    assert platform.secret_access_key not in repr(platform)
