"""The bootstrap manifests as data: what they grant, and that Spark's pods pass "restricted"."""

from __future__ import annotations

from pathlib import Path

import yaml
from sparkplane.bootstrap.apply import DEFAULT_MANIFEST_DIR, classify, load_manifests
from sparkplane.bootstrap.submit_conf import bootstrap_spark_conf

POD_TEMPLATES = DEFAULT_MANIFEST_DIR / "pod-templates"


def by_kind_and_name(kind: str, name: str, namespace: str | None = None) -> dict:
    (found,) = [
        m for m in load_manifests(DEFAULT_MANIFEST_DIR)
        if m["kind"] == kind and m["metadata"]["name"] == name and m["metadata"].get("namespace") == namespace
    ]
    return found


def test_namespaces_are_applied_first_and_enforce_restricted():
    manifests = load_manifests(DEFAULT_MANIFEST_DIR)

    assert [m["kind"] for m in manifests[:2]] == ["Namespace", "Namespace"]
    for namespace in manifests[:2]:
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_spark_driver_role_is_namespaced_and_grants_no_volume_claims_or_secrets():
    role = by_kind_and_name("Role", "spark-driver", "spark")

    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert resources == {"pods", "services", "configmaps"}


def test_executor_account_gets_no_token():
    account = by_kind_and_name("ServiceAccount", "spark-executor", "spark")

    assert account["automountServiceAccountToken"] is False


def test_cluster_wide_rights_are_reads_only():
    cluster_roles = [m for m in load_manifests(DEFAULT_MANIFEST_DIR) if m["kind"] == "ClusterRole"]

    assert {m["metadata"]["name"] for m in cluster_roles} == {
        "sparkplane-airflow-node-reader", "sparkplane-airflow-cluster-reader"}  # fmt: skip
    assert {verb for role in cluster_roles for rule in role["rules"] for verb in rule["verbs"]} == {"get", "list", "watch"}


def test_the_prepull_priority_class_is_below_every_job_and_never_preempts():
    priority_class = by_kind_and_name("PriorityClass", "sparkplane-prepull")

    assert priority_class["value"] < 0
    assert priority_class["preemptionPolicy"] == "Never"
    assert priority_class["globalDefault"] is False


def restricted_violations(template: dict) -> list[str]:
    """Return what of Pod Security "restricted" a pod template leaves unset."""
    pod = template["spec"]["securityContext"]
    container = template["spec"]["containers"][0]["securityContext"]
    problems = []
    if pod.get("runAsNonRoot") is not True or pod.get("runAsUser") in (None, 0):
        problems.append("runAsNonRoot")
    if pod.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problems.append("seccompProfile")
    if container.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation")
    if container.get("capabilities", {}).get("drop") != ["ALL"]:
        problems.append("capabilities")
    return problems


def test_pod_templates_set_everything_restricted_requires():
    for name in ("driver.yaml", "executor.yaml"):
        assert restricted_violations(yaml.safe_load((POD_TEMPLATES / name).read_text())) == [], name


def test_executor_template_mounts_no_token():
    template = yaml.safe_load((POD_TEMPLATES / "executor.yaml").read_text())

    assert template["spec"]["automountServiceAccountToken"] is False


def test_apply_outcome_follows_the_content_not_the_bookkeeping():
    role = {"kind": "Role", "metadata": {"name": "r", "resourceVersion": "10", "managedFields": [{"manager": "a"}]},
            "rules": [{"verbs": ["get"]}]}
    rewritten = {**role, "metadata": {**role["metadata"], "resourceVersion": "11", "managedFields": []},
                 "status": {"observedGeneration": 1}}
    assert classify(None, role) == "created"
    assert classify(role, rewritten) == "unchanged"
    assert classify(role, {**rewritten, "rules": [{"verbs": ["get", "list"]}]}) == "changed"
    assert classify(role, {**role, "metadata": {**role["metadata"], "labels": {"team": "a"}}}) == "changed"


def test_bootstrap_spark_conf_names_the_bootstrapped_objects(tmp_path: Path):
    conf = bootstrap_spark_conf("registry/spark@sha256:abc", pod_template_dir=tmp_path)

    assert conf["spark.kubernetes.namespace"] == "spark"
    assert conf["spark.kubernetes.authenticate.driver.serviceAccountName"] == "spark-sa"
    assert conf["spark.kubernetes.authenticate.executor.serviceAccountName"] == "spark-executor"
    assert conf["spark.kubernetes.executor.podTemplateFile"] == str(tmp_path / "executor.yaml")
    assert conf["spark.kubernetes.driver.ownPersistentVolumeClaim"] == "false"
