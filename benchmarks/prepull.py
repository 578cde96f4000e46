"""Measure the image pre-pull against many simulated nodes, and its effect on a real job's start.

Simulated nodes: for N = 10, 50 and 200 nodes created here (KWOK pulls after a fixed delay, the
cluster's ``SPARKPLANE_KWOK_PULL_DELAY_MS``) and concurrency 5, 20 and unlimited, one
``PrepullRun`` as the DAG's task runs it (through the platform's identity), polling every 0.5 s
(the DAG polls every 2 s; a finer poll shows the pacing, not the poll). Printed per case: the wall
time beside the ideal (delay x ceil(nodes / concurrency)), the API requests the run made, and the
nodes covered. The created nodes carry a label only they have, which the run selects on.

Real node: the smoke-test job started with the image removed from the node's containerd (cold)
and again after a pre-pull; printed: the driver's stages from the operator's report (``pulling``
is the kubelet's own figure) and the pull's share of the start.

Figures, not assertions: ``make bench-prepull``. Needs root and the local cluster (started here,
and stopped at the end, if it is not running); plugins/, cluster/ and tests/ on PYTHONPATH.
"""

from __future__ import annotations

import ast
import logging
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from harness.airflow import run_dag
from harness.cluster import LocalCluster, cluster_answers, remove_image_from_real_node
from harness.platform import airflow_identity_connection, apply_bootstrap, build_spark_image
from kubernetes import client
from localcluster.kwok import SIMULATED_NODE_TAINT, SIMULATED_NODE_TOLERATION
from localcluster.settings import NODE_TYPE_LABEL, load_settings

from sparkplane.prepull.constraints import SchedulingConstraints
from sparkplane.prepull.hook import PrepullHook
from sparkplane.prepull.labels import run_key_of
from sparkplane.prepull.runner import PrepullPlan, PrepullRun

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONN_ID = "prepull_bench"
BENCH_LABEL = "sparkplane.dev/bench"
NODE_COUNTS = (10, 50, 200)
CONCURRENCIES = (5, 20, 0)


def _add_nodes(core: client.CoreV1Api, prefix: str, count: int) -> list[str]:
    names = [f"{prefix}-{number:03d}" for number in range(count)]
    for name in names:
        core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": name, "annotations": {"kwok.x-k8s.io/node": "fake"},
            "labels": {"kubernetes.io/hostname": name, NODE_TYPE_LABEL: "simulated", BENCH_LABEL: prefix}},
            "spec": {"taints": [SIMULATED_NODE_TAINT]}})  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready = core.list_node(label_selector=f"{BENCH_LABEL}={prefix}").items
        if sum(any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or []) for n in ready) == count:
            return names
        time.sleep(1)
    raise SystemExit(f"KWOK did not report {count} new nodes Ready within 300 s")


def _delete_nodes(core: client.CoreV1Api, prefix: str) -> None:
    for node in core.list_node(label_selector=f"{BENCH_LABEL}={prefix}").items:
        core.delete_node(node.metadata.name)


def _counting_requests(hook: PrepullHook) -> list[int]:
    """Count every request the hook's client sends; return the one-element counter."""
    count = [0]
    api_client = hook.core_v1.api_client
    call_api = api_client.call_api

    def counted(*args, **kwargs):
        count[0] += 1
        return call_api(*args, **kwargs)

    api_client.call_api = counted
    return count


def simulated_case(core: client.CoreV1Api, image: str, nodes: int, concurrency: int, delay_seconds: float) -> str:
    prefix = f"bench-prepull-{uuid.uuid4().hex[:6]}"
    _add_nodes(core, prefix, nodes)
    try:
        hook = PrepullHook(CONN_ID)
        requests = _counting_requests(hook)
        kinds = [SchedulingConstraints(node_selector={BENCH_LABEL: prefix}, tolerations=[SIMULATED_NODE_TOLERATION])]
        plan = PrepullPlan(image=image, kinds=kinds, concurrency=concurrency, poll_interval_seconds=0.5,
                           progress_interval_seconds=3600, pull_timeout_seconds=600)  # fmt: skip
        quiet = logging.getLogger("bench.prepull")
        quiet.setLevel(logging.WARNING)
        started = time.monotonic()
        report = PrepullRun(hook, plan, run_key=run_key_of(prefix), log=quiet).run()
        seconds = time.monotonic() - started
    finally:
        _delete_nodes(core, prefix)
    ideal = delay_seconds * math.ceil(nodes / (concurrency or nodes))
    return (f"| {nodes} | {concurrency or 'unlimited'} | {seconds:.1f} | {ideal:.1f} | {requests[0]} | "
            f"{len(report.present)}/{report.eligible_count} |")  # fmt: skip


def _stages(log: str) -> dict:
    match = re.search(r"Driver stages \(seconds\): (\{[^}]*\})", log)
    return ast.literal_eval(match.group(1)) if match else {}


def real_node_case(cluster: LocalCluster, image: str, connection: str, home: Path) -> list[str]:
    rows = []
    dags = home / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    for name in ("spark_image_prepull.py", "spark_smoke_test.py"):
        if not (dags / name).exists():
            (dags / name).symlink_to(PROJECT_ROOT / "dags" / name)
    for case in ("cold", "pre-pulled"):
        remove_image_from_real_node(cluster, image)
        if case == "pre-pulled":
            started = time.monotonic()
            result = run_dag("spark_image_prepull", {"node_selector": {"kubernetes.io/hostname": cluster.settings.node_name}},
                             image=image, connection=connection, airflow_home=home, dags_folder=dags)  # fmt: skip
            if result.returncode != 0:
                raise SystemExit((result.stdout + result.stderr)[-4000:])
            print(f"pre-pull on the real node: {time.monotonic() - started:.1f} s (airflow dags test included)", flush=True)
        result = run_dag("spark_smoke_test", {"lines": 3, "executors": 1}, image=image, connection=connection,
                         airflow_home=home, dags_folder=dags)  # fmt: skip
        stages = _stages(result.stdout + result.stderr)
        start = (stages.get("queued") or 0) + (stages.get("starting") or 0)
        pulling = stages.get("pulling")
        share = f"{100 * pulling / start:.0f}%" if pulling is not None and start else "-"
        rows.append(f"| {case} | {stages.get('queued')} | {stages.get('starting')} | {pulling} | {share} |")
    return rows


def main() -> int:
    settings = load_settings()
    started_cluster = not cluster_answers(settings)
    subprocess.run([str(PROJECT_ROOT / "cluster" / "up")], check=True, stdout=subprocess.DEVNULL)
    cluster = LocalCluster(settings)
    home = Path(tempfile.mkdtemp(prefix="sparkplane-bench-prepull-"))
    try:
        image = build_spark_image(cluster.registry)["pinned"]
        apply_bootstrap(cluster)
        connection = airflow_identity_connection(cluster)
        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = connection
        core = client.CoreV1Api(cluster.api_client())
        delay = settings.kwok_pull_delay_ms / 1000
        print(f"Simulated pull delay {delay:g} s; the run polls every 0.5 s.\n")
        print("| nodes | concurrency | wall s | ideal s | API requests | covered |\n|---|---|---|---|---|---|")
        for nodes in NODE_COUNTS:
            for concurrency in CONCURRENCIES:
                print(simulated_case(core, image, nodes, concurrency, delay), flush=True)
        print("\nReal node, the smoke-test job's driver (seconds, from the operator's stage report):\n")
        print("| image | queued | starting | pulling | pull share of start |\n|---|---|---|---|---|")
        print("\n".join(real_node_case(cluster, image, connection, home)))
    finally:
        if started_cluster:
            subprocess.run([str(PROJECT_ROOT / "cluster" / "down")], check=False, stdout=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
