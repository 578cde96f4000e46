"""The cluster bootstrap on the real cluster: idempotent apply, what each identity may do, and
Pod Security "restricted" in namespace spark."""

from __future__ import annotations

import json

import pytest
import yaml
from harness.platform import apply_bootstrap
from harness.waits import wait_for
from kubernetes import client
from kubernetes.client.rest import ApiException
from sparkplane.bootstrap.apply import DEFAULT_MANIFEST_DIR, apply_manifests, dynamic_client, load_manifests
from sparkplane.kubernetes.identity import (
    AIRFLOW_NAMESPACE,
    AIRFLOW_SERVICE_ACCOUNT,
    DRIVER_SERVICE_ACCOUNT,
    SPARK_NAMESPACE,
)

pytestmark = pytest.mark.cluster

SPARK_SA = (SPARK_NAMESPACE, DRIVER_SERVICE_ACCOUNT)
EXECUTOR_SA = (SPARK_NAMESPACE, "spark-executor")
AIRFLOW_SA = (AIRFLOW_NAMESPACE, AIRFLOW_SERVICE_ACCOUNT)
RBAC = "rbac.authorization.k8s.io"


@pytest.fixture(scope="module")
def bootstrapped(local_cluster):
    """Apply the bootstrap (it may exist from an earlier session); return the cluster."""
    apply_bootstrap(local_cluster)
    return local_cluster


def can(authz: client.AuthorizationV1Api, account: tuple[str, str], verb: str, resource: str, *,
        namespace: str | None = None, group: str = "", subresource: str | None = None) -> bool:
    """Ask the API server whether the ServiceAccount ``(namespace, name)`` may do ``verb`` on ``resource``."""
    ns, name = account
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=f"system:serviceaccount:{ns}:{name}",
            groups=["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"],
            resource_attributes=client.V1ResourceAttributes(
                namespace=namespace, verb=verb, resource=resource, group=group, subresource=subresource
            ),
        )
    )
    return authz.create_subject_access_review(review).status.allowed


def test_second_apply_reports_every_object_unchanged_and_a_deleted_or_edited_one_is_restored(bootstrapped):
    admin = bootstrapped.api_client()
    dyn = dynamic_client(bootstrapped.admin_kubeconfig)
    manifests = load_manifests(DEFAULT_MANIFEST_DIR)
    assert {r.outcome for r in apply_manifests(dyn, manifests)} == {"unchanged"}

    rbac = client.RbacAuthorizationV1Api(admin)
    rbac.delete_cluster_role_binding("sparkplane-airflow-node-reader")
    # Another manager narrows the driver's role: the bootstrap owns those rules and restores them.
    rbac.patch_namespaced_role("spark-driver", SPARK_NAMESPACE, {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})

    outcomes = {r.format().rsplit(" ", 1)[0]: r.outcome for r in apply_manifests(dyn, manifests)}
    assert outcomes.pop("clusterrolebinding/sparkplane-airflow-node-reader") == "created"
    assert outcomes.pop("role/spark-driver -n spark") == "changed"
    assert set(outcomes.values()) == {"unchanged"} and len(outcomes) == len(manifests) - 2
    restored = rbac.read_namespaced_role("spark-driver", SPARK_NAMESPACE)
    assert {r for rule in restored.rules for r in rule.resources} == {"pods", "services", "configmaps"}


@pytest.mark.parametrize(
    ("verb", "resource"),
    [("create", "pods"), ("watch", "pods"), ("list", "pods"), ("patch", "pods"), ("delete", "pods"),
     ("deletecollection", "pods"), ("create", "services"), ("patch", "services"), ("delete", "services"),
     ("create", "configmaps"), ("patch", "configmaps"), ("deletecollection", "configmaps")],
)
def test_spark_sa_may_do_what_the_driver_needs_in_namespace_spark(bootstrapped, verb, resource):
    authz = client.AuthorizationV1Api(bootstrapped.api_client())

    assert can(authz, SPARK_SA, verb, resource, namespace=SPARK_NAMESPACE)


@pytest.mark.parametrize(
    ("verb", "resource", "namespace", "group"),
    [("get", "secrets", SPARK_NAMESPACE, ""), ("list", "secrets", SPARK_NAMESPACE, ""), ("list", "nodes", None, ""),
     ("get", "nodes", None, ""), ("create", "pods", "default", ""), ("create", "pods", AIRFLOW_NAMESPACE, ""),
     ("create", "persistentvolumeclaims", SPARK_NAMESPACE, ""), ("create", "roles", SPARK_NAMESPACE, RBAC),
     ("create", "daemonsets", SPARK_NAMESPACE, "apps")],
)
def test_spark_sa_is_denied_secrets_nodes_and_other_namespaces(bootstrapped, verb, resource, namespace, group):
    authz = client.AuthorizationV1Api(bootstrapped.api_client())

    assert not can(authz, SPARK_SA, verb, resource, namespace=namespace, group=group)


def test_spark_sa_token_really_works_and_is_really_refused_secrets(bootstrapped):
    as_spark = client.CoreV1Api(bootstrapped.api_client(bootstrapped.serviceaccount_kubeconfig(*SPARK_SA)))

    as_spark.list_namespaced_pod(SPARK_NAMESPACE)
    with pytest.raises(ApiException) as denied:
        as_spark.list_namespaced_secret(SPARK_NAMESPACE)
    assert denied.value.status == 403
    assert "system:serviceaccount:spark:spark-sa" in denied.value.body


def test_airflow_identity_token_reads_nodes_and_events_but_not_secrets(bootstrapped):
    api = bootstrapped.api_client(bootstrapped.serviceaccount_kubeconfig(*AIRFLOW_SA))
    core = client.CoreV1Api(api)

    assert bootstrapped.real_node in {n.metadata.name for n in core.list_node().items}
    core.list_namespaced_event(SPARK_NAMESPACE)
    with pytest.raises(ApiException) as denied:
        core.list_namespaced_secret(SPARK_NAMESPACE)
    assert denied.value.status == 403
    assert "system:serviceaccount:sparkplane-system:sparkplane-airflow" in denied.value.body


def test_executor_account_may_do_nothing_and_mounts_no_token(bootstrapped):
    admin = bootstrapped.api_client()
    authz = client.AuthorizationV1Api(admin)

    assert not can(authz, EXECUTOR_SA, "get", "pods", namespace=SPARK_NAMESPACE)
    assert not can(authz, EXECUTOR_SA, "list", "configmaps", namespace=SPARK_NAMESPACE)
    account = client.CoreV1Api(admin).read_namespaced_service_account("spark-executor", SPARK_NAMESPACE)
    assert account.automount_service_account_token is False


@pytest.mark.parametrize(
    ("verb", "resource", "namespace", "group", "subresource"),
    [("create", "pods", SPARK_NAMESPACE, "", None), ("get", "pods", SPARK_NAMESPACE, "", None), ("watch", "pods", SPARK_NAMESPACE, "", None),
     ("delete", "pods", SPARK_NAMESPACE, "", None), ("patch", "pods", SPARK_NAMESPACE, "", None), ("get", "pods", SPARK_NAMESPACE, "", "log"), ("list", "events", SPARK_NAMESPACE, "", None),
     ("create", "localsubjectaccessreviews", SPARK_NAMESPACE, "authorization.k8s.io", None),
     ("create", "secrets", SPARK_NAMESPACE, "", None),
     ("get", "resourcequotas", SPARK_NAMESPACE, "", None), ("list", "resourcequotas", SPARK_NAMESPACE, "", None),
     ("list", "roles", SPARK_NAMESPACE, RBAC, None), ("get", "rolebindings", SPARK_NAMESPACE, RBAC, None),
     ("get", "serviceaccounts", SPARK_NAMESPACE, "", None),
     ("create", "pods", AIRFLOW_NAMESPACE, "", None), ("delete", "pods", AIRFLOW_NAMESPACE, "", None),
     ("list", "pods", AIRFLOW_NAMESPACE, "", None), ("create", "configmaps", AIRFLOW_NAMESPACE, "", None),
     ("delete", "configmaps", AIRFLOW_NAMESPACE, "", None), ("watch", "events", AIRFLOW_NAMESPACE, "", None),
     ("list", "nodes", None, "", None), ("watch", "nodes", None, "", None), ("get", "namespaces", None, "", None),
     ("list", "clusterroles", None, RBAC, None), ("list", "clusterrolebindings", None, RBAC, None)],
)
def test_airflow_identity_may_do_what_the_platform_does(bootstrapped, verb, resource, namespace, group, subresource):
    authz = client.AuthorizationV1Api(bootstrapped.api_client())

    assert can(authz, AIRFLOW_SA, verb, resource, namespace=namespace, group=group, subresource=subresource)


@pytest.mark.parametrize(
    ("verb", "resource", "namespace", "group", "subresource"),
    [("get", "secrets", SPARK_NAMESPACE, "", None), ("get", "secrets", AIRFLOW_NAMESPACE, "", None),
     ("list", "secrets", SPARK_NAMESPACE, "", None), ("watch", "secrets", SPARK_NAMESPACE, "", None),
     ("patch", "secrets", SPARK_NAMESPACE, "", None), ("create", "secrets", AIRFLOW_NAMESPACE, "", None),
     ("create", "token", SPARK_NAMESPACE, "", None), ("create", "serviceaccounts", SPARK_NAMESPACE, "", "token"),
     ("patch", "pods", AIRFLOW_NAMESPACE, "", None), ("create", "pods", "default", "", None),
     ("create", "pods", SPARK_NAMESPACE, "", "exec"), ("create", "services", SPARK_NAMESPACE, "", None),
     ("create", "daemonsets", SPARK_NAMESPACE, "apps", None), ("create", "daemonsets", AIRFLOW_NAMESPACE, "apps", None),
     ("patch", "configmaps", AIRFLOW_NAMESPACE, "", None), ("list", "configmaps", AIRFLOW_NAMESPACE, "", None),
     ("patch", "nodes", None, "", None), ("delete", "nodes", None, "", None), ("list", "namespaces", None, "", None),
     ("create", "rolebindings", SPARK_NAMESPACE, RBAC, None), ("escalate", "roles", SPARK_NAMESPACE, RBAC, None),
     ("patch", "clusterroles", None, RBAC, None), ("list", "roles", AIRFLOW_NAMESPACE, RBAC, None),
     ("get", "serviceaccounts", AIRFLOW_NAMESPACE, "", None),
     ("patch", "resourcequotas", SPARK_NAMESPACE, "", None), ("delete", "limitranges", SPARK_NAMESPACE, "", None)],
)
def test_airflow_identity_may_do_nothing_more(bootstrapped, verb, resource, namespace, group, subresource):
    authz = client.AuthorizationV1Api(bootstrapped.api_client())

    assert not can(authz, AIRFLOW_SA, verb, resource, namespace=namespace, group=group, subresource=subresource)


def pod_from_template(name: str) -> dict:
    """A pod with the driver template's security settings, parked on no node."""
    template = yaml.safe_load((DEFAULT_MANIFEST_DIR / "pod-templates" / "driver.yaml").read_text())
    template["metadata"] = {"name": name}
    template["spec"]["nodeSelector"] = {"sparkplane.dev/node-type": "none"}
    template["spec"]["containers"][0]["image"] = "127.0.0.1:5000/none:0"
    return template


def test_pod_violating_restricted_is_rejected_in_namespace_spark(bootstrapped):
    core = client.CoreV1Api(bootstrapped.api_client())
    bare = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare"},
            "spec": {"containers": [{"name": "c", "image": "127.0.0.1:5000/none:0"}]}}

    with pytest.raises(ApiException) as rejected:
        core.create_namespaced_pod(SPARK_NAMESPACE, bare, dry_run="All")
    assert rejected.value.status == 403
    message = json.loads(rejected.value.body)["message"]
    assert 'violates PodSecurity "restricted:latest"' in message
    for required in ("allowPrivilegeEscalation != false", "unrestricted capabilities", "runAsNonRoot != true", "seccompProfile"):
        assert required in message


def test_pod_with_the_template_security_settings_is_admitted_in_namespace_spark(bootstrapped):
    core = client.CoreV1Api(bootstrapped.api_client())

    created = core.create_namespaced_pod(SPARK_NAMESPACE, pod_from_template("templated"), dry_run="All")
    assert created.metadata.name == "templated"


def test_namespaces_enforce_restricted_from_their_labels(bootstrapped):
    core = client.CoreV1Api(bootstrapped.api_client())

    for name in (SPARK_NAMESPACE, AIRFLOW_NAMESPACE):
        labels = wait_for(lambda: core.read_namespace(name).metadata.labels, bool, timeout_seconds=5, what=f"namespace {name}")
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
