"""The Spark image on the real cluster: pushed to the local registry, read back from it, pulled
by the real node, and running a PySpark job as driver and executor pods via spark-submit."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from importlib.util import find_spec
from pathlib import Path

import pytest
import yaml
from harness.platform import apply_bootstrap, build_spark_image
from harness.pods import read_pod_log, wait_for_pod_finished
from kubernetes import client
from sparkplane import settings
from sparkplane.bootstrap.apply import DEFAULT_MANIFEST_DIR
from sparkplane.bootstrap.submit_conf import bootstrap_spark_conf
from sparkplane.image.contents import python_parity_problem, read_image_contents
from sparkplane.kubernetes.identity import DRIVER_SERVICE_ACCOUNT, SPARK_NAMESPACE

pytestmark = pytest.mark.cluster

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SMOKE_JOB = PROJECT_ROOT / "tests" / "data" / "k8s_smoke_job.py"
#: A cold image build and push take minutes; the job itself about a minute.
BUILD_TIMEOUT_SECONDS = 20 * 60
SUBMIT_TIMEOUT_SECONDS = 10 * 60
#: Settings of the small test job: two executors that fit on the real node beside the driver.
SMALL_JOB_ON_REAL_NODE = {
    "spark.kubernetes.node.selector.sparkplane.dev/node-type": "real",
    "spark.executor.instances": "2",
    # The real node has two cores: requests of half a core let driver and executors fit.
    "spark.kubernetes.driver.request.cores": "0.5",
    "spark.kubernetes.executor.request.cores": "0.5",
    "spark.driver.memory": "512m",
    "spark.executor.memory": "512m",
    # Keep executor pods after the job so the test can inspect them; deleted at the end.
    "spark.kubernetes.executor.deleteOnTermination": "false",
}


@pytest.fixture(scope="module")
def pushed_image(local_cluster) -> dict:
    """Build the image (cached when unchanged), push it to the cluster's registry; return the record."""
    apply_bootstrap(local_cluster)
    return build_spark_image(local_cluster.registry, timeout_seconds=BUILD_TIMEOUT_SECONDS)


def restricted_pod(name: str, image: str, command: list[str], node_selector: dict[str, str]) -> dict:
    """A pod with the driver template's security settings running ``command``."""
    pod = yaml.safe_load((DEFAULT_MANIFEST_DIR / "pod-templates" / "driver.yaml").read_text())
    pod["metadata"] = {"name": name}
    pod["spec"].update(restartPolicy="Never", nodeSelector=node_selector, automountServiceAccountToken=False)
    pod["spec"]["containers"][0].update(name="main", image=image, imagePullPolicy="Always", command=command)
    return pod


def test_contents_read_from_the_registry_match_the_image_and_the_driver_python(pushed_image):
    from_registry = read_image_contents(pushed_image["pinned"])
    from_docker = read_image_contents(pushed_image["image"], source="docker")

    assert from_registry == from_docker
    assert python_parity_problem(from_registry, platform.python_version()) is None


def test_a_container_reads_the_image_at_the_node_address_where_nothing_can_be_pushed(local_cluster, pushed_image,
                                                                                     monkeypatch):  # fmt: skip
    # A container's 127.0.0.1 is its own: the Airflow stack reads the nodes' registry at the node address.
    node_registry = local_cluster.settings.node_registry
    monkeypatch.setattr(settings, "IMAGE_REGISTRY_ALIASES", f"{local_cluster.registry}=http://{node_registry}")
    assert read_image_contents(pushed_image["pinned"]) == read_image_contents(pushed_image["image"], source="docker")
    upload = urllib.request.Request(f"http://{node_registry}/v2/sparkplane/spark/blobs/uploads/", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(upload, timeout=10)
    assert refused.value.code == 405, "the registry at the node address must be read-only"


def test_real_node_pulls_the_pushed_image_from_the_local_registry(local_cluster, pushed_image):
    core = client.CoreV1Api(local_cluster.api_client())
    name = f"pull-{uuid.uuid4().hex[:8]}"
    command = ["python", "-c", "import pyspark, pandas; print('image-ok', pyspark.__version__, pandas.__version__)"]
    core.create_namespaced_pod(SPARK_NAMESPACE, restricted_pod(name, pushed_image["pinned"], command, local_cluster.real_node_selector))
    try:
        assert wait_for_pod_finished(core, SPARK_NAMESPACE, name, timeout_seconds=300) == "Succeeded"
        pod = core.read_namespaced_pod(name, SPARK_NAMESPACE)
        assert pod.spec.node_name == local_cluster.real_node
        assert pod.status.container_statuses[0].image_id.endswith(pushed_image["digest"])
        assert read_pod_log(core, SPARK_NAMESPACE, name).strip() == "image-ok 4.1.4 2.3.3"
    finally:
        core.delete_namespaced_pod(name, SPARK_NAMESPACE, grace_period_seconds=0)


def driver_template_running(job_configmap: str, target: Path) -> Path:
    """Write the bootstrap's driver template plus a volume with the job file; return its path.

    Spark in cluster mode runs an application file that is in the image or reachable by URL;
    the test's job is neither, so the driver pod mounts it from a configmap.
    """
    template = yaml.safe_load((DEFAULT_MANIFEST_DIR / "pod-templates" / "driver.yaml").read_text())
    template["spec"]["volumes"] = [{"name": "job", "configMap": {"name": job_configmap}}]
    template["spec"]["containers"][0]["volumeMounts"] = [{"name": "job", "mountPath": "/opt/spark/smoke"}]
    target.write_text(yaml.safe_dump(template))
    return target


def spark_submit_env(kubeconfig: Path) -> dict[str, str]:
    """The environment of spark-submit from the project's environment, acting as ``kubeconfig``."""
    spark_home = Path(find_spec("pyspark").origin).parent  # type: ignore[union-attr]
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "KUBECONFIG": str(kubeconfig), "SPARK_HOME": str(spark_home),
            "PATH": f"{bin_dir}:{os.environ['PATH']}"}


@pytest.mark.long  # plain spark-submit, not the platform's path; the operator's runs prove the image on the node
def test_spark_submit_in_cluster_mode_runs_driver_and_executors_on_the_real_node(local_cluster, pushed_image, tmp_path):
    admin = local_cluster.api_client()
    core = client.CoreV1Api(admin)
    app = f"smoke-{uuid.uuid4().hex[:8]}"
    core.create_namespaced_config_map(SPARK_NAMESPACE, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=app), data={"k8s_smoke_job.py": SMOKE_JOB.read_text()}))
    conf = bootstrap_spark_conf(pushed_image["pinned"]) | SMALL_JOB_ON_REAL_NODE | {
        "spark.kubernetes.driver.podTemplateFile": str(driver_template_running(app, tmp_path / "driver.yaml")),
        "spark.kubernetes.submission.waitAppCompletion": "true",
    }
    argv = [str(Path(sys.executable).parent / "spark-submit"), "--master", f"k8s://{local_cluster.settings.apiserver_url}",
            "--deploy-mode", "cluster", "--name", app]
    argv += [arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")]
    argv.append("local:///opt/spark/smoke/k8s_smoke_job.py")
    kubeconfig = local_cluster.serviceaccount_kubeconfig(SPARK_NAMESPACE, DRIVER_SERVICE_ACCOUNT)
    try:
        submitted = subprocess.run(argv, env=spark_submit_env(kubeconfig), capture_output=True, text=True,
                                   timeout=SUBMIT_TIMEOUT_SECONDS)
        assert submitted.returncode == 0, submitted.stderr[-4000:]
        (driver,) = core.list_namespaced_pod(SPARK_NAMESPACE, label_selector=f"spark-app-name={app},spark-role=driver").items
        app_id = driver.metadata.labels["spark-app-selector"]
        executors = core.list_namespaced_pod(SPARK_NAMESPACE, label_selector=f"spark-app-selector={app_id},spark-role=executor").items
        assert driver.status.phase == "Succeeded", "driver log:\n" + read_pod_log(core, SPARK_NAMESPACE, driver.metadata.name)[-6000:]
        assert driver.spec.service_account_name == DRIVER_SERVICE_ACCOUNT
        assert {p.spec.node_name for p in [driver, *executors]} == {local_cluster.real_node}
        assert len(executors) == 2
        for executor in executors:
            assert executor.spec.service_account_name == "spark-executor"
            assert executor.spec.automount_service_account_token is False
            assert not any(v.projected for v in executor.spec.volumes or []), "executors must get no API token"

        log = read_pod_log(core, SPARK_NAMESPACE, driver.metadata.name)
        (line,) = [l for l in log.splitlines() if l.startswith("SMOKE-RESULT ")]
        report = json.loads(line.removeprefix("SMOKE-RESULT "))
        assert report["total"] == 500500
        assert {t["host"] for t in report["tasks"]} <= {p.metadata.name for p in executors}
        assert {t["python"] for t in report["tasks"]} == {pushed_image["contents"]["python_version"]}
        assert "forbidden" not in log.lower(), "the driver hit an RBAC denial"
    finally:
        # Executors carry the application id, not the name; the driver owns them and the configmaps.
        for pod in core.list_namespaced_pod(SPARK_NAMESPACE, label_selector=f"spark-app-name={app}").items:
            app_id = pod.metadata.labels["spark-app-selector"]
            core.delete_collection_namespaced_pod(SPARK_NAMESPACE, label_selector=f"spark-app-selector={app_id}", grace_period_seconds=0)
        core.delete_namespaced_config_map(app, SPARK_NAMESPACE)


def test_driver_started_as_a_pod_runs_executors_from_the_template_inside_the_image(local_cluster, pushed_image):
    """The operator's path: no spark-submit outside; the driver pod runs Spark in client mode."""
    core = client.CoreV1Api(local_cluster.api_client())
    name = f"pod-driver-{uuid.uuid4().hex[:8]}"
    core.create_namespaced_config_map(SPARK_NAMESPACE, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name), data={"k8s_smoke_job.py": SMOKE_JOB.read_text()}))
    conf = bootstrap_spark_conf(pushed_image["pinned"]) | SMALL_JOB_ON_REAL_NODE | {
        "spark.master": "k8s://https://kubernetes.default.svc",
        "spark.kubernetes.driver.pod.name": name,
        # Executors reach the driver at its pod IP; Kubernetes expands $(VAR) in args.
        "spark.driver.host": "$(SPARK_DRIVER_BIND_ADDRESS)",
        "spark.kubernetes.executor.podTemplateFile": "/opt/spark/pod-templates/executor.yaml",
    }
    del conf["spark.kubernetes.driver.podTemplateFile"]
    pod = yaml.safe_load((DEFAULT_MANIFEST_DIR / "pod-templates" / "driver.yaml").read_text())
    pod["metadata"] = {"name": name}
    pod["spec"].update(
        restartPolicy="Never", serviceAccountName=DRIVER_SERVICE_ACCOUNT, nodeSelector=local_cluster.real_node_selector,
        volumes=[{"name": "job", "configMap": {"name": name}}],
    )
    pod["spec"]["containers"][0].update(
        image=pushed_image["pinned"],
        args=["driver", "--name", name, *[a for k, v in conf.items() for a in ("--conf", f"{k}={v}")],
              "local:///opt/spark/smoke/k8s_smoke_job.py"],
        env=[{"name": "SPARK_DRIVER_BIND_ADDRESS", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
        volumeMounts=[{"name": "job", "mountPath": "/opt/spark/smoke"}],
        resources={"requests": {"cpu": "500m", "memory": "1Gi"}},
    )
    core.create_namespaced_pod(SPARK_NAMESPACE, pod)
    try:
        phase = wait_for_pod_finished(core, SPARK_NAMESPACE, name, timeout_seconds=SUBMIT_TIMEOUT_SECONDS)
        log = read_pod_log(core, SPARK_NAMESPACE, name)
        assert phase == "Succeeded", log[-4000:]
        executors = [
            p for p in core.list_namespaced_pod(SPARK_NAMESPACE, label_selector="spark-role=executor").items
            if any(ref.name == name for ref in p.metadata.owner_references or [])
        ]
        assert len(executors) == 2
        assert {p.spec.service_account_name for p in executors} == {"spark-executor"}
        (line,) = [l for l in log.splitlines() if l.startswith("SMOKE-RESULT ")]
        report = json.loads(line.removeprefix("SMOKE-RESULT "))
        assert report["total"] == 500500
        assert {t["host"] for t in report["tasks"]} <= {p.metadata.name for p in executors}
        assert "forbidden" not in log.lower(), "the driver hit an RBAC denial"
    finally:
        for executor in core.list_namespaced_pod(SPARK_NAMESPACE, label_selector="spark-role=executor").items:
            if any(ref.name == name for ref in executor.metadata.owner_references or []):
                core.delete_namespaced_pod(executor.metadata.name, SPARK_NAMESPACE, grace_period_seconds=0)
        core.delete_namespaced_pod(name, SPARK_NAMESPACE, grace_period_seconds=0)
        core.delete_namespaced_config_map(name, SPARK_NAMESPACE)
