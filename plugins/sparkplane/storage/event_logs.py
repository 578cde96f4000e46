"""Spark event logs of the deployment's drivers, for a Spark History Server reading the same folder.

Spark refuses to start a driver whose event log folder does not exist. On an object store a
folder exists only as a marker object (``prefix/``) or through objects under it, so the folder
is made before the first job: a marker, as Hadoop's S3A connector writes one for ``mkdirs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sparkplane.exceptions import JobDefinitionError

if TYPE_CHECKING:
    from sparkplane.storage.object_store import ObjectStore


def prepare_event_log_dir(log_dir: str, store: ObjectStore | None) -> None:
    """Make ``log_dir`` exist: a local folder, or a folder marker in the object store."""
    parts = urlsplit(log_dir)
    if parts.scheme in ("", "file"):
        Path(parts.path).mkdir(parents=True, exist_ok=True)
    elif parts.scheme == "s3a" and store is None:
        raise JobDefinitionError(
            f"SPARKPLANE_SPARK_EVENT_LOG_DIR is {log_dir}, in an object store, but no object store is configured: "
            "set SPARKPLANE_OBJECT_STORE_CONN_ID (see sparkplane.storage.object_store), or unset the event log folder."
        )
    elif parts.scheme == "s3a" and store.access_key_id:  # without a key here, the folder must already exist
        client = store.s3_client()
        prefix = parts.path.strip("/") + "/"
        if not client.list_objects_v2(Bucket=parts.netloc, Prefix=prefix, MaxKeys=1).get("KeyCount"):
            client.put_object(Bucket=parts.netloc, Key=prefix, Body=b"")
