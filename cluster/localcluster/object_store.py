"""The cluster's S3-compatible object store, and the platform's bucket and key in it.

The server is VersityGW: Apache-2.0 (MinIO and Garage are AGPL), one static Go binary built
from the Go module proxy like the cluster's other binaries, serving the S3 API (SigV4, multipart
uploads, copies) over a folder, with users that own buckets. It is run in production as an S3
front for file systems, so what the tests see is what an S3 client meets.

The S3 API listens on the node address, where pods reach the host; the admin API (users,
bucket owners) on loopback only. The root key is made at first start; the platform gets a user
of role ``user``, which reaches only the buckets it owns, and one bucket owned by it. Both keys
live in files readable by root only under the store's folder, which ``down`` wipes with the
data. Admin requests are signed by curl (``--aws-sigv4``) reading its options from stdin, so
no key is ever on a command line.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import subprocess
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path

from .kubeconfigs import kubectl
from .procs import ComponentError, Processes
from .settings import Settings

#: The platform's bucket and user in the local store.
PLATFORM_BUCKET = "sparkplane"
PLATFORM_USER = "sparkplane-platform"
#: The Kubernetes Secret holding the platform's key, as the AWS SDK's environment variables.
PLATFORM_SECRET = "sparkplane-object-store"
ACCESS_KEY_ENV = "AWS_ACCESS_KEY_ID"
SECRET_KEY_ENV = "AWS_SECRET_ACCESS_KEY"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class StoreAccess:
    """Where the store is and a key for it."""

    endpoint: str
    region: str
    bucket: str
    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:  # keep the secret out of tracebacks and logs
        return f"StoreAccess(endpoint={self.endpoint!r}, bucket={self.bucket!r}, access_key_id={self.access_key_id!r})"


def _root_key_file(s: Settings) -> Path:
    return s.object_store_dir / "root-key.json"


def platform_key_file(s: Settings) -> Path:
    return s.object_store_dir / "platform-key.json"


def _write_private(path: Path, data: dict) -> None:
    """Write ``data`` readable by root only, whole or not at all (a new file put in place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(partial, path)


def _root_key(s: Settings) -> tuple[str, str]:
    """The store's root key, made once per store (a new store after `down` gets a new one)."""
    path = _root_key_file(s)
    if not path.exists():
        _write_private(path, {"access": "root-" + secrets.token_hex(4), "secret": secrets.token_urlsafe(30)})
    key = json.loads(path.read_text())
    return key["access"], key["secret"]


def start_object_store(s: Settings, procs: Processes) -> None:
    """Start the store over ``object_store_dir`` (idempotent) and wait for its health endpoint."""
    if not s.versitygw_bin.exists():
        raise ComponentError("object-store", f"{s.versitygw_bin} is missing; cluster/build-binaries builds it", None)
    gateway_root, iam_dir = s.object_store_dir / "buckets", s.object_store_dir / "iam"
    for folder in (gateway_root, iam_dir):
        folder.mkdir(parents=True, exist_ok=True)
    access, secret = _root_key(s)
    procs.start("object-store", [
        str(s.versitygw_bin),
        "--port", f"{s.node_ip}:{s.object_store_port}",
        "--admin-port", f"127.0.0.1:{s.object_store_admin_port}",
        "--iam-dir", str(iam_dir),
        "--health", "/health",
        "posix", str(gateway_root),
    ], env={"ROOT_ACCESS_KEY_ID": access, "ROOT_SECRET_ACCESS_KEY": secret})  # fmt: skip
    procs.wait_ready("object-store", lambda: _health(s) == 200 and _admin_listens(s), timeout_seconds=30)


def _health(s: Settings) -> int:
    with urllib.request.urlopen(f"{s.object_store_endpoint}/health", timeout=2) as response:
        return response.status


def _admin_listens(s: Settings) -> bool:
    """The admin API has a listener of its own, started beside the S3 one."""
    with socket.create_connection(("127.0.0.1", s.object_store_admin_port), timeout=2):
        return True


def _curl_option(name: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{name} = "{escaped}"\n'


def admin_request(s: Settings, path: str, *, body: str = "", headers: dict[str, str] | None = None) -> tuple[int, str]:
    """Send one signed request to the admin API; return its status and body."""
    access, secret = _root_key(s)
    config = "".join([
        _curl_option("url", f"{s.object_store_admin_endpoint}/{path}"),
        _curl_option("request", "PATCH"),
        _curl_option("aws-sigv4", f"aws:amz:{s.object_store_region}:s3"),
        _curl_option("user", f"{access}:{secret}"),
        _curl_option("header", f"x-amz-content-sha256: {hashlib.sha256(body.encode()).hexdigest() if body else _EMPTY_SHA256}"),
        *(_curl_option("header", f"{name}: {value}") for name, value in (headers or {}).items()),
        *([_curl_option("data-binary", body)] if body else []),
        'write-out = "\\n%{http_code}"\n',  # curl reads backslash-n in quotes as a newline
        "silent\nshow-error\n",
    ])  # fmt: skip
    try:
        proc = subprocess.run(["curl", "--config", "-", "--max-time", "10"], input=config, capture_output=True, text=True)
    except FileNotFoundError:
        raise ComponentError("object-store", "curl is missing: install Debian's curl (7.75 or newer)", None) from None
    if proc.returncode != 0:
        raise ComponentError("object-store", f"admin request {path} failed: {proc.stderr.strip()}", None)
    text, _, status = proc.stdout.rpartition("\n")
    return int(status), text


def _admin_ok(s: Settings, path: str, **kwargs) -> ET.Element:
    status, text = admin_request(s, path, **kwargs)
    if status >= 300:
        raise ComponentError("object-store", f"admin request {path} answered {status}: {_error_message(text)}", None)
    return ET.fromstring(text) if text.strip() else ET.Element("empty")


def _error_message(text: str) -> str:
    try:
        error = ET.fromstring(text)
    except ET.ParseError:
        return text.strip()[:200]
    return f"{error.findtext('Code')}: {error.findtext('Message')}"


def _users(s: Settings) -> dict[str, str]:
    """Access key id -> secret of every user (the admin API gives both)."""
    found = _admin_ok(s, "list-users")
    return {a.findtext("Access"): a.findtext("Secret") for a in found.iter("Accounts")}


def _bucket_owners(s: Settings) -> dict[str, str]:
    found = _admin_ok(s, "list-buckets")
    return {b.findtext("Name"): b.findtext("Owner") for b in found.iter("Buckets")}


def ensure_user(s: Settings, access_key_id: str) -> str:
    """Create user ``access_key_id`` of role ``user`` unless it exists; return its secret."""
    if (secret := _users(s).get(access_key_id)) is not None:
        return secret
    secret = secrets.token_urlsafe(30)
    account = ET.Element("Account")
    for tag, value in (("Access", access_key_id), ("Secret", secret), ("Role", "user"),
                       ("UserID", "0"), ("GroupID", "0"), ("ProjectID", "0")):  # fmt: skip
        ET.SubElement(account, tag).text = value
    _admin_ok(s, "create-user", body=ET.tostring(account, encoding="unicode"))
    return secret


def ensure_bucket(s: Settings, bucket: str, owner: str) -> None:
    """Create ``bucket`` owned by ``owner`` unless it exists; give it to ``owner`` if another owns it."""
    current = _bucket_owners(s).get(bucket)
    if current is None:
        _admin_ok(s, f"{bucket}/create", headers={"x-vgw-owner": owner})
    elif current != owner:
        _admin_ok(s, f"change-bucket-owner/?bucket={bucket}&owner={owner}")


def ensure_platform_access(s: Settings) -> StoreAccess:
    """The platform's user and bucket, created if missing; the key is also written for root only."""
    secret = ensure_user(s, PLATFORM_USER)
    ensure_bucket(s, PLATFORM_BUCKET, PLATFORM_USER)
    access = StoreAccess(s.object_store_endpoint, s.object_store_region, PLATFORM_BUCKET, PLATFORM_USER, secret)
    _write_private(platform_key_file(s), asdict(access))
    return access


def platform_access(s: Settings) -> StoreAccess:
    """The platform's key as ``up`` wrote it."""
    path = platform_key_file(s)
    if not path.exists():
        raise ComponentError("object-store", f"{path} is missing: the store is not up; run cluster/up", None)
    return StoreAccess(**json.loads(path.read_text()))


def secret_manifest(access: StoreAccess, namespace: str, name: str = PLATFORM_SECRET) -> dict:
    """The Kubernetes Secret that hands the platform's key to pods, as the AWS SDK's variables."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "sparkplane"}},
        "type": "Opaque",
        "stringData": {ACCESS_KEY_ENV: access.access_key_id, SECRET_KEY_ENV: access.secret_access_key},
    }


def airflow_connection(access: StoreAccess, secret_name: str = PLATFORM_SECRET) -> str:
    """The store as an Airflow connection (JSON, for an ``AIRFLOW_CONN_<ID>`` variable), in the shape
    the platform reads (``sparkplane.storage.object_store``): the key for local mode, the Secret's name for pods."""
    return json.dumps({
        "conn_type": "aws", "login": access.access_key_id, "password": access.secret_access_key,
        "extra": {"endpoint_url": access.endpoint, "region_name": access.region,
                  "config_kwargs": {"s3": {"addressing_style": "path"}}, "kubernetes_secret": secret_name},
    })  # fmt: skip


def apply_platform_secret(s: Settings, namespace: str, name: str = PLATFORM_SECRET) -> None:
    """Create or update the Secret in ``namespace`` (the manifest goes to kubectl on stdin)."""
    manifest = json.dumps(secret_manifest(platform_access(s), namespace, name))
    kubectl(s, "apply", "--server-side", "--force-conflicts", "--field-manager=sparkplane-object-store",
            "-f", "-", input=manifest, what=f"creating Secret {namespace}/{name}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """``secret NAMESPACE``: put the platform's key in its Secret there. ``connection``: print the
    Airflow connection (it holds the key: capture it, as scripts/cluster-demo does, never log it)."""
    import argparse

    from .settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m localcluster.object_store", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("secret").add_argument("namespace")
    commands.add_parser("connection")
    args = parser.parse_args(argv)
    s = load_settings()
    if args.command == "secret":
        apply_platform_secret(s, args.namespace)
        print(f"Secret {args.namespace}/{PLATFORM_SECRET} holds the platform's object store key")
    else:
        print(airflow_connection(platform_access(s)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
