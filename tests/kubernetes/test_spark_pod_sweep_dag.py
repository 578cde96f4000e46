"""The spark_pod_sweep DAG on the real cluster, with real Airflow, as the platform's identity.

Driver pods are created on simulated nodes (KWOK takes them to Running; a status patch, as a
kubelet would write it, makes some of them Failed two hours ago), labelled exactly as the
operator labels its drivers. The sweep must delete the failed driver past its keep time and the
running driver whose task instance has finished, and leave alone the failed driver still within
its keep time, the driver of a task this Airflow does not know, and a pod that is not the
platform's.
"""

from __future__ import annotations

import re
import sqlite3
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from airflow_on_cluster import NAMESPACE, TEST_DAGS, run_dag
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from localcluster.kwok import SIMULATED_NODE_TOLERATION
from localcluster.settings import NODE_TYPE_LABEL, SIMULATE_PULL_LABEL

from sparkplane.job_spec import SparkJobSpec
from sparkplane.manifests import KubernetesTarget, build_driver_pod
from sparkplane.pod_templates import restricted_container_security, restricted_pod_security
from sparkplane.run_identity import TaskTry

pytestmark = pytest.mark.cluster

SWEEP_DAG = Path(__file__).resolve().parents[2] / "dags" / "spark_pod_sweep.py"
SIMULATED_IMAGE = "127.0.0.1:5000/sparkplane/simulated:1"


def _simulated_node(core: client.CoreV1Api) -> str:
    nodes = core.list_node(label_selector=f"{NODE_TYPE_LABEL}=simulated").items
    return next(n.metadata.name for n in nodes if (n.metadata.labels or {}).get(SIMULATE_PULL_LABEL) != "fail")


def _on_simulated_node(pod: dict, node: str) -> dict:
    pod["spec"]["nodeName"] = node
    pod["spec"]["tolerations"] = [SIMULATED_NODE_TOLERATION]
    return pod


def _driver(task_try: TaskTry, node: str, *, keep_failed_seconds: int = 86400) -> dict:
    spec = SparkJobSpec(application="spark_smoke_test.py", name="sweep-test")
    target = KubernetesTarget(NAMESPACE, SIMULATED_IMAGE)
    return _on_simulated_node(build_driver_pod(spec, task_try, target, keep_failed_seconds=keep_failed_seconds), node)


def _not_ours(name: str, node: str) -> dict:
    container = {"name": "spark-kubernetes-driver", "image": SIMULATED_IMAGE,
                 "securityContext": restricted_container_security()}  # fmt: skip
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "labels": {"spark-role": "driver"}},
           "spec": {"containers": [container], "securityContext": restricted_pod_security()}}  # fmt: skip
    return _on_simulated_node(pod, node)


def _mark_failed(core: client.CoreV1Api, name: str, ended: datetime) -> None:
    core.patch_namespaced_pod_status(name, NAMESPACE, {"status": {
        "phase": "Failed",
        "containerStatuses": [{"name": "spark-kubernetes-driver", "image": SIMULATED_IMAGE, "imageID": "",
                               "ready": False, "restartCount": 0,
                               "state": {"terminated": {"exitCode": 1, "reason": "Error",
                                                        "finishedAt": ended.isoformat()}}}],
    }})  # fmt: skip


def _phase(core: client.CoreV1Api, name: str) -> str | None:
    try:
        return core.read_namespaced_pod(name, NAMESPACE).status.phase
    except ApiException as error:
        if error.status == 404:
            return None
        raise


def _wait(what: str, check, timeout_seconds: float = 60) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout_seconds}s waiting for {what}"
        time.sleep(0.5)


def _finished_run_id(airflow_home: Path) -> str:
    with sqlite3.connect(airflow_home / "airflow.db") as db:
        (state, run_id), = db.execute(
            "SELECT state, run_id FROM task_instance WHERE dag_id = 'sweep_target' AND task_id = 'finished'"
        ).fetchall()  # fmt: skip
    assert state == "success"
    return run_id


def test_the_sweep_deletes_expired_and_orphaned_drivers_and_nothing_else(local_cluster, airflow_connection, tmp_path):
    dags, home = tmp_path / "dags", tmp_path / "airflow"
    dags.mkdir()
    (dags / SWEEP_DAG.name).symlink_to(SWEEP_DAG)
    (dags / "sweep_target.py").symlink_to(TEST_DAGS / "sweep_target.py")
    target_run = run_dag("sweep_target", connection=airflow_connection, airflow_home=home, dags_folder=dags)
    assert target_run.returncode == 0, (target_run.stdout + target_run.stderr)[-5000:]
    finished_run_id = _finished_run_id(home)

    core = client.CoreV1Api(local_cluster.api_client())
    node = _simulated_node(core)
    tag = uuid.uuid4().hex[:6]
    pods = {
        "orphan": _driver(TaskTry("sweep_target", "finished", finished_run_id, try_number=1), node),
        "unknown": _driver(TaskTry(f"elsewhere_{tag}", "job", "manual__1", try_number=1), node),
        "expired": _driver(TaskTry(f"failed_{tag}", "job", "manual__1", try_number=1), node, keep_failed_seconds=3600),
        "kept": _driver(TaskTry(f"failed_{tag}", "job", "manual__2", try_number=1), node),
        "not_ours": _not_ours(f"not-the-platforms-{tag}", node),
    }
    names = {role: pod["metadata"]["name"] for role, pod in pods.items()}
    try:
        for pod in pods.values():
            core.create_namespaced_pod(NAMESPACE, pod)
        _wait("the pods to run", lambda: all(_phase(core, n) == "Running" for n in names.values()))
        two_hours_ago = datetime.now(timezone.utc) - timedelta(hours=2)
        for role in ("expired", "kept", "not_ours"):
            _mark_failed(core, names[role], two_hours_ago)

        dry = run_dag("spark_pod_sweep", {"dry_run": True}, connection=airflow_connection, airflow_home=home, dags_folder=dags)
        dry_log = dry.stdout + dry.stderr
        assert dry.returncode == 0, dry_log[-5000:]
        assert f"Would delete spark/{names['expired']} (dry run): Failed 2h ago; its keep time of 1h is over" in dry_log
        assert all(_phase(core, n) is not None for n in names.values()), "a dry run deleted a pod"

        sweep = run_dag("spark_pod_sweep", connection=airflow_connection, airflow_home=home, dags_folder=dags)
        log = sweep.stdout + sweep.stderr
        assert sweep.returncode == 0, log[-5000:]
        assert (
            f"Deleted spark/{names['orphan']} and what it owns: Running, but task sweep_target.finished "
            f"of run {finished_run_id} is success: nothing follows this driver any more"
        ) in log
        assert f"Deleted spark/{names['expired']} and what it owns: Failed 2h ago; its keep time of 1h is over" in log
        assert re.search(rf"Keeping spark/{names['kept']}: Failed 2h ago; kept 2[12]h( 59m)? more", log), log[-5000:]
        assert f"Keeping spark/{names['unknown']}: Running; task elsewhere_{tag}.job of run manual__1 is not in this Airflow" in log
        assert names["not_ours"] not in log

        _wait("the swept pods to be gone", lambda: _phase(core, names["orphan"]) is None and _phase(core, names["expired"]) is None)
        assert _phase(core, names["kept"]) == "Failed"
        assert _phase(core, names["unknown"]) == "Running"
        assert _phase(core, names["not_ours"]) == "Failed"
    finally:
        for name in names.values():
            try:
                core.delete_namespaced_pod(name, NAMESPACE, grace_period_seconds=0)
            except ApiException as error:
                if error.status != 404:
                    raise
