"""The quick fault suite: each fault of tests/harness/faults.py once, on real Airflow services
(API server, scheduler with the LocalExecutor, DAG processor, triggerer) and the real cluster.

Drivers run on simulated nodes, so each fault costs seconds; ``make faults`` runs the same faults
several times and prints the table. Each case prints its outcome (times are shown, not asserted).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness.airflow import AirflowServices
from harness.faults import FAULTS, fault_airflow, run_fault
from harness.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.cluster, pytest.mark.long]


@pytest.fixture(scope="module")
def airflow(local_cluster, spark_image, airflow_connection, tmp_path_factory) -> Iterator[tuple[AirflowServices, TcpProxy]]:
    # airflow_connection: spark-bootstrap/ applied, so the platform's identity exists.
    with fault_airflow(tmp_path_factory.mktemp("faults"), local_cluster, image=spark_image) as services_and_proxy:
        yield services_and_proxy


@pytest.mark.parametrize("fault", [name for name, fault in FAULTS.items() if fault.quick])
def test_a_fault_comes_to_its_expected_outcome(local_cluster, airflow, fault):
    services, proxy = airflow
    outcome = run_fault(services, local_cluster, FAULTS[fault], proxy=proxy)
    print(outcome)
    assert FAULTS[fault].expected.problems(outcome) == [], outcome.final_log[-6000:]
