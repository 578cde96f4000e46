"""The preflight's RBAC failures: which driver rights are missing and why, and a namespace not the platform's."""

from __future__ import annotations

import copy

from rbac_manifests import bootstrap_manifests, rbac_objects
from sparkplane.rbac.driver_permissions import missing_rights, namespace_failure, permission_failure
from sparkplane.rbac.needed_rights import DRIVER_RIGHTS, Right

DENIED = ('pods is forbidden: User "system:serviceaccount:sparkplane-system:sparkplane-airflow" cannot list '
          'resource "pods" in API group "" in the namespace "no-such-namespace"')  # fmt: skip


def without(kind: str, name: str) -> list[dict]:
    return [m for m in copy.deepcopy(bootstrap_manifests()) if (m["kind"], m["metadata"]["name"]) != (kind, name)]


def test_every_denied_right_is_returned_in_the_tables_order():
    allowed = {("get", "pods"), ("list", "pods"), ("watch", "pods")}

    missing = missing_rights(lambda verb, resource: (verb, resource) in allowed)

    assert missing[:2] == [Right("create", "pods"), Right("patch", "pods")]
    assert len(missing) == len(DRIVER_RIGHTS) - 3
    assert missing_rights(lambda verb, resource: True) == []


def test_without_the_rbac_objects_the_fix_names_both_causes_and_the_rbac_check_dag():
    failure = permission_failure([Right("create", "pods"), Right("delete", "pods")], service_account="spark-sa",
                                 namespace="spark")  # fmt: skip

    assert failure.cause.startswith("ServiceAccount spark/spark-sa may not create, delete pods in namespace spark")
    assert "it is not known whether no RoleBinding binds spark-sa or the Role it binds lacks the rights" in failure.cause
    assert failure.fix.startswith("Either bind Role spark-driver to spark-sa, or add the rules below")
    assert "the spark_rbac_check DAG says which is missing" in failure.fix
    assert "python -m sparkplane.bootstrap apply" in failure.fix


def test_a_missing_rolebinding_is_told_from_a_role_that_lacks_a_verb():
    no_binding = permission_failure(list(DRIVER_RIGHTS), service_account="spark-sa", namespace="spark",
                                    rbac=rbac_objects(without("RoleBinding", "spark-driver")))  # fmt: skip
    manifests = copy.deepcopy(bootstrap_manifests())
    role = next(m for m in manifests if m["kind"] == "Role" and m["metadata"]["name"] == "spark-driver")
    role["rules"][0]["verbs"].remove("watch")
    lacks_watch = permission_failure([Right("watch", "pods")], service_account="spark-sa", namespace="spark",
                                     rbac=rbac_objects(manifests))  # fmt: skip

    assert "Why: no RoleBinding binds spark-sa in namespace spark" in no_binding.cause
    assert no_binding.fix.startswith("Create the RoleBinding below")
    assert "kind: RoleBinding" in no_binding.fix
    assert "Why: Role spark-driver lacks the verb watch on pods" in lacks_watch.cause
    assert lacks_watch.fix.startswith("Add the rule below to the rules of Role spark/spark-driver")
    assert "The spark_rbac_check DAG lists everything missing in namespace spark." in lacks_watch.fix


def test_a_namespace_that_does_not_exist_is_named_so_with_the_platforms_namespace():
    failure = namespace_failure("no-such-namespace", denied=DENIED, namespace_exists=False)

    assert failure.cause.startswith("Namespace 'no-such-namespace' does not exist, so no job can run there")
    assert 'cannot list resource "pods"' in failure.cause
    assert failure.fix.startswith("Set the operator's namespace to 'spark', the namespace spark-bootstrap/ sets up")


def test_an_existing_namespace_the_platform_has_no_rights_in_is_not_the_platforms():
    failure = namespace_failure("team-b", denied=DENIED, namespace_exists=True)

    assert failure.cause.startswith("Namespace 'team-b' exists but is not set up for the platform")
    assert "applies the bootstrap's accounts, Roles and RoleBindings" in failure.fix


def test_an_unreadable_namespace_names_both_possibilities():
    failure = namespace_failure("no-such-namespace", denied=DENIED, namespace_exists=None)

    assert "it does not exist, or was not set up for the platform" in failure.cause
    assert "Set the operator's namespace to 'spark'" in failure.fix


def test_a_denial_in_the_platforms_own_namespace_asks_for_the_bootstrap():
    failure = namespace_failure("spark", denied="forbidden", namespace_exists=True)

    assert failure.fix.startswith("Apply spark-bootstrap/")
