"""Session-wide test settings: every test that touches Airflow uses a private, throwaway
AIRFLOW_HOME, never the user's ~/airflow. Set before any test module imports Airflow.

The cluster tests' fixtures (tests/harness/fixtures.py) are registered here, once for the suite.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]

_airflow_home = tempfile.mkdtemp(prefix="sparkplane-tests-airflow-")
os.environ["AIRFLOW_HOME"] = _airflow_home
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(PROJECT_ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(PROJECT_ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"

# The cluster tests' fixtures, registered once so the cluster starts and each image builds once per session.
pytest_plugins = ("harness.fixtures",)


@pytest.hookimpl(tryfirst=True)  # before -m selects: make test's lanes select by the cluster marker
def pytest_collection_modifyitems(session, config, items):
    """Mark every test that uses the local cluster ``cluster``, and order the modules for the lanes.

    A test needing the cluster without the marker would otherwise run in make test's cluster-free
    lane (scripts/test-lane) and start the cluster there, beside the lane that owns it.

    Whole modules move, so a module's fixtures are set up once: the cluster modules come last;
    among them those that need no Spark image come first (on a fresh machine the image is built
    while they run), and the stack's last. Among the others the image's own tests come last: on a
    fresh machine they would otherwise build the image while the cluster's binaries build.
    """
    cluster_modules, spark_image_modules = set(), set()
    for item in items:
        if "local_cluster" in item.fixturenames:
            item.add_marker(pytest.mark.cluster)
            cluster_modules.add(item.path)
        if "spark_image" in item.fixturenames:
            spark_image_modules.add(item.path)

    def module_order(item) -> tuple[bool, bool, bool]:
        return (
            item.path in cluster_modules,
            item.path.is_relative_to(PROJECT_ROOT / "tests" / "stack"),
            item.path in spark_image_modules or item.path.is_relative_to(PROJECT_ROOT / "tests" / "image"),
        )

    items.sort(key=module_order)  # stable: the order within each group stays
