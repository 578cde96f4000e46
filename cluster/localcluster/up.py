"""Bring up the local cluster; starting it again is harmless.

Order matters: the network first (components bind the node address), then
etcd and the control plane, then the registry, pause image and object store, then the real
node, DNS, and the simulated nodes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from . import addons, components, host, images, kwok, object_store
from .kubeconfigs import kubectl, write_cert_kubeconfig
from .pki import ensure_pki
from .procs import ComponentError, Processes, exclusive
from .settings import CLUSTER_DIR, NODE_TYPE_LABEL, Settings, load_settings, record_running_settings

APT_PACKAGES = [
    "containerd", "runc", "containernetworking-plugins", "iptables", "conntrack", "socat",
    "docker.io", "docker-registry", "debootstrap", "openssl", "gcc", "libc6-dev", "iproute2",
    "curl",  # signs the object store's admin requests (--aws-sigv4)
]  # fmt: skip
COMPONENT_KUBECONFIGS = ["kube-controller-manager", "kube-scheduler", "kube-proxy", "kubelet", "kwok", "coredns"]


def _step(name: str, started: float) -> None:
    print(f"up: {name:<28} ok ({time.monotonic() - started:5.1f}s)", flush=True)


def install_packages(packages: tuple[str, ...] | list[str] = APT_PACKAGES) -> None:
    """Install the Debian ``packages`` not installed yet (the cluster's own by default)."""
    missing = [
        p for p in packages
        if "install ok installed" not in subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True).stdout
    ]  # fmt: skip
    if not missing:
        return
    print(f"up: installing from Debian: {' '.join(missing)}", flush=True)
    # Waiting for dpkg's lock while another install runs (make test's early builds install too).
    install = ["apt-get", "-o", "DPkg::Lock::Timeout=900", "install", "-y", "--no-install-recommends", *missing]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # A fresh machine may have no package lists yet: update once and retry.
    if subprocess.run(install, env=env).returncode != 0:
        if (
            subprocess.run(["apt-get", "update"], env=env).returncode != 0
            or subprocess.run(install, env=env).returncode
        ):
            raise ComponentError("apt", f"installing {' '.join(missing)} failed (see the apt output above)", None)


def build_binaries(s: Settings) -> None:
    proc = subprocess.run([str(CLUSTER_DIR / "build-binaries")], stdout=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise ComponentError("build-binaries", "a go build failed; the lines above name it and its log", None)


def start_docker(s: Settings) -> None:
    # A pid file left by a machine restart is stale: ask whether its process lives.
    was_running = host.dockerd_of_docker_up_runs(s)
    proc = subprocess.run([str(CLUSTER_DIR / "docker-up")])
    if proc.returncode != 0:
        raise ComponentError("dockerd", "cluster/docker-up failed", s.cache_dir / "docker" / "dockerd.log")
    if not was_running and host.dockerd_of_docker_up_runs(s):
        host.record_once(s, "docker_started_by_up", True)


def write_kubeconfigs(s: Settings) -> None:
    write_cert_kubeconfig(s, cert_name="admin", path=s.admin_kubeconfig)
    for name in COMPONENT_KUBECONFIGS:
        write_cert_kubeconfig(s, cert_name=name, path=s.state_dir / "kubeconfigs" / f"{name}.kubeconfig")


def start_simulated_nodes(s: Settings, procs: Processes) -> None:
    config = s.state_dir / "kwok.yaml"
    config.write_text(kwok.kwok_config(s))
    s.simulated_container_log.parent.mkdir(parents=True, exist_ok=True)
    s.simulated_container_log.touch()
    kubectl(s, "apply", "--server-side", "-f", "-", input=json.dumps(kwok.node_manifests(s)),
            what="creating simulated nodes")  # fmt: skip
    # A smaller SPARKPLANE_KWOK_NODES than last time: drop the extra nodes.
    existing = kubectl(s, "get", "nodes", "-l", f"{NODE_TYPE_LABEL}=simulated", "-o", "name").split()
    if extra := sorted(set(existing) - {f"node/{n}" for n in s.kwok_node_names()}):
        kubectl(s, "delete", *extra, "--wait=false", what="deleting extra simulated nodes")
    procs.start("kwok", [
        str(s.bin_dir / "kwok"),
        f"--kubeconfig={s.state_dir / 'kubeconfigs' / 'kwok.kubeconfig'}",
        f"--config={config}",
        # Every status patch of every simulated node is an INFO line: 200 nodes flood the log.
        "--v=WARN",
    ], config=config.read_text())  # fmt: skip
    procs.wait_ready("kwok", lambda: _nodes_ready(s, "simulated", s.kwok_nodes), timeout_seconds=60 + s.kwok_nodes)
    _point_nodes_at_kwok_server(s)


def _point_nodes_at_kwok_server(s: Settings) -> None:
    """Give simulated nodes that KWOK initialised before it served logs the server's port."""
    out = kubectl(
        s, "get", "nodes", "-l", f"{NODE_TYPE_LABEL}=simulated",
        "-o", 'jsonpath={range .items[*]}{.metadata.name} {.status.daemonEndpoints.kubeletEndpoint.Port}{"\\n"}{end}',
    )  # fmt: skip
    endpoint = {"status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": s.kwok_server_port}}}}
    for name, port in (line.split() for line in out.splitlines() if line.strip()):
        if port != str(s.kwok_server_port):
            kubectl(s, "patch", "node", name, "--subresource=status", "--type=merge", "-p", json.dumps(endpoint),
                    what=f"pointing {name} at KWOK's server")  # fmt: skip


def _nodes_ready(s: Settings, node_type: str, want: int) -> bool:
    out = kubectl(
        s, "get", "nodes", "-l", f"{NODE_TYPE_LABEL}={node_type}",
        "-o", 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
    )  # fmt: skip
    return out.split().count("True") >= want


def up(s: Settings) -> None:
    t0 = time.monotonic()
    procs = Processes(s.run_dir, s.log_dir)
    for d in (s.state_dir, s.log_dir, s.run_dir, s.data_dir):
        d.mkdir(parents=True, exist_ok=True)
    record_running_settings(s)

    install_packages()
    _step("debian packages", t0)
    build_binaries(s)
    _step("binaries", t0)
    ensure_pki(s)
    write_kubeconfigs(s)
    _step("certificates, kubeconfigs", t0)
    host.apply_sysctls(s)
    host.record_once(s, "netns_before", sorted(host.netns_names()))
    host.record_once(s, "kube_chains_before", host.kube_chains())
    host.setup_network(s)
    _step("network", t0)

    components.start_etcd(s, procs)
    components.start_apiserver(s, procs)
    _step("etcd, kube-apiserver", t0)
    components.start_controller_manager(s, procs)
    components.start_scheduler(s, procs)
    kubectl(s, "apply", "--server-side", "-f", "-", input=addons.manifests(s), what="cluster addons")
    _step("controller-manager, scheduler", t0)

    start_docker(s)
    components.start_registry(s, procs)
    images.ensure_pause_image(s)
    _step("docker, registry, pause image", t0)

    object_store.start_object_store(s, procs)
    object_store.ensure_platform_access(s)
    _step("object store, platform bucket", t0)

    components.start_containerd(s, procs)
    components.start_kubelet(s, procs)
    components.start_kube_proxy(s, procs)
    components.start_coredns(s, procs)
    procs.wait_ready("kubelet", lambda: _nodes_ready(s, "real", 1), timeout_seconds=90, what="a Ready node")
    _step("real node, kube-proxy, dns", t0)

    start_simulated_nodes(s, procs)
    _step(f"{s.kwok_nodes} simulated nodes", t0)

    print(
        f"\nup: cluster {s.kube_version} is ready in {time.monotonic() - t0:.1f}s\n"
        f"  admin kubeconfig: {s.admin_kubeconfig}\n"
        f"  export KUBECONFIG={s.admin_kubeconfig}\n"
        f"  registry:         {s.registry} (plain HTTP; push with docker push {s.registry}/NAME:TAG; "
        f"read-only at {s.node_registry} for containers)\n"
        f"  object store:     {s.object_store_endpoint} (S3; bucket {object_store.PLATFORM_BUCKET}, "
        f"the platform's key in {object_store.platform_key_file(s)})\n"
        f"  logs:             {s.log_dir}\n"
        f"  stop with:        {CLUSTER_DIR / 'down'}",
        flush=True,
    )


def main() -> int:
    if os.geteuid() != 0:
        print("up: must run as root (it starts a kubelet, containerd and changes iptables)", file=sys.stderr)
        return 1
    s = load_settings()
    try:
        with exclusive(s.cache_dir / "cluster.lock"):
            up(s)
    except (ComponentError, RuntimeError) as e:
        print(
            f"\nup: FAILED: {e}\n\nWhat is already running stays up; `{CLUSTER_DIR / 'down'}` stops it.",
            file=sys.stderr,
        )
        return 1
    return 0
