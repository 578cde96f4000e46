"""RBAC on the local cluster is real: ServiceAccount tokens get exactly what is bound to them."""

from __future__ import annotations

import subprocess

import pytest
from harness.waits import wait_for
from kubernetes import client
from kubernetes.client.rest import ApiException
from localcluster.settings import CLUSTER_DIR

pytestmark = pytest.mark.cluster


def _can_create_pods(authz: client.AuthorizationV1Api, namespace: str, user: str) -> bool:
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=user,
            groups=["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
            resource_attributes=client.V1ResourceAttributes(namespace=namespace, verb="create", resource="pods"),
        )
    )
    return authz.create_subject_access_review(review).status.allowed


def _parked_pod(name: str) -> client.V1Pod:
    # Selects no node, so creating it only exercises authorization and admission.
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(
            node_selector={"sparkplane.dev/node-type": "none"},
            containers=[client.V1Container(name="c", image="127.0.0.1:5000/none:0")],
        ),
    )


def test_unbound_serviceaccount_is_denied_create_pods_until_a_rolebinding_allows_it(local_cluster, namespace):
    admin = local_cluster.api_client()
    core, rbac, authz = client.CoreV1Api(admin), client.RbacAuthorizationV1Api(admin), client.AuthorizationV1Api(admin)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="spark"))
    )
    user = f"system:serviceaccount:{namespace}:spark"
    as_spark = client.CoreV1Api(local_cluster.api_client(local_cluster.serviceaccount_kubeconfig(namespace, "spark")))

    assert not _can_create_pods(authz, namespace, user), "SubjectAccessReview allowed an unbound ServiceAccount"
    with pytest.raises(ApiException) as denied:
        as_spark.create_namespaced_pod(namespace, _parked_pod("denied"))
    assert denied.value.status == 403, denied.value.body
    assert user in denied.value.body, f"the denial should name the ServiceAccount: {denied.value.body}"

    rbac.create_namespaced_role(
        namespace,
        client.V1Role(
            metadata=client.V1ObjectMeta(name="pod-creator"),
            rules=[client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["create"])],
        ),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="spark-creates-pods"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="pod-creator"),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name="spark", namespace=namespace)],
        ),
    )

    wait_for(
        lambda: _can_create_pods(authz, namespace, user), bool, timeout_seconds=10, what="the RoleBinding to apply"
    )
    created = as_spark.create_namespaced_pod(namespace, _parked_pod("allowed"))
    assert created.metadata.name == "allowed"


def test_sa_kubeconfig_command_writes_a_kubeconfig_that_acts_as_the_serviceaccount(local_cluster, namespace, tmp_path):
    core = client.CoreV1Api(local_cluster.api_client())
    core.create_namespaced_service_account(namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="cli")))
    output = tmp_path / "cli.kubeconfig"

    proc = subprocess.run(
        [str(CLUSTER_DIR / "sa-kubeconfig"), namespace, "cli", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(output)
    review = client.AuthenticationV1Api(local_cluster.api_client(output)).create_self_subject_review(
        client.V1SelfSubjectReview()
    )
    assert review.status.user_info.username == f"system:serviceaccount:{namespace}:cli"
