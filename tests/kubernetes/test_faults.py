"""The quick fault suite: each fault of tests/harness/faults.py once, on real Airflow services
(API server, scheduler with the LocalExecutor, DAG processor, triggerer) and the real cluster.

Drivers run on simulated nodes, so each fault costs seconds; ``make faults`` runs the same faults
several times and prints the table. Each case prints its outcome (times are shown, not asserted).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness.airflow import AirflowServices
from harness.faults import FAULTS, run_fault
from harness.platform import platform_airflow

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def airflow(local_cluster, spark_image, airflow_connection, tmp_path_factory) -> Iterator[AirflowServices]:
    with platform_airflow(tmp_path_factory.mktemp("faults"), "operator_faults.py", connection=airflow_connection,
                          image=spark_image) as services:  # fmt: skip
        yield services


@pytest.mark.parametrize("fault", [name for name, fault in FAULTS.items() if fault.quick])
def test_a_fault_comes_to_its_expected_outcome(local_cluster, airflow, fault):
    outcome = run_fault(airflow, local_cluster, FAULTS[fault])
    print(outcome)
    assert FAULTS[fault].expected.problems(outcome) == [], outcome.final_log[-6000:]
