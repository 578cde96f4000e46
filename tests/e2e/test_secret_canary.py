"""A canary secret in a Connection and a Variable, through a local-mode job run by real Airflow.

The job receives the value as a secret Spark setting, a setting with an ordinary name, a job
argument and an environment variable, and prints only its sha256. The value itself must appear in
no task log, XCom, rendered template field or command line of the machine while the job runs,
whether the job succeeds or fails. The DAG is tests/data/dags/secret_canary.py.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from harness.airflow import run_dag
from harness.platform import TEST_DAGS

pytestmark = pytest.mark.airflow


@contextmanager
def _command_lines() -> Iterator[list[str]]:
    """Collect every command line on the machine, every 0.2 s, while the block runs."""
    seen: list[str] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for process in psutil.process_iter(["cmdline"]):
                seen.append(" ".join(process.info["cmdline"] or ()))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield seen
    finally:
        done.set()
        sampler.join(timeout=10)


def _stored(airflow_home: Path, query: str) -> list[str]:
    with sqlite3.connect(airflow_home / "airflow.db") as database:
        return [str(row[0]) for row in database.execute(query)]


@pytest.mark.parametrize("fail", [False, True], ids=["success", "failure"])
def test_a_canary_from_a_connection_and_a_variable_is_nowhere_in_plain_text(tmp_path, monkeypatch, fail):
    canary = f"canary-{uuid.uuid4().hex}"
    monkeypatch.setenv("AIRFLOW_CONN_SPARKPLANE_CANARY", json.dumps({"conn_type": "generic", "password": canary}))
    monkeypatch.setenv("AIRFLOW_VAR_SPARKPLANE_CANARY_SECRET", canary)
    with _command_lines() as command_lines:
        result = run_dag("secret_canary_local", {"fail": fail}, connection=None, airflow_home=tmp_path,
                         dags_folder=TEST_DAGS)  # fmt: skip
    task_logs = "".join(path.read_text(errors="replace") for path in (tmp_path / "logs").rglob("*") if path.is_file())
    log = result.stdout + result.stderr + task_logs
    assert (result.returncode != 0) == fail, log[-6000:]
    digest = hashlib.sha256(canary.encode()).hexdigest()
    for received in ("spark.hadoop.fs.s3a.secret.key", "spark.myapp.endpoint", "argument 0", "env CANARY_FROM_VARIABLE"):
        assert f"sha256 of {received}: {digest}" in log, received
    if fail:
        assert "failing as asked (--fail)" in log
    assert "Job arguments [5] hold values Airflow masks" in log
    assert any("run_job.py" in line and "prints_secret_hash.py" in line for line in command_lines)

    rendered = _stored(tmp_path, "SELECT rendered_fields FROM rendered_task_instance_fields")
    xcom = _stored(tmp_path, "SELECT value FROM xcom")
    assert rendered and "application_args" in rendered[0], "no rendered fields were stored"
    assert xcom or fail, "the task pushed no XCom"
    assert canary not in log
    assert not [line for line in command_lines if canary in line]
    assert not [field for field in rendered if canary in field]
    assert not [value for value in xcom if canary in value]
