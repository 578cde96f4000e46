"""The image pre-pull on the real cluster, as the platform's identity, under real Airflow.

Scale comes from simulated nodes: the cluster's own plus more created here, so that over twenty
are eligible. KWOK pulls after a fixed delay, fails every pull on the nodes labelled to, and never
updates a node's ``status.images`` (its Pulled events carry no duration either), so the test writes
``status.images`` as a kubelet would where a node holds the image. One node is tainted against
Spark's pods, one is cordoned, one cannot take another pod, one lists the image already. On the
real node the pull is real: the image is first removed from its containerd, then the pre-pull
fetches it from the local registry, and a Spark job started afterwards finds it present. A run a
user marks failed through the REST API, under real Airflow services, leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3
from harness.airflow import run_dag
from harness.cluster import relabelled_image, remove_image_from_real_node
from harness.platform import TEST_DAGS, platform_airflow
from harness.simulated import simulated_nodes
from harness.waits import wait_for
from kubernetes import client, watch
from localcluster.kwok import SIMULATED_NODE_TAINT
from localcluster.settings import NODE_TYPE_LABEL

from sparkplane.prepull.labels import PREPULL_NAMESPACE, PREPULL_SELECTOR

pytestmark = pytest.mark.cluster

DAGS = Path(__file__).resolve().parents[2] / "dags"
#: Simulated nodes created for the test, on top of the cluster's ten.
MORE_NODES = 13
CONCURRENCY = 5


def _dags_folder(tmp_path: Path, *files: Path) -> Path:
    folder = tmp_path / "dags"
    folder.mkdir()
    for file in files:
        (folder / file.name).symlink_to(file)
    return folder


def _simulated_node(name: str) -> dict:
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok", NODE_TYPE_LABEL: "simulated"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels, "annotations": {"kwok.x-k8s.io/node": "fake"}},
            "spec": {"taints": [SIMULATED_NODE_TAINT]}}  # fmt: skip


def _is_ready(node: client.V1Node) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


def _add_nodes(core: client.CoreV1Api, names: list[str]) -> None:
    for name in names:
        core.create_node(_simulated_node(name))
    wait_for(lambda: all(_is_ready(core.read_node(name)) for name in names), bool, timeout_seconds=60,
             interval_seconds=0.5, what=f"KWOK to report {len(names)} new nodes Ready")  # fmt: skip


def _lists_image(core: client.CoreV1Api, node: str, image: str) -> None:
    """Write the image into the node's status, as a kubelet reports what it holds."""
    repository = image.split("@")[0]
    core.patch_node_status(node, {"status": {"images": [{"names": [image, f"{repository}:prepulled"],
                                                         "sizeBytes": 1_480_000_000}]}})  # fmt: skip


def _forget_images(core: client.CoreV1Api) -> None:
    """Let no simulated node list an image (an earlier run of this test may have written some)."""
    for node in core.list_node(label_selector=f"{NODE_TYPE_LABEL}=simulated").items:
        if node.status.images:
            core.patch_node_status(node.metadata.name, {"status": {"images": []}})


@pytest.fixture
def more_nodes(local_cluster) -> Iterator[list[str]]:
    core = client.CoreV1Api(local_cluster.api_client())
    prefix = f"prepull-{uuid.uuid4().hex[:6]}"
    names = [f"{prefix}-{number:02d}" for number in range(MORE_NODES)]
    _forget_images(core)
    try:
        _add_nodes(core, names)
        yield names
    finally:
        for node in core.list_node().items:
            if node.metadata.name.startswith(prefix):
                core.delete_node(node.metadata.name)
        _forget_images(core)


class PullerCount:
    """Watch the pre-pull's pods: how many were created, and the most alive at once."""

    def __init__(self, core: client.CoreV1Api) -> None:
        self.core, self.created, self.most_at_once = core, 0, 0
        self._alive: set[str] = set()
        self._watch = watch.Watch()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with contextlib.suppress(urllib3.exceptions.ProtocolError):  # the stream cut when the watch stops
            self._count()

    def _count(self) -> None:
        for change in self._watch.stream(self.core.list_namespaced_pod, PREPULL_NAMESPACE,
                                         label_selector=PREPULL_SELECTOR, timeout_seconds=600):  # fmt: skip
            name = change["object"].metadata.name
            if change["type"] == "ADDED" and name not in self._alive:
                self.created += 1
                self._alive.add(name)
            elif change["type"] == "DELETED":
                self._alive.discard(name)
            self.most_at_once = max(self.most_at_once, len(self._alive))

    def __enter__(self) -> PullerCount:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._watch.stop()


def _coverage_and_asset_event(airflow_db: Path) -> tuple[str, dict]:
    """Return the last pre-pull's coverage XCom and the extra of the Asset event it recorded."""
    with sqlite3.connect(airflow_db) as db:
        (coverage,), = db.execute("SELECT value FROM xcom WHERE dag_id = 'prepull_simulated' AND key = 'coverage' "
                                  "ORDER BY timestamp DESC LIMIT 1").fetchall()  # fmt: skip
        (extra,), = db.execute("SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
                               "WHERE a.name = 'sparkplane_spark_image_ready' ORDER BY e.timestamp DESC LIMIT 1").fetchall()  # fmt: skip
    return json.loads(coverage), json.loads(extra)


def _nothing_left(core: client.CoreV1Api) -> None:
    def left() -> list[str]:
        pods = core.list_namespaced_pod(PREPULL_NAMESPACE, label_selector=PREPULL_SELECTOR).items
        owners = core.list_namespaced_config_map(PREPULL_NAMESPACE, label_selector=PREPULL_SELECTOR).items
        return [f"pod/{p.metadata.name}" for p in pods] + [f"configmap/{c.metadata.name}" for c in owners]

    wait_for(left, lambda names: not names, timeout_seconds=60, interval_seconds=1, what="the pre-pull's objects to go")


@pytest.mark.long  # make test pulls for real on the real node (below); the simulated scale runs in make test-long
def test_prepull_covers_every_eligible_node_a_few_at_a_time_and_reports_the_others(
    local_cluster, airflow_connection, spark_image, more_nodes, tmp_path
):
    core = client.CoreV1Api(local_cluster.api_client())
    tainted, cordoned, full, listed, *_ = more_nodes
    core.patch_node(tainted, {"spec": {"taints": [SIMULATED_NODE_TAINT,
                                                  {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}})
    core.patch_node(cordoned, {"spec": {"unschedulable": True}})
    core.patch_node_status(full, {"status": {"allocatable": {"pods": "0"}, "capacity": {"pods": "0"}}})
    _lists_image(core, listed, spark_image)
    failing = simulated_nodes(core, failing_pulls=True)
    eligible = [n for n in simulated_nodes(core) + failing if n not in (tainted, cordoned)]
    dags = _dags_folder(tmp_path, TEST_DAGS / "prepull_simulated.py")

    with PullerCount(core) as pullers:
        result = run_dag("prepull_simulated", {"image": spark_image, "concurrency": CONCURRENCY},
                         connection=airflow_connection, airflow_home=tmp_path / "airflow", dags_folder=dags)  # fmt: skip
    log = result.stdout + result.stderr
    print(log[-6000:])
    assert result.returncode != 0, "the run succeeded though a node failed its pull"
    present = len(eligible) - len(failing) - 1  # the full node's puller cannot be scheduled
    assert f"image present on {present}/{len(eligible)} eligible nodes" in log, log[-6000:]
    assert f"Already present on 1 node: {listed}" in log
    assert "simulated pull failure" in log and all(node in log for node in failing)
    assert "Puller could not be scheduled on 1 node:" in log and f"  {full}: " in log
    assert re.search(rf"waiting to be scheduled on {full} for \d+ s", log), "no progress line while the puller waited"
    assert "dedicated=gpu:NoSchedule" in log and local_cluster.settings.node_name in log  # not eligible, and why
    assert "cordoned" in log
    assert "below the required 100%" in log
    assert pullers.created == len(eligible) - 1  # none where the node lists the image
    assert pullers.most_at_once <= CONCURRENCY, f"{pullers.most_at_once} pullers at once"
    _nothing_left(core)

    # The next run: nodes that pulled now list the image (as their kubelets would), and one more node joined.
    for node in eligible:
        if node not in failing and node != full:
            _lists_image(core, node, spark_image)
    joined = f"{more_nodes[0].rsplit('-', 1)[0]}-joined"
    _add_nodes(core, [joined])
    with PullerCount(core) as pullers:
        again = run_dag("prepull_simulated", {"image": spark_image, "concurrency": CONCURRENCY, "min_coverage_percent": 80},
                        connection=airflow_connection, airflow_home=tmp_path / "airflow", dags_folder=dags)  # fmt: skip
    log = again.stdout + again.stderr
    assert again.returncode == 0, log[-6000:]
    assert f"Pulled on 1 node: {joined} " in log, log[-6000:]
    assert f"platform image ready: {spark_image}" in log
    assert pullers.created == 1 + len(failing) + 1  # the new node, and the nodes still without the image
    coverage, event_extra = _coverage_and_asset_event(tmp_path / "airflow" / "airflow.db")
    assert coverage == f"image present on {len(eligible) - len(failing)}/{len(eligible) + 1} eligible nodes", coverage
    assert event_extra["image"] == spark_image and event_extra["coverage"] == coverage, event_extra
    _nothing_left(core)


def test_prepull_pulls_on_the_real_node_and_a_job_then_finds_the_image_present(
    local_cluster, airflow_connection, spark_image, tmp_path
):
    # The Spark image with a label more, in a repository of its own: removed from the node, it is
    # an image the node lacks, while the layers it shares stay (earlier jobs' pods use them). The
    # pull is real and short; make bench-prepull measures pulls of the whole image.
    spark_image = relabelled_image(spark_image, "sparkplane-test/spark-prepull")
    remove_image_from_real_node(local_cluster, spark_image)
    real_node = local_cluster.settings.node_name
    dags = _dags_folder(tmp_path, DAGS / "spark_image_prepull.py", DAGS / "spark_smoke_test.py")
    pulled = run_dag("spark_image_prepull", {"node_selector": {"kubernetes.io/hostname": real_node}},
                     image=spark_image, connection=airflow_connection, airflow_home=tmp_path / "airflow",
                     dags_folder=dags)  # fmt: skip
    log = pulled.stdout + pulled.stderr
    assert pulled.returncode == 0, log[-6000:]
    assert "image present on 1/1 eligible nodes" in log, log[-6000:]
    assert f"Pulled on 1 node: {real_node} " in log and f"pulled on {real_node} in " in log, log[-6000:]
    _nothing_left(client.CoreV1Api(local_cluster.api_client()))

    job = run_dag("spark_smoke_test", {"lines": 3, "executors": 1}, image=spark_image, connection=airflow_connection,
                  airflow_home=tmp_path / "airflow", dags_folder=dags)  # fmt: skip
    log = job.stdout + job.stderr
    assert job.returncode == 0, log[-6000:]
    assert "'pulling': 0.0" in log, "the driver pulled the image although it had been pre-pulled"


@pytest.mark.long  # a fault run under real Airflow services
def test_a_prepull_a_user_marks_failed_mid_run_leaves_nothing(local_cluster, airflow_connection, spark_image, tmp_path):
    core = client.CoreV1Api(local_cluster.api_client())
    with platform_airflow(tmp_path, "prepull_simulated.py", connection=airflow_connection, image=spark_image) as airflow:
        run_id = airflow.trigger("prepull_simulated", {"image": spark_image, "concurrency": 1})

        def pullers() -> list:
            return core.list_namespaced_pod(PREPULL_NAMESPACE, label_selector=PREPULL_SELECTOR).items

        wait_for(pullers, bool, timeout_seconds=120, interval_seconds=0.5, what="the first puller pod")
        airflow.rest("PATCH", f"/dags/prepull_simulated/dagRuns/{run_id}/taskInstances/pull_image",
                     {"new_state": "failed"})  # fmt: skip
        assert airflow.wait_for_run("prepull_simulated", run_id, timeout_seconds=120) == "failed"
        _nothing_left(core)
        log = airflow.task_log("prepull_simulated", run_id, "pull_image", 1)
    assert "image present on" not in log, "the run went on to its end although it was marked failed"
