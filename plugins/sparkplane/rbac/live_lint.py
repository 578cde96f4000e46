"""The RBAC linter on live objects: what reaches an account, written back as manifests. Pure.

``sparkplane.rbac.lint`` works on manifest text, with line numbers. Live Roles and bindings are
written back as the YAML one would apply, without what the API server adds (uid,
resourceVersion, managedFields, status...), and linted together, so a mistake applied long ago
(a verb ``post``, a ClusterRoleBinding where a RoleBinding would do) is reported from the
cluster as it is. A finding's path names the object, its line the line of that written-back
manifest.

The API server drops ``metadata.namespace`` from a cluster-scoped object, so the live objects
cannot show the seed's misleading namespace on a ClusterRole: only a last-applied annotation
that still holds one (``kubectl.kubernetes.io/last-applied-configuration``) brings it back, and
the kubectl here (1.32) leaves it out of that annotation too. The manifest linter
(``python -m sparkplane.rbac.lint``) finds it in the files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import yaml

from sparkplane.rbac.grants import RbacObjects, bindings_reaching, is_kubernetes_default
from sparkplane.rbac.lint import Finding, lint_documents, parse_documents
from sparkplane.rbac.needed_rights import RBAC_GROUP, ServiceAccount

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

#: Metadata the API server writes; none of it is part of what was applied.
SERVER_METADATA = frozenset(
    {"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink", "deletionTimestamp"}
)
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
_RBAC_KINDS = ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")


def live_manifest(obj: Any, *, api_client: ApiClient | None = None) -> dict[str, Any]:
    """Return a live RBAC object (a kubernetes.client model) as the manifest that would create it."""
    from kubernetes.client import ApiClient

    kind = _kind_of(obj)
    data = (api_client or ApiClient()).sanitize_for_serialization(obj)
    metadata = {k: v for k, v in (data.get("metadata") or {}).items() if k not in SERVER_METADATA}
    annotations = dict(metadata.pop("annotations", None) or {})
    last_applied = annotations.pop(LAST_APPLIED_ANNOTATION, None)
    if annotations:
        metadata["annotations"] = annotations
    if kind.startswith("Cluster") and "namespace" not in metadata and last_applied:
        applied_namespace = _applied_namespace(last_applied)
        if applied_namespace:
            metadata["namespace"] = applied_namespace
    rest = {k: v for k, v in data.items() if k not in ("apiVersion", "kind", "metadata", "status")}
    return {"apiVersion": f"{RBAC_GROUP}/v1", "kind": kind, "metadata": metadata, **rest}


def objects_reaching(account: ServiceAccount, namespace: str, rbac: RbacObjects) -> list[Any]:
    """Return the bindings that reach ``account`` in ``namespace`` and the roles they bind, each once."""
    objects: list[Any] = []
    for reach in bindings_reaching(account, namespace, rbac):
        if is_kubernetes_default(reach.binding):
            continue
        role = rbac.role(reach.role_kind, reach.role_name, reach.namespace)
        objects += [o for o in (reach.binding, role) if o is not None and all(o is not seen for seen in objects)]
    return objects


def lint_live_objects(objects: Sequence[Any]) -> list[Finding]:
    """Return the linter's findings on live RBAC objects, linted together (a binding with its role)."""
    from kubernetes.client import ApiClient

    api_client = ApiClient()
    documents = []
    for obj in objects:
        manifest = live_manifest(obj, api_client=api_client)
        metadata = manifest["metadata"]
        namespaced = manifest["kind"] in ("Role", "RoleBinding")
        name = f"{metadata['namespace']}/{metadata['name']}" if namespaced else metadata["name"]
        text = yaml.safe_dump(manifest, sort_keys=False, default_flow_style=None)
        documents += parse_documents(text, f"{manifest['kind'].lower()}/{name} (live)")
    return lint_documents(documents)


def _kind_of(obj: Any) -> str:
    kind = obj.kind or type(obj).__name__.removeprefix("V1")
    if kind not in _RBAC_KINDS:
        raise ValueError(
            f"{type(obj).__name__} is not an RBAC object: pass V1Role, V1RoleBinding, V1ClusterRole or V1ClusterRoleBinding"
        )
    return kind


def _applied_namespace(last_applied: str) -> str | None:
    try:
        applied = json.loads(last_applied)
    except ValueError:
        return None
    return (applied.get("metadata") or {}).get("namespace") if isinstance(applied, dict) else None
