"""Lint Kubernetes RBAC manifests for the mistakes that apply cleanly and fail later.

Each rule finds one such mistake and says, with the file and line, what to write instead.
Exit codes: 0 clean, 1 findings, 2 unreadable input.

Usage: python -m sparkplane.rbac.lint FILE_OR_DIR...
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

#: The verbs of the Kubernetes API, including the special ones some resources define
#: (use: PodSecurityPolicy; bind/escalate: roles; impersonate: users, groups, service
#: accounts; approve/sign: certificate signing requests).
VALID_VERBS = frozenset(
    {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "*"}
    | {"use", "bind", "escalate", "impersonate", "approve", "sign"}
)

#: Frequent wrong verbs and what they meant: HTTP methods and CRUD words.
VERB_REPLACEMENTS = {
    "post": "create",
    "put": "update",
    "edit": "patch",
    "modify": "patch",
    "read": "get",
    "view": "get",
    "remove": "delete",
    "destroy": "delete",
    "write": "create, update, patch",
    "all": "*",
}

#: Kinds that are not namespaced: a metadata.namespace on them is ignored by the API.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace", "Node", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding",
        "CustomResourceDefinition", "PriorityClass", "RuntimeClass", "IngressClass", "CSIDriver",
        "CSINode", "APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "VolumeAttachment",
    }
)

#: Resources that only a ClusterRoleBinding can grant, because they are not namespaced.
CLUSTER_SCOPED_RESOURCES = frozenset(
    {
        "nodes", "namespaces", "persistentvolumes", "storageclasses", "clusterroles", "clusterrolebindings",
        "customresourcedefinitions", "priorityclasses", "runtimeclasses", "ingressclasses", "csidrivers",
        "csinodes", "apiservices", "mutatingwebhookconfigurations", "validatingwebhookconfigurations",
        "volumeattachments", "certificatesigningrequests", "tokenreviews", "subjectaccessreviews",
        "selfsubjectaccessreviews", "selfsubjectrulesreviews", "*",
    }
)


@dataclass(frozen=True)
class Finding:
    """One mistake in a manifest.

    :param path: the file, as given on the command line.
    :param line: 1-based line of the offending key or value.
    :param rule: short name of the rule, stable for grepping.
    :param message: what is wrong.
    :param fix: what to write instead.
    """

    path: str
    line: int
    rule: str
    message: str
    fix: str

    def format(self) -> str:
        """Return the finding as ``file:line: rule: message Fix: fix``."""
        return f"{self.path}:{self.line}: {self.rule}: {self.message} Fix: {self.fix}"


@dataclass(frozen=True)
class Document:
    """One YAML document of a manifest file: its kind and name, and the composed node."""

    path: str
    node: MappingNode

    @property
    def kind(self) -> str:
        return scalar(get(self.node, "kind")) or ""

    @property
    def name(self) -> str:
        return scalar(get(get(self.node, "metadata"), "name")) or "<unnamed>"

    @property
    def namespace(self) -> str | None:
        return scalar(get(get(self.node, "metadata"), "namespace"))


def get(node: Node | None, key: str) -> Node | None:
    """Return the value node of ``key`` in a mapping node, or None."""
    if not isinstance(node, MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return value_node
    return None


def key_node(node: Node | None, key: str) -> Node | None:
    """Return the key node of ``key`` in a mapping node (its line is the key's line), or None."""
    if not isinstance(node, MappingNode):
        return None
    return next((k for k, _ in node.value if isinstance(k, ScalarNode) and k.value == key), None)


def scalar(node: Node | None) -> str | None:
    """Return the text of a scalar node, or None for anything else."""
    return node.value if isinstance(node, ScalarNode) else None


def items(node: Node | None) -> list[Node]:
    """Return the items of a sequence node, or an empty list."""
    return list(node.value) if isinstance(node, SequenceNode) else []


def line_of(node: Node) -> int:
    """Return the 1-based line where ``node`` starts."""
    return node.start_mark.line + 1


def parse_documents(text: str, path: str) -> list[Document]:
    """Compose every mapping document of a YAML stream.

    YAML is composed into PyYAML nodes, not loaded into dicts, because only nodes keep their
    line numbers.

    :param text: the YAML text.
    :param path: the file name, carried into findings.
    :raises yaml.YAMLError: the text is not YAML.
    """
    return [Document(path, node) for node in yaml.compose_all(text, Loader=yaml.SafeLoader) if isinstance(node, MappingNode)]


def check_verbs(doc: Document) -> Iterator[Finding]:
    """Flag verbs that Kubernetes does not have in Roles and ClusterRoles."""
    if doc.kind not in ("Role", "ClusterRole"):
        return
    for rule in items(get(doc.node, "rules")):
        for verb_node in items(get(rule, "verbs")):
            verb = scalar(verb_node) or ""
            if verb in VALID_VERBS:
                continue
            meant = VERB_REPLACEMENTS.get(verb.lower())
            fix = f"use '{meant}' instead." if meant else "use one of " + ", ".join(sorted(VALID_VERBS)) + "."
            yield Finding(
                doc.path, line_of(verb_node), "invalid-verb",
                f"{doc.kind} '{doc.name}' lists the verb '{verb}', which Kubernetes does not have; it grants nothing.",
                fix,
            )


def check_cluster_scoped_namespace(doc: Document) -> Iterator[Finding]:
    """Flag ``metadata.namespace`` on kinds that have no namespace."""
    if doc.kind in CLUSTER_SCOPED_KINDS and doc.namespace is not None:
        where = key_node(get(doc.node, "metadata"), "namespace")
        yield Finding(
            doc.path, line_of(where or doc.node), "namespace-on-cluster-scoped",
            f"{doc.kind} '{doc.name}' is cluster-scoped; its namespace '{doc.namespace}' is ignored and misleads readers.",
            "delete the metadata.namespace line.",
        )


def check_subject_namespaces(doc: Document) -> Iterator[Finding]:
    """Flag ServiceAccount subjects of bindings that do not say their namespace."""
    if doc.kind not in ("RoleBinding", "ClusterRoleBinding"):
        return
    for subject in items(get(doc.node, "subjects")):
        if scalar(get(subject, "kind")) == "ServiceAccount" and not scalar(get(subject, "namespace")):
            account = scalar(get(subject, "name")) or "<unnamed>"
            if doc.kind == "ClusterRoleBinding":
                consequence = "the API rejects it"
                namespace = "<the account's namespace>"
            else:
                # RBAC then means the binding's own namespace: right by accident, wrong once copied.
                namespace = doc.namespace or "<the account's namespace>"
                consequence = f"Kubernetes silently takes the binding's namespace ('{namespace}')"
            yield Finding(
                doc.path, line_of(subject), "subject-without-namespace",
                f"{doc.kind} '{doc.name}' binds ServiceAccount '{account}' without a namespace; {consequence}.",
                f"add 'namespace: {namespace}' to the subject '{account}'.",
            )


def grants_cluster_scoped(role: Document) -> bool:
    """Tell whether a ClusterRole grants something only a ClusterRoleBinding can give."""
    for rule in items(get(role.node, "rules")):
        if get(rule, "nonResourceURLs") is not None:
            return True
        if any(scalar(r) in CLUSTER_SCOPED_RESOURCES for r in items(get(rule, "resources"))):
            return True
    return False


def check_binding_scope(doc: Document, cluster_roles: dict[str, Document]) -> Iterator[Finding]:
    """Flag ClusterRoleBindings that only bind ServiceAccounts of one namespace.

    Such a binding grants the role in every namespace, while the accounts live in one. It is
    needed only when the role grants cluster-scoped resources; a role not among the linted
    files is assumed namespaced, so the finding asks the reader to check.

    :param doc: the document to check.
    :param cluster_roles: ClusterRoles of all linted files, by name.
    """
    if doc.kind != "ClusterRoleBinding":
        return
    subjects = items(get(doc.node, "subjects"))
    namespaces = {scalar(get(s, "namespace")) for s in subjects}
    if not subjects or any(scalar(get(s, "kind")) != "ServiceAccount" for s in subjects) or len(namespaces) != 1:
        return
    (namespace,) = namespaces
    role_name = scalar(get(get(doc.node, "roleRef"), "name")) or ""
    role = cluster_roles.get(role_name)
    if namespace is None or (role is not None and grants_cluster_scoped(role)):
        return
    yield Finding(
        doc.path, line_of(key_node(doc.node, "kind") or doc.node), "clusterrolebinding-for-one-namespace",
        f"ClusterRoleBinding '{doc.name}' grants ClusterRole '{role_name}' in every namespace, "
        f"but binds only ServiceAccounts of namespace '{namespace}'.",
        f"use a RoleBinding in namespace '{namespace}' (and a Role there, unless the ClusterRole is shared).",
    )


def lint_documents(documents: Sequence[Document]) -> list[Finding]:
    """Return the findings of every rule over ``documents`` (possibly from several files).

    ``kubectl apply`` accepts a role with the verb ``post`` (it grants nothing), a namespace on a
    ClusterRole (silently dropped) and a ClusterRoleBinding where a RoleBinding would do (it
    grants the role in every namespace). Each rule finds one such mistake and says, with the
    file and line, what to write instead. The rules are pure functions of the composed
    documents; the CLI only reads files and prints.
    """
    cluster_roles = {doc.name: doc for doc in documents if doc.kind == "ClusterRole"}
    findings: list[Finding] = []
    for doc in documents:
        findings += check_verbs(doc)
        findings += check_cluster_scoped_namespace(doc)
        findings += check_subject_namespaces(doc)
        findings += check_binding_scope(doc, cluster_roles)
    return sorted(findings, key=lambda f: (f.path, f.line))


def manifest_files(paths: Sequence[Path]) -> list[Path]:
    """Expand folders into the YAML files below them; keep files as given."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
        else:
            files.append(path)
    return files


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sparkplane.rbac.lint", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, metavar="FILE_OR_DIR")
    args = parser.parse_args(argv)
    documents: list[Document] = []
    for path in manifest_files(args.paths):
        try:
            documents += parse_documents(path.read_text(), str(path))
        except OSError as e:
            print(f"{path}: cannot read: {e.strerror}. Check the path.", file=sys.stderr)
            return 2
        except yaml.YAMLError as e:
            print(f"{path}: not valid YAML: {e}. Fix the syntax and lint again.", file=sys.stderr)
            return 2
    findings = lint_documents(documents)
    for finding in findings:
        print(finding.format())
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
