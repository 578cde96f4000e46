"""The local Kubernetes cluster, shared by every test marked ``cluster``.

The session fixture starts the cluster with ``cluster/up`` when it is not
already answering, and stops it at the end only if it started it. A cold
machine first builds the Kubernetes binaries (several minutes).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CLUSTER_DIR = Path(__file__).resolve().parents[2] / "cluster"
sys.path.insert(0, str(CLUSTER_DIR))

from localcluster.components import admin_tls  # noqa: E402
from localcluster.kubeconfigs import mint_serviceaccount_kubeconfig  # noqa: E402
from localcluster.settings import NODE_TYPE_LABEL, Settings, load_settings  # noqa: E402

UP_TIMEOUT_SECONDS = 45 * 60  # covers a cold build of the binaries
DOCKER = "/usr/bin/docker"  # Debian's client, talking to the engine cluster/docker-up starts
PYTHON3_IMAGE_DIR = Path(__file__).parent / "images" / "python3"


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

    def api_client(self, kubeconfig: Path | None = None):  # -> kubernetes.client.ApiClient
        """Return an API client for ``kubeconfig`` (default: cluster admin)."""
        from kubernetes import config

        return config.new_client_from_config(config_file=str(kubeconfig or self.admin_kubeconfig))


def _answers(settings: Settings) -> bool:
    import urllib.request

    if not settings.admin_kubeconfig.exists():
        return False
    try:
        url = f"{settings.apiserver_url}/readyz"
        with urllib.request.urlopen(url, context=admin_tls(settings), timeout=3) as response:
            return response.status == 200
    except OSError:
        return False


def _run(*argv: str, timeout_seconds: float = UP_TIMEOUT_SECONDS) -> None:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout_seconds)
    if proc.returncode != 0:
        pytest.fail(f"`{' '.join(argv)}` failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[LocalCluster]:
    settings = load_settings()
    if os.geteuid() != 0:
        pytest.skip("the local cluster needs root (kubelet, containerd, iptables)")
    started_here = not _answers(settings)
    # Also when it answers: `up` is idempotent and starts whatever is missing.
    _run(str(CLUSTER_DIR / "up"))
    yield LocalCluster(settings)
    if started_here:
        _run(str(CLUSTER_DIR / "down"))


@pytest.fixture
def namespace(local_cluster: LocalCluster) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (without waiting)."""
    from kubernetes import client

    name = f"t-{uuid.uuid4().hex[:8]}"
    api = client.CoreV1Api(local_cluster.api_client())
    api.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    # The ServiceAccount controller creates "default" shortly after the namespace.
    deadline = time.monotonic() + 30
    while not api.list_namespaced_service_account(name, field_selector="metadata.name=default").items:
        if time.monotonic() > deadline:
            pytest.fail(f"namespace {name}: ServiceAccount 'default' was not created within 30s")
        time.sleep(0.2)
    yield name
    api.delete_namespace(name)


def build_python3_image(registry: str) -> str:
    """Build the python3 test image FROM the debootstrapped base, push it, return its name.

    Each build adds a unique layer (Docker caches the rest), so the node has never seen it.
    """
    _run(str(CLUSTER_DIR / "seed-base-image"), timeout_seconds=600)
    nonce = uuid.uuid4().hex[:12]
    image = f"{registry}/sparkplane-test/python3:{nonce}"
    _run(
        DOCKER, "build", "-q", "--build-arg", f"NONCE={nonce}", "-t", image, str(PYTHON3_IMAGE_DIR), timeout_seconds=900
    )
    _run(DOCKER, "push", image, timeout_seconds=300)
    return image


@pytest.fixture(scope="session")
def python_image(local_cluster: LocalCluster) -> str:
    """A python3 image in the local registry, shared by the tests of one session."""
    return build_python3_image(local_cluster.registry)


@pytest.fixture
def unpulled_python_image(local_cluster: LocalCluster) -> str:
    """A python3 image in the local registry that the node has not pulled yet."""
    return build_python3_image(local_cluster.registry)


# Airflow-on-cluster fixtures (the Spark image, the platform identity's connection).
from airflow_on_cluster import airflow_connection, spark_image  # noqa: E402,F401
