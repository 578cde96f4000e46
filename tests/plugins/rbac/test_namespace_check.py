"""The RBAC check of namespace spark, on the bootstrap, the seed manifest and broken variants of them."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from rbac_manifests import answers, bootstrap_manifests, find, rbac_objects, seed_manifests
from sparkplane.rbac.gaps import MISSING_ROLE, NO_BINDING, NOT_READ, ROLE_LACKS, UNEXPLAINED
from sparkplane.rbac.lint import lint_documents, parse_documents
from sparkplane.rbac.namespace_check import FAIL, PASS, WARN, NamespaceReport, check_namespace
from sparkplane.rbac.needed_rights import DRIVER_RIGHTS, Right, access_questions

DRIVER_ROLE = ("Role", "spark-driver", "spark")
DRIVER_BINDING = ("RoleBinding", "spark-driver", "spark")


def check(manifests: list[dict[str, Any]], *, answers_override: dict | None = None) -> NamespaceReport:
    """Run the check as the DAG would, with the API server's answers for these objects."""
    rbac = rbac_objects(manifests)
    return check_namespace(
        namespace=find(manifests, "Namespace", "spark"),
        driver_account=find(manifests, "ServiceAccount", "spark-sa", "spark"),
        executor_account=find(manifests, "ServiceAccount", "spark-executor", "spark"),
        rbac=rbac,
        answers={**answers(rbac, access_questions()), **(answers_override or {})},
    )


def edited(kind: str, name: str, namespace: str | None = None, **fields: Any) -> list[dict[str, Any]]:
    """Return the bootstrap's manifests with one object's top-level fields replaced (None: the object removed)."""
    manifests = copy.deepcopy(bootstrap_manifests())
    (target,) = [m for m in manifests if (m["kind"], m["metadata"]["name"], m["metadata"].get("namespace")) == (kind, name, namespace)]
    if not fields:
        manifests.remove(target)
    target.update(fields)
    return manifests


def driver_gaps(report: NamespaceReport) -> list:
    return [gap for gap in report.gaps if gap.need.account.name == "spark-sa"]


def test_the_bootstrap_passes_with_nothing_missing_and_nothing_too_much():
    report = check(bootstrap_manifests())

    assert (report.problems, report.gaps, report.over_privilege, report.lint) == ((), (), (), ())
    assert report.verdict == PASS
    assert len(report.met) == 6  # spark-sa, four of the Airflow identity, spark-notebook


def test_a_namespace_without_the_notebook_identity_passes_and_a_half_made_one_is_a_gap():
    without = [m for m in bootstrap_manifests() if "notebook" not in m["metadata"]["name"]]
    report = check(without)
    assert (report.gaps, report.verdict, len(report.met)) == ((), PASS, 5)

    read_only = [{"apiGroups": [""], "resources": ["pods", "configmaps"], "verbs": ["get", "list", "watch"]}]
    report = check(edited("Role", "spark-notebook", "spark", rules=read_only))
    assert {gap.need.account.name for gap in report.gaps} == {"spark-notebook"}
    assert report.verdict == FAIL


def test_a_role_missing_only_watch_on_pods_is_named_with_the_rule_that_adds_it():
    rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "create", "patch", "delete", "deletecollection"]},
             {"apiGroups": [""], "resources": ["services", "configmaps"], "verbs": sorted({r.verb for r in DRIVER_RIGHTS})}]  # fmt: skip
    report = check(edited(*DRIVER_ROLE, rules=rules))

    (gap,) = report.gaps
    assert [str(r) for r in gap.rights] == ["watch pods"]
    assert gap.kind == ROLE_LACKS
    assert gap.reason.startswith("Role spark-driver lacks the verb watch on pods")
    assert yaml.safe_load(gap.manifest) == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["watch"]}]
    assert "kubectl -n spark edit role spark-driver" in gap.fix
    assert report.verdict == FAIL


def test_a_role_without_a_rule_for_a_resource_says_so():
    rules = [{"apiGroups": [""], "resources": ["pods", "services"], "verbs": sorted({r.verb for r in DRIVER_RIGHTS})}]
    (gap,) = check(edited(*DRIVER_ROLE, rules=rules)).gaps

    assert gap.kind == ROLE_LACKS
    assert "lacks a rule for configmaps (get, list, watch, create, patch, delete, deletecollection)" in gap.reason


def test_no_binding_says_no_rolebinding_binds_spark_sa_and_gives_the_binding_to_create():
    report = check(edited(*DRIVER_BINDING))

    (gap,) = driver_gaps(report)
    assert gap.kind == NO_BINDING
    assert gap.reason.startswith("no RoleBinding binds spark-sa in namespace spark")
    assert set(gap.rights) == set(DRIVER_RIGHTS)
    # The Role exists: only the binding is to be created.
    (binding,) = list(yaml.safe_load_all(gap.manifest))
    assert binding["kind"] == "RoleBinding"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "spark-driver"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "spark-sa", "namespace": "spark"}]


def test_a_binding_to_a_role_that_does_not_exist_asks_for_the_role():
    (gap,) = driver_gaps(check(edited(*DRIVER_ROLE)))

    assert gap.kind == MISSING_ROLE
    assert gap.reason == "RoleBinding spark/spark-driver binds spark-sa to Role spark/spark-driver, which does not exist"
    (role,) = list(yaml.safe_load_all(gap.manifest))
    assert (role["kind"], role["metadata"]) == ("Role", {"name": "spark-driver", "namespace": "spark"})


def test_a_binding_only_through_a_group_is_not_offered_as_the_fix():
    manifests = edited(*DRIVER_BINDING)
    manifests.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                      "metadata": {"name": "everyone-views"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                      "kind": "ClusterRole", "name": "view"},
                      "subjects": [{"kind": "Group", "name": "system:serviceaccounts"}]})  # fmt: skip
    (gap,) = driver_gaps(check(manifests))

    assert gap.kind == NO_BINDING


def test_every_fix_manifest_passes_the_linter():
    reports = [check(edited(*DRIVER_BINDING)), check(edited(*DRIVER_ROLE)), check(seed_manifests())]

    manifests = [gap.manifest for report in reports for gap in report.gaps if gap.manifest.startswith("apiVersion")]
    assert manifests
    assert lint_documents([d for text in manifests for d in parse_documents(text, "fix.yaml")]) == []


def test_the_seed_manifest_is_linted_live_and_its_clusterrolebinding_is_over_privilege():
    report = check(seed_manifests())

    assert sorted(f.rule for f in report.lint) == [
        "clusterrolebinding-for-one-namespace", "invalid-verb", "namespace-on-cluster-scoped"]  # fmt: skip
    assert any(f.path == "clusterrole/spark-role (live)" and "'post'" in f.message for f in report.lint)
    (excess,) = report.over_privilege
    assert excess.binding == "ClusterRoleBinding spark-role-binding"
    assert "in every namespace (kube-system included)" in excess.what
    # The seed grants neither patch (server-side apply) nor deletecollection.
    (gap,) = driver_gaps(report)
    assert gap.reason.startswith("ClusterRole spark-role lacks the verbs patch, deletecollection on pods, services, configmaps")
    assert report.verdict == FAIL


def test_a_wildcard_rule_is_over_privilege():
    rules = [{"apiGroups": [""], "resources": ["pods", "services", "configmaps"], "verbs": ["*"]}]
    report = check(edited(*DRIVER_ROLE, rules=rules))

    (excess,) = report.over_privilege
    assert excess.role == "Role spark/spark-driver"
    assert "every verb (*)" in excess.what
    assert report.verdict == WARN


def test_extra_verbs_and_resources_are_over_privilege_named_one_by_one():
    rules = copy.deepcopy(find(bootstrap_manifests(), *DRIVER_ROLE).to_dict()["rules"])
    role = [{"apiGroups": r["api_groups"], "resources": r["resources"], "verbs": r["verbs"]} for r in rules]
    role.append({"apiGroups": [""], "resources": ["pods", "secrets"], "verbs": ["update"]})
    (excess,) = check(edited(*DRIVER_ROLE, rules=role)).over_privilege

    assert "update pods, update secrets, which it does not need" in excess.what


def test_a_binding_to_every_service_account_of_the_namespace_is_over_privilege_but_kubernetes_defaults_are_not():
    manifests = copy.deepcopy(bootstrap_manifests())
    manifests += [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "secret-reader"},
         "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "all-read-secrets", "namespace": "spark"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "secret-reader"},
         "subjects": [{"kind": "Group", "name": "system:serviceaccounts:spark"}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "system:basic-user"},
         "rules": [{"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews"], "verbs": ["create"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "system:basic-user", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:basic-user"},
         "subjects": [{"kind": "Group", "name": "system:authenticated"}]},
    ]  # fmt: skip
    report = check(manifests)

    (excess,) = report.over_privilege
    assert excess.binding == "RoleBinding spark/all-read-secrets"
    assert excess.via == "group system:serviceaccounts:spark"
    assert "get secrets" in excess.what


def test_a_namespace_without_restricted_pod_security_fails():
    manifests = edited("Namespace", "spark", metadata={"name": "spark", "labels": {}})
    (problem,) = check(manifests).problems

    assert "does not enforce Pod Security 'restricted'" in problem.cause
    assert "pod-security.kubernetes.io/enforce=restricted" in problem.fix


def test_missing_namespace_and_accounts_fail():
    manifests = [m for m in bootstrap_manifests() if m["kind"] not in ("Namespace", "ServiceAccount")]
    causes = [p.cause for p in check(manifests).problems]

    assert causes[0] == "Namespace spark does not exist, so no Spark job can run there."
    assert any(c.startswith("ServiceAccount spark/spark-sa does not exist") for c in causes)
    assert any(c.startswith("ServiceAccount spark/spark-executor does not exist") for c in causes)


def test_an_executor_account_that_mounts_a_token_fails():
    manifests = edited("ServiceAccount", "spark-executor", "spark", automountServiceAccountToken=True)
    (problem,) = check(manifests).problems

    assert "mounts an API token" in problem.cause


def test_a_denial_the_objects_do_not_explain_is_reported_as_such():
    (question,) = [q for q in access_questions() if q.subject.endswith(":spark-sa") and q.right == Right("watch", "pods")]
    (gap,) = check(bootstrap_manifests(), answers_override={question: False}).gaps

    assert gap.kind == UNEXPLAINED
    assert "yet the API server denied it" in gap.reason


def test_rights_where_the_roles_were_not_read_name_both_causes():
    (question,) = [q for q in access_questions() if q.namespace == "sparkplane-system" and q.right == Right("create", "pods")]
    (gap,) = check(bootstrap_manifests(), answers_override={question: False}).gaps

    assert gap.kind == NOT_READ
    assert "Either bind Role sparkplane-airflow to sparkplane-airflow, or add the rules below" in gap.fix


def test_every_question_must_be_answered():
    manifests = bootstrap_manifests()
    rbac = rbac_objects(manifests)
    partial = dict(list(answers(rbac, access_questions()).items())[1:])

    with pytest.raises(ValueError, match="no answer to 1 question"):
        check_namespace(namespace=None, driver_account=None, executor_account=None, rbac=rbac, answers=partial)


def test_the_log_starts_with_the_verdict_and_gives_each_missing_right_its_cause_and_fix():
    lines = check(edited(*DRIVER_BINDING)).log_lines()

    assert lines[0] == "RBAC check of namespace spark: FAIL (1 to fix, 0 warnings)"
    failed = lines.index("FAIL: ServiceAccount spark/spark-sa may not get, list, watch, create, patch, delete, "
                         "deletecollection pods; get, list, watch, create, patch, delete, deletecollection services; "
                         "get, list, watch, create, patch, delete, deletecollection configmaps in namespace spark")  # fmt: skip
    assert lines[failed + 1].startswith("  Cause: no RoleBinding binds spark-sa")
    assert lines[failed + 2].startswith("  Fix: Create the RoleBinding below")
    assert lines[failed + 3] == "    apiVersion: rbac.authorization.k8s.io/v1"


def test_the_xcom_is_small_plain_data():
    xcom = check(seed_manifests()).as_xcom()

    assert json.loads(json.dumps(xcom)) == xcom
    assert xcom["verdict"] == FAIL
    assert {"account": "spark/spark-sa", "where": "spark", "kind": ROLE_LACKS} == {
        k: xcom["missing"][0][k] for k in ("account", "where", "kind")}  # fmt: skip
    assert len(xcom["lint"]) == 3
