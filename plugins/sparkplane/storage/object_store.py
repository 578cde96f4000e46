"""The deployment's object store: what a Spark job needs to read and write ``s3a://`` URIs.

Storage is configuration. An Airflow connection (``SPARKPLANE_OBJECT_STORE_CONN_ID``, conn type
``aws``) says where the store is and holds the platform's key; every Spark task of the deployment
then gets Hadoop S3A's settings for it, and the key by reference only:

- in Kubernetes mode the driver and every executor read ``AWS_ACCESS_KEY_ID`` and
  ``AWS_SECRET_ACCESS_KEY`` from the Kubernetes Secret the connection names (extra
  ``kubernetes_secret``), through ``secretKeyRef``: the key is in no pod spec;
- in local mode spark-submit's environment carries the connection's login and password (the
  environment of a process is readable by its user only), never its command line.

Either way S3A's environment credentials provider reads them; no key is ever a Spark setting.

The connection, in the shape Airflow's Amazon provider uses::

    {"conn_type": "aws", "login": "<access key id>", "password": "<secret key>",
     "extra": {"endpoint_url": "http://10.244.0.1:7070", "region_name": "us-east-1",
               "config_kwargs": {"s3": {"addressing_style": "path"}},
               "kubernetes_secret": "sparkplane-object-store"}}

Without ``endpoint_url`` the store is AWS S3 itself. Building the settings is pure; only
``configured_object_store`` reads the connection.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sparkplane import settings
from sparkplane.exceptions import JobDefinitionError
from sparkplane.kubernetes.secret_refs import SecretEnv

#: The variables the AWS SDK's environment credentials provider reads, and the Secret's keys.
ACCESS_KEY_ENV = "AWS_ACCESS_KEY_ID"
SECRET_KEY_ENV = "AWS_SECRET_ACCESS_KEY"
ENVIRONMENT_CREDENTIALS = "software.amazon.awssdk.auth.credentials.EnvironmentVariableCredentialsProvider"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class ObjectStore:
    """Where the store is, and where its key comes from.

    :param conn_id: the Airflow connection it was read from (named in error messages).
    :param endpoint: the S3 endpoint URL; None for AWS S3.
    :param region: the store's region (S3A signs requests for it).
    :param path_style: address buckets as ``endpoint/bucket`` rather than ``bucket.endpoint``.
    :param kubernetes_secret: the Secret in the Spark namespace holding the key for pods.
    :param access_key_id: the key for local mode (the connection's login).
    :param secret_access_key: its secret (the connection's password).
    """

    conn_id: str
    endpoint: str | None = None
    region: str | None = None
    path_style: bool = False
    kubernetes_secret: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)

    def spark_conf(self) -> dict[str, str]:
        """S3A's settings for this store; none of them is a secret."""
        conf = {
            "spark.hadoop.fs.s3a.aws.credentials.provider": ENVIRONMENT_CREDENTIALS,
            "spark.hadoop.fs.s3a.path.style.access": str(self.path_style).lower(),
        }
        if self.endpoint:
            conf["spark.hadoop.fs.s3a.endpoint"] = self.endpoint
            conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(urlsplit(self.endpoint).scheme == "https").lower()
        # With an endpoint of its own S3A cannot guess the region (it asks EC2's metadata service
        # and fails): S3-compatible stores accept AWS's default.
        if self.region or self.endpoint:
            conf["spark.hadoop.fs.s3a.endpoint.region"] = self.region or DEFAULT_REGION
        return conf

    def s3_client(self, *, connect_timeout: float = 5, read_timeout: float = 10):
        """A boto3 S3 client for this store with the connection's key (one attempt per call)."""
        import boto3
        from botocore.client import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=Config(
                s3={"addressing_style": "path" if self.path_style else "auto"},
                signature_version="s3v4",
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retries={"total_max_attempts": 1},  # botocore's max_attempts counts retries only
            ),
        )

    def local_env(self) -> dict[str, str]:
        """The key as the environment variables of a local spark-submit."""
        if not (self.access_key_id and self.secret_access_key):
            raise JobDefinitionError(
                f"The object store's connection {self.conn_id!r} has no key for local mode: set its login to "
                "the access key id and its password to the secret key."
            )
        return {ACCESS_KEY_ENV: self.access_key_id, SECRET_KEY_ENV: self.secret_access_key}

    def pod_secrets(self) -> list[SecretEnv]:
        """The key as references to the Kubernetes Secret, for the driver and every executor."""
        if not self.kubernetes_secret:
            raise JobDefinitionError(
                f"The object store's connection {self.conn_id!r} names no Kubernetes Secret for the pods: add "
                '"kubernetes_secret": "<name>" to its extra, naming a Secret in the Spark namespace with the keys '
                f"{ACCESS_KEY_ENV} and {SECRET_KEY_ENV}."
            )
        return [SecretEnv(name=env, secret=self.kubernetes_secret, key=env) for env in (ACCESS_KEY_ENV, SECRET_KEY_ENV)]


def object_store_from_connection(
    conn_id: str, *, login: str | None, password: str | None, extra: Mapping[str, Any]
) -> ObjectStore:
    """Read an ``aws`` connection's fields (see the module's docstring); refuse what S3A cannot use."""
    endpoint = extra.get("endpoint_url") or None
    if endpoint is not None and urlsplit(str(endpoint)).scheme not in ("http", "https"):
        raise JobDefinitionError(
            f"The object store's connection {conn_id!r} has endpoint_url {endpoint!r}: give a URL such as "
            "'http://10.244.0.1:7070' or 'https://s3.eu-west-1.amazonaws.com'."
        )
    addressing = ((extra.get("config_kwargs") or {}).get("s3") or {}).get("addressing_style")
    return ObjectStore(
        conn_id=conn_id,
        endpoint=endpoint,
        region=extra.get("region_name") or None,
        path_style=addressing == "path",
        kubernetes_secret=extra.get("kubernetes_secret") or None,
        access_key_id=login or None,
        secret_access_key=password or None,
    )


def object_store_from_json(conn_id: str, text: str) -> ObjectStore:
    """Read the connection from its JSON form (an ``AIRFLOW_CONN_<ID>`` variable's value), for tools outside Airflow."""
    connection = json.loads(text)
    return object_store_from_connection(
        conn_id, login=connection.get("login"), password=connection.get("password"), extra=connection.get("extra") or {}
    )


def configured_object_store(conn_id: str | None = settings.OBJECT_STORE_CONN_ID) -> ObjectStore | None:
    """The deployment's object store, or None when no connection is configured."""
    if not conn_id:
        return None
    from airflow.sdk import BaseHook

    try:
        connection = BaseHook.get_connection(conn_id)
    except Exception as e:  # the SDK raises its own not-found error, whose class moved between releases
        raise JobDefinitionError(
            f"The object store's Airflow connection {conn_id!r} (SPARKPLANE_OBJECT_STORE_CONN_ID) could not be read: "
            f"{e}. Create it (conn type aws, see sparkplane.storage.object_store) or unset the setting."
        ) from e
    return object_store_from_connection(
        conn_id, login=connection.login, password=connection.password, extra=connection.extra_dejson
    )
