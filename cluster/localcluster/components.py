"""How each component of the cluster is started and when it counts as ready.

Each ``start_*`` function is idempotent: a component whose recorded process
still runs is left alone.
"""

from __future__ import annotations

import ssl
import urllib.request
from pathlib import Path

from . import configs
from .procs import ComponentError, Processes, run
from .settings import NODE_TYPE_LABEL, Settings

# Port 9 (discard) on loopback: nothing listens there, connections are refused.
NO_EGRESS_PROXY = "http://127.0.0.1:9"


def _get(url: str, *, context: ssl.SSLContext | None = None, timeout: float = 2) -> int:
    with urllib.request.urlopen(url, context=context, timeout=timeout) as response:
        return response.status


def _insecure() -> ssl.SSLContext:
    # Health endpoints of the controller manager and scheduler use self-signed
    # certificates; only their status code is read.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def admin_tls(s: Settings) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(s.pki_dir / "ca.crt"))
    ctx.load_cert_chain(str(s.pki_dir / "admin.crt"), str(s.pki_dir / "admin.key"))
    return ctx


def _write(path: Path, text: str) -> Path:
    """Write a config file only if its content changed: kube-proxy exits when its file is touched."""
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return path


def _kubeconfig(s: Settings, name: str) -> str:
    return str(s.state_dir / "kubeconfigs" / f"{name}.kubeconfig")


def start_etcd(s: Settings, procs: Processes) -> None:
    client = f"http://127.0.0.1:{s.etcd_client_port}"
    procs.start("etcd", [
        str(s.bin_dir / "etcd"),
        "--name", "sparkplane",
        "--data-dir", str(s.data_dir / "etcd"),
        "--listen-client-urls", client, "--advertise-client-urls", client,
        "--listen-peer-urls", f"http://127.0.0.1:{s.etcd_peer_port}",
        "--initial-advertise-peer-urls", f"http://127.0.0.1:{s.etcd_peer_port}",
        "--initial-cluster", f"sparkplane=http://127.0.0.1:{s.etcd_peer_port}",
        "--listen-metrics-urls", "",
        # One member on a small disk: compact often, keep the database small.
        "--auto-compaction-retention", "5m", "--quota-backend-bytes", str(2 * 1024**3),
        "--unsafe-no-fsync",  # a throwaway test cluster trades durability for speed
    ])  # fmt: skip
    procs.wait_ready("etcd", lambda: _get(f"{client}/health") == 200, timeout_seconds=30)


def start_apiserver(s: Settings, procs: Processes) -> None:
    pki = s.pki_dir
    policy = _write(s.state_dir / "audit-policy.yaml", configs.audit_policy())
    procs.start("kube-apiserver", [
        str(s.bin_dir / "kube-apiserver"),
        f"--etcd-servers=http://127.0.0.1:{s.etcd_client_port}",
        "--bind-address=0.0.0.0", f"--secure-port={s.apiserver_port}",
        # Published as the `kubernetes` Service's endpoint: pods reach it on the bridge.
        f"--advertise-address={s.node_ip}",
        f"--service-cluster-ip-range={s.service_cidr}",
        f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        "--authorization-mode=Node,RBAC",
        # PodSecurity and the other default admission plugins are on already.
        "--enable-admission-plugins=NodeRestriction",
        f"--service-account-issuer=https://kubernetes.default.svc.{s.cluster_domain}",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
        f"--kubelet-certificate-authority={pki / 'ca.crt'}",
        "--kubelet-preferred-address-types=InternalIP",
        "--allow-privileged=true",
        "--profiling=false",
        "--event-ttl=1h",
        # One line per request of the platform's identities (benchmarks count them).
        f"--audit-policy-file={policy}", f"--audit-log-path={s.log_dir / 'audit.log'}",
        "--audit-log-maxsize=50", "--audit-log-maxbackup=1", "--audit-log-format=json",
    ], config=configs.audit_policy())  # fmt: skip
    ctx = admin_tls(s)
    procs.wait_ready(
        "kube-apiserver", lambda: _get(f"{s.apiserver_url}/readyz", context=ctx) == 200, timeout_seconds=90
    )


def start_controller_manager(s: Settings, procs: Processes) -> None:
    pki, kubeconfig = s.pki_dir, _kubeconfig(s, "kube-controller-manager")
    procs.start("kube-controller-manager", [
        str(s.bin_dir / "kube-controller-manager"),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}", f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        # Each controller acts as its own ServiceAccount, so RBAC applies to it.
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki / 'sa.key'}",
        f"--root-ca-file={pki / 'ca.crt'}",
        f"--cluster-signing-cert-file={pki / 'ca.crt'}", f"--cluster-signing-key-file={pki / 'ca.key'}",
        "--controllers=*",
        f"--service-cluster-ip-range={s.service_cidr}",
        "--leader-elect=false",
        # Hundreds of simulated nodes: let the DaemonSet and GC controllers keep up.
        "--kube-api-qps=100", "--kube-api-burst=200",
    ])  # fmt: skip
    procs.wait_ready(
        "kube-controller-manager", lambda: _get("https://127.0.0.1:10257/healthz", context=_insecure()) == 200,
        timeout_seconds=60,
    )  # fmt: skip


def start_scheduler(s: Settings, procs: Processes) -> None:
    kubeconfig = _kubeconfig(s, "kube-scheduler")
    procs.start("kube-scheduler", [
        str(s.bin_dir / "kube-scheduler"),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}", f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        "--leader-elect=false",
        "--kube-api-qps=100", "--kube-api-burst=200",
    ])  # fmt: skip
    procs.wait_ready(
        "kube-scheduler", lambda: _get("https://127.0.0.1:10259/healthz", context=_insecure()) == 200,
        timeout_seconds=60,
    )  # fmt: skip


def start_registry(s: Settings, procs: Processes) -> None:
    config = _write(s.state_dir / "registry.json", configs.registry_config(s))
    s.registry_dir.mkdir(parents=True, exist_ok=True)
    procs.start("registry", ["/usr/bin/docker-registry", "serve", str(config)], config=config.read_text())
    procs.wait_ready("registry", lambda: _get(f"http://{s.registry}/v2/") == 200, timeout_seconds=30)
    node_config = _write(s.state_dir / "registry-node.json", configs.registry_config(s, read_only=True))
    procs.start("registry-node", ["/usr/bin/docker-registry", "serve", str(node_config)], config=node_config.read_text())
    procs.wait_ready("registry-node", lambda: _get(f"http://{s.node_registry}/v2/") == 200, timeout_seconds=30)


def start_containerd(s: Settings, procs: Processes) -> None:
    config = _write(s.state_dir / "containerd.toml", configs.containerd_toml(s))
    _write(s.data_dir / "cni" / "net.d" / "10-sparkplane.conflist", configs.cni_conflist(s))
    # Only the local registry may be pulled from: any other registry goes to a
    # proxy address where nothing listens, so the pull fails at once on this
    # machine instead of sending traffic (or even a DNS query) anywhere else.
    local_only = {"HTTP_PROXY": NO_EGRESS_PROXY, "HTTPS_PROXY": NO_EGRESS_PROXY, "NO_PROXY": "127.0.0.1,localhost"}
    procs.start(
        "containerd", ["/usr/bin/containerd", "--config", str(config)], env=local_only, config=config.read_text()
    )

    def answers() -> bool:
        run(["ctr", "--address", str(s.containerd_socket), "version"], what="containerd")
        return True

    procs.wait_ready("containerd", answers, timeout_seconds=30)


def start_kubelet(s: Settings, procs: Processes) -> None:
    config = _write(s.state_dir / "kubelet.json", configs.kubelet_config(s))
    _write(s.data_dir / "kubelet-resolv.conf", f"nameserver {s.dns_service_ip}\n")
    procs.start("kubelet", [
        str(s.bin_dir / "kubelet"),
        f"--config={config}",
        f"--kubeconfig={_kubeconfig(s, 'kubelet')}",
        f"--root-dir={s.data_dir / 'kubelet'}",
        f"--cert-dir={s.data_dir / 'kubelet' / 'pki'}",
        f"--hostname-override={s.node_name}",
        f"--node-ip={s.node_ip}",
        f"--node-labels={NODE_TYPE_LABEL}=real",
    ], config=config.read_text())  # fmt: skip
    procs.wait_ready("kubelet", lambda: _get("http://127.0.0.1:10248/healthz") == 200, timeout_seconds=60)


def start_kube_proxy(s: Settings, procs: Processes) -> None:
    config = _write(s.state_dir / "kube-proxy.json", configs.kube_proxy_config(s))
    procs.start("kube-proxy", [str(s.bin_dir / "kube-proxy"), f"--config={config}"])
    procs.wait_ready("kube-proxy", lambda: _get("http://127.0.0.1:10256/healthz") == 200, timeout_seconds=60)


def cleanup_kube_proxy_rules(s: Settings) -> None:
    """Remove every iptables chain and rule kube-proxy created."""
    config = s.state_dir / "kube-proxy.json"
    if config.exists():
        run([str(s.bin_dir / "kube-proxy"), f"--config={config}", "--cleanup"], what="kube-proxy --cleanup",
            log=s.log_dir / "kube-proxy.log")  # fmt: skip


def start_coredns(s: Settings, procs: Processes) -> None:
    config = _write(s.state_dir / "Corefile", configs.corefile(s))
    procs.start("coredns", [str(s.bin_dir / "coredns"), "-conf", str(config)], config=config.read_text())
    procs.wait_ready(
        "coredns", lambda: _get(f"http://127.0.0.1:{s.coredns_ready_port}/ready") == 200, timeout_seconds=60
    )


def require(path: Path, component: str, fix: str) -> None:
    if not path.exists():
        raise ComponentError(component, f"{path} is missing; {fix}", None)
