"""Certificates and keys of the local cluster, generated once with openssl.

One CA signs everything. Client identities follow Kubernetes' conventions
(CN is the user, O the group), so Node and RBAC authorization treat each
component exactly as in a kubeadm cluster.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from .procs import run
from .settings import Settings

CA_SUBJECT = "/CN=sparkplane-cluster-ca"
VALID_DAYS = "3650"


@dataclass(frozen=True)
class Cert:
    """One certificate to issue.

    :param name: file stem (``<name>.crt`` / ``<name>.key``).
    :param subject: openssl subject, e.g. ``/O=system:nodes/CN=system:node:x``.
    :param usage: ``clientAuth``, ``serverAuth`` or both, comma-separated.
    :param sans: subjectAltName entries, e.g. ``DNS:localhost``, ``IP:127.0.0.1``.
    """

    name: str
    subject: str
    usage: str = "clientAuth"
    sans: tuple[str, ...] = ()


def cluster_certs(s: Settings) -> list[Cert]:
    """Return every certificate the cluster needs."""
    local_ips = ("IP:127.0.0.1", f"IP:{s.node_ip}")
    return [
        Cert(
            "apiserver",
            "/CN=kube-apiserver",
            "serverAuth",
            (
                "DNS:localhost",
                "DNS:kubernetes",
                "DNS:kubernetes.default",
                "DNS:kubernetes.default.svc",
                f"DNS:kubernetes.default.svc.{s.cluster_domain}",
                f"IP:{s.kubernetes_service_ip}",
                *local_ips,
            ),
        ),
        Cert("kubelet-serving", f"/CN={s.node_name}", "serverAuth", (f"DNS:{s.node_name}", *local_ips)),
        Cert("admin", "/O=system:masters/CN=sparkplane-admin"),
        Cert("apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client"),
        Cert("kube-controller-manager", "/CN=system:kube-controller-manager"),
        Cert("kube-scheduler", "/CN=system:kube-scheduler"),
        Cert("kube-proxy", "/CN=system:kube-proxy"),
        Cert("kubelet", f"/O=system:nodes/CN=system:node:{s.node_name}"),
        # KWOK writes Node and Pod status for many nodes: it acts as a cluster admin.
        Cert("kwok", "/O=system:masters/CN=kwok-controller"),
        # KWOK's server answers the API server's log requests for every simulated node, at the
        # address they all share; the API server checks it against the cluster CA.
        Cert("kwok-serving", "/CN=kwok-simulated-nodes", "serverAuth", (f"IP:{s.kwok_node_ip}",)),
        Cert("coredns", "/CN=system:coredns"),
    ]


def ensure_pki(s: Settings) -> None:
    """Create the CA, the service-account key pair and every missing certificate."""
    pki = s.pki_dir
    pki.mkdir(parents=True, exist_ok=True)
    pki.chmod(0o700)
    log = s.log_dir / "pki.log"
    if not (pki / "ca.crt").exists():
        run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(pki / "ca.key"), "-out", str(pki / "ca.crt"), "-days", VALID_DAYS,
             "-subj", CA_SUBJECT],
            what="pki (CA)", log=log,
        )  # fmt: skip
    if not (pki / "sa.key").exists():
        # Signs ServiceAccount tokens; the API server verifies with sa.pub.
        run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
             "-out", str(pki / "sa.key")], what="pki (service-account key)", log=log)  # fmt: skip
        run(["openssl", "pkey", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub")],
            what="pki (service-account key)", log=log)  # fmt: skip
    for cert in cluster_certs(s):
        if not (pki / f"{cert.name}.crt").exists():
            _issue(pki, cert, log)


def _issue(pki: Path, cert: Cert, log: Path) -> None:
    key, csr, crt = (pki / f"{cert.name}.{ext}" for ext in ("key", "csr", "crt"))
    run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(csr), "-subj", cert.subject],
        what=f"pki ({cert.name})", log=log)  # fmt: skip
    extensions = [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        f"extendedKeyUsage={cert.usage}",
    ]
    if cert.sans:
        extensions.append("subjectAltName=" + ",".join(cert.sans))
    with tempfile.NamedTemporaryFile("w", suffix=".cnf") as ext:
        ext.write("\n".join(extensions) + "\n")
        ext.flush()
        run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(pki / "ca.crt"), "-CAkey", str(pki / "ca.key"),
             "-CAcreateserial", "-days", VALID_DAYS, "-extfile", ext.name, "-out", str(crt)],
            what=f"pki ({cert.name})", log=log)  # fmt: skip
    csr.unlink()
