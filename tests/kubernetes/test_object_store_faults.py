"""A job whose object store cannot work fails at once, before any pod, saying which store, bucket
and setting: a wrong key, a missing bucket, an unreachable endpoint (real store, real Airflow).

The DAG is operator_case_object_store of tests/data/dags/operator_failure_cases.py.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from harness.airflow import run_dag
from harness.platform import OBJECT_STORE_CONN_ID, TEST_DAGS, job_pods

pytestmark = [pytest.mark.cluster, pytest.mark.long]

DAG_ID = "operator_case_object_store"


def _broken(connection: str, **changes) -> str:
    settings = json.loads(connection)
    settings["extra"] = {**settings["extra"], **changes.pop("extra", {})}
    return json.dumps({**settings, **changes})


FAULTS = {
    "wrong_key": (lambda c: _broken(c, password="not-the-secret"), "s3a://sparkplane/tests",
                  "refused the connection's key for bucket 'sparkplane' (HTTP 403)", "login and password of connection"),
    "missing_bucket": (lambda c: c, "s3a://no-such-bucket/tests",
                       "Bucket 'no-such-bucket' does not exist in the object store at http://10.244.0.1:7070",
                       "SPARKPLANE_DATA_ROOT"),
    "unreachable_endpoint": (lambda c: _broken(c, extra={"endpoint_url": "http://10.244.0.1:9"}), "s3a://sparkplane/tests",
                             "The object store at http://10.244.0.1:9 (Airflow connection 'object_store') cannot be reached",
                             "endpoint_url of connection 'object_store'"),
}  # fmt: skip


@pytest.mark.parametrize("fault", FAULTS)
def test_a_store_that_cannot_work_fails_the_task_before_any_pod(
    fault, local_cluster, spark_image, airflow_connection, object_store_connection, tmp_path
):
    connection_of, data_root, cause, fix = FAULTS[fault]
    started = time.monotonic()
    result = run_dag(DAG_ID, image=spark_image, connection=airflow_connection, airflow_home=tmp_path,
                     dags_folder=TEST_DAGS, extra_env={
                         f"AIRFLOW_CONN_{OBJECT_STORE_CONN_ID.upper()}": connection_of(object_store_connection),
                         "SPARKPLANE_OBJECT_STORE_CONN_ID": OBJECT_STORE_CONN_ID,
                         "SPARKPLANE_DATA_ROOT": data_root,
                     })  # fmt: skip
    log = result.stdout + result.stderr
    checked = re.search(r"Object store checked for bucket \S+ in ([0-9.]+)s", log)
    print(f"{fault}: the check failed the task in {checked[1] if checked else '?'} s; the whole run took "
          f"{time.monotonic() - started:.1f} s (with Airflow's start-up and database migration)")
    assert checked, "the task log does not say how long the check took"
    assert result.returncode != 0, log[-5000:]
    causes, fixes = re.findall(r"Cause: (.+)", log), re.findall(r"Fix: (.+)", log)
    assert causes and cause in causes[-1], log[-5000:]
    assert fix in fixes[-1], fixes[-1]
    assert "Object store answers" not in log
    assert job_pods(local_cluster, DAG_ID) == []
    secret = json.loads(object_store_connection)["password"]
    assert log.count(secret) == 0, "the key is in the task log"  # never print the key
