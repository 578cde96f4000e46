"""Measure one triggerer process following N Spark drivers at once, on simulated nodes.

N ``SparkDriverTrigger`` coroutines run in one asyncio loop, as the triggerer runs them, each with
its own watch of one pod. The pods are real API objects on KWOK's simulated nodes: KWOK takes
them to Running; after a steady-state hold this script marks them all Succeeded (a status patch,
as the kubelet would write it) and measures how long each trigger takes to yield its event.

Printed per N: the loop's CPU use while holding (percent of one core), its peak memory, the
open connections, and the event lag (pod marked Succeeded -> trigger event) median / p95 / max.
The simulated nodes have no kubelet to serve logs, so the pods' container is not the driver
container and no log is streamed: this measures following the pod (watch, judging, progress),
not log transport.

Needs root and the local cluster (started here, and stopped at the end, if it is not running).
Figures, not assertions: ``make bench-triggerer`` (N = 100 and 500), or ``... triggerer_scale.py 50``.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT / "cluster"), str(PROJECT_ROOT / "benchmarks")]

from kubernetes import client, config  # noqa: E402
from localcluster.kwok import SIMULATED_NODE_TOLERATION  # noqa: E402
from localcluster.settings import NODE_TYPE_LABEL, SIMULATE_PULL_LABEL, load_settings  # noqa: E402
from spark_operator import cluster_answers  # noqa: E402

HOLD_SECONDS = 30
CONN_ID = "triggerer_scale_bench"


def simulated_nodes(core: client.CoreV1Api) -> list[str]:
    nodes = core.list_node(label_selector=f"{NODE_TYPE_LABEL}=simulated").items
    return [n.metadata.name for n in nodes if (n.metadata.labels or {}).get(SIMULATE_PULL_LABEL) != "fail"]


def create_pods(core: client.CoreV1Api, namespace: str, count: int, nodes: list[str]) -> list[str]:
    names = []
    for index in range(count):
        name = f"driver-{index:04d}"
        core.create_namespaced_pod(namespace, client.V1Pod(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1PodSpec(
                node_name=nodes[index % len(nodes)],
                tolerations=[client.V1Toleration(**SIMULATED_NODE_TOLERATION)],
                containers=[client.V1Container(name="main", image="127.0.0.1:5000/sparkplane/simulated:1")],
            ),
        ))
        names.append(name)
    return names


def mark_succeeded(core: client.CoreV1Api, namespace: str, name: str) -> float:
    now = datetime.now(timezone.utc).isoformat()
    core.patch_namespaced_pod_status(name, namespace, {"status": {
        "phase": "Succeeded",
        "containerStatuses": [{"name": "main", "image": "127.0.0.1:5000/sparkplane/simulated:1", "imageID": "",
                               "ready": False, "restartCount": 0,
                               "state": {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": now}}}],
    }})
    return time.time()


def api_connections(port: int) -> int:
    import psutil

    return sum(1 for conn in psutil.Process().net_connections(kind="tcp")
               if conn.raddr and conn.raddr.port == port and conn.status == psutil.CONN_ESTABLISHED)


async def follow_all(namespace: str, names: list[str], core: client.CoreV1Api, api_port: int) -> dict:
    from sparkplane.triggers import SparkDriverTrigger

    events: dict[str, float] = {}

    async def follow(name: str) -> None:
        trigger = SparkDriverTrigger(kubernetes_conn_id=CONN_ID, namespace=namespace, pod_name=name,
                                     timeouts={}, progress_interval_seconds=30)
        async for event in trigger.run():
            assert event.payload["status"] == "success", event.payload
            events[name] = time.time()

    tasks = [asyncio.create_task(follow(name)) for name in names]
    loop = asyncio.get_running_loop()

    def running() -> int:
        return sum(1 for p in core.list_namespaced_pod(namespace).items if p.status.phase == "Running")

    while await loop.run_in_executor(None, running) < len(names):
        await asyncio.sleep(1)
    await asyncio.sleep(5)  # every trigger has read its pod and opened its watch
    cpu_before, wall_before = time.process_time(), time.monotonic()
    await asyncio.sleep(HOLD_SECONDS)
    cpu_percent = 100 * (time.process_time() - cpu_before) / (time.monotonic() - wall_before)
    connections = api_connections(api_port)

    marked = {}
    for name in names:
        marked[name] = await loop.run_in_executor(None, mark_succeeded, core, namespace, name)
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=300)
    lags = sorted(events[name] - marked[name] for name in names)
    return {"cpu_percent": cpu_percent, "connections": connections, "lags": lags}


def measure(count: int, settings) -> dict:
    core = client.CoreV1Api(config.new_client_from_config(config_file=str(settings.admin_kubeconfig)))
    namespace = f"bench-triggerer-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    try:
        while not core.list_namespaced_service_account(namespace, field_selector="metadata.name=default").items:
            time.sleep(0.2)
        names = create_pods(core, namespace, count, simulated_nodes(core))
        result = asyncio.run(follow_all(namespace, names, core, settings.apiserver_port))
    finally:
        core.delete_namespace(namespace)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def print_row(count: int, settings) -> None:
    r = measure(count, settings)
    lags = r["lags"]
    print(f"{count:>16} {r['cpu_percent']:>18.1f} {r['peak_rss_mib']:>15.0f} {r['connections']:>12} "
          f"{statistics.median(lags):>16.3f} / {lags[int(len(lags) * 0.95) - 1]:.3f} / {lags[-1]:.3f}", flush=True)


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
        print(f"One process following N drivers on simulated nodes ({HOLD_SECONDS} s steady state each)")
        print(f"{'drivers followed':>16} {'CPU (% of a core)':>18} {'peak RSS (MiB)':>15} {'connections':>12} "
              f"{'event lag median / p95 / max (s)':>34}", flush=True)
        for count in counts:
            subprocess.run([sys.executable, __file__, "--row", str(count)], check=True)
    finally:
        if started_cluster:
            subprocess.run([str(PROJECT_ROOT / "cluster" / "down")], check=False, stdout=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
