"""Pod networking on the real node: cluster DNS, pod-to-pod traffic, and the API server via its Service."""

from __future__ import annotations

import pytest
from harness.pods import python_pod, run_to_completion
from harness.waits import wait_for
from kubernetes import client

pytestmark = pytest.mark.cluster

ECHO_SERVER = """
import http.server

class Pong(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"pong")

http.server.HTTPServer(("", 8080), Pong).serve_forever()
"""

DNS_CLIENT = """
import os, socket, urllib.request
ns = os.environ["NS"]
for name in (f"echo.{ns}.svc.{os.environ['DOMAIN']}", f"echo.{ns}.svc"):
    print("resolved", name, socket.gethostbyname(name))
print("reply", urllib.request.urlopen(f"http://echo.{ns}.svc:8080/", timeout=10).read().decode())
"""

API_CLIENT = """
import json, ssl, urllib.request
sa = "/var/run/secrets/kubernetes.io/serviceaccount"
token = open(f"{sa}/token").read()
request = urllib.request.Request(
    "https://kubernetes.default.svc/apis/authentication.k8s.io/v1/selfsubjectreviews",
    data=json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}).encode(),
    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
)
reply = urllib.request.urlopen(request, context=ssl.create_default_context(cafile=f"{sa}/ca.crt"), timeout=10)
print("user", json.load(reply)["status"]["userInfo"]["username"])
"""


def test_pod_resolves_a_headless_service_and_connects_to_the_pod_behind_it(local_cluster, namespace, python_image):
    core = client.CoreV1Api(local_cluster.api_client())
    real = local_cluster.real_node_selector
    server = python_pod("echo", python_image, ECHO_SERVER, node_selector=real, labels={"app": "echo"})
    server.spec.restart_policy = "Always"
    server.spec.containers[0].readiness_probe = client.V1Probe(
        tcp_socket=client.V1TCPSocketAction(port=8080), period_seconds=1
    )
    core.create_namespaced_pod(namespace, server)
    core.create_namespaced_service(
        namespace,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="echo"),
            spec=client.V1ServiceSpec(
                cluster_ip="None", selector={"app": "echo"}, ports=[client.V1ServicePort(name="http", port=8080)]
            ),
        ),
    )
    echo = wait_for(
        lambda: core.read_namespaced_pod("echo", namespace),
        lambda p: any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or []),
        timeout_seconds=90,
        what="the echo server pod to be Ready",
    )

    env = {"NS": namespace, "DOMAIN": local_cluster.settings.cluster_domain}
    log = run_to_completion(
        core, namespace, python_pod("client", python_image, DNS_CLIENT, node_selector=real, env=env)
    )

    resolved = [line.split()[-1] for line in log.splitlines() if line.startswith("resolved")]
    assert resolved == [echo.status.pod_ip] * 2, (
        f"both names should resolve to the echo pod {echo.status.pod_ip}:\n{log}"
    )
    assert "reply pong" in log, log


def test_pod_reaches_the_api_server_through_kubernetes_default_svc_with_its_token(
    local_cluster, namespace, python_image
):
    core = client.CoreV1Api(local_cluster.api_client())
    log = run_to_completion(
        core, namespace, python_pod("whoami", python_image, API_CLIENT, node_selector=local_cluster.real_node_selector)
    )
    assert f"user system:serviceaccount:{namespace}:default" in log, log
