"""Live RBAC objects written back as manifests and linted like files."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from kubernetes.client import V1ClusterRole, V1ManagedFieldsEntry, V1ObjectMeta, V1PolicyRule, V1Role
from sparkplane.rbac.live_lint import LAST_APPLIED_ANNOTATION, lint_live_objects, live_manifest

LIVE_METADATA = {"uid": "1f0c", "resource_version": "4711", "creation_timestamp": datetime(2026, 1, 1, tzinfo=timezone.utc),
                 "managed_fields": [V1ManagedFieldsEntry(manager="kubectl", operation="Apply")]}  # fmt: skip


def test_a_live_object_is_written_back_without_what_the_api_server_added():
    # Items of a list come without kind and apiVersion.
    role = V1Role(metadata=V1ObjectMeta(name="r", namespace="spark", **LIVE_METADATA),
                  rules=[V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["get"])])  # fmt: skip

    assert live_manifest(role) == {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r", "namespace": "spark"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    }  # fmt: skip


def test_the_namespace_kubectl_recorded_on_a_cluster_scoped_object_is_kept_for_the_linter():
    applied = {"kind": "ClusterRole", "metadata": {"name": "spark-role", "namespace": "default"}}
    role = V1ClusterRole(
        metadata=V1ObjectMeta(name="spark-role", annotations={LAST_APPLIED_ANNOTATION: json.dumps(applied)}, **LIVE_METADATA),
        rules=[V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["get", "post"])],
    )

    findings = lint_live_objects([role])

    assert live_manifest(role)["metadata"] == {"name": "spark-role", "namespace": "default"}
    assert [(f.path, f.rule) for f in findings] == [
        ("clusterrole/spark-role (live)", "namespace-on-cluster-scoped"), ("clusterrole/spark-role (live)", "invalid-verb")]  # fmt: skip
