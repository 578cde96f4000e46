"""Every setting of the local cluster, read once from the environment.

Addresses are chosen so that no traffic can leave the machine: the pod and
service ranges are routed to a local dummy link, pods may only talk to pods and
to the host, and every listener that needs no outside client binds to loopback.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

CLUSTER_DIR = Path(__file__).resolve().parent.parent

# Label that tells real from simulated nodes: schedule ordinary workloads with
# nodeSelector {NODE_TYPE_LABEL: "real"} to keep them off KWOK nodes.
NODE_TYPE_LABEL = "sparkplane.dev/node-type"
# Simulated nodes carrying this label (value "fail") fail every image pull.
SIMULATE_PULL_LABEL = "sparkplane.dev/simulate-pull"
# Pods carrying this annotation (value "fail") fail their pull on any simulated node.
SIMULATE_PULL_ANNOTATION = "sparkplane.dev/simulate-pull"


def _read_versions() -> dict[str, str]:
    versions = {}
    for line in (CLUSTER_DIR / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            versions[key] = value
    return versions


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a whole number; unset it or give e.g. {name}={default}") from None


@dataclass(frozen=True)
class Settings:
    """Paths, addresses and sizes of the local cluster.

    :param cache_dir: root of everything kept outside the work tree
        (``SPARKPLANE_CACHE``, default ``~/.cache/sparkplane``).
    :param kwok_nodes: number of simulated nodes (``SPARKPLANE_KWOK_NODES``, default 10).
    :param kwok_pull_fail_nodes: how many of them (the last ones) fail image
        pulls (``SPARKPLANE_KWOK_PULL_FAIL_NODES``, default 1).
    :param kwok_pull_delay_ms: simulated image pull time before a pod runs
        (``SPARKPLANE_KWOK_PULL_DELAY_MS``, default 1000).
    :param registry_port: port of the local image registry on 127.0.0.1
        (``SPARKPLANE_REGISTRY_PORT``, default 5000).
    """

    cache_dir: Path
    kwok_nodes: int = 10
    kwok_pull_fail_nodes: int = 1
    kwok_pull_delay_ms: int = 1000
    registry_port: int = 5000
    versions: dict[str, str] = field(default_factory=_read_versions)

    # One real node. Its address lives on the pod bridge, so the API server,
    # the kubelet and cluster DNS are all reachable from pods without any
    # address of the machine's own network being involved.
    node_name: str = "sparkplane-node"
    pod_cidr: str = "10.244.0.0/16"
    node_pod_subnet: str = "10.244.0.0/24"
    node_ip: str = "10.244.0.1"
    kwok_pod_cidr: str = "10.244.128.0/17"
    kwok_node_ip: str = "10.244.127.254"
    # KWOK's kubelet-like server (container logs) on the simulated nodes' address; not the
    # kubelet's 10250, which the real node's kubelet holds on every address.
    kwok_server_port: int = 10247
    service_cidr: str = "10.96.0.0/16"
    kubernetes_service_ip: str = "10.96.0.1"
    dns_service_ip: str = "10.96.0.10"
    cluster_domain: str = "cluster.local"
    bridge: str = "sp-cni0"
    # Routes the pod and service ranges to this port-less link, so a packet for
    # an address nothing answers is dropped here instead of leaving via eth0.
    blackhole_link: str = "sp-null0"

    apiserver_port: int = 6443
    etcd_client_port: int = 23790
    etcd_peer_port: int = 23800
    coredns_health_port: int = 18080
    coredns_ready_port: int = 18181
    # The object store's S3 API on the node address (pods reach the host there), its admin API
    # on loopback only.
    object_store_port: int = 7070
    object_store_admin_port: int = 7080
    object_store_region: str = "us-east-1"

    def __post_init__(self) -> None:
        if not 0 <= self.kwok_pull_fail_nodes <= self.kwok_nodes:
            raise SystemExit(
                f"SPARKPLANE_KWOK_PULL_FAIL_NODES={self.kwok_pull_fail_nodes} must be between 0 and "
                f"SPARKPLANE_KWOK_NODES={self.kwok_nodes}"
            )

    @property
    def kube_version(self) -> str:
        return self.versions["KUBE_VERSION"]

    @property
    def bin_dir(self) -> Path:
        return self.cache_dir / f"k8s-{self.kube_version}" / "bin"

    @property
    def state_dir(self) -> Path:
        return self.cache_dir / "cluster"

    @property
    def pki_dir(self) -> Path:
        return self.state_dir / "pki"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def data_dir(self) -> Path:
        """Everything that `down` wipes: etcd, kubelet, containerd, CNI state."""
        return self.state_dir / "data"

    @property
    def simulated_container_log(self) -> Path:
        """The log every container on a simulated node shows, in the kubelet's CRI format.

        KWOK serves it (followed, like a running container's log) for ``kubectl logs`` and the
        API's pods/log; whoever writes lines here decides what simulated containers print.
        """
        return self.data_dir / "kwok" / "container.log"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.state_dir / "admin.kubeconfig"

    @property
    def registry_dir(self) -> Path:
        # Outside data_dir on purpose: pushed images survive `down`.
        return self.cache_dir / "registry"

    @property
    def registry(self) -> str:
        return f"127.0.0.1:{self.registry_port}"

    @property
    def node_registry(self) -> str:
        """The registry, read-only, at the node address: for containers, whose 127.0.0.1 is their own."""
        return f"{self.node_ip}:{self.registry_port}"

    @property
    def pause_image(self) -> str:
        return f"{self.registry}/sparkplane/pause:3.10.1"

    @property
    def versitygw_bin(self) -> Path:
        version = self.versions["VERSITYGW_VERSION"]
        return self.cache_dir / f"versitygw-{version}" / "bin" / "versitygw"

    @property
    def object_store_dir(self) -> Path:
        """The store's objects and users; inside data_dir, so `down` wipes them."""
        return self.data_dir / "object-store"

    @property
    def object_store_endpoint(self) -> str:
        """The S3 endpoint, the same for pods and for processes on the machine."""
        return f"http://{self.node_ip}:{self.object_store_port}"

    @property
    def object_store_admin_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.object_store_admin_port}"

    @property
    def containerd_socket(self) -> Path:
        return self.data_dir / "containerd" / "containerd.sock"

    @property
    def apiserver_url(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    def kwok_node_names(self) -> list[str]:
        return [f"kwok-node-{i:03d}" for i in range(self.kwok_nodes)]

    def kwok_pull_fail_node_names(self) -> list[str]:
        names = self.kwok_node_names()
        return names[len(names) - self.kwok_pull_fail_nodes :]


# Settings a running cluster keeps: a later `up` (a test session's, say)
# that does not set them again leaves the cluster as it is.
TUNABLES = {
    "kwok_nodes": ("SPARKPLANE_KWOK_NODES", 10),
    "kwok_pull_fail_nodes": ("SPARKPLANE_KWOK_PULL_FAIL_NODES", 1),
    "kwok_pull_delay_ms": ("SPARKPLANE_KWOK_PULL_DELAY_MS", 1000),
    "registry_port": ("SPARKPLANE_REGISTRY_PORT", 5000),
}


def running_settings_file(cache_dir: Path) -> Path:
    return cache_dir / "cluster" / "settings.json"


def load_settings() -> Settings:
    """Read the settings: the environment first, then those of the running cluster, then defaults.

    This is the only place that reads the environment.
    """
    cache_dir = Path(os.environ.get("SPARKPLANE_CACHE", Path.home() / ".cache" / "sparkplane"))
    recorded_file = running_settings_file(cache_dir)
    recorded = json.loads(recorded_file.read_text()) if recorded_file.exists() else {}
    tunables = {
        field_name: _env_int(env, recorded.get(field_name, default)) for field_name, (env, default) in TUNABLES.items()
    }
    return Settings(cache_dir=cache_dir, **tunables)


def record_running_settings(s: Settings) -> None:
    """Remember the tunables ``up`` used, for later ``up`` calls that do not set them."""
    running_settings_file(s.cache_dir).write_text(json.dumps({name: getattr(s, name) for name in TUNABLES}))
