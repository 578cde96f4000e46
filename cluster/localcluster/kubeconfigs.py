"""Kubeconfig files: one per component, the admin one, and ServiceAccount ones.

Kubeconfigs are written as JSON (a subset of YAML every client accepts), so no
YAML library is needed. ``mint_serviceaccount_kubeconfig`` asks the API
server for a real token through the TokenRequest API, so a client using the
result is that ServiceAccount and sees exactly its RBAC permissions.

Command line::

    cluster/sa-kubeconfig NAMESPACE SERVICEACCOUNT [--output PATH] [--duration-seconds N]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from pathlib import Path

from .procs import run
from .settings import Settings, load_settings


def _kubeconfig(*, server: str, ca_file: Path, user: str, credentials: dict[str, str]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "sparkplane",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_file.read_bytes()).decode(),
                },
            }
        ],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": user, "context": {"cluster": "sparkplane", "user": user}}],
        "current-context": user,
    }


def _write_private(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(content, f, indent=2)
    tmp.replace(path)


def write_cert_kubeconfig(s: Settings, *, cert_name: str, path: Path) -> Path:
    """Write a kubeconfig that authenticates with the client certificate ``cert_name``."""
    pki = s.pki_dir
    credentials = {
        "client-certificate-data": base64.b64encode((pki / f"{cert_name}.crt").read_bytes()).decode(),
        "client-key-data": base64.b64encode((pki / f"{cert_name}.key").read_bytes()).decode(),
    }
    _write_private(
        path, _kubeconfig(server=s.apiserver_url, ca_file=pki / "ca.crt", user=cert_name, credentials=credentials)
    )
    return path


def kubectl(s: Settings, *args: str, input: str | None = None, what: str = "kubectl") -> str:
    """Run the pinned kubectl as cluster admin and return its output."""
    return run(
        [str(s.bin_dir / "kubectl"), "--kubeconfig", str(s.admin_kubeconfig), *args],
        input=input,
        what=what,
        log=s.log_dir / "kubectl.log",
    )


def mint_serviceaccount_kubeconfig(
    namespace: str,
    service_account: str,
    *,
    output: Path | None = None,
    duration_seconds: int = 3600,
    settings: Settings | None = None,
    server: str | None = None,
) -> Path:
    """Write a kubeconfig acting as ``system:serviceaccount:<namespace>:<service_account>``.

    The ServiceAccount must exist. Returns the path written (by default under
    the cluster's state dir, ``kubeconfigs/<namespace>.<service_account>.kubeconfig``).
    ``server`` is the API server's address in it (default the host's own, 127.0.0.1): containers
    reach it at the node address, which the server's certificate names too.
    """
    s = settings or load_settings()
    token = kubectl(
        s, "create", "token", service_account, "--namespace", namespace, "--duration", f"{duration_seconds}s",
        what=f"TokenRequest for ServiceAccount {namespace}/{service_account}",
    ).strip()  # fmt: skip
    path = output or s.state_dir / "kubeconfigs" / f"{namespace}.{service_account}.kubeconfig"
    user = f"system:serviceaccount:{namespace}:{service_account}"
    _write_private(
        path, _kubeconfig(server=server or s.apiserver_url, ca_file=s.pki_dir / "ca.crt", user=user,
                          credentials={"token": token}),
    )  # fmt: skip
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sa-kubeconfig", description="Write a kubeconfig that acts as a ServiceAccount of the local cluster."
    )
    parser.add_argument("namespace")
    parser.add_argument("service_account")
    parser.add_argument("--output", "-o", type=Path, help="where to write it (default: under the state dir)")
    parser.add_argument("--duration-seconds", type=int, default=3600, help="token lifetime (default 3600)")
    args = parser.parse_args(argv)
    try:
        path = mint_serviceaccount_kubeconfig(
            args.namespace, args.service_account, output=args.output, duration_seconds=args.duration_seconds
        )
    except RuntimeError as e:
        print(f"sa-kubeconfig: {e}", file=sys.stderr)
        return 1
    print(path)
    return 0
