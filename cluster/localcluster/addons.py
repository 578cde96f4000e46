"""Objects the cluster needs in the API: DNS Service and CoreDNS's permissions.

CoreDNS runs as a host process on the node address, so the kube-dns Service
has no selector; its EndpointSlice is written here, pointing at that address.
"""

from __future__ import annotations

import json

from .settings import Settings


def coredns_rbac() -> list[dict]:
    rules = [
        {"apiGroups": [""], "resources": ["services", "pods", "namespaces"], "verbs": ["list", "watch"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
    ]
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "system:coredns"},
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "system:coredns"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:coredns"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:coredns"}],
        },
    ]


def dns_service(s: Settings) -> list[dict]:
    ports = [{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
            "spec": {"clusterIP": s.dns_service_ip, "ports": ports},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "kube-dns-host",
                "namespace": "kube-system",
                "labels": {
                    "kubernetes.io/service-name": "kube-dns",
                    "endpointslice.kubernetes.io/managed-by": "sparkplane.dev-cluster-up",
                },
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [s.node_ip], "conditions": {"ready": True}, "nodeName": s.node_name}],
            "ports": ports,
        },
    ]


def manifests(s: Settings) -> str:
    """Return every addon object as one kubectl-appliable List."""
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [*coredns_rbac(), *dns_service(s)]})
