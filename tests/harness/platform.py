"""The platform installed on the local cluster, as its tests and benchmarks set it up.

The Spark image built from this tree and pushed to the local registry, spark-bootstrap/ applied,
an Airflow connection acting as the platform's own identity (so a missing permission fails in
tests as it would in production), and the pods the platform created for a DAG.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sparkplane.bootstrap.apply import DEFAULT_MANIFEST_DIR, apply_manifests, dynamic_client, load_manifests
from sparkplane.kubernetes.identity import AIRFLOW_NAMESPACE, AIRFLOW_SERVICE_ACCOUNT, NOTEBOOK_LABEL, SPARK_NAMESPACE
from sparkplane.kubernetes.pod_templates import restricted_container_security, restricted_pod_security

from harness.airflow import AirflowServices
from harness.cluster import LocalCluster
from harness.waits import wait_for

if TYPE_CHECKING:
    import pandas as pd

PROJECT_ROOT = Path(__file__).resolve().parents[2]
IMAGE_BUILD = PROJECT_ROOT / "image" / "build"
#: DAGs that exist for tests only (one per way a job can fail, runs a test interrupts, a sweep target).
TEST_DAGS = PROJECT_ROOT / "tests" / "data" / "dags"
JOB_SELECTOR = "app.kubernetes.io/managed-by=sparkplane"


def build_spark_image(registry: str, *, timeout_seconds: float = 3600) -> dict:
    """Build the platform's Spark image (cached when unchanged), push it; return ``image/build``'s record.

    The record holds ``image``, ``pinned`` (by digest), ``digest`` and the recorded ``contents``.
    """
    result = subprocess.run(
        [sys.executable, str(IMAGE_BUILD), "--registry", registry, "--json"],
        capture_output=True, text=True, timeout=timeout_seconds,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(result.stdout)


def apply_bootstrap(local_cluster: LocalCluster) -> None:
    """Apply spark-bootstrap/ as cluster admin (idempotent: an earlier session may have applied it)."""
    list(apply_manifests(dynamic_client(local_cluster.admin_kubeconfig), load_manifests(DEFAULT_MANIFEST_DIR)))


def airflow_identity_connection(local_cluster: LocalCluster) -> str:
    """Return an Airflow connection (as an environment variable's value) acting as the platform's identity."""
    kubeconfig = local_cluster.serviceaccount_kubeconfig(AIRFLOW_NAMESPACE, AIRFLOW_SERVICE_ACCOUNT)
    return json.dumps({"conn_type": "kubernetes", "extra": {"kube_config_path": str(kubeconfig)}})


#: The Airflow connection id of the object store in the tests' deployments.
OBJECT_STORE_CONN_ID = "object_store"


def object_store_connection(local_cluster: LocalCluster) -> str:
    """Put the platform's store key in its Secret in namespace spark; return the Airflow connection
    (an environment variable's value) that names the Secret for pods and holds the key for local mode."""
    from localcluster import object_store

    object_store.apply_platform_secret(local_cluster.settings, SPARK_NAMESPACE)
    return object_store.airflow_connection(object_store.platform_access(local_cluster.settings))


def platform_store_client(local_cluster: LocalCluster):
    """The platform's store key, and a boto3 S3 client using it (path-style, SigV4)."""
    from localcluster import object_store

    from sparkplane.storage.object_store import ObjectStore

    access = object_store.platform_access(local_cluster.settings)
    store = ObjectStore(conn_id="tests", endpoint=access.endpoint, region=access.region, path_style=True,
                        access_key_id=access.access_key_id, secret_access_key=access.secret_access_key)  # fmt: skip
    return access, store.s3_client()


def delete_prefix(s3, bucket: str, prefix: str) -> None:
    """Delete every object under ``prefix`` (what a test wrote to the store)."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])


def reports_under(s3, bucket: str, prefix: str) -> dict[str, pd.DataFrame]:
    """Every Parquet report under ``prefix`` of ``bucket``, its parts read into one frame, by its folder
    (the part of the key after ``prefix``, up to the file name)."""
    import io
    import posixpath

    import pandas as pd

    parts: dict[str, list[pd.DataFrame]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for key in [item["Key"] for item in page.get("Contents", []) if item["Key"].endswith(".parquet")]:
            frame = pd.read_parquet(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
            parts.setdefault(posixpath.dirname(key.removeprefix(prefix)), []).append(frame)
    return {folder: pd.concat(frames, ignore_index=True) for folder, frames in parts.items()}


def restricted_pod(name: str, labels: dict[str, str], image: str, command: tuple[str, ...] = ("sleep", "300")) -> dict:
    """A pod manifest Pod Security "restricted" admits, as an executor (``spark-executor``, no API
    token), so only the platform's admission policies can refuse it."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels}, "spec": {
        "serviceAccountName": "spark-executor", "automountServiceAccountToken": False,
        "securityContext": restricted_pod_security(),
        "containers": [{"name": "c", "image": image, "command": list(command),
                        "securityContext": restricted_container_security()}]}}  # fmt: skip


def notebook_identity_kubeconfig(local_cluster: LocalCluster, output: Path) -> Path:
    """Write a token kubeconfig of the notebook identity (spark-notebook) once its admission
    policies are in force (the API server loads a new policy through an informer, a moment later)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config import new_client_from_config
    from localcluster.kubeconfigs import mint_serviceaccount_kubeconfig

    apply_bootstrap(local_cluster)
    kubeconfig = mint_serviceaccount_kubeconfig(SPARK_NAMESPACE, "spark-notebook", settings=local_cluster.settings,
                                                output=output)  # fmt: skip
    notebook, admin = client.CoreV1Api(new_client_from_config(str(kubeconfig))), client.CoreV1Api(local_cluster.api_client())
    probes = [  # (who creates, what, the refusal that shows the policy acts)
        (notebook.create_namespaced_pod,
         restricted_pod("notebook-policy-probe", {"spark-role": "driver"}, "127.0.0.1:5000/none:0"),
         "only notebook executors"),
        (admin.create_namespaced_pod,
         restricted_pod("notebook-label-probe", {NOTEBOOK_LABEL: "true"}, "127.0.0.1:5000/none:0"),
         "only the notebook identity"),
        (notebook.create_namespaced_secret,
         {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "notebook-secret-probe"}},
         "only its session's Spark authentication secret"),
    ]  # fmt: skip

    def refused(create, manifest: dict, words: str) -> bool:
        try:
            create(SPARK_NAMESPACE, manifest, dry_run="All")
        except ApiException as error:
            return error.status == 403 and words in error.body
        return False

    for create, manifest, words in probes:
        wait_for(lambda: refused(create, manifest, words), bool, timeout_seconds=30,
                 what=f"the notebook admission policy refusing {manifest['metadata']['name']}")  # fmt: skip
    return kubeconfig


@contextlib.contextmanager
def scratch_prefix(local_cluster: LocalCluster, name: str) -> Iterator[tuple[str, str, object]]:
    """A fresh key prefix in the platform's bucket for the block, emptied after it: (bucket, prefix, s3)."""
    access, s3 = platform_store_client(local_cluster)
    prefix = f"tests/{name}-{uuid.uuid4().hex[:8]}"
    try:
        yield access.bucket, prefix, s3
    finally:
        delete_prefix(s3, access.bucket, prefix)


@contextlib.contextmanager
def platform_airflow(home: Path, dag_file: str, *, connection: str, image: str) -> Iterator[AirflowServices]:
    """Run an Airflow deployment in ``home`` for the block, with only ``dag_file`` of the test DAGs,
    on the cluster as the platform's identity; its REST API hands out admin tokens."""
    dags = home / "dags"
    dags.mkdir(parents=True)
    (dags / dag_file).symlink_to(TEST_DAGS / dag_file)
    services = AirflowServices(home=home / "airflow", dags_folder=dags, extra_env={
        "AIRFLOW_CONN_SPARK_CLUSTER": connection,
        "SPARKPLANE_KUBERNETES_CONN_ID": "spark_cluster",
        "SPARKPLANE_SPARK_IMAGE": image,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",  # AirflowServices.rest, as a user
    })  # fmt: skip
    services.start_all()
    try:
        yield services
    finally:
        services.stop_all()


def job_pods(local_cluster: LocalCluster, dag_id: str) -> list:
    """Return the pods (driver and executors) the platform created for ``dag_id``."""
    from kubernetes import client

    api = client.CoreV1Api(local_cluster.api_client())
    selector = f"{JOB_SELECTOR},sparkplane.dev/dag-id={dag_id}"
    return api.list_namespaced_pod(SPARK_NAMESPACE, label_selector=selector).items


def delete_job_pods(local_cluster: LocalCluster, dag_id: str) -> None:
    """Delete the pods the platform created for ``dag_id`` (left by a session stopped midway); wait until gone."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(local_cluster.api_client())
    for pod in job_pods(local_cluster, dag_id):
        with contextlib.suppress(ApiException):
            core.delete_namespaced_pod(pod.metadata.name, SPARK_NAMESPACE, grace_period_seconds=0)
    wait_for_no_job_pods(local_cluster, dag_id)


def wait_for_no_job_pods(local_cluster: LocalCluster, dag_id: str, *, timeout_seconds: float = 60) -> None:
    """Wait until no pod of ``dag_id`` is left (the garbage collector takes executors after the driver)."""
    wait_for(
        lambda: [pod.metadata.name for pod in job_pods(local_cluster, dag_id)],
        lambda left: not left,
        timeout_seconds=timeout_seconds,
        interval_seconds=1,
        what=f"the pods of {dag_id} to be deleted",
    )


#: The admission policies' parameters (spark-bootstrap/30-admission-policies.yaml).
ADMISSION_PARAMS = "sparkplane-admission"


@contextlib.contextmanager
def allowlisted_secrets(local_cluster: LocalCluster, *secrets: str) -> Iterator[None]:
    """Let pods in namespace spark reference ``secrets`` for the block; restore the allowlist afterwards."""
    from kubernetes import client

    core = client.CoreV1Api(local_cluster.api_client())
    before = core.read_namespaced_config_map(ADMISSION_PARAMS, AIRFLOW_NAMESPACE).data["secrets"]
    names = [name for name in before.split(",") if name] + list(secrets)
    core.patch_namespaced_config_map(ADMISSION_PARAMS, AIRFLOW_NAMESPACE, {"data": {"secrets": ",".join(names)}})
    try:
        # The API server reads the parameters through an informer: wait until a probe passes.
        probe = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "allowlist-probe"},
                 "spec": {"securityContext": restricted_pod_security(), "containers": [{
                     "name": "probe", "image": "127.0.0.1:5000/none:0", "securityContext": restricted_container_security(),
                     "envFrom": [{"secretRef": {"name": name}} for name in secrets]}]}}  # fmt: skip
        wait_for(lambda: _admitted(core, probe), bool, timeout_seconds=30, what=f"{secrets} to be allowlisted")
        yield
    finally:
        core.patch_namespaced_config_map(ADMISSION_PARAMS, AIRFLOW_NAMESPACE, {"data": {"secrets": before}})


def _admitted(core, pod: dict) -> bool:
    from kubernetes.client.exceptions import ApiException

    try:
        core.create_namespaced_pod(SPARK_NAMESPACE, pod, dry_run="All")
    except ApiException as error:
        if error.status == 403:
            return False
        raise
    return True
