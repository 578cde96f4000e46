"""The local Kubernetes cluster (``cluster/``) as tests and benchmarks use it.

``LocalCluster`` wraps the cluster's settings (addresses, kubeconfigs, node names); beside it,
whether the API server answers, a fresh namespace, and the python3 test image for the real
node. No pytest here: the fixtures built on it are in ``harness.fixtures``.
"""

from __future__ import annotations

import subprocess
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from localcluster.components import admin_tls
from localcluster.kubeconfigs import mint_serviceaccount_kubeconfig
from localcluster.settings import CLUSTER_DIR, NODE_TYPE_LABEL, Settings

from harness.waits import wait_for

if TYPE_CHECKING:
    from kubernetes.client import ApiClient, CoreV1Api

DOCKER = "/usr/bin/docker"  # Debian's client, talking to the engine cluster/docker-up starts
PYTHON3_IMAGE_DIR = Path(__file__).resolve().parents[1] / "data" / "images" / "python3"


@dataclass(frozen=True)
class LocalCluster:
    """A running local cluster.

    :param settings: the cluster's settings (paths, addresses, node names).
    """

    settings: Settings

    @property
    def admin_kubeconfig(self) -> Path:
        return self.settings.admin_kubeconfig

    @property
    def registry(self) -> str:
        """``host:port`` of the plain-HTTP registry the real node pulls from."""
        return self.settings.registry

    @property
    def real_node(self) -> str:
        return self.settings.node_name

    @property
    def real_node_selector(self) -> dict[str, str]:
        """nodeSelector that keeps a pod off the simulated nodes."""
        return {NODE_TYPE_LABEL: "real"}

    def serviceaccount_kubeconfig(self, namespace: str, service_account: str) -> Path:
        """Mint a kubeconfig (TokenRequest) that acts as the ServiceAccount."""
        return mint_serviceaccount_kubeconfig(namespace, service_account, settings=self.settings)

    def api_client(self, kubeconfig: Path | None = None) -> ApiClient:
        """Return an API client for ``kubeconfig`` (default: cluster admin)."""
        from kubernetes import config

        return config.new_client_from_config(config_file=str(kubeconfig or self.admin_kubeconfig))


def cluster_answers(settings: Settings) -> bool:
    """Return whether the cluster's API server is up and ready."""
    if not settings.admin_kubeconfig.exists():
        return False
    try:
        url = f"{settings.apiserver_url}/readyz"
        with urllib.request.urlopen(url, context=admin_tls(settings), timeout=3) as response:
            return response.status == 200
    except OSError:
        return False


def run_command(*argv: str, timeout_seconds: float) -> None:
    """Run one command; fail with the tail of its output when it does not succeed."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout_seconds)
    if proc.returncode != 0:
        raise AssertionError(
            f"`{' '.join(argv)}` failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )


def create_namespace(core: CoreV1Api, name: str, *, timeout_seconds: float = 30) -> None:
    """Create namespace ``name`` and return once its ServiceAccount "default" exists (pods need it)."""
    from kubernetes import client

    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    # The ServiceAccount controller creates "default" shortly after the namespace.
    wait_for(
        lambda: core.list_namespaced_service_account(name, field_selector="metadata.name=default").items,
        bool,
        timeout_seconds=timeout_seconds,
        interval_seconds=0.2,
        what=f"ServiceAccount 'default' in namespace {name}",
    )


def build_python3_image(registry: str) -> str:
    """Build the python3 test image FROM the debootstrapped base, push it, return its name.

    Each build adds a unique layer (Docker caches the rest), so the node has never seen it.
    """
    run_command(str(CLUSTER_DIR / "seed-base-image"), timeout_seconds=600)
    nonce = uuid.uuid4().hex[:12]
    image = f"{registry}/sparkplane-test/python3:{nonce}"
    run_command(
        DOCKER, "build", "-q", "--build-arg", f"NONCE={nonce}", "-t", image, str(PYTHON3_IMAGE_DIR), timeout_seconds=900
    )
    run_command(DOCKER, "push", image, timeout_seconds=300)
    return image


def relabelled_image(image: str, repository: str) -> str:
    """Push ``image`` (``registry/repository@sha256:...``) to ``repository`` of the same registry with one
    label more; return it by digest. It is an image of its own that shares every layer with ``image``:
    removing it from a node leaves ``image`` and the pods running it alone."""
    import json

    registry = image.split("/", 1)[0]
    target = f"{registry}/{repository}:latest"
    dockerfile = f'FROM {image}\nLABEL dev.sparkplane.test.relabelled-from="{image}"\n'
    built = subprocess.run([DOCKER, "build", "-q", "-t", target, "-"], input=dockerfile, capture_output=True, text=True,
                           timeout=600)  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    run_command(DOCKER, "push", target, timeout_seconds=300)
    inspected = subprocess.run([DOCKER, "image", "inspect", "--format", "{{json .RepoDigests}}", target],
                               check=True, capture_output=True, text=True, timeout=60)  # fmt: skip
    [pinned] = [ref for ref in json.loads(inspected.stdout) if ref.startswith(f"{registry}/{repository}@")]
    return pinned


def restart_apiserver(cluster: LocalCluster, *, down_seconds: float = 0) -> None:
    """Stop kube-apiserver, keep it down ``down_seconds``, start it again with the same flags;
    return once it is ready."""
    import time

    from localcluster import components
    from localcluster.procs import Processes

    settings = cluster.settings
    processes = Processes(settings.run_dir, settings.log_dir)
    assert processes.stop("kube-apiserver"), "kube-apiserver was not running"
    time.sleep(down_seconds)
    components.start_apiserver(settings, processes)


def remove_image_from_real_node(cluster: LocalCluster, image: str, *, timeout_seconds: float = 120) -> None:
    """Delete ``image`` (``repository@sha256:...``) from the real node's containerd, content and
    unpacked layers included, and return once the node's status no longer lists it (the kubelet
    reports images every few seconds), so that the next pull fetches it from the registry.

    The pods on the node that use the image go first (earlier jobs' kept drivers, their
    executors): a container's layers stay while the container does, and a pull that finds them
    fetches nothing. Then every reference to the same manifest goes: its tags, its digest and the
    ``sha256:`` image id the CRI records, or containerd would keep the content.
    """
    from kubernetes import client

    core = client.CoreV1Api(cluster.api_client())
    repository = image.split("@")[0]
    _delete_pods_using(core, cluster.settings.node_name, repository, timeout_seconds=timeout_seconds)
    ctr = ["ctr", "--address", str(cluster.settings.containerd_socket), "-n", "k8s.io"]

    def containers_using() -> list[str]:  # the kubelet removes a deleted pod's containers a little later
        listed = subprocess.run([*ctr, "containers", "ls"], check=True, capture_output=True, text=True, timeout=60)
        rows = [line.split() for line in listed.stdout.splitlines()[1:] if line.strip()]
        return [row[0] for row in rows if len(row) > 1 and _of_repository(row[1], repository)]

    wait_for(containers_using, lambda left: not left, timeout_seconds=timeout_seconds, interval_seconds=1,
             what=f"the containers on the real node using {repository} to be removed")  # fmt: skip
    listed = subprocess.run([*ctr, "images", "ls"], check=True, capture_output=True, text=True, timeout=60).stdout.splitlines()
    rows = [line.split() for line in listed[1:] if line.strip()]
    digests = {row[2] for row in rows if _of_repository(row[0], repository)}
    references = [row[0] for row in rows if row[2] in digests]
    if references:
        subprocess.run([*ctr, "images", "rm", "--sync", *references], check=True, capture_output=True, timeout=120)

    def listed_on_node() -> bool:
        images = core.read_node(cluster.settings.node_name).status.images or []
        return any(name.split("@")[-1] in digests for entry in images for name in entry.names or [])

    wait_for(listed_on_node, lambda listed: not listed, timeout_seconds=timeout_seconds, interval_seconds=2,
             what=f"node {cluster.settings.node_name} to stop listing {image}")  # fmt: skip


def _delete_pods_using(core: CoreV1Api, node: str, repository: str, *, timeout_seconds: float) -> None:
    """Delete every pod on ``node`` with a container of ``repository``; return once they are gone."""
    from kubernetes.client.exceptions import ApiException

    def pods_using() -> list[tuple[str, str]]:
        pods = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
        return [(pod.metadata.namespace, pod.metadata.name) for pod in pods
                if any(_of_repository(c.image, repository) for c in [*pod.spec.containers, *(pod.spec.init_containers or [])])]  # fmt: skip

    for namespace, name in pods_using():
        try:
            core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
        except ApiException as error:
            if error.status != 404:  # an earlier job's executor may go on its own between list and delete
                raise
    wait_for(pods_using, lambda left: not left, timeout_seconds=timeout_seconds, interval_seconds=1,
             what=f"the pods on {node} using {repository} to be gone")  # fmt: skip


def _of_repository(reference: str, repository: str) -> bool:
    return reference.startswith((repository + ":", repository + "@"))
