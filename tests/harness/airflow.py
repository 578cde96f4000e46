"""Real Airflow for tests and benchmarks: one DAG run with ``airflow dags test``, or a deployment.

``AirflowServices`` runs each component as its own process (API server, scheduler with the
LocalExecutor, DAG processor, triggerer) over one metadata database, so a test can SIGKILL a
task's process, or restart the triggerer while a trigger follows a job. Task state is read from
the metadata database itself; runs are started with the ``airflow`` CLI.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.waits import wait_for

PROJECT_ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
_migrated: Path | None = None
_migrating = threading.Lock()


def migrated_database(airflow_home: Path) -> None:
    """Give ``airflow_home`` a metadata database at the current schema: a copy of one migrated once.

    ``airflow db migrate`` of an empty SQLite database takes seconds; every test deployment
    starts from the same schema, so the suite migrates one and copies it. A home that has a
    database keeps it (a second run in the same home sees the first one's runs).
    """
    global _migrated
    if (airflow_home / "airflow.db").exists():
        return
    with _migrating:
        if _migrated is None:
            template = Path(tempfile.mkdtemp(prefix="sparkplane-airflow-schema-"))
            env = {**os.environ, "AIRFLOW_HOME": str(template)}
            env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
            subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True,
                           capture_output=True, timeout=300)  # fmt: skip
            _migrated = template / "airflow.db"
    airflow_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_migrated, airflow_home / "airflow.db")


def run_dag(
    dag_id: str,
    conf: dict | None = None,
    *,
    image: str | None = None,
    connection: str | None,
    airflow_home: Path,
    dags_folder: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    logical_date: str | None = None,
) -> subprocess.CompletedProcess:
    """Run one DAG with ``airflow dags test``; return the finished process.

    :param image: the Spark image for Spark tasks; DAGs that start no Spark job need none.
    :param connection: the Kubernetes connection (Kubernetes mode), or None for local mode.
    :param extra_env: more deployment settings (``SPARKPLANE_*``) for this run.
    :param logical_date: the run's logical date (``YYYY-MM-DD``); now when None.
    """
    env = {**os.environ, "AIRFLOW_HOME": str(airflow_home), **(extra_env or {})}
    if connection is not None:
        env |= {"AIRFLOW_CONN_SPARK_CLUSTER": connection, "SPARKPLANE_KUBERNETES_CONN_ID": "spark_cluster"}
    if image is not None:
        env["SPARKPLANE_SPARK_IMAGE"] = image
    if dags_folder is not None:
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags_folder)
    migrated_database(airflow_home)
    return subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", dag_id, *([logical_date] if logical_date else []), "--conf", json.dumps(conf or {})],
        env=env, capture_output=True, text=True, timeout=1200,
    )


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class AirflowServices:
    """One Airflow deployment in ``home``, its components started and stopped one by one.

    :param home: the AIRFLOW_HOME (metadata database, logs, component output).
    :param dags_folder: the DAGs it runs.
    :param extra_env: deployment settings (connections, SPARKPLANE_* settings).
    """

    home: Path
    dags_folder: Path
    extra_env: dict[str, str]
    port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__API__PORT": str(self.port),
            # Every component must sign and accept the same task tokens.
            "AIRFLOW__API_AUTH__JWT_SECRET": self._jwt_secret,
            # Notice a dead triggerer (and hand its triggers on) in seconds, not minutes.
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            **self.extra_env,
        }

    def __post_init__(self) -> None:
        self._jwt_secret = secrets.token_hex(32)
        (self.home / "components").mkdir(parents=True, exist_ok=True)

    def airflow(self, *args: str, timeout_seconds: float = 300) -> str:
        """Run one ``airflow`` CLI command; return its output, failing with it."""
        result = subprocess.run([sys.executable, "-m", "airflow", *args], env=self.env, capture_output=True,
                                text=True, timeout=timeout_seconds)
        if result.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result.stdout

    def start(self, component: str) -> None:
        """Start one component (its output goes to ``components/<name>.log``)."""
        args = ["api-server", "--port", str(self.port)] if component == "api-server" else [component]
        log = (self.home / "components" / f"{component}.log").open("ab")
        self.processes[component] = subprocess.Popen(
            [sys.executable, "-m", "airflow", *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )

    def stop(self, component: str, *, sig: int = signal.SIGTERM, timeout_seconds: float = 60) -> None:
        """Stop one component and everything it started (``sig`` first, SIGKILL after the timeout)."""
        process = self.processes.pop(component, None)
        if process is None or process.poll() is not None:
            return
        _signal_group(process.pid, sig)
        try:
            process.wait(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        _signal_group(process.pid, signal.SIGKILL)  # children that outlived their parent

    def start_all(self) -> None:
        migrated_database(self.home)
        for component in COMPONENTS:
            self.start(component)
        wait_for(self._api_answers, bool, timeout_seconds=180, interval_seconds=1,
                 what="the Airflow API server to answer", on_timeout=self.component_logs)

    def stop_all(self) -> None:
        for component in reversed(COMPONENTS):
            self.stop(component)

    def _api_answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v2/monitor/health", timeout=3) as response:
                return response.status == 200
        except OSError:
            return False

    def component_logs(self, lines: int = 40) -> str:
        parts = []
        for log in sorted((self.home / "components").glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    # --- runs and task instances -----------------------------------------------------------

    def query(self, sql: str, *params: Any) -> list[tuple]:
        with sqlite3.connect(self.home / "airflow.db", timeout=30) as db:
            return db.execute(sql, params).fetchall()

    def wait_until_parsed(self, dag_id: str) -> None:
        wait_for(lambda: self.query("SELECT 1 FROM dag WHERE dag_id = ?", dag_id), bool, timeout_seconds=180,
                 interval_seconds=1, what=f"the DAG processor to parse {dag_id}", on_timeout=self.component_logs)

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        """Start a run of ``dag_id`` once the DAG processor has parsed it; return the run id."""
        self.wait_until_parsed(dag_id)
        run_id = f"manual__test_{time.time_ns()}"
        self.airflow("dags", "trigger", dag_id, "--run-id", run_id, "--conf", json.dumps(conf or {}))
        return run_id

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any] | None:
        """Return state, try_number and pid of one task instance, or None before it exists."""
        rows = self.query(
            "SELECT state, try_number, pid FROM task_instance WHERE dag_id = ? AND run_id = ? AND task_id = ?",
            dag_id, run_id, task_id,
        )
        return dict(zip(("state", "try_number", "pid"), rows[0], strict=True)) if rows else None

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        rows = self.query("SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", dag_id, run_id)
        return rows[0][0] if rows else None

    def wait_for_run(self, dag_id: str, run_id: str, *, timeout_seconds: float) -> str:
        """Wait until the run ends; return its state."""
        return wait_for(lambda: self.run_state(dag_id, run_id), lambda state: state in ("success", "failed"),
                        timeout_seconds=timeout_seconds, interval_seconds=1, what=f"run {run_id} of {dag_id} to end",
                        on_timeout=self.component_logs)

    def rest(self, method: str, path: str, body: dict | None = None) -> Any:
        """Call the REST API as a user would (``/api/v2`` + ``path``); return the decoded answer.

        Needs ``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True`` in ``extra_env``: the token
        is then handed out without a password.
        """
        base = f"http://127.0.0.1:{self.port}"
        with urllib.request.urlopen(f"{base}/auth/token", timeout=30) as answer:
            token = json.load(answer)["access_token"]
        request = urllib.request.Request(
            f"{base}/api/v2{path}", method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.load(answer)

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        """Return everything logged for one try: the worker's log and each triggerer's part."""
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        files = sorted(folder.glob(f"attempt={try_number}.log*"))
        return "\n".join(path.read_text(errors="replace") for path in files)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass

