"""Before a job starts: does the object store answer, take the deployment's key, and hold the job's buckets?

A wrong key, a missing bucket or an unreachable endpoint otherwise shows up minutes later, deep in
a driver's Java stack trace, after S3A's own retries, with executors already started. One
``HeadBucket`` per bucket the job's arguments and settings name (``s3a://bucket/...``), from the
Airflow worker with the connection's key, answers all three in a second.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sparkplane.diagnosis import Diagnosis

if TYPE_CHECKING:
    from sparkplane.job_spec import SparkJobSpec
    from sparkplane.storage.object_store import ObjectStore

#: A bucket in an s3a URI (S3's bucket naming rules: 3 to 63 lowercase letters, digits, dots, dashes).
_S3A_BUCKET = re.compile(r"\bs3a://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?=/|$|\s)")
#: Seconds to wait for the store before calling it unreachable.
CONNECT_TIMEOUT_SECONDS = 5


def buckets_named(spec: SparkJobSpec) -> list[str]:
    """The buckets the job's arguments and Spark settings name in ``s3a://`` URIs, sorted."""
    return sorted({m[1] for text in _texts(spec) for m in _S3A_BUCKET.finditer(text)})


def _texts(spec: SparkJobSpec) -> Iterable[str]:
    yield from spec.arguments
    yield from spec.conf.values()


def bucket_problem(store: ObjectStore, bucket: str) -> Diagnosis | None:
    """Ask the store for ``bucket`` with the connection's key; return what is wrong, if anything."""
    from botocore.exceptions import BotoCoreError, ClientError

    where = f"the object store at {store.endpoint or 'AWS S3'} (Airflow connection {store.conn_id!r})"
    client = store.s3_client(connect_timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as e:
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return _refused(where, store, bucket, status)
    except BotoCoreError as e:
        return Diagnosis(
            cause=f"The {where.removeprefix('the ')} cannot be reached: {e}",
            fix=f"Check that the store runs and that the endpoint_url of connection {store.conn_id!r} is its address "
            "as seen from the Airflow workers and the Spark pods.",
        )
    return None


def _refused(where: str, store: ObjectStore, bucket: str, status: int | None) -> Diagnosis:
    if status == 404:
        return Diagnosis(
            cause=f"Bucket {bucket!r} does not exist in {where}.",
            fix=f"Create bucket {bucket!r} in the store, or point SPARKPLANE_DATA_ROOT (or the task's arguments) "
            "at a bucket that exists.",
            retry_cannot_help=True,
        )
    if status in (401, 403):
        return Diagnosis(
            cause=f"{where} refused the connection's key for bucket {bucket!r} (HTTP {status}): the key is wrong, "
            "or it may not use this bucket.",
            fix=f"Set the login and password of connection {store.conn_id!r} to a key that may read and write "
            f"{bucket!r}, and the same key in Kubernetes Secret {store.kubernetes_secret or '(the one the pods use)'}.",
            retry_cannot_help=True,
        )
    return Diagnosis(
        cause=f"{where} answered HTTP {status} when asked for bucket {bucket!r}; the job was not started.",
        fix=f"A 301 or 400 most often means another region or addressing: check region_name and "
        f"config_kwargs.s3.addressing_style in the extra of connection {store.conn_id!r}; otherwise the store's "
        "own log shows why it refused the request.",
    )


def object_store_problems(store: ObjectStore, spec: SparkJobSpec) -> list[Diagnosis]:
    """What stands between the job and its buckets; empty when every bucket answers."""
    return [problem for bucket in buckets_named(spec) if (problem := bucket_problem(store, bucket)) is not None]


def check_object_store(store: ObjectStore, spec: SparkJobSpec, log: logging.Logger | logging.LoggerAdapter) -> None:
    """Fail the task with ``Cause:``/``Fix:`` when the job's buckets cannot be used; say what was checked."""
    from sparkplane.exceptions import job_failure

    buckets = buckets_named(spec)
    if not buckets:
        return
    if not (store.access_key_id and store.secret_access_key):
        log.info("Object store not checked from the worker: connection %r holds no key (the pods use Secret %s)",
                 store.conn_id, store.kubernetes_secret)  # fmt: skip
        return
    started = time.monotonic()
    problems = object_store_problems(store, spec)
    if problems:
        log.info("Object store checked for bucket %s in %.1fs: it cannot be used", ", ".join(buckets),
                 time.monotonic() - started)  # fmt: skip
        first = problems[0]
        raise job_failure(first.cause, first.fix, retry_cannot_help=first.retry_cannot_help)
    log.info("Object store answers for bucket %s (%.1fs)", ", ".join(buckets), time.monotonic() - started)
