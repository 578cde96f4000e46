"""Pytest fixtures of the cluster tests, registered once for the whole suite by tests/conftest.py.

``local_cluster`` starts the local cluster with ``cluster/up`` when it is not already answering,
and stops it at the end only if it started it (a cold machine first builds the Kubernetes
binaries: several minutes). Session fixtures build each image once per session.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from localcluster.settings import CLUSTER_DIR, load_settings

from harness.cluster import LocalCluster, build_python3_image, cluster_answers, create_namespace, run_command

UP_TIMEOUT_SECONDS = 45 * 60  # covers a cold build of the binaries


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[LocalCluster]:
    """The running local cluster (started here if needed); every test marked ``cluster`` uses it."""
    settings = load_settings()
    if os.geteuid() != 0:
        pytest.skip("the local cluster needs root (kubelet, containerd, iptables)")
    started_here = not cluster_answers(settings)
    # Also when it answers: `up` is idempotent and starts whatever is missing.
    run_command(str(CLUSTER_DIR / "up"), timeout_seconds=UP_TIMEOUT_SECONDS)
    yield LocalCluster(settings)
    if started_here:
        run_command(str(CLUSTER_DIR / "down"), timeout_seconds=UP_TIMEOUT_SECONDS)


@pytest.fixture
def namespace(local_cluster: LocalCluster) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (without waiting)."""
    from kubernetes import client

    name = f"t-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(local_cluster.api_client())
    create_namespace(core, name)
    yield name
    core.delete_namespace(name)


@pytest.fixture(scope="session")
def python_image(local_cluster: LocalCluster) -> str:
    """A python3 image in the local registry, shared by the tests of one session."""
    return build_python3_image(local_cluster.registry)


@pytest.fixture
def unpulled_python_image(local_cluster: LocalCluster) -> str:
    """A python3 image in the local registry that the node has not pulled yet."""
    return build_python3_image(local_cluster.registry)


@pytest.fixture(scope="session")
def spark_image(local_cluster: LocalCluster) -> str:
    """The platform's Spark image, built from this tree and pushed to the local registry, by digest."""
    # Imported here: the local cluster's own tests, and every other test, need none of the platform.
    from harness.platform import build_spark_image

    return build_spark_image(local_cluster.registry)["pinned"]


@pytest.fixture(scope="session")
def airflow_connection(local_cluster: LocalCluster) -> str:
    """An Airflow connection (as an environment variable) acting as the platform's identity."""
    from harness.platform import airflow_identity_connection, apply_bootstrap

    apply_bootstrap(local_cluster)
    return airflow_identity_connection(local_cluster)


@pytest.fixture(scope="session")
def object_store_connection(local_cluster: LocalCluster, airflow_connection: str) -> str:
    """The object store's Airflow connection (an environment variable's value), its key in the
    platform's Secret in namespace spark (after the bootstrap made the namespace)."""
    from harness.platform import object_store_connection

    return object_store_connection(local_cluster)


@pytest.fixture(scope="session")
def notebook_kubeconfig(local_cluster: LocalCluster, tmp_path_factory) -> Path:
    """A token kubeconfig of the notebook identity (spark-notebook), its admission policies in force."""
    from harness.platform import notebook_identity_kubeconfig

    return notebook_identity_kubeconfig(local_cluster, tmp_path_factory.mktemp("kube") / "notebook.kubeconfig")
