"""Apply the cluster bootstrap (``spark-bootstrap/``) with server-side apply, idempotently.

Applies the YAML files directly in the folder, in name order, and reports per object whether
it was created, changed or unchanged.

Usage: python -m sparkplane.bootstrap apply --kubeconfig PATH [--dir spark-bootstrap]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from kubernetes.dynamic import DynamicClient

#: The bootstrap manifests, next to the repository's other top-level folders.
DEFAULT_MANIFEST_DIR = Path(__file__).resolve().parents[3] / "spark-bootstrap"
#: Owner of the applied fields; another manager's edits to them are taken over (force).
FIELD_MANAGER = "sparkplane-bootstrap"


class BootstrapError(Exception):
    """Applying the bootstrap failed; the message names the object and the way out."""


@dataclass(frozen=True)
class ApplyResult:
    """What applying one object did.

    :param kind: the object's kind.
    :param name: the object's name.
    :param namespace: its namespace, or None for a cluster-scoped object.
    :param outcome: ``created``, ``changed`` or ``unchanged``.
    """

    kind: str
    name: str
    namespace: str | None
    outcome: str

    def format(self) -> str:
        """Return ``kind/name (namespace) outcome``, like kubectl's apply output."""
        where = f" -n {self.namespace}" if self.namespace else ""
        return f"{self.kind.lower()}/{self.name}{where} {self.outcome}"


def load_manifests(manifest_dir: Path) -> list[dict[str, Any]]:
    """Return every object of the YAML files directly in ``manifest_dir``, in file order.

    Files are applied in name order (``00-namespaces.yaml`` first, so the namespaces exist
    before what lives in them); only the YAML files directly in the folder are applied, not the
    pod templates below it, which Spark reads at submit time.

    :param manifest_dir: the bootstrap folder.
    """
    files = sorted(manifest_dir.glob("*.yaml"))
    if not files:
        raise BootstrapError(f"no *.yaml files in {manifest_dir}; pass --dir with the bootstrap folder.")
    objects = []
    for path in files:
        try:
            objects += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        except yaml.YAMLError as e:
            raise BootstrapError(f"{path} is not valid YAML: {e}. Run python -m sparkplane.rbac.lint on it.") from e
    return objects


def classify(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    """Return the outcome of an apply from the object before (None: absent) and after.

    "changed" means the object's content changed: its spec, rules, data or metadata. Not its
    status, and not the bookkeeping of server-side apply: once a controller has applied its own
    fields (a ValidatingAdmissionPolicy's type-checking status), the next apply rewrites the
    managed-fields list and so the resourceVersion, with nothing else different.
    """
    if before is None:
        return "created"
    return "unchanged" if _content(before) == _content(after) else "changed"


def _content(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = {k: v for k, v in obj.get("metadata", {}).items() if k not in ("resourceVersion", "managedFields")}
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": metadata}


def apply_object(client: DynamicClient, manifest: dict[str, Any]) -> ApplyResult:
    """Server-side apply one object and report what happened to it.

    Every object is sent as a server-side apply patch under one field manager, so a second run
    changes nothing and a run after an edit changes only what the edit touched. The report says
    per object whether it was created, changed or unchanged (see ``classify``).

    :param client: a dynamic client of the target cluster.
    :param manifest: the object, as loaded from YAML.
    """
    from kubernetes.client.rest import ApiException
    from kubernetes.dynamic.exceptions import NotFoundError

    kind, metadata = manifest["kind"], manifest["metadata"]
    name, namespace = metadata["name"], metadata.get("namespace")
    try:
        resource = client.resources.get(api_version=manifest["apiVersion"], kind=kind)
        try:
            before = client.get(resource, name=name, namespace=namespace).to_dict()
        except NotFoundError:
            before = None
        after = client.server_side_apply(
            resource, body=manifest, name=name, namespace=namespace,
            field_manager=FIELD_MANAGER, force_conflicts=True,
        )
    except ApiException as e:
        where = f" in namespace {namespace}" if namespace else ""
        raise BootstrapError(
            f"applying {kind} {name}{where} failed ({e.status} {e.reason}): {e.body}. "
            "Apply with a cluster-admin kubeconfig; RBAC objects can only be created by someone holding their rights."
        ) from e
    return ApplyResult(kind, name, namespace, classify(before, after.to_dict()))


def apply_manifests(client: DynamicClient, manifests: Sequence[dict[str, Any]]) -> Iterator[ApplyResult]:
    """Apply ``manifests`` in order, yielding each result as soon as it is known."""
    for manifest in manifests:
        yield apply_object(client, manifest)


def dynamic_client(kubeconfig: Path) -> DynamicClient:
    """Return a dynamic client for ``kubeconfig``."""
    from kubernetes import config
    from kubernetes.dynamic import DynamicClient

    if not kubeconfig.is_file():
        raise BootstrapError(f"kubeconfig {kubeconfig} does not exist; pass --kubeconfig with a cluster-admin kubeconfig.")
    return DynamicClient(config.new_client_from_config(config_file=str(kubeconfig)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sparkplane.bootstrap", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    apply = commands.add_parser("apply", help="apply the bootstrap manifests (idempotent)")
    apply.add_argument("--kubeconfig", type=Path, required=True, help="a cluster-admin kubeconfig")
    apply.add_argument("--dir", type=Path, default=DEFAULT_MANIFEST_DIR, help=f"default: {DEFAULT_MANIFEST_DIR}")
    args = parser.parse_args(argv)
    try:
        client = dynamic_client(args.kubeconfig)
        for result in apply_manifests(client, load_manifests(args.dir)):
            print(result.format())
    except BootstrapError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
