"""Session-wide test settings: every test that touches Airflow uses a private, throwaway
AIRFLOW_HOME, never the user's ~/airflow. Set before any test module imports Airflow.

The cluster tests' fixtures (tests/harness/fixtures.py) are registered here, once for the suite.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]

_airflow_home = tempfile.mkdtemp(prefix="sparkplane-tests-airflow-")
os.environ["AIRFLOW_HOME"] = _airflow_home
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(PROJECT_ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(PROJECT_ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"

# The cluster tests' fixtures, registered once so the cluster starts and each image builds once per session.
pytest_plugins = ("harness.fixtures",)


def pytest_collection_modifyitems(session, config, items):
    """Run the modules that need the local cluster last, each in its usual order.

    On a fresh machine the cluster's binaries take many minutes to build; ``make test`` starts
    that build first (scripts/warm-up), so the tests that need no cluster run beside it.
    """
    cluster_modules = {item.path for item in items if "local_cluster" in item.fixturenames}
    items.sort(key=lambda item: item.path in cluster_modules)  # stable: the order within each group stays
