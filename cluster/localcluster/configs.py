"""Pure renderers of the components' configuration files: settings in, text out."""

from __future__ import annotations

import json

from .settings import Settings


def containerd_toml(s: Settings) -> str:
    """Return the config of the node's own containerd (not the one Docker uses)."""
    base = s.data_dir / "containerd"
    cri = '[plugins."io.containerd.grpc.v1.cri"'
    return f"""\
version = 2
root = "{base}/root"
state = "{base}/state"
# Snapshotters this machine cannot use only add start-up noise.
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "{s.containerd_socket}"

[ttrpc]
  address = "{s.containerd_socket}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{base}/opt"

{cri}]
  # registry.k8s.io is unreachable here: the pause image is built locally.
  sandbox_image = "{s.pause_image}"
  enable_cdi = false
  # This machine withholds CAP_SYS_RESOURCE even from root, so a pod's
  # oom_score_adj may not go below containerd's own (runc fails otherwise).
  restrict_oom_score_adj = true

{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

{cri}.containerd.runtimes.runc.options]
  # The kubelet uses the cgroupfs driver; both must agree.
  SystemdCgroup = false

{cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{s.data_dir}/cni/net.d"

# The local registry speaks plain HTTP.
{cri}.registry.mirrors."{s.registry}"]
  endpoint = ["http://{s.registry}"]
"""


def cni_conflist(s: Settings) -> str:
    """Return the bridge network of the real node (Debian's CNI plugins)."""
    return json.dumps(
        {
            "cniVersion": "1.0.0",
            "name": "sparkplane",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": s.bridge,
                    "isGateway": True,
                    # No masquerade: pods never talk to anything beyond this machine.
                    "ipMasq": False,
                    # Lets a pod reach itself through a Service IP.
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": s.node_pod_subnet, "gateway": s.node_ip}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(s.data_dir / "cni" / "ipam"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        },
        indent=2,
    )


def kubelet_config(s: Settings) -> str:
    """Return the KubeletConfiguration of the real node."""
    pki = s.pki_dir
    return json.dumps(
        {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            # This machine mounts cgroup v1; Kubernetes 1.34 still supports it when asked.
            "failCgroupV1": False,
            "cgroupDriver": "cgroupfs",
            "failSwapOn": True,
            "containerRuntimeEndpoint": f"unix://{s.containerd_socket}",
            "address": s.node_ip,
            "port": 10250,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": 10248,
            "tlsCertFile": str(pki / "kubelet-serving.crt"),
            "tlsPrivateKeyFile": str(pki / "kubelet-serving.key"),
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(pki / "ca.crt")},
            },
            "authorization": {"mode": "Webhook"},
            "clusterDNS": [s.dns_service_ip],
            "clusterDomain": s.cluster_domain,
            # The host's resolver is of no use to pods (no upstream DNS is reachable).
            "resolvConf": str(s.data_dir / "kubelet-resolv.conf"),
            # Leave the machine's kernel settings alone (the kubelet would
            # otherwise change vm.overcommit_memory and kernel.panic*).
            "protectKernelDefaults": False,
            "makeIPTablesUtilChains": False,
            "serializeImagePulls": False,
            "evictionHard": {"memory.available": "200Mi", "nodefs.available": "2%", "imagefs.available": "2%"},
            "imageGCHighThresholdPercent": 99,
            "imageGCLowThresholdPercent": 98,
            "maxPods": 110,
            "staticPodPath": "",
        },
        indent=2,
    )


def kube_proxy_config(s: Settings) -> str:
    """Return the KubeProxyConfiguration (iptables mode) of the real node."""
    return json.dumps(
        {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "mode": "iptables",
            "clientConnection": {"kubeconfig": str(s.state_dir / "kubeconfigs" / "kube-proxy.kubeconfig")},
            "hostnameOverride": s.node_name,
            "clusterCIDR": s.pod_cidr,
            "bindAddress": "127.0.0.1",
            "metricsBindAddress": "127.0.0.1:10249",
            "healthzBindAddress": "127.0.0.1:10256",
            "nodePortAddresses": ["primary"],
            # Zero means "do not touch": conntrack limits are machine-wide.
            "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        },
        indent=2,
    )


def corefile(s: Settings) -> str:
    """Return CoreDNS's config: answers for the cluster domain only (no upstream exists)."""
    kubeconfig = s.state_dir / "kubeconfigs" / "coredns.kubeconfig"
    return f"""\
{s.cluster_domain}:53 in-addr.arpa:53 ip6.arpa:53 {{
    bind {s.node_ip}
    errors
    health 127.0.0.1:{s.coredns_health_port}
    ready 127.0.0.1:{s.coredns_ready_port}
    kubernetes {s.cluster_domain} in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 5
}}
.:53 {{
    bind {s.node_ip}
    errors
}}
"""


def registry_config(s: Settings, *, read_only: bool = False) -> str:
    """Return the config of Debian's docker-registry (distribution 2.8): on loopback, where images are
    pushed and the kubelet pulls; or, ``read_only``, the same storage at the node address, where
    containers (the Airflow stack's) read what an image holds. Pushing there is refused."""
    storage: dict = {"filesystem": {"rootdirectory": str(s.registry_dir)}}
    if read_only:
        storage["maintenance"] = {"readonly": {"enabled": True}, "uploadpurging": {"enabled": False}}
    else:
        storage["delete"] = {"enabled": True}
    return json.dumps(
        {
            "version": "0.1",
            "log": {"level": "info", "accesslog": {"disabled": False}},
            "storage": storage,
            "http": {"addr": s.node_registry if read_only else s.registry,
                     "headers": {"X-Content-Type-Options": ["nosniff"]}},
        },
        indent=2,
    )  # fmt: skip


#: Group of the platform's own ServiceAccounts (the Airflow identity lives in sparkplane-system).
PLATFORM_SERVICEACCOUNTS_GROUP = "system:serviceaccounts:sparkplane-system"


def audit_policy() -> str:
    """Record the requests of the platform's identities, and the bodies of pods and ConfigMaps in spark.

    Benchmarks count API requests per job from this log (one line each for the platform's
    identities). Every request on pods and ConfigMaps in namespace spark, by anyone, is logged
    with its request and response bodies, so a test can prove no secret value is in a pod spec;
    Secrets are logged at Metadata level only: their values never belong in an audit log. The
    rest of the cluster's traffic (kubelet, controllers, KWOK heartbeats) is left out.
    """
    return f"""apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived", "ResponseStarted"]
rules:
  - level: Metadata
    resources: [{{group: "", resources: ["secrets"]}}]
  - level: RequestResponse
    namespaces: ["spark"]
    resources: [{{group: "", resources: ["pods", "configmaps"]}}]
  - level: Metadata
    userGroups: ["{PLATFORM_SERVICEACCOUNTS_GROUP}"]
  - level: None
"""
