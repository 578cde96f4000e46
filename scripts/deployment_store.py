"""The deployment's object store for the project's scripts, read as Airflow reads it: the connection
SPARKPLANE_OBJECT_STORE_CONN_ID names, from its AIRFLOW_CONN_<ID> variable (JSON)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from sparkplane.storage.object_store import ObjectStore, object_store_from_json  # noqa: E402


def configured_store(script: str) -> ObjectStore | None:
    """The store, or None when SPARKPLANE_OBJECT_STORE_CONN_ID is unset; exits naming what is missing."""
    conn_id = os.environ.get("SPARKPLANE_OBJECT_STORE_CONN_ID")
    if not conn_id:
        return None
    variable = f"AIRFLOW_CONN_{conn_id.upper()}"
    if not os.environ.get(variable):
        sys.exit(f"{script}: SPARKPLANE_OBJECT_STORE_CONN_ID={conn_id} but {variable} is unset; "
                 "export the connection as JSON, as for Airflow.")  # fmt: skip
    try:
        return object_store_from_json(conn_id, os.environ[variable])
    except ValueError:
        sys.exit(f"{script}: {variable} is not JSON; give the connection in Airflow's JSON form "
                 '({"conn_type": "aws", "login": ..., "password": ..., "extra": {...}}).')  # fmt: skip
