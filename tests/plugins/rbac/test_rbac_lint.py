"""The RBAC linter: each rule on small manifests, the seed's manifest, our bootstrap, the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from sparkplane.rbac.lint import Finding, lint_documents, main, parse_documents

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SEED_MANIFEST = PROJECT_ROOT / "tests" / "data" / "seed-spark-manifest.yaml"
BOOTSTRAP_DIR = PROJECT_ROOT / "spark-bootstrap"


def lint(text: str) -> list[Finding]:
    return lint_documents(parse_documents(text, "m.yaml"))


ROLE_WITH_VERBS = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: r
  namespace: spark
rules:
  - apiGroups: [""]
    resources: ["pods"]
    verbs:
      - get
      - post
      - edit
      - impersonate
"""


def test_invalid_verbs_are_flagged_on_their_own_line_with_the_verb_meant():
    findings = lint(ROLE_WITH_VERBS)

    assert [(f.line, f.rule) for f in findings] == [(11, "invalid-verb"), (12, "invalid-verb")]
    assert findings[0].message == "Role 'r' lists the verb 'post', which Kubernetes does not have; it grants nothing."
    assert findings[0].fix == "use 'create' instead."
    assert findings[1].fix == "use 'patch' instead."


def test_unknown_invalid_verb_lists_the_valid_ones():
    (finding,) = lint(ROLE_WITH_VERBS.replace("      - post\n      - edit\n", "      - frobnicate\n"))

    assert "'frobnicate'" in finding.message
    assert finding.fix.startswith("use one of ") and "deletecollection" in finding.fix


def test_namespace_on_a_cluster_scoped_kind_is_flagged_at_the_namespace_line():
    (finding,) = lint("kind: ClusterRole\napiVersion: rbac.authorization.k8s.io/v1\nmetadata:\n  name: c\n  namespace: default\nrules: []\n")

    assert (finding.line, finding.rule) == (5, "namespace-on-cluster-scoped")
    assert finding.fix == "delete the metadata.namespace line."


def test_serviceaccount_subject_without_namespace_is_flagged():
    text = """\
kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: b, namespace: spark}
subjects:
  - kind: User
    name: alice
  - kind: ServiceAccount
    name: spark-sa
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}
"""
    (finding,) = lint(text)

    assert (finding.line, finding.rule) == (7, "subject-without-namespace")
    assert finding.message == (
        "RoleBinding 'b' binds ServiceAccount 'spark-sa' without a namespace; "
        "Kubernetes silently takes the binding's namespace ('spark')."
    )
    assert finding.fix == "add 'namespace: spark' to the subject 'spark-sa'."


def test_clusterrolebinding_subject_without_namespace_is_rejected_by_the_api():
    text = """\
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: b}
subjects:
  - {kind: ServiceAccount, name: spark-sa}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}
"""
    (finding,) = lint(text)

    assert (finding.line, finding.rule) == (5, "subject-without-namespace")
    assert finding.message.endswith("without a namespace; the API rejects it.")


CLUSTER_ROLE_BINDING = """\
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: role}
rules:
  - apiGroups: [""]
    resources: [RESOURCE]
    verbs: ["get"]
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: binding}
subjects:
  - {kind: ServiceAccount, name: a, namespace: spark}
  - {kind: ServiceAccount, name: b, namespace: spark}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: role}
"""


def test_clusterrolebinding_of_one_namespaces_accounts_to_a_namespaced_role_should_be_a_rolebinding():
    (finding,) = lint(CLUSTER_ROLE_BINDING.replace("RESOURCE", "pods"))

    assert (finding.line, finding.rule) == (9, "clusterrolebinding-for-one-namespace")
    assert finding.fix.startswith("use a RoleBinding in namespace 'spark'")


def test_clusterrolebinding_is_accepted_when_the_role_grants_cluster_scoped_resources():
    assert lint(CLUSTER_ROLE_BINDING.replace("RESOURCE", "nodes")) == []


def test_clusterrolebinding_with_accounts_of_several_namespaces_is_accepted():
    assert lint(CLUSTER_ROLE_BINDING.replace("RESOURCE", "pods").replace("name: b, namespace: spark", "name: b, namespace: other")) == []


def test_seed_manifest_has_exactly_its_three_mistakes():
    findings = lint_documents(parse_documents(SEED_MANIFEST.read_text(), str(SEED_MANIFEST)))

    assert [(f.line, f.rule) for f in findings] == [
        (16, "namespace-on-cluster-scoped"),
        (21, "invalid-verb"),
        (23, "clusterrolebinding-for-one-namespace"),
    ]


def test_cli_prints_file_line_rule_and_fix_and_exits_1_on_the_seed_manifest(capsys):
    assert main([str(SEED_MANIFEST)]) == 1

    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == (
        f"{SEED_MANIFEST}:21: invalid-verb: ClusterRole 'spark-role' lists the verb 'post', "
        "which Kubernetes does not have; it grants nothing. Fix: use 'create' instead."
    )
    assert len(lines) == 3


def test_cli_finds_the_bootstrap_clean_and_exits_0(capsys):
    assert main([str(BOOTSTRAP_DIR)]) == 0
    assert capsys.readouterr().out == ""


def test_cli_exits_2_on_a_missing_file(tmp_path, capsys):
    assert main([str(tmp_path / "absent.yaml")]) == 2
    assert "absent.yaml: cannot read: No such file or directory" in capsys.readouterr().err


def test_cli_exits_2_on_invalid_yaml(tmp_path, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: Role\nrules: [unclosed\n")

    assert main([str(broken)]) == 2
    assert f"{broken}: not valid YAML" in capsys.readouterr().err


@pytest.mark.parametrize("verb", ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "*", "bind", "escalate", "use", "approve", "sign"])
def test_valid_verbs_are_not_flagged(verb):
    assert lint(ROLE_WITH_VERBS.replace("      - post\n      - edit\n", f"      - '{verb}'\n")) == []
