"""The spark_pod_sweep DAG on the real cluster, with real Airflow, as the platform's identity.

Notebook executors (created by the notebook identity, owned by no pod) are swept by their own
task: one that failed two hours ago goes, a running one stays; then the session of the one that
failed, which has no live executor, loses its anchor and, through it, its Spark authentication
secret, while the running one's session keeps both.

Driver pods are created on simulated nodes (KWOK takes them to Running; a status patch, as a
kubelet would write it, makes some of them Failed two hours ago), labelled exactly as the
operator labels its drivers. The sweep must delete the failed driver past its keep time and the
running driver whose task instance has finished, and leave alone the failed driver still within
its keep time, the driver of a task this Airflow does not know, a pod that is not the platform's,
and the drivers of another Airflow deployment sharing the namespace (one of them for the very
same DAG, task and run id as the orphan, one past its keep time): those it does not even list.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from harness.airflow import run_dag
from harness.platform import TEST_DAGS, restricted_pod
from harness.simulated import SIMULATED_IMAGE, mark_finished, on_simulated_node, simulated_node
from harness.waits import wait_for
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.config import new_client_from_config

from sparkplane.job_spec import SparkJobSpec
from sparkplane.kubernetes.driver_pod import KubernetesTarget, build_driver_pod
from sparkplane.kubernetes.identity import DRIVER_CONTAINER_NAME, SPARK_NAMESPACE, TaskTry
from sparkplane.kubernetes.pod_templates import restricted_container_security, restricted_pod_security
from sparkplane.notebook.session_auth import close_session_auth, open_session_auth

pytestmark = pytest.mark.cluster

NOTEBOOK_EXECUTOR = {"spark-role": "executor", "sparkplane.dev/notebook": "true"}
SWEEP_DAG = Path(__file__).resolve().parents[2] / "dags" / "spark_pod_sweep.py"


def _driver(task_try: TaskTry, node: str, **pod_options: int) -> dict:
    spec = SparkJobSpec(application="spark_smoke_test.py", name="sweep-test")
    target = KubernetesTarget(SPARK_NAMESPACE, SIMULATED_IMAGE)
    return on_simulated_node(build_driver_pod(spec, task_try, target, **pod_options), node)


def _not_ours(name: str, node: str) -> dict:
    container = {"name": DRIVER_CONTAINER_NAME, "image": SIMULATED_IMAGE,
                 "securityContext": restricted_container_security()}  # fmt: skip
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "labels": {"spark-role": "driver"}},
           "spec": {"containers": [container], "securityContext": restricted_pod_security()}}  # fmt: skip
    return on_simulated_node(pod, node)


def _mark_failed(core: client.CoreV1Api, name: str, ended: datetime) -> None:
    mark_finished(core, SPARK_NAMESPACE, name, container=DRIVER_CONTAINER_NAME, phase="Failed", exit_code=1,
                  reason="Error", finished_at=ended)


def _phase(core: client.CoreV1Api, name: str) -> str | None:
    try:
        return core.read_namespaced_pod(name, SPARK_NAMESPACE).status.phase
    except ApiException as error:
        if error.status == 404:
            return None
        raise


def _phases(core: client.CoreV1Api, names) -> dict[str, str | None]:
    return {name: _phase(core, name) for name in names}


def _secret_exists(core: client.CoreV1Api, name: str) -> bool:
    try:
        core.read_namespaced_secret(name, SPARK_NAMESPACE)
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


def _finished_run_id(airflow_home: Path) -> str:
    with sqlite3.connect(airflow_home / "airflow.db") as db:
        (state, run_id), = db.execute(
            "SELECT state, run_id FROM task_instance WHERE dag_id = 'sweep_target' AND task_id = 'finished'"
        ).fetchall()  # fmt: skip
    assert state == "success"
    return run_id


def test_the_sweep_deletes_expired_and_orphaned_drivers_and_nothing_else(local_cluster, airflow_connection, tmp_path,
                                                                         monkeypatch, notebook_kubeconfig):
    tag = uuid.uuid4().hex[:6]
    ours, theirs = f"sweep-{tag}", f"other-{tag}"
    monkeypatch.setenv("SPARKPLANE_DEPLOYMENT_ID", ours)
    dags, home = tmp_path / "dags", tmp_path / "airflow"
    dags.mkdir()
    (dags / SWEEP_DAG.name).symlink_to(SWEEP_DAG)
    (dags / "sweep_target.py").symlink_to(TEST_DAGS / "sweep_target.py")
    target_run = run_dag("sweep_target", connection=airflow_connection, airflow_home=home, dags_folder=dags)
    assert target_run.returncode == 0, (target_run.stdout + target_run.stderr)[-5000:]
    finished_run_id = _finished_run_id(home)

    core = client.CoreV1Api(local_cluster.api_client())
    node = simulated_node(core)
    pods = {
        "orphan": _driver(TaskTry("sweep_target", "finished", finished_run_id, 1, deployment=ours), node),
        "unknown": _driver(TaskTry(f"elsewhere_{tag}", "job", "manual__1", 1, deployment=ours), node),
        "expired": _driver(TaskTry(f"failed_{tag}", "job", "manual__1", 1, deployment=ours), node, keep_failed_seconds=3600),
        "kept": _driver(TaskTry(f"failed_{tag}", "job", "manual__2", 1, deployment=ours), node),
        "not_ours": _not_ours(f"not-the-platforms-{tag}", node),
        "other_deployment_same_task": _driver(TaskTry("sweep_target", "finished", finished_run_id, 1, deployment=theirs), node),
        "other_deployment_expired": _driver(TaskTry(f"failed_{tag}", "job", "manual__1", 1, deployment=theirs), node,
                                            keep_failed_seconds=3600),
    }
    notebook = client.CoreV1Api(new_client_from_config(str(notebook_kubeconfig)))
    sessions = {role: open_session_auth(notebook, SPARK_NAMESPACE, tmp_path) for role in ("notebook_ended", "notebook_running")}
    notebook_pods = {role: on_simulated_node(restricted_pod(f"{role.replace('_', '-')}-{tag}", {
        **NOTEBOOK_EXECUTOR, "sparkplane.dev/notebook-session": auth.session}, SIMULATED_IMAGE), node)
        for role, auth in sessions.items()}  # fmt: skip
    names = {role: pod["metadata"]["name"] for role, pod in {**pods, **notebook_pods}.items()}
    try:
        for pod in pods.values():
            core.create_namespaced_pod(SPARK_NAMESPACE, pod)
        for pod in notebook_pods.values():
            notebook.create_namespaced_pod(SPARK_NAMESPACE, pod)
        wait_for(lambda: _phases(core, names.values()), lambda phases: all(p == "Running" for p in phases.values()),
                 timeout_seconds=60, what="the pods to run")
        two_hours_ago = datetime.now(timezone.utc) - timedelta(hours=2)
        for role in ("expired", "kept", "not_ours", "other_deployment_expired"):
            _mark_failed(core, names[role], two_hours_ago)
        mark_finished(core, SPARK_NAMESPACE, names["notebook_ended"], container="c", phase="Failed", exit_code=1,
                      reason="Error", finished_at=two_hours_ago)  # fmt: skip

        dry = run_dag("spark_pod_sweep", {"dry_run": True}, connection=airflow_connection, airflow_home=home, dags_folder=dags)
        dry_log = dry.stdout + dry.stderr
        assert dry.returncode == 0, dry_log[-5000:]
        # "2h ago" becomes "2h 1m ago" when the runs take over a minute (a loaded machine).
        assert re.search(rf"Would delete spark/{names['expired']} \(dry run\): Failed 2h( \d+m)? ago; its keep time of 1h is over",
                         dry_log), dry_log[-5000:]
        assert re.search(rf"Would delete notebook executor spark/{names['notebook_ended']} \(dry run\): Failed 2h( \d+m)? ago; "
                         "its keep time of 1h is over", dry_log), dry_log[-5000:]
        assert all(_phase(core, n) is not None for n in names.values()), "a dry run deleted a pod"

        # A keep time of 0 for notebooks: the sessions above started a moment ago.
        sweep = run_dag("spark_pod_sweep", {"notebook_keep_minutes": 0}, connection=airflow_connection, airflow_home=home,
                        dags_folder=dags)  # fmt: skip
        log = sweep.stdout + sweep.stderr
        assert sweep.returncode == 0, log[-5000:]
        assert (
            f"Deleted spark/{names['orphan']} and what it owns: Running, but task sweep_target.finished "
            f"of run {finished_run_id} is success: nothing follows this driver any more"
        ) in log
        assert re.search(rf"Deleted spark/{names['expired']} and what it owns: Failed 2h( \d+m)? ago; its keep time of 1h is over",
                         log), log[-5000:]
        assert re.search(rf"Keeping spark/{names['kept']}: Failed 2h( \d+m)? ago; kept 2[12]h( \d+m)? more", log), log[-5000:]
        assert f"Keeping spark/{names['unknown']}: Running; task elsewhere_{tag}.job of run manual__1 is not in this Airflow" in log
        assert names["not_ours"] not in log
        assert names["other_deployment_same_task"] not in log and names["other_deployment_expired"] not in log
        assert "Deleted 2 of 4 driver pod(s) in namespace spark; kept 2" in log
        assert re.search(rf"Deleted notebook executor spark/{names['notebook_ended']}: Failed 2h( \d+m)? ago; its keep time "
                         "of 0s is over", log), log[-5000:]
        assert (f"Keeping notebook executor spark/{names['notebook_running']}: Running; an executor ends by itself once "
                "its notebook is gone") in log
        ended, running = sessions["notebook_ended"], sessions["notebook_running"]
        assert re.search(rf"Deleted notebook session spark/{ended.anchor_name} and its secret: started \S+ ago and no "
                         "executor of it is live", log), log[-5000:]
        assert re.search(rf"Keeping notebook session spark/{running.anchor_name}: started \S+ ago; an executor of it "
                         "is live", log), log[-5000:]
        # The garbage collector deletes the secret its anchor owned; the live session keeps its own.
        wait_for(lambda: _secret_exists(core, ended.secret_name), lambda exists: not exists, timeout_seconds=60,
                 what="the dead session's secret to be collected")  # fmt: skip
        assert _secret_exists(core, running.secret_name)

        wait_for(lambda: _phases(core, [names["orphan"], names["expired"], names["notebook_ended"]]),
                 lambda phases: all(p is None for p in phases.values()), timeout_seconds=60,
                 what="the swept pods to be gone")
        assert _phase(core, names["kept"]) == "Failed"
        assert _phase(core, names["unknown"]) == "Running"
        assert _phase(core, names["not_ours"]) == "Failed"
        assert _phase(core, names["other_deployment_same_task"]) == "Running"
        assert _phase(core, names["other_deployment_expired"]) == "Failed"
        assert _phase(core, names["notebook_running"]) == "Running"
    finally:
        for auth in sessions.values():
            close_session_auth(notebook, auth)
        for name in names.values():
            try:
                core.delete_namespaced_pod(name, SPARK_NAMESPACE, grace_period_seconds=0)
            except ApiException as error:
                if error.status != 404:
                    raise
