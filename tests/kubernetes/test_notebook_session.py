"""A notebook's client-mode session against the real cluster, as a data scientist starts it.

The notebook runs in a real Jupyter kernel (papermill) on this machine, which is Spark's driver;
``client_session`` starts its executors as pods in namespace spark with the notebook identity's
token (spark-notebook), a UDF runs on them, and ``spark.stop()`` ends it without an error stack and
with no pod left. A notebook whose UDF imports a module the image lacks is stopped before any
executor starts, naming the module and the fix.
"""

from __future__ import annotations

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
        "spark.stop()\nprint('STOPPED')",
    ]
    executed = _run_notebook(tmp_path / "session.ipynb", cells, image=spark_image, kubeconfig=notebook_kubeconfig,
                             driver_host=local_cluster.settings.node_ip)  # fmt: skip
    ran, stopped = _outputs(executed.cells[1]), _outputs(executed.cells[2])
    assert "EXECUTOR HOSTS ['notebook-test" in ran, ran  # executor pods are named after the application
    assert "STOPPED" in stopped
    assert "Forbidden" not in stopped and "Exception" not in stopped, stopped
    core = client.CoreV1Api(local_cluster.api_client())
    wait_for(lambda: core.list_namespaced_pod(SPARK_NAMESPACE, label_selector=NOTEBOOK_PODS).items, lambda pods: not pods,
             timeout_seconds=60, interval_seconds=1, what="the notebook's executor pods to be deleted")  # fmt: skip


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
    assert "only the notebook identity (spark-notebook) creates pods labelled sparkplane.dev/notebook" in refused.value.body
    admin.create_namespaced_pod(SPARK_NAMESPACE, restricted_pod("a-plain-pod", {"spark-role": "executor"}, spark_image))
    try:
        with pytest.raises(ApiException) as refused:
            admin.patch_namespaced_pod("a-plain-pod", SPARK_NAMESPACE, {"metadata": {"labels": {"sparkplane.dev/notebook": "true"}}})
        assert refused.value.status == 403 and "or adds that label" in refused.value.body
    finally:
        admin.delete_namespaced_pod("a-plain-pod", SPARK_NAMESPACE, grace_period_seconds=0)
