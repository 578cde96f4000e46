"""Start or stop a Spark History Server on this machine, reading the drivers' event logs.

    scripts/history-server start --log-dir s3a://sparkplane/spark-events/demo [--port 18480]
    scripts/history-server stop

The server is Spark's own (org.apache.spark.deploy.history.HistoryServer, in the pyspark package of
the project's environment, with the object store connector's jars). For an ``s3a://`` folder it
reads the store the deployment's Airflow connection describes: SPARKPLANE_OBJECT_STORE_CONN_ID names
it and AIRFLOW_CONN_<ID> holds it, as for Airflow itself; the key reaches the server through its
environment, never its settings or command line. State (pid, log, settings) is in
.local/history-server/ (--state for another server beside it). Then set SPARKPLANE_SPARK_HISTORY_URL=http://127.0.0.1:<port> for Airflow.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from importlib.util import find_spec
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT / "plugins"))

from deployment_store import configured_store  # noqa: E402
from sparkplane.storage.event_logs import prepare_event_log_dir  # noqa: E402
from sparkplane.storage.object_store import ObjectStore  # noqa: E402
from sparkplane.secret_conf import properties_text  # noqa: E402

DEFAULT_STATE = PROJECT_ROOT / ".local" / "history-server"
MAIN_CLASS = "org.apache.spark.deploy.history.HistoryServer"
#: Not Spark's 18080: the local cluster's DNS server answers health checks there.
DEFAULT_PORT = 18480


def server_settings(log_dir: str, port: int, store: ObjectStore | None) -> dict[str, str]:
    return {
        "spark.history.fs.logDirectory": log_dir,
        "spark.history.ui.port": str(port),
        # A finished job is listed within seconds of its last event log file closing.
        "spark.history.fs.update.interval": "5s",
        # A taken port fails the start instead of moving the server to another one nobody links to.
        "spark.port.maxRetries": "0",
        **(store.spark_conf() if store else {}),
    }


def running_pid(state: Path) -> int | None:
    pid_file = state / "pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text())
    try:
        if MAIN_CLASS.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    except OSError:
        pass
    return None


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/applications?limit=1", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def start(state: Path, log_dir: str, port: int) -> int:
    store = configured_store("history-server")
    settings = properties_text(server_settings(log_dir, port, store))
    properties = state / "spark-history.properties"
    if (pid := running_pid(state)) is not None:
        if properties.exists() and properties.read_text() == settings:
            print(f"history-server: already running (pid {pid}) on port {port}, reading {log_dir}")
            return 0
        print(f"history-server: one already runs with other settings (pid {pid}, {properties}); "
              f"stop it first: scripts/history-server stop --state {state}", file=sys.stderr)
        return 1
    if log_dir.startswith("s3a://") and store is None:
        sys.exit("history-server: an s3a:// folder needs the object store: set SPARKPLANE_OBJECT_STORE_CONN_ID "
                 "and AIRFLOW_CONN_<ID> as for Airflow.")
    if answers(port):
        print(f"history-server: something else answers on port {port}; choose another with --port", file=sys.stderr)
        return 1
    prepare_event_log_dir(log_dir, store)
    state.mkdir(parents=True, exist_ok=True)
    properties.write_text(settings)
    spark_home = Path(next(iter(find_spec("pyspark").submodule_search_locations)))  # the environment's Spark
    # Loopback only: the server has no login.
    env = {**os.environ, "SPARK_HOME": str(spark_home), "SPARK_LOCAL_IP": "127.0.0.1",
           **(store.local_env() if store else {})}  # fmt: skip
    with (state / "server.log").open("ab") as log:
        process = subprocess.Popen(
            [str(spark_home / "bin" / "spark-class"), MAIN_CLASS, "--properties-file", str(properties)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    (state / "pid").write_text(str(process.pid))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if answers(port) and process.poll() is None:
            print(f"history-server: http://127.0.0.1:{port} reads {log_dir} (log: {state / 'server.log'})")
            return 0
        time.sleep(1)
    stop(state)
    tail = (state / "server.log").read_text(errors="replace").splitlines()[-15:]
    print("history-server: did not start; the end of its log:\n  " + "\n  ".join(tail), file=sys.stderr)
    return 1


def stop(state: Path) -> int:
    pid = running_pid(state)
    if pid is None:
        (state / "pid").unlink(missing_ok=True)
        return 0
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while running_pid(state) is not None and time.monotonic() < deadline:
        time.sleep(0.5)
    if running_pid(state) is not None:
        os.killpg(pid, signal.SIGKILL)
    (state / "pid").unlink(missing_ok=True)
    print(f"history-server: stopped (pid {pid})")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="history-server", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    started = commands.add_parser("start", help="start the server (in the background)")
    started.add_argument("--log-dir", required=True, help="the folder drivers write event logs to (SPARKPLANE_SPARK_EVENT_LOG_DIR)")
    started.add_argument("--port", type=int, default=DEFAULT_PORT)
    stopped = commands.add_parser("stop", help="stop the server this script started")
    for command in (started, stopped):
        command.add_argument("--state", type=Path, default=DEFAULT_STATE,
                             help=f"folder of its pid, log and settings (default {DEFAULT_STATE.relative_to(PROJECT_ROOT)})")
    args = parser.parse_args()
    return start(args.state, args.log_dir, args.port) if args.command == "start" else stop(args.state)


if __name__ == "__main__":
    sys.exit(main())
