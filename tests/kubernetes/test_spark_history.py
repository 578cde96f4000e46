"""Finished jobs in Spark's History Server: drivers on the cluster write rolling event logs to the
object store, Spark's own History Server reads them there, and the task's log links to the job."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import urllib.request
import uuid

import pytest
from harness.airflow import free_port, run_dag
from harness.platform import OBJECT_STORE_CONN_ID, PROJECT_ROOT, TEST_DAGS, delete_prefix, platform_store_client
from harness.waits import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.airflow]

HISTORY_SERVER = PROJECT_ROOT / "scripts" / "history-server"


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""


@pytest.fixture(scope="module")
def deployment(object_store_connection, local_cluster, tmp_path_factory):
    """Store settings, an event log folder of its own, and a History Server reading it."""
    access, s3 = platform_store_client(local_cluster)
    prefix = f"tests/spark-events-{uuid.uuid4().hex[:8]}"
    settings = {
        f"AIRFLOW_CONN_{OBJECT_STORE_CONN_ID.upper()}": object_store_connection,
        "SPARKPLANE_OBJECT_STORE_CONN_ID": OBJECT_STORE_CONN_ID,
        "SPARKPLANE_SPARK_EVENT_LOG_DIR": f"s3a://{access.bucket}/{prefix}",
    }
    port, state = free_port(), str(tmp_path_factory.mktemp("history-server"))
    started = subprocess.run([str(HISTORY_SERVER), "start", "--log-dir", settings["SPARKPLANE_SPARK_EVENT_LOG_DIR"],
                              "--port", str(port), "--state", state], env={**os.environ, **settings},
                             capture_output=True, text=True, timeout=180)  # fmt: skip
    assert started.returncode == 0, started.stdout + started.stderr
    settings["SPARKPLANE_SPARK_HISTORY_URL"] = f"http://127.0.0.1:{port}"
    yield settings, access, prefix, s3
    subprocess.run([str(HISTORY_SERVER), "stop", "--state", state], capture_output=True, timeout=60)
    delete_prefix(s3, access.bucket, prefix)


@pytest.fixture(scope="module")
def finished_job(deployment, spark_image, airflow_connection, tmp_path_factory):
    settings = deployment[0]
    home = tmp_path_factory.mktemp("airflow")
    result = run_dag("operator_case_smoke", image=spark_image, connection=airflow_connection,
                     airflow_home=home, dags_folder=TEST_DAGS, extra_env=settings)  # fmt: skip
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    links = re.findall(r"Spark history: (\S+)", log)
    assert links, f"the task log gives no Spark history link:\n{log[-4000:]}"
    with sqlite3.connect(home / "airflow.db") as database:
        [(returned,)] = database.execute("SELECT value FROM xcom WHERE key = 'return_value'").fetchall()
    assert json.loads(returned)["spark_history"] == links[-1], "the task's XCom does not hold the link it logged"
    return links[-1], log


def _listed_as_completed(answer: tuple[int, str]) -> bool:
    status, body = answer
    return status == 200 and json.loads(body)["attempts"][-1]["completed"] is True


def test_the_task_links_to_its_application_in_the_history_server(deployment, finished_job):
    settings = deployment[0]
    link, _ = finished_job
    base = settings["SPARKPLANE_SPARK_HISTORY_URL"]
    assert link.startswith(f"{base}/history/")
    app_id = link.rsplit("/", 1)[-1]
    # The server scans the store every few seconds: a scan that ran while the driver was ending lists
    # the application as still running, and the next one as completed.
    status, body = wait_for(lambda: _get(f"{base}/api/v1/applications/{app_id}"), _listed_as_completed,
                            timeout_seconds=90, interval_seconds=2, what=f"the History Server to list {app_id} as completed")  # fmt: skip
    application = json.loads(body)
    assert application["id"] == app_id
    status, stages = _get(f"{base}/api/v1/applications/{app_id}/stages")
    assert status == 200 and json.loads(stages), "the stages view of the finished job is empty"
    assert _get(link)[0] == 200


def test_the_key_is_neither_in_the_event_logs_nor_on_the_environment_page(deployment, finished_job):
    settings, access, prefix, s3 = deployment
    link, log = finished_job
    app_id = link.rsplit("/", 1)[-1]
    base = settings["SPARKPLANE_SPARK_HISTORY_URL"]
    wait_for(lambda: _get(f"{base}/api/v1/applications/{app_id}")[0], lambda status: status == 200,
             timeout_seconds=90, interval_seconds=2, what=f"the History Server to list {app_id}")  # fmt: skip
    status, environment = _get(f"{base}/api/v1/applications/{app_id}/environment")
    assert status == 200 and "spark.eventLog.dir" in environment
    keys = [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=access.bucket, Prefix=prefix)
            for item in page.get("Contents", [])]  # fmt: skip
    event_logs = [key for key in keys if app_id in key and not key.endswith("/")]
    assert event_logs, keys
    texts = [s3.get_object(Bucket=access.bucket, Key=key)["Body"].read().decode(errors="replace") for key in event_logs]
    for what, text in [("environment page", environment), ("task log", log), *(("event log", t) for t in texts)]:
        assert text.count(access.secret_access_key) == 0, f"the key is in the {what}"  # never print the key
