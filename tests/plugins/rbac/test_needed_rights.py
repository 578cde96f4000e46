"""The table of needed rights: the bootstrap grants exactly it, and the questions that check it."""

from __future__ import annotations

import pytest
from kubernetes.client import V1LocalSubjectAccessReview, V1SelfSubjectAccessReview
from rbac_manifests import bootstrap_manifests, rbac_objects
from sparkplane.rbac.grants import is_granted
from sparkplane.rbac.needed_rights import (
    DRIVER_RIGHTS,
    AccessQuestion,
    Right,
    ServiceAccount,
    access_questions,
    access_review,
    describe_rights,
    needs,
)

AIRFLOW_USER = "system:serviceaccount:sparkplane-system:sparkplane-airflow"


def test_the_bootstrap_grants_every_needed_right():
    rbac = rbac_objects(bootstrap_manifests(), namespaces=("spark", "sparkplane-system"))

    denied = [(str(n.account), n.where, str(r)) for n in needs() for r in n.rights
              if not is_granted(n.account, n.namespace, r, rbac)]  # fmt: skip
    assert denied == []


def test_every_rule_the_bootstrap_binds_grants_only_what_the_table_needs_there():
    manifests = bootstrap_manifests()
    roles = {(m["kind"], m["metadata"]["name"], m["metadata"].get("namespace")): m for m in manifests}
    needed = {(n.account, n.namespace, r) for n in needs() for r in n.rights}

    granted = set()
    for binding in (m for m in manifests if m["kind"] in ("RoleBinding", "ClusterRoleBinding")):
        namespace = binding["metadata"].get("namespace", "")
        role_ref = binding["roleRef"]
        role = roles[(role_ref["kind"], role_ref["name"], namespace if role_ref["kind"] == "Role" else None)]
        for subject in binding["subjects"]:
            account = ServiceAccount(subject["namespace"], subject["name"])
            for rule in role["rules"]:
                for resource in rule["resources"]:
                    name, _, subresource = resource.partition("/")
                    granted |= {(account, namespace, Right(verb, name, group, subresource, *rule.get("resourceNames", [])))
                                for group in rule["apiGroups"] for verb in rule["verbs"]}  # fmt: skip
    assert granted == needed


def test_the_driver_needs_what_spark_uses_on_pods_services_and_configmaps_and_no_update():
    verbs = {"get", "list", "watch", "create", "patch", "delete", "deletecollection"}
    assert set(DRIVER_RIGHTS) == {Right(v, r) for v in verbs for r in ("pods", "services", "configmaps")}


def test_the_driver_rights_are_verb_and_resource_alone_as_the_preflight_asks_them():
    assert all((r.group, r.subresource, r.name) == ("", "", "") for r in DRIVER_RIGHTS)


def test_the_questions_cover_every_need_once_with_the_asking_subject():
    questions = access_questions()

    assert len(questions) == len(set(questions)) == sum(len(n.rights) for n in needs())
    assert AccessQuestion("system:serviceaccount:spark:spark-sa", "spark", "watch", "", "pods", "") in questions
    assert AccessQuestion(AIRFLOW_USER, "", "get", "scheduling.k8s.io", "priorityclasses", "", "sparkplane-prepull") in questions
    assert AccessQuestion(AIRFLOW_USER, "spark", "get", "", "pods", "log") in questions


def test_a_question_about_the_asker_is_a_self_review_and_about_spark_sa_a_local_one_with_its_groups():
    own = access_review(AccessQuestion(AIRFLOW_USER, "", "list", "", "nodes", ""), asker=AIRFLOW_USER)
    driver = access_review(AccessQuestion("system:serviceaccount:spark:spark-sa", "spark", "create", "", "pods", ""),
                           asker=AIRFLOW_USER)  # fmt: skip

    assert isinstance(own, V1SelfSubjectAccessReview)
    assert own.spec.resource_attributes.resource == "nodes" and own.spec.resource_attributes.namespace is None
    assert isinstance(driver, V1LocalSubjectAccessReview)
    assert driver.metadata.namespace == "spark"
    assert driver.spec.user == "system:serviceaccount:spark:spark-sa"
    assert "system:serviceaccounts:spark" in driver.spec.groups


def test_a_cluster_question_about_another_account_cannot_be_asked_locally():
    with pytest.raises(ValueError, match="can only be asked by that account itself"):
        access_review(AccessQuestion(AIRFLOW_USER, "", "list", "", "nodes", ""), asker="system:admin")


def test_rights_read_with_their_verbs_grouped_by_resource():
    rights = [Right("get", "pods"), Right("watch", "pods"), Right("get", "pods", subresource="log"),
              Right("get", "priorityclasses", "scheduling.k8s.io", name="sparkplane-prepull")]  # fmt: skip

    assert describe_rights(rights) == (
        "get, watch pods; get pods/log; get priorityclasses.scheduling.k8s.io named sparkplane-prepull"
    )


def test_a_service_account_is_read_back_from_its_user_name_and_nothing_else_is():
    assert ServiceAccount.from_user("system:serviceaccount:spark:spark-sa") == ServiceAccount("spark", "spark-sa")
    with pytest.raises(ValueError, match="is not a ServiceAccount's user name"):
        ServiceAccount.from_user("system:admin")
