"""Manifests as the kubernetes.client models the API returns, and the answers it would give."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from kubernetes.client import ApiClient
from sparkplane.bootstrap.apply import DEFAULT_MANIFEST_DIR, load_manifests
from sparkplane.rbac.grants import RbacObjects, is_granted
from sparkplane.rbac.needed_rights import AccessQuestion, ServiceAccount

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SEED_MANIFEST = PROJECT_ROOT / "tests" / "data" / "seed-spark-manifest.yaml"


class _Response:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.data = json.dumps(manifest)


def model(manifest: dict[str, Any]) -> Any:
    """Return the manifest as its kubernetes.client model (V1Role, V1Namespace...)."""
    return ApiClient().deserialize(_Response(manifest), f"V1{manifest['kind']}")


def bootstrap_manifests() -> list[dict[str, Any]]:
    return load_manifests(DEFAULT_MANIFEST_DIR)


def seed_manifests() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(SEED_MANIFEST.read_text()) if doc]


def find(manifests: Sequence[dict[str, Any]], kind: str, name: str, namespace: str | None = None) -> Any:
    """Return the model of the one object of that kind, name and namespace, or None."""
    found = [m for m in manifests if (m["kind"], m["metadata"]["name"], m["metadata"].get("namespace")) == (kind, name, namespace)]
    return model(found[0]) if found else None


def rbac_objects(manifests: Iterable[dict[str, Any]], namespaces: Iterable[str] = ("spark",)) -> RbacObjects:
    """Return the RBAC objects of ``manifests``, as if the Roles of ``namespaces`` and all cluster objects were read."""
    by_kind: dict[str, list[Any]] = {"Role": [], "RoleBinding": [], "ClusterRole": [], "ClusterRoleBinding": []}
    for manifest in manifests:
        if manifest["kind"] in by_kind:
            by_kind[manifest["kind"]].append(model(manifest))
    return RbacObjects(
        roles=by_kind["Role"], role_bindings=by_kind["RoleBinding"], cluster_roles=by_kind["ClusterRole"],
        cluster_role_bindings=by_kind["ClusterRoleBinding"], namespaces=frozenset(namespaces),
    )


def answers(rbac: RbacObjects, questions: Iterable[AccessQuestion]) -> dict[AccessQuestion, bool]:
    """Return what the API server's RBAC would answer for these objects."""
    return {q: is_granted(ServiceAccount.from_user(q.subject), q.namespace, q.right, rbac) for q in questions}
