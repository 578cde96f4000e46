"""The admission policies of spark-bootstrap/30-admission-policies.yaml, enforced by the real API server.

Requests are made with a spark-sa token bound to a driver pod (what every running driver
holds: the kubelet mints it so), and with cluster admin where a test needs a victim. Pods live
on simulated nodes; most requests are dry runs, which pass through admission like real ones.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator

import pytest
from harness.platform import allowlisted_secrets, apply_bootstrap
from harness.simulated import SIMULATED_IMAGE, on_simulated_node, simulated_node
from harness.waits import wait_for
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from sparkplane.job_spec import SparkJobSpec
from sparkplane.kubernetes.driver_pod import KubernetesTarget, build_driver_pod
from sparkplane.kubernetes.identity import DRIVER_SERVICE_ACCOUNT, SPARK_NAMESPACE, TaskTry
from sparkplane.kubernetes.pod_templates import restricted_container_security, restricted_pod_security

pytestmark = pytest.mark.cluster

@pytest.fixture(scope="module")
def admin(local_cluster) -> client.CoreV1Api:
    apply_bootstrap(local_cluster)
    return client.CoreV1Api(local_cluster.api_client())


@pytest.fixture(scope="module")
def drivers(admin) -> Iterator[tuple[client.V1Pod, client.V1Pod]]:
    """Two drivers of two tasks, running as spark-sa on a simulated node."""
    node = simulated_node(admin)
    run = f"manual__{time.time_ns()}"
    created = []
    for task in ("first", "second"):
        task_try = TaskTry("admission_test", task, run, 1, deployment="admission-test")
        manifest = build_driver_pod(SparkJobSpec(application="a.py", name=task), task_try,
                                    KubernetesTarget(SPARK_NAMESPACE, SIMULATED_IMAGE))  # fmt: skip
        created.append(admin.create_namespaced_pod(SPARK_NAMESPACE, on_simulated_node(manifest, node)))
    yield created[0], created[1]
    for pod in created:  # their executors go with them
        with contextlib.suppress(ApiException):
            admin.delete_namespaced_pod(pod.metadata.name, SPARK_NAMESPACE, grace_period_seconds=0)


def _as_spark_sa(local_cluster, admin: client.CoreV1Api, bound_to: client.V1Pod) -> client.CoreV1Api:
    """Return a client acting as spark-sa with a token bound to ``bound_to`` (as the kubelet mints it)."""
    bound = client.V1BoundObjectReference(kind="Pod", api_version="v1", name=bound_to.metadata.name,
                                          uid=bound_to.metadata.uid)  # fmt: skip
    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(
        audiences=[], expiration_seconds=600, bound_object_ref=bound))  # fmt: skip
    token = admin.create_namespaced_service_account_token(DRIVER_SERVICE_ACCOUNT, SPARK_NAMESPACE, request).status.token
    configuration = local_cluster.api_client().configuration
    configuration.cert_file = configuration.key_file = None
    configuration.api_key = {"authorization": f"Bearer {token}"}
    return client.CoreV1Api(client.ApiClient(configuration))


@pytest.fixture(scope="module")
def as_first_driver(local_cluster, admin, drivers) -> client.CoreV1Api:
    as_driver = _as_spark_sa(local_cluster, admin, drivers[0])
    _wait_until_enforced(as_driver, drivers[0], simulated_node(admin))
    return as_driver


def _wait_until_enforced(as_driver: client.CoreV1Api, driver: client.V1Pod, node: str) -> None:
    """Wait until the API server enforces all three policies (it loads them through informers, so
    a policy applied a moment ago may not be judged yet)."""
    breaking = (
        _executor(driver, node, serviceAccountName=DRIVER_SERVICE_ACCOUNT),  # executors-of-the-asking-driver
        _executor(driver, node, volumes=[{"name": "s", "secret": {"secretName": "never-allowlisted"}}]),  # allowlisted-secrets
    )
    relabelled = _executor(driver, node)
    relabelled["metadata"]["labels"]["spark-role"] = "driver"  # jobs-make-no-drivers

    def admitted() -> list[str]:
        passing = []
        for pod in (*breaking, relabelled):
            try:
                as_driver.create_namespaced_pod(SPARK_NAMESPACE, pod, dry_run="All")
                passing.append(pod["metadata"]["name"])
            except ApiException as refused:
                if refused.status not in (403, 422):
                    raise
        return passing

    wait_for(admitted, lambda passing: not passing, timeout_seconds=30, what="the admission policies to be enforced")


def _executor(owner: client.V1Pod, node: str, **spec_changes) -> dict:
    """An executor pod of ``owner`` as Spark creates it (owner reference, spark-executor, the platform's image)."""
    container = {"name": "spark-kubernetes-executor", "image": SIMULATED_IMAGE,
                 "securityContext": restricted_container_security()}  # fmt: skip
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"exec-{uuid.uuid4().hex[:8]}", "labels": {"spark-role": "executor"},
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": owner.metadata.name,
                                          "uid": owner.metadata.uid, "controller": True}]},
        "spec": {"serviceAccountName": "spark-executor", "automountServiceAccountToken": False,
                 "securityContext": restricted_pod_security(), "containers": [container]},
    }  # fmt: skip
    pod["spec"].update(spec_changes)
    return on_simulated_node(pod, node)


def _refusal(call) -> str:
    with pytest.raises(ApiException) as refused:
        call()
    assert refused.value.status in (403, 422), refused.value.body
    return json.loads(refused.value.body)["message"]


def test_a_driver_creates_changes_and_deletes_its_own_executors(admin, drivers, as_first_driver):
    node = simulated_node(admin)
    executor = as_first_driver.create_namespaced_pod(SPARK_NAMESPACE, _executor(drivers[0], node))
    name = executor.metadata.name
    as_first_driver.patch_namespaced_pod(name, SPARK_NAMESPACE, {"metadata": {"labels": {"spark-exec-inactive": "true"}}})
    as_first_driver.delete_namespaced_pod(name, SPARK_NAMESPACE, grace_period_seconds=0)


@pytest.mark.parametrize(("change", "message"), [
    ({"labels": {"spark-role": "driver"}}, "jobs may not create or relabel pods as drivers"),
    ({"serviceAccountName": DRIVER_SERVICE_ACCOUNT}, "executor pods run as ServiceAccount spark-executor"),
    ({"image": "docker.io/library/busybox:1"}, "executor images must come from the platform registry (127.0.0.1:5000/)"),
    ({"volumes": [{"name": "stolen", "secret": {"secretName": "another-teams-credentials"}}]},
     "may mount only allowlisted Secrets; not allowlisted: another-teams-credentials"),
    ({"owner": "second"}, "a driver may create only executor pods it owns"),
    ({"owner": None}, "a driver may create only executor pods it owns"),
])
def test_spark_sa_is_refused_any_pod_but_its_own_drivers_executors(admin, drivers, as_first_driver, change, message):
    pod = _executor(drivers[0], simulated_node(admin))
    if "labels" in change:
        pod["metadata"]["labels"] = change["labels"]
    if "serviceAccountName" in change:
        pod["spec"]["serviceAccountName"] = change["serviceAccountName"]
    if "image" in change:
        pod["spec"]["containers"][0]["image"] = change["image"]
    if "volumes" in change:
        pod["spec"]["volumes"] = change["volumes"]
    if "owner" in change and change["owner"] is None:
        del pod["metadata"]["ownerReferences"]
    elif "owner" in change:
        pod["metadata"]["ownerReferences"][0].update(name=drivers[1].metadata.name, uid=drivers[1].metadata.uid)
    assert message in _refusal(lambda: as_first_driver.create_namespaced_pod(SPARK_NAMESPACE, pod, dry_run="All"))


def test_a_driver_cannot_touch_another_drivers_executor_or_the_driver_itself(admin, drivers, as_first_driver):
    victim = admin.create_namespaced_pod(SPARK_NAMESPACE, _executor(drivers[1], simulated_node(admin)))
    name = victim.metadata.name
    for call in (
        lambda: as_first_driver.delete_namespaced_pod(name, SPARK_NAMESPACE, dry_run="All"),
        lambda: as_first_driver.patch_namespaced_pod(name, SPARK_NAMESPACE, {"metadata": {"labels": {"x": "y"}}},
                                                     dry_run="All"),
    ):
        assert "a driver may change or delete only executor pods it owns" in _refusal(call)
    second_driver = drivers[1].metadata.name
    # Its annotations (the log checkpoint, the keep time) included.
    patch = {"metadata": {"annotations": {"sparkplane.dev/keep-failed-seconds": "1"}}}
    assert "only executor pods it owns" in _refusal(
        lambda: as_first_driver.patch_namespaced_pod(second_driver, SPARK_NAMESPACE, patch, dry_run="All"))
    assert admin.read_namespaced_pod(name, SPARK_NAMESPACE).metadata.deletion_timestamp is None


def test_any_pod_in_namespace_spark_references_only_allowlisted_secrets(local_cluster, admin, drivers):
    secret = f"allowlist-test-{uuid.uuid4().hex[:6]}"
    pod = _executor(drivers[0], simulated_node(admin))
    pod["spec"]["containers"][0]["env"] = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": secret, "key": "k"}}}]
    # Even cluster admin's pods: the allowlist is about what the namespace's pods may read.
    message = _refusal(lambda: admin.create_namespaced_pod(SPARK_NAMESPACE, pod, dry_run="All"))
    assert f"environment variables only from allowlisted Secrets; not allowlisted: {secret}" in message
    assert "ConfigMap sparkplane-system/sparkplane-admission" in message
    with allowlisted_secrets(local_cluster, secret):
        admin.create_namespaced_pod(SPARK_NAMESPACE, pod, dry_run="All")



def _mounting(pod: dict, secret: str) -> dict:
    pod["spec"]["volumes"] = [{"name": "spark-auth", "secret": {"secretName": secret}}]
    return pod


def test_an_executor_mounts_the_spark_auth_secret_of_the_driver_that_creates_it_and_no_other(admin, drivers, as_first_driver):
    node = simulated_node(admin)
    first, second = (driver.metadata.name for driver in drivers)
    as_first_driver.create_namespaced_pod(SPARK_NAMESPACE, _mounting(_executor(drivers[0], node), f"{first}-spark-auth"),
                                          dry_run="All")  # fmt: skip
    # An owner reference claiming the second driver as well does not make its secret the first's.
    claiming = _mounting(_executor(drivers[0], node), f"{second}-spark-auth")
    claiming["metadata"]["ownerReferences"].append({"apiVersion": "v1", "kind": "Pod", "name": second,
                                                    "uid": drivers[1].metadata.uid})  # fmt: skip
    message = _refusal(lambda: as_first_driver.create_namespaced_pod(SPARK_NAMESPACE, claiming, dry_run="All"))
    assert f"may mount only allowlisted Secrets; not allowlisted: {second}-spark-auth" in message
    # Nor does a pod named like a notebook session's anchor get that session's secret.
    posing = _mounting(_executor(drivers[0], node), "notebook-0123456789ab-spark-auth")
    posing["metadata"]["name"] = "notebook-0123456789ab"
    posing["metadata"]["labels"]["sparkplane.dev/notebook-session"] = "0123456789ab"
    message = _refusal(lambda: as_first_driver.create_namespaced_pod(SPARK_NAMESPACE, posing, dry_run="All"))
    assert "not allowlisted: notebook-0123456789ab-spark-auth" in message
    # The platform (here cluster admin) making an executor for a driver: the owner reference says whose.
    admin.create_namespaced_pod(SPARK_NAMESPACE, _mounting(_executor(drivers[1], node), f"{second}-spark-auth"),
                                dry_run="All")  # fmt: skip
