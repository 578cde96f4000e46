"""The spark_rbac_check DAG and the operator's RBAC failures on the real cluster, as the platform's identity.

The bootstrap's namespace passes. Each other test sets up a scratch namespace the way a platform
operator sets one up for jobs (the bootstrap's accounts, Roles and RoleBindings of namespace
spark, moved there: the Airflow identity's Role is what lets the check read it), breaks one
thing, and checks what the DAG (``airflow dags test``) or the launcher (in-process) says: watch
taken off the driver's pods rule, the seed manifest in place of the driver's objects, one more
Role granting spark-sa secrets. The wrong-namespace failure runs through the launcher too.
"""

from __future__ import annotations

import copy
import json
import logging
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml
from harness.airflow import run_dag
from harness.log_capture import CapturedLines
from harness.waits import wait_for
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from sparkplane.bootstrap.apply import DEFAULT_MANIFEST_DIR, apply_manifests, dynamic_client, load_manifests
from sparkplane.exceptions import PreflightFailed
from sparkplane.job_spec import SparkJobSpec
from sparkplane.kubernetes.driver_pod import KubernetesTarget
from sparkplane.kubernetes.identity import SPARK_NAMESPACE, TaskTry
from sparkplane.kubernetes.launcher import DriverLauncher
from sparkplane.rbac.cluster_check import run_rbac_check
from sparkplane.rbac.hook import RbacHook
from sparkplane.rbac.needed_rights import ServiceAccount

pytestmark = pytest.mark.cluster

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RBAC_CHECK_DAG = PROJECT_ROOT / "dags" / "spark_rbac_check.py"
SEED_MANIFEST = PROJECT_ROOT / "tests" / "data" / "seed-spark-manifest.yaml"
AIRFLOW_IDENTITY = ServiceAccount("sparkplane-system", "sparkplane-airflow")
CONN_ID = "spark_cluster_rbac_test"
NOWHERE_IMAGE = "127.0.0.1:5000/none:0"  # the RBAC preflight fails before any image is read


@pytest.fixture(scope="module")
def run_check(airflow_connection, tmp_path_factory):
    """Run the DAG with ``airflow dags test`` (one Airflow home for the module); return its output and exit code."""
    home = tmp_path_factory.mktemp("rbac-check")
    dags = home / "dags"
    dags.mkdir()
    (dags / RBAC_CHECK_DAG.name).symlink_to(RBAC_CHECK_DAG)

    def run(namespace: str | None = None) -> tuple[int, str]:
        started = time.monotonic()
        conf = {"namespace": namespace} if namespace else {}
        result = run_dag("spark_rbac_check", conf, connection=airflow_connection, airflow_home=home / "airflow",
                         dags_folder=dags)  # fmt: skip
        print(f"spark_rbac_check({namespace or 'default'}): exit {result.returncode} in {time.monotonic() - started:.1f}s")
        return result.returncode, result.stdout + result.stderr

    return run


@pytest.fixture
def launcher_in(airflow_connection, monkeypatch):
    """Return a launcher for a namespace, on the platform's identity, and its captured log."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", airflow_connection)

    def launcher(namespace: str) -> tuple[DriverLauncher, CapturedLines]:
        log = logging.getLogger(f"test.rbac.{uuid.uuid4().hex[:6]}")
        captured = CapturedLines()
        log.addHandler(captured)
        log.setLevel(logging.INFO)
        return DriverLauncher(RbacHook(CONN_ID), namespace=namespace, log=log, signing_key=b"rbac-test"), captured

    return launcher


def moved_bootstrap(namespace: str, *, only: str | None = None) -> list[dict]:
    """Return the bootstrap's accounts, Roles and RoleBindings of namespace spark (those named ``only``, if
    given), moved to ``namespace`` with their subjects."""
    moved = []
    for manifest in copy.deepcopy(load_manifests(DEFAULT_MANIFEST_DIR)):
        metadata = manifest["metadata"]
        if metadata.get("namespace") != SPARK_NAMESPACE or manifest["kind"] not in ("ServiceAccount", "Role", "RoleBinding"):
            continue
        if only is not None and metadata["name"] != only:
            continue
        metadata["namespace"] = namespace
        for subject in manifest.get("subjects", []):
            if subject.get("namespace") == SPARK_NAMESPACE:
                subject["namespace"] = namespace
        moved.append(manifest)
    return moved


def set_up(local_cluster, namespace: str, manifests: list[dict]) -> None:
    """Label the namespace as the bootstrap labels spark (Pod Security restricted) and apply ``manifests``."""
    labels = next(m for m in load_manifests(DEFAULT_MANIFEST_DIR) if m["kind"] == "Namespace")["metadata"]["labels"]
    client.CoreV1Api(local_cluster.api_client()).patch_namespace(namespace, {"metadata": {"labels": labels}})
    apply(local_cluster, manifests)


def apply(local_cluster, manifests: list[dict]) -> None:
    list(apply_manifests(dynamic_client(local_cluster.admin_kubeconfig), manifests))


def without_watch_on_pods(manifests: list[dict]) -> list[dict]:
    """Return the manifests with watch taken off Role spark-driver's pods rule."""
    (role,) = [m for m in manifests if (m["kind"], m["metadata"]["name"]) == ("Role", "spark-driver")]
    (pods,) = [rule for rule in role["rules"] if rule["resources"] == ["pods"]]
    pods["verbs"].remove("watch")
    return manifests


def may(local_cluster, account: ServiceAccount, namespace: str, verb: str, resource: str, group: str = "") -> bool:
    """Return the API server's answer: may ``account`` do ``verb`` on ``resource`` in ``namespace``?"""
    review = client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(
        user=account.user, groups=list(account.groups),
        resource_attributes=client.V1ResourceAttributes(namespace=namespace, verb=verb, resource=resource, group=group),
    ))  # fmt: skip
    return client.AuthorizationV1Api(local_cluster.api_client()).create_subject_access_review(review).status.allowed


def wait_until(local_cluster, answer: bool, account: ServiceAccount, namespace: str, verb: str, resource: str,
               group: str = "") -> None:  # fmt: skip
    """Wait until the API server's authorizer has the RBAC change (it follows the objects a moment later)."""
    wait_for(lambda: may(local_cluster, account, namespace, verb, resource, group), lambda allowed: allowed is answer,
             timeout_seconds=30, interval_seconds=0.5, what=f"{account} {'may' if answer else 'may not'} {verb} {resource}")  # fmt: skip


def wait_until_set_up(local_cluster, namespace: str) -> None:
    wait_until(local_cluster, True, AIRFLOW_IDENTITY, namespace, "list", "roles", "rbac.authorization.k8s.io")


def test_the_bootstrap_passes_as_the_airflow_identity(run_check):
    returncode, log = run_check()

    assert returncode == 0, log[-5000:]
    assert f"Checking as {AIRFLOW_IDENTITY.user}, the platform's Airflow identity" in log
    assert "RBAC check of namespace spark: PASS (0 to fix, 0 warnings)" in log
    assert "OK: ServiceAccount spark/spark-sa has its 21 rights in namespace spark" in log
    assert "FAIL:" not in log and "Cause:" not in log


def test_another_user_is_named_with_a_warning_and_the_identitys_rights_are_still_checked(local_cluster, monkeypatch):
    admin = json.dumps({"conn_type": "kubernetes", "extra": {"kube_config_path": str(local_cluster.admin_kubeconfig)}})
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", admin)
    log = logging.getLogger(f"test.rbac.{uuid.uuid4().hex[:6]}")
    captured = CapturedLines()
    log.addHandler(captured)
    log.setLevel(logging.INFO)

    xcom = run_rbac_check(RbacHook(CONN_ID), SPARK_NAMESPACE, log=log)

    assert xcom["checked_as"] != AIRFLOW_IDENTITY.user
    assert captured.messages[0].startswith(
        f"The connection acts as {xcom['checked_as']}, not as the platform's Airflow identity {AIRFLOW_IDENTITY.user}"
    )
    assert xcom["verdict"] == "pass"
    assert f"OK: {AIRFLOW_IDENTITY} has its 6 rights in the cluster" in captured.messages  # asked by SubjectAccessReview


def test_a_role_missing_only_watch_on_pods_fails_the_check_naming_the_verb_and_the_rule_to_add(
    local_cluster, namespace, run_check
):
    driver = ServiceAccount(namespace, "spark-sa")
    set_up(local_cluster, namespace, without_watch_on_pods(moved_bootstrap(namespace)))
    wait_until_set_up(local_cluster, namespace)
    wait_until(local_cluster, True, driver, namespace, "list", "pods")
    wait_until(local_cluster, False, driver, namespace, "watch", "pods")

    returncode, log = run_check(namespace)

    assert returncode != 0, log[-5000:]
    assert f"RBAC check of namespace {namespace}: FAIL (1 to fix, 0 warnings)" in log, log[-5000:]
    assert f"FAIL: ServiceAccount {namespace}/spark-sa may not watch pods in namespace {namespace}" in log
    assert f"Cause: Role spark-driver lacks the verb watch on pods (it is bound to spark-sa by RoleBinding {namespace}/spark-driver)" in log
    assert f"Fix: Add the rule below to the rules of Role {namespace}/spark-driver (kubectl -n {namespace} edit role spark-driver)" in log
    assert "- apiGroups: ['']" in log and "resources: [pods]" in log and "verbs: [watch]" in log
    assert f"Cause: Namespace {namespace} is not ready for Spark jobs (1 to fix)." in log


def test_the_seed_manifest_fails_with_the_linters_findings_and_its_clusterrolebinding_as_over_privilege(
    local_cluster, namespace, run_check
):
    role, binding = f"spark-role-{namespace}", f"spark-role-binding-{namespace}"  # cluster-scoped: one per test
    seed = [doc for doc in yaml.safe_load_all(SEED_MANIFEST.read_text()) if doc and doc["kind"] != "Namespace"]
    for doc in seed:
        if doc["kind"] == "ServiceAccount":
            doc["metadata"]["namespace"] = namespace
        elif doc["kind"] == "ClusterRole":
            doc["metadata"]["name"] = role
        elif doc["kind"] == "ClusterRoleBinding":
            doc["metadata"]["name"] = binding
            doc["roleRef"]["name"] = role
            doc["subjects"][0]["namespace"] = namespace
    rbac = client.RbacAuthorizationV1Api(local_cluster.api_client())
    try:
        # As the seed's users apply it, with kubectl (its last-applied annotation is what live linting reads).
        subprocess.run(["kubectl", "--kubeconfig", str(local_cluster.admin_kubeconfig), "apply", "-f", "-"],
                       input=yaml.safe_dump_all(seed), text=True, check=True, capture_output=True, timeout=60)  # fmt: skip
        apply(local_cluster, moved_bootstrap(namespace, only="sparkplane-airflow"))  # what the check reads with
        wait_until_set_up(local_cluster, namespace)
        wait_until(local_cluster, True, ServiceAccount(namespace, "spark-sa"), namespace, "list", "pods")

        returncode, log = run_check(namespace)
    finally:
        for delete, name in ((rbac.delete_cluster_role_binding, binding), (rbac.delete_cluster_role, role)):
            try:
                delete(name)
            except ApiException as error:
                if error.status != 404:
                    raise

    assert returncode != 0, log[-5000:]
    # To fix: Pod Security, spark-executor, the two verbs; warnings: the binding's reach and two findings.
    assert f"RBAC check of namespace {namespace}: FAIL (3 to fix, 3 warnings)" in log, log[-5000:]
    assert f"invalid-verb: ClusterRole '{role}' lists the verb 'post', which Kubernetes does not have" in log
    assert (f"clusterrolebinding-for-one-namespace: ClusterRoleBinding '{binding}' grants ClusterRole '{role}' in every "
            "namespace") in log  # fmt: skip
    # The seed's third finding, a namespace on the ClusterRole, is lost on the way: the API server drops it,
    # and kubectl leaves it out of the last-applied annotation too. Only the file's linter sees it.
    assert "namespace-on-cluster-scoped" not in log
    assert (f"WARN: over-privilege: ClusterRoleBinding {binding} (subject ServiceAccount {namespace}/spark-sa) grants "
            f"ClusterRole {role} to spark-sa in every namespace") in log  # fmt: skip
    assert f"Cause: ClusterRole {role} lacks the verbs patch, deletecollection on pods, services, configmaps" in log
    assert f"FAIL: ServiceAccount {namespace}/spark-executor does not exist" in log
    assert f"FAIL: Namespace {namespace} does not enforce Pod Security 'restricted'" in log


def test_an_extra_role_granting_spark_sa_secrets_is_a_warning_and_the_check_passes(local_cluster, namespace, run_check):
    extra = [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": "reads-secrets", "namespace": namespace},
         "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "reads-secrets", "namespace": namespace},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reads-secrets"},
         "subjects": [{"kind": "ServiceAccount", "name": "spark-sa", "namespace": namespace}]},
    ]  # fmt: skip
    set_up(local_cluster, namespace, moved_bootstrap(namespace) + extra)
    wait_until_set_up(local_cluster, namespace)
    wait_until(local_cluster, True, ServiceAccount(namespace, "spark-sa"), namespace, "get", "secrets")

    returncode, log = run_check(namespace)

    assert returncode == 0, log[-5000:]
    assert f"RBAC check of namespace {namespace}: WARN (0 to fix, " in log, log[-5000:]
    assert (f"WARN: over-privilege: RoleBinding {namespace}/reads-secrets (subject ServiceAccount {namespace}/spark-sa) "
            f"grants spark-sa through Role {namespace}/reads-secrets get secrets, which it does not need") in log  # fmt: skip
    assert "FAIL:" not in log and "Cause:" not in log


def test_the_preflight_without_watch_on_pods_fails_first_with_the_cause_then_the_rule_to_add(
    local_cluster, namespace, launcher_in
):
    set_up(local_cluster, namespace, without_watch_on_pods(moved_bootstrap(namespace)))
    wait_until_set_up(local_cluster, namespace)
    wait_until(local_cluster, False, ServiceAccount(namespace, "spark-sa"), namespace, "watch", "pods")
    driver_launcher, captured = launcher_in(namespace)
    task_try = TaskTry("rbac_test", "job", f"manual__{time.time_ns()}", 1, deployment="rbac-test")
    spec = SparkJobSpec(application="spark_smoke_test.py", name="rbac-test")

    with pytest.raises(PreflightFailed) as failed:
        driver_launcher.create_driver(spec, task_try, KubernetesTarget(namespace, NOWHERE_IMAGE), pod_template={},
                                      keep_failed_seconds=60, preflight=True)  # fmt: skip

    # The failure carries Cause and Fix; the operator logs them last (sparkplane.task_log.explained_failure).
    cause, fix = failed.value.cause, failed.value.fix
    assert cause.startswith(f"ServiceAccount {namespace}/spark-sa may not watch pods in namespace {namespace}")
    assert "Why: Role spark-driver lacks the verb watch on pods" in cause
    assert fix.startswith(f"Add the rule below to the rules of Role {namespace}/spark-driver")
    assert captured.messages[0].startswith("::group::Preflight"), captured.messages[:3]
    assert yaml.safe_load(failed.value.fix.split("\n", 1)[1]) == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["watch"]}]
    assert not client.CoreV1Api(local_cluster.api_client()).list_namespaced_pod(namespace).items


@pytest.mark.parametrize("exists", [False, True], ids=["missing", "not-set-up"])
def test_a_job_in_a_namespace_the_platform_may_not_use_says_whether_it_exists(request, launcher_in, exists):
    namespace = request.getfixturevalue("namespace") if exists else f"no-such-namespace-{uuid.uuid4().hex[:6]}"
    driver_launcher, captured = launcher_in(namespace)

    with pytest.raises(PreflightFailed) as failed:
        driver_launcher.find_driver_to_follow(TaskTry("rbac_test", "job", "manual__1", 1, deployment="rbac-test"))

    print(failed.value)
    if exists:
        assert failed.value.cause.startswith(f"Namespace '{namespace}' exists but is not set up for the platform")
    else:
        assert failed.value.cause.startswith(f"Namespace '{namespace}' does not exist, so no job can run there")
    assert f"Kubernetes denied the platform permission to list pods in namespace '{namespace}' (403)" in failed.value.cause
    assert failed.value.fix.startswith("Set the operator's namespace to 'spark'")
    assert not [message for message in captured.messages if message.startswith("Cause:")], "the operator logs Cause, once"
