"""The object store's connection becomes S3A settings and key references, never key values in settings."""

from __future__ import annotations

import pytest
from sparkplane.exceptions import JobDefinitionError
from sparkplane.kubernetes.secret_refs import SecretEnv
from sparkplane.storage.object_store import ENVIRONMENT_CREDENTIALS, ObjectStore, object_store_from_connection

LOCAL_STORE_EXTRA = {
    "endpoint_url": "http://10.244.0.1:7070",
    "region_name": "us-east-1",
    "config_kwargs": {"s3": {"addressing_style": "path"}},
    "kubernetes_secret": "sparkplane-object-store",
}


def _local_store() -> ObjectStore:
    return object_store_from_connection("store", login="platform", password="s3cr3t-value", extra=LOCAL_STORE_EXTRA)


def test_a_local_store_connection_gives_s3a_its_endpoint_region_and_path_style():
    assert _local_store().spark_conf() == {
        "spark.hadoop.fs.s3a.aws.credentials.provider": ENVIRONMENT_CREDENTIALS,
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.endpoint": "http://10.244.0.1:7070",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
        "spark.hadoop.fs.s3a.endpoint.region": "us-east-1",
    }


def test_no_setting_holds_the_key():
    store = _local_store()
    values = " ".join(store.spark_conf().values())
    assert "s3cr3t-value" not in values and "platform" not in values
    assert "s3cr3t-value" not in repr(store)


def test_aws_itself_needs_no_endpoint_and_uses_virtual_hosted_buckets():
    store = object_store_from_connection("aws", login=None, password=None, extra={"region_name": "eu-west-1"})
    conf = store.spark_conf()
    assert "spark.hadoop.fs.s3a.endpoint" not in conf
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "false"
    assert conf["spark.hadoop.fs.s3a.endpoint.region"] == "eu-west-1"


def test_an_https_endpoint_keeps_tls_on_and_gets_a_region_when_none_is_given():
    store = object_store_from_connection("s", login=None, password=None, extra={"endpoint_url": "https://s3.example"})
    assert store.spark_conf()["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "true"
    assert store.spark_conf()["spark.hadoop.fs.s3a.endpoint.region"] == "us-east-1"


def test_pods_get_the_key_as_references_to_the_named_secret():
    assert _local_store().pod_secrets() == [
        SecretEnv(name="AWS_ACCESS_KEY_ID", secret="sparkplane-object-store", key="AWS_ACCESS_KEY_ID"),
        SecretEnv(name="AWS_SECRET_ACCESS_KEY", secret="sparkplane-object-store", key="AWS_SECRET_ACCESS_KEY"),
    ]


def test_local_mode_gets_the_key_as_environment_variables():
    assert _local_store().local_env() == {"AWS_ACCESS_KEY_ID": "platform", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value"}


def test_a_connection_without_a_secret_name_is_refused_for_pods_with_what_to_add():
    store = object_store_from_connection("store", login="a", password="b", extra={"endpoint_url": "http://h:1"})
    with pytest.raises(JobDefinitionError, match=r"names no Kubernetes Secret.*kubernetes_secret.*AWS_ACCESS_KEY_ID"):
        store.pod_secrets()


def test_a_connection_without_a_key_is_refused_for_local_mode_with_what_to_set():
    store = object_store_from_connection("store", login=None, password=None, extra=LOCAL_STORE_EXTRA)
    with pytest.raises(JobDefinitionError, match=r"'store' has no key for local mode: set its login"):
        store.local_env()


def test_an_endpoint_that_is_not_a_url_is_refused():
    with pytest.raises(JobDefinitionError, match=r"endpoint_url '10.244.0.1:7070': give a URL such as"):
        object_store_from_connection("store", login=None, password=None, extra={"endpoint_url": "10.244.0.1:7070"})
