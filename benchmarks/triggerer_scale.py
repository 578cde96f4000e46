"""Measure one triggerer process following N Spark drivers at once, on simulated nodes.

N ``SparkDriverTrigger`` coroutines run in one asyncio loop, as the triggerer runs them, each with
its own watch of one pod and its own stream of the driver container's log, and checkpointing the
log position on its pod as in production. The pods are real API objects on KWOK's simulated
nodes: KWOK takes them to Running and serves their log through the API server (every simulated
container shows one shared file, see cluster/README.md). While they run, a separate writer
process appends ``LINES_PER_SECOND`` numbered lines per second to that file for ``HOLD_SECONDS``,
so every trigger receives every line; then this script marks all pods Succeeded (a status patch,
as the kubelet would write it).

Printed per N: the loop's CPU use while the log flows (percent of one core), the API server's and
KWOK's, the loop's peak memory, its open connections to the API server, the log line lag (written
-> passed on to the task log, over all N x lines) median / p95 / max, how many triggers got every
line exactly once (waiting up to 2 minutes for late lines) with the lines missing and repeated
over all triggers, and the event lag (pod marked Succeeded -> trigger event).

KWOK's log streams never end (no container exits), where a kubelet's end with the container: the
follower's wait for the log to drain after the pod ended is switched off here, or every event
would come 30 s late. Each trigger logs to an in-memory handler instead of the triggerer's
per-trigger log file, so writing those files is not part of the loop's CPU figure.

Needs root and the local cluster (started here, and stopped at the end, if it is not running).
Figures, not assertions: ``make bench-triggerer`` (N = 100 and 500), or ``... triggerer_scale.py 50``
with plugins/, cluster/ and tests/ on PYTHONPATH, as the Makefile puts them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from harness.cluster import LocalCluster, cluster_answers, create_namespace
from harness.simulated import SIMULATED_IMAGE, mark_finished, on_simulated_node, simulated_nodes
from kubernetes import client
from localcluster.procs import Processes
from localcluster.settings import load_settings

from sparkplane.kubernetes.identity import DRIVER_CONTAINER_NAME

PROJECT_ROOT = Path(__file__).resolve().parents[1]
HOLD_SECONDS = 30
LINES_PER_SECOND = 2
CONN_ID = "triggerer_scale_bench"

#: Appends numbered CRI log lines, each carrying the time it was written, at a steady rate.
#: Its own process, so its CPU is not counted in the loop's; it imports localcluster through its PYTHONPATH.
WRITER = """
import sys, time
from datetime import datetime, timezone
from localcluster.kwok import cri_log_line
path, count, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
start = time.monotonic()
with open(path, "a", buffering=1) as f:
    for number in range(1, count + 1):
        time.sleep(max(0.0, start + number * interval - time.monotonic()))
        f.write(cri_log_line(f"bench-line {number} written {time.time():.6f}", datetime.now(timezone.utc)))
"""


def create_pods(core: client.CoreV1Api, namespace: str, count: int, nodes: list[str]) -> list[str]:
    names = []
    for index in range(count):
        name = f"driver-{index:04d}"
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
               "spec": {"containers": [{"name": DRIVER_CONTAINER_NAME, "image": SIMULATED_IMAGE}]}}  # fmt: skip
        core.create_namespaced_pod(namespace, on_simulated_node(pod, nodes[index % len(nodes)]))
        names.append(name)
    return names


def mark_succeeded(core: client.CoreV1Api, namespace: str, name: str) -> float:
    """End the pod as a kubelet would report a successful driver; return when that was written."""
    mark_finished(core, namespace, name, container=DRIVER_CONTAINER_NAME, phase="Succeeded", exit_code=0,
                  reason="Completed")
    return time.time()


def api_connections(port: int) -> int:
    import psutil

    return sum(1 for conn in psutil.Process().net_connections(kind="tcp")
               if conn.raddr and conn.raddr.port == port and conn.status == psutil.CONN_ESTABLISHED)


class LineLags(logging.Handler):
    """Record, per followed driver, the numbered lines passed on and how late each one was."""

    def __init__(self) -> None:
        super().__init__()
        self.numbers: dict[str, list[int]] = {}
        self.lags: list[float] = []
        self.warnings: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("bench-line "):
            _, number, _, written = message.split()
            self.lags.append(time.time() - float(written))
            self.numbers.setdefault(record.name.removeprefix("bench."), []).append(int(number))
        elif record.levelno >= logging.WARNING:
            # Same message for every driver: count by the words before the pod's name.
            key = message.split(" driver-")[0][:400].replace("\n", " ")
            self.warnings[key] = self.warnings.get(key, 0) + 1


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def follow_all(namespace: str, names: list[str], core: client.CoreV1Api, settings) -> dict:
    from sparkplane.kubernetes.follower_timing import FollowerTiming
    from sparkplane.kubernetes.trigger import SparkDriverTrigger

    timing = FollowerTiming(log_drain_seconds=0).to_dict()  # KWOK's streams never end; see the module docstring
    lines = LineLags()
    events: dict[str, float] = {}

    async def follow(name: str) -> None:
        trigger = SparkDriverTrigger(kubernetes_conn_id=CONN_ID, namespace=namespace, pod_name=name,
                                     timeouts={}, follower_key=f"bench-{name}", timing=timing)
        # One logger per trigger, kept in memory: N x lines on the console would measure the terminal.
        trigger._log = logger = logging.getLogger(f"bench.{name}")
        logger.addHandler(lines)
        logger.propagate = False
        logger.setLevel(logging.INFO)
        async for event in trigger.run():
            assert event.payload["status"] == "success", event.payload
            events[name] = time.time()

    tasks = [asyncio.create_task(follow(name)) for name in names]
    loop = asyncio.get_running_loop()

    def running() -> int:
        return sum(1 for p in core.list_namespaced_pod(namespace).items if p.status.phase == "Running")

    while await loop.run_in_executor(None, running) < len(names):
        await asyncio.sleep(1)
    await asyncio.sleep(5)  # every trigger has read its pod, opened its watch and its log stream
    processes = Processes(settings.run_dir, settings.log_dir)
    pids = {name: processes.running_pid(name) for name in ("kube-apiserver", "kwok")}
    others_before = {name: process_cpu_seconds(pid) for name, pid in pids.items()}
    cpu_before, wall_before = time.process_time(), time.monotonic()
    line_count = HOLD_SECONDS * LINES_PER_SECOND
    writer = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WRITER, str(settings.simulated_container_log), str(line_count),
        str(1 / LINES_PER_SECOND), env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "cluster")})
    await writer.wait()
    wall = time.monotonic() - wall_before
    cpu_percent = 100 * (time.process_time() - cpu_before) / wall
    others_percent = {name: 100 * (process_cpu_seconds(pid) - others_before[name]) / wall for name, pid in pids.items()}
    connections = api_connections(settings.apiserver_port)
    # Late lines are counted in the lag; only lines that never come, or come twice, are wrong.
    deadline = time.monotonic() + 120
    while sum(len(lines.numbers.get(n, [])) for n in names) < line_count * len(names) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    expected = list(range(1, line_count + 1))
    complete = sum(1 for name in names if lines.numbers.get(name) == expected)
    missing = sum(len(set(expected) - set(lines.numbers.get(name, []))) for name in names)
    repeated = sum(len(lines.numbers.get(name, [])) - len(set(lines.numbers.get(name, []))) for name in names)

    marked = {}
    for name in names:
        marked[name] = await loop.run_in_executor(None, mark_succeeded, core, namespace, name)
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=300)
    return {"cpu_percent": cpu_percent, "apiserver_cpu_percent": others_percent["kube-apiserver"],
            "kwok_cpu_percent": others_percent["kwok"], "connections": connections,
            "line_lags": sorted(lines.lags), "complete": complete, "missing": missing, "repeated": repeated,
            "warnings": lines.warnings,
            "lags": sorted(events[name] - marked[name] for name in names)}


def measure(count: int, settings) -> dict:
    core = client.CoreV1Api(LocalCluster(settings).api_client())
    namespace = f"bench-triggerer-{uuid.uuid4().hex[:6]}"
    create_namespace(core, namespace)
    try:
        settings.simulated_container_log.write_text("")  # every stream starts empty
        names = create_pods(core, namespace, count, simulated_nodes(core))
        result = asyncio.run(follow_all(namespace, names, core, settings))
    finally:
        core.delete_namespace(namespace)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} / {values[max(0, int(len(values) * 0.95) - 1)]:.3f} / {values[-1]:.3f}"


def print_row(count: int, settings) -> None:
    r = measure(count, settings)
    print(f"{count:>8} {r['cpu_percent']:>10.1f} {r['apiserver_cpu_percent']:>10.1f} {r['kwok_cpu_percent']:>8.1f} "
          f"{r['peak_rss_mib']:>9.0f} {r['connections']:>6} {_spread(r['line_lags']):>24} "
          f"{r['complete']:>5}/{count:<5} {r['missing']:>7} {r['repeated']:>8} {_spread(r['lags']):>24}", flush=True)
    for message, times in sorted(r["warnings"].items()):
        print(f"{'':>8} warning x{times}: {message}", flush=True)


def main(argv: list[str]) -> int:
    settings = load_settings()
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
        {"conn_type": "kubernetes", "extra": {"kube_config_path": str(settings.admin_kubeconfig)}})
    if argv[:1] == ["--row"]:  # one N in this process: peak memory is per process
        print_row(int(argv[1]), settings)
        return 0
    counts = [int(n) for n in argv] or [100, 500]
    started_cluster = not cluster_answers(settings)
    subprocess.run([str(PROJECT_ROOT / "cluster" / "up")], check=True, stdout=subprocess.DEVNULL)
    try:
        print(f"One process following N drivers on simulated nodes, each printing {LINES_PER_SECOND} lines/s "
              f"for {HOLD_SECONDS} s.\nCPU in % of one core while the log flows; lags as median / p95 / max, seconds.")
        print(f"{'drivers':>8} {'loop CPU':>10} {'apiserver':>10} {'kwok':>8} {'RSS MiB':>9} {'conns':>6} "
              f"{'line lag':>24} {'all lines once':>11} {'missing':>7} {'repeated':>8} {'event lag':>24}", flush=True)
        for count in counts:
            subprocess.run([sys.executable, __file__, "--row", str(count)], check=True)
    finally:
        if started_cluster:
            subprocess.run([str(PROJECT_ROOT / "cluster" / "down")], check=False, stdout=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
