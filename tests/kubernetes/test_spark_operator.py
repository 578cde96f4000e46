"""The Spark operator in Kubernetes mode, on the real local cluster: a real driver pod running as
spark-sa in namespace spark, real executors on the real node, the driver log in the task log,
and nothing of the job left behind.

Airflow acts as the platform's own least-privilege identity (sparkplane-airflow), so a missing
permission fails here as it would in production.
"""

from __future__ import annotations

import re

import pytest
from harness.airflow import run_dag
from harness.platform import wait_for_no_job_pods

pytestmark = pytest.mark.cluster

LINES = 60


def test_spark_job_runs_on_kubernetes_with_its_log_in_the_task_log(local_cluster, spark_image, airflow_connection, tmp_path):
    result = run_dag("spark_smoke_test", {"lines": LINES, "executors": 1},
                     image=spark_image, connection=airflow_connection, airflow_home=tmp_path)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-8000:]
    assert re.search(r"Created driver pod spark/spark-smoke-test-run-smoke-test-\w+-1-driver", log)
    numbers = [int(n) for n in re.findall(rf"smoke line (\d+) of {LINES}", log)]
    assert numbers == list(range(1, LINES + 1)), "driver log lines were lost, repeated or reordered"
    assert re.search(r"Spark works: 4 tasks on 1 executor host\(s\), Python 3\.11\.\d+ everywhere", log)
    assert "Preflight: spark/spark-sa has the driver's 21 rights" in log
    assert re.search(r"Preflight: image has Python 3\.11\.\d+, pyspark [\d.]+ and the job's imports \(pyspark\)", log)
    assert re.search(r"Driver stages \(seconds\): \{'queued': [\d.]+, 'starting': [\d.]+, 'running': [\d.]+, "
                     r"'pulling': [\d.]+\}", log)
    assert re.search(r"spark_smoke_test\.py succeeded on Kubernetes \(queued \d+ s, starting \d+ s.*, running \d+ s\)", log)
    assert re.search(r"::group::Driver log of spark-smoke-test-run-smoke-test-\w+-1-driver", log)
    assert "::group::Cleanup" in log and "NativeCodeLoader" not in log
    assert "Failed executor" not in log
    # The end of a finished driver's log is not a fault and must not read like one.
    assert "Driver log stream dropped" not in log and "later lines are not in this log" not in log


def test_finished_job_leaves_no_pods_behind(local_cluster, spark_image, airflow_connection, tmp_path):
    # Runs after the job above (same module, in order); the driver's deletion collects executors.
    wait_for_no_job_pods(local_cluster, "spark_smoke_test", timeout_seconds=60)
