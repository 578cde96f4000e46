"""A notebook's client-mode session against the real cluster, as a data scientist starts it.

The notebook runs in a real Jupyter kernel (papermill) on this machine, which is Spark's driver;
``client_session`` starts its executors as pods in namespace spark with the notebook identity's
token (spark-notebook), a UDF runs on them, and ``spark.stop()`` ends it without an error stack and
with no pod left. The session authenticates its executors with a secret no pod spec holds, and
``spark.stop()`` deletes the secret. A notebook whose UDF imports a module the image lacks is
stopped before any executor starts, naming the module and the fix.
"""

from __future__ import annotations

import json
import os
import sys
from unittest import mock

import nbformat
import papermill
import pytest
from harness.platform import PROJECT_ROOT, restricted_pod
from harness.waits import wait_for
from kubernetes import client
from sparkplane.kubernetes.identity import SPARK_NAMESPACE
from sparkplane.notebook.session_auth import close_session_auth, open_session_auth, session_secret_manifest

pytestmark = pytest.mark.cluster

NOTEBOOK_PODS = "sparkplane.dev/notebook=true"


def _run_notebook(path, cells, *, image, kubeconfig, driver_host):
    session = ("from sparkplane.notebook.client_session import client_session\n"
               f"spark = client_session('notebook-test', image={image!r}, notebook={str(path)!r}, "
               f"kubeconfig={str(kubeconfig)!r}, driver_host={driver_host!r}, executors=1, executor_memory='512m', "
               "conf={'spark.kubernetes.executor.request.cores': '500m'})")  # fmt: skip
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in (session, *cells)],
                                        metadata={"language_info": {"name": "python", "version": "3.11.2"}})  # fmt: skip
    nbformat.write(notebook, path)
    # PYSPARK_PYTHON as a local notebook environment often has it: a path that is not in the image.
    kernel_env = {"PYTHONPATH": str(PROJECT_ROOT / "plugins"), "PYSPARK_PYTHON": sys.executable}
    with mock.patch.dict(os.environ, kernel_env):
        papermill.execute_notebook(str(path), str(path.with_suffix(".out.ipynb")), kernel_name="python3",
                                   progress_bar=False, execution_timeout=600)  # fmt: skip
    return nbformat.read(path.with_suffix(".out.ipynb"), as_version=4)


def _outputs(cell) -> str:
    return "\n".join(output.get("text", "") or str(output.get("evalue", "")) for output in cell.outputs)


def test_a_notebook_session_runs_a_udf_on_an_executor_pod_and_stops_cleanly(
    local_cluster, spark_image, notebook_kubeconfig, tmp_path
):
    cells = [
        "import socket\n"
        "hosts = spark.sparkContext.parallelize(range(4), 2).map(lambda _: socket.gethostname()).distinct().collect()\n"
        "print('EXECUTOR HOSTS', sorted(hosts), 'DRIVER', socket.gethostname())",
        # What the executors' pods hold, read as the notebook identity while they run (imported by
        # name: the test's own look, which the image check must not take for the job's imports).
        "import importlib, json\nk8s, k8s_config = (importlib.import_module(f'kubernetes.{m}') for m in ('client', 'config'))\n"
        "session = spark.conf.get('spark.kubernetes.executor.label.sparkplane.dev/notebook-session')\n"
        f"core = k8s.CoreV1Api(k8s_config.new_client_from_config({str(notebook_kubeconfig)!r}))\n"
        "pods = core.list_namespaced_pod('spark', label_selector='sparkplane.dev/notebook-session=' + session).items\n"
        "print('AUTH', json.dumps({'session': session, 'authenticate': spark.conf.get('spark.authenticate'),\n"
        "    'env': sorted({e.name for p in pods for c in p.spec.containers for e in (c.env or [])}),\n"
        "    'secrets': sorted({v.secret.secret_name for p in pods for v in (p.spec.volumes or []) if v.secret})}))",
        # The JVM's log reaches the cell through a pipe the kernel reads: a moment for Spark's last lines.
        "import time\nspark.stop()\ntime.sleep(3)\nprint('STOPPED')",
    ]
    executed = _run_notebook(tmp_path / "session.ipynb", cells, image=spark_image, kubeconfig=notebook_kubeconfig,
                             driver_host=local_cluster.settings.node_ip)  # fmt: skip
    ran, pods, stopped = (_outputs(executed.cells[i]) for i in (1, 2, 3))
    assert "EXECUTOR HOSTS ['notebook-test" in ran, ran  # executor pods are named after the application
    auth = json.loads(pods.split("AUTH ", 1)[1])
    assert auth["authenticate"] == "true"
    assert auth["secrets"] == [f"notebook-{auth['session']}-spark-auth"]
    assert "_SPARK_AUTH_SECRET" not in auth["env"], auth["env"]  # Spark's own way: the value in the pod spec
    assert "STOPPED" in stopped
    assert "Forbidden" not in stopped and "Exception" not in stopped, stopped
    core = client.CoreV1Api(local_cluster.api_client())
    wait_for(lambda: core.list_namespaced_pod(SPARK_NAMESPACE, label_selector=NOTEBOOK_PODS).items, lambda pods: not pods,
             timeout_seconds=60, interval_seconds=1, what="the notebook's executor pods to be deleted")  # fmt: skip
    # spark.stop() deleted the session's anchor; the garbage collector, the secret it owned.
    session_objects = f"sparkplane.dev/notebook-session={auth['session']}"
    wait_for(lambda: [item.metadata.name for item in core.list_namespaced_secret(SPARK_NAMESPACE, label_selector=session_objects).items
                      + core.list_namespaced_config_map(SPARK_NAMESPACE, label_selector=session_objects).items],
             lambda left: not left, timeout_seconds=60, interval_seconds=1, what="the session's secret to be deleted")  # fmt: skip


def test_a_module_the_image_lacks_stops_the_session_before_any_executor(
    local_cluster, spark_image, notebook_kubeconfig, tmp_path
):
    cells = ["def score(x):\n    from sklearn.preprocessing import minmax_scale\n    return x"]
    with pytest.raises(papermill.PapermillExecutionError) as failed:
        _run_notebook(tmp_path / "lacking.ipynb", cells, image=spark_image, kubeconfig=notebook_kubeconfig,
                      driver_host=local_cluster.settings.node_ip)  # fmt: skip
    message = str(failed.value)
    assert "NotebookSessionError" in message and "no executor was started" in message
    assert "the job imports sklearn, which no package in the image provides" in message
    assert "Add scikit-learn to the [jobs] extra" in message
    core = client.CoreV1Api(local_cluster.api_client())
    assert core.list_namespaced_pod(SPARK_NAMESPACE, label_selector=NOTEBOOK_PODS).items == []


def test_the_notebook_identity_may_not_make_a_driver_nor_delete_another_jobs_executor(
    local_cluster, spark_image, notebook_kubeconfig
):
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config import new_client_from_config

    notebook = client.CoreV1Api(new_client_from_config(str(notebook_kubeconfig)))
    with pytest.raises(ApiException) as refused:
        notebook.create_namespaced_pod(SPARK_NAMESPACE, restricted_pod("notebook-made-driver", {"spark-role": "driver"}, spark_image))
    assert refused.value.status == 403
    assert "a notebook creates, changes and deletes only notebook executors" in refused.value.body

    admin = client.CoreV1Api(local_cluster.api_client())
    admin.create_namespaced_pod(SPARK_NAMESPACE, restricted_pod("a-jobs-executor", {"spark-role": "executor"}, spark_image))
    try:
        with pytest.raises(ApiException) as refused:
            notebook.delete_namespaced_pod("a-jobs-executor", SPARK_NAMESPACE)
        assert refused.value.status == 403
        assert "a notebook creates, changes and deletes only notebook executors" in refused.value.body
    finally:
        admin.delete_namespaced_pod("a-jobs-executor", SPARK_NAMESPACE, grace_period_seconds=0)


def test_only_the_notebook_identity_labels_a_pod_as_a_notebooks(local_cluster, spark_image, notebook_kubeconfig):
    from kubernetes.client.exceptions import ApiException

    admin = client.CoreV1Api(local_cluster.api_client())
    with pytest.raises(ApiException) as refused:
        admin.create_namespaced_pod(SPARK_NAMESPACE, restricted_pod("posing-as-a-notebook", {
            "spark-role": "executor", "sparkplane.dev/notebook": "true"}, spark_image), dry_run="All")  # fmt: skip
    assert refused.value.status == 403
    assert "only the notebook identity (spark-notebook) creates pods, ConfigMaps or Secrets labelled sparkplane.dev/notebook" in refused.value.body
    admin.create_namespaced_pod(SPARK_NAMESPACE, restricted_pod("a-plain-pod", {"spark-role": "executor"}, spark_image))
    try:
        with pytest.raises(ApiException) as refused:
            admin.patch_namespaced_pod("a-plain-pod", SPARK_NAMESPACE, {"metadata": {"labels": {"sparkplane.dev/notebook": "true"}}})
        assert refused.value.status == 403 and "or adds that label" in refused.value.body
    finally:
        admin.delete_namespaced_pod("a-plain-pod", SPARK_NAMESPACE, grace_period_seconds=0)


def test_the_notebook_identity_creates_only_its_sessions_secret_and_reads_none(local_cluster, notebook_kubeconfig, tmp_path):
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config import new_client_from_config

    notebook = client.CoreV1Api(new_client_from_config(str(notebook_kubeconfig)))
    admin = client.CoreV1Api(local_cluster.api_client())
    auth = open_session_auth(notebook, SPARK_NAMESPACE, tmp_path)
    try:
        assert auth.driver_secret_file.stat().st_mode & 0o777 == 0o600
        assert admin.read_namespaced_secret(auth.secret_name, SPARK_NAMESPACE).metadata.owner_references[0].name == auth.anchor_name
        with pytest.raises(ApiException) as refused:
            notebook.read_namespaced_secret(auth.secret_name, SPARK_NAMESPACE)
        assert refused.value.status == 403  # RBAC: create only
        unowned = session_secret_manifest(auth.session, SPARK_NAMESPACE, anchor_uid="x", secret=b"k")
        del unowned["metadata"]["ownerReferences"]
        another = session_secret_manifest(auth.session, SPARK_NAMESPACE, anchor_uid="x", secret=b"k")
        another["metadata"]["name"] = "sparkplane-object-store-2"
        for manifest in (unowned, another):
            with pytest.raises(ApiException) as refused:
                notebook.create_namespaced_secret(SPARK_NAMESPACE, manifest, dry_run="All")
            assert refused.value.status == 403
            assert "a notebook creates only its session's Spark authentication secret" in refused.value.body
        with pytest.raises(ApiException) as refused:  # nor may anyone else make what looks like a session's anchor
            admin.create_namespaced_config_map(SPARK_NAMESPACE, {"metadata": {"name": "notebook-posing", "labels": {
                "sparkplane.dev/notebook": "true", "sparkplane.dev/notebook-session": auth.session}}}, dry_run="All")  # fmt: skip
        assert refused.value.status == 403 and "only the notebook identity" in refused.value.body
    finally:
        close_session_auth(notebook, auth)
    assert not auth.driver_secret_file.exists()
    wait_for(lambda: [s.metadata.name for s in admin.list_namespaced_secret(SPARK_NAMESPACE).items],
             lambda names: auth.secret_name not in names, timeout_seconds=60, interval_seconds=1,
             what="the garbage collector to delete the session's secret with its anchor")  # fmt: skip
