"""A notebook session's authentication secret: its anchor, its Secret and the settings that read it (pure)."""

from __future__ import annotations

import base64
from pathlib import Path

from sparkplane.notebook.session_auth import (
    NotebookSessionAuth,
    anchor_manifest,
    new_session_id,
    session_auth_conf,
    session_secret_manifest,
)

AUTH = NotebookSessionAuth("0123456789ab", "spark", Path("/home/ds/.private/spark-auth-0123456789ab"))


def test_session_ids_are_fresh_and_fit_names_and_label_values():
    ids = {new_session_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 12 and set(i) <= set("0123456789abcdef") for i in ids)


def test_the_secret_is_owned_by_the_sessions_anchor_and_both_carry_the_sessions_labels():
    anchor = anchor_manifest("0123456789ab", "spark")
    secret = session_secret_manifest("0123456789ab", "spark", anchor_uid="uid-1", secret=b"\x00\x01key")
    labels = {"sparkplane.dev/notebook": "true", "sparkplane.dev/notebook-session": "0123456789ab"}
    assert (anchor["kind"], anchor["metadata"]["name"], anchor["metadata"]["labels"]) == (
        "ConfigMap", "notebook-0123456789ab", labels)  # fmt: skip
    assert "data" not in anchor
    assert (secret["metadata"]["name"], secret["metadata"]["labels"]) == ("notebook-0123456789ab-spark-auth", labels)
    assert secret["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "notebook-0123456789ab", "uid": "uid-1"}
    ]
    assert base64.b64decode(secret["data"]["secret"]) == b"\x00\x01key"


def test_the_driver_reads_its_own_file_and_executors_the_mounted_secret():
    conf = session_auth_conf(AUTH)
    assert conf["spark.authenticate"] == "true" and conf["spark.network.crypto.enabled"] == "true"
    assert conf["spark.authenticate.secret.driver.file"] == "/home/ds/.private/spark-auth-0123456789ab"
    assert conf["spark.authenticate.secret.executor.file"] == "/opt/spark/auth/secret"
    # An executor fetches the driver's settings before it has them: it reads the generic file.
    assert conf["spark.authenticate.secret.file"] == "/opt/spark/auth/secret"
    assert conf["spark.kubernetes.executor.secrets.notebook-0123456789ab-spark-auth"] == "/opt/spark/auth"
    assert conf["spark.kubernetes.executor.label.sparkplane.dev/notebook-session"] == "0123456789ab"
    assert conf["spark.ui.killEnabled"] == "false"
    assert "spark.authenticate.secret" not in conf  # never the value itself
