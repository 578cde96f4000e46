"""Bad input fails on the first try, says what to fix, and creates no pod (a missing job file: no executor).

Each DAG of tests/data/dags/operator_faults.py named ``bad_input_<case>`` has one bad input and
one retry, as a production DAG would; real Airflow services run them against the cluster. The
time to fail is printed, not asserted. An unschedulable request is not here: simulated nodes
hold anything the quota allows, and on the real node it fails at once but is retried
(tests/kubernetes/test_spark_operator_failures.py, and the README says why).
"""

from __future__ import annotations

import json
import time
import urllib.error
from collections.abc import Iterator

import pytest
from harness.airflow import AirflowServices
from harness.platform import delete_job_pods, job_pods, platform_airflow

pytestmark = pytest.mark.cluster

#: What the task log must say for each bad input.
MESSAGES = {
    "reserved_conf_key": "conf['spark.kubernetes.namespace'] is set by the platform: set the operator's namespace argument",
    "missing_image": "sparkplane/no-such-image:1 does not exist: the registry answered 404",
    "wrong_namespace": "Namespace 'no-such-namespace' does not exist, so no job can run there",
    "over_quota": "The job does not fit the resource quota of namespace spark",
}


@pytest.fixture(scope="module")
def airflow(local_cluster, spark_image, airflow_connection, tmp_path_factory) -> Iterator[AirflowServices]:
    with platform_airflow(tmp_path_factory.mktemp("bad-inputs"), "operator_faults.py", connection=airflow_connection,
                          image=spark_image) as services:  # fmt: skip
        yield services


@pytest.mark.parametrize("case", list(MESSAGES))
def test_a_bad_input_fails_on_its_first_try_before_any_pod_with_what_to_fix(local_cluster, airflow, case):
    dag_id = f"bad_input_{case}"
    delete_job_pods(local_cluster, dag_id)  # left by a session stopped midway
    started = time.monotonic()
    run_id = airflow.trigger(dag_id)
    state = airflow.wait_for_run(dag_id, run_id, timeout_seconds=300)
    ti = airflow.task_instance(dag_id, run_id, "run")
    log = airflow.task_log(dag_id, run_id, "run", 1)
    print(f"{case}: {state} {time.monotonic() - started:.1f}s after the trigger, tries {ti['try_number']}")
    assert state == "failed", log[-5000:]
    assert ti["try_number"] == 1, "a bad input was retried"
    assert MESSAGES[case] in log, log[-5000:]
    assert not job_pods(local_cluster, dag_id)


def test_a_missing_job_file_fails_on_its_first_try_before_any_executor_with_what_to_fix(local_cluster, airflow):
    dag_id = "bad_input_missing_job"
    delete_job_pods(local_cluster, dag_id)
    started = time.monotonic()
    run_id = airflow.trigger(dag_id)
    state = airflow.wait_for_run(dag_id, run_id, timeout_seconds=300)
    ti = airflow.task_instance(dag_id, run_id, "run")
    log = airflow.task_log(dag_id, run_id, "run", 1)
    print(f"missing_job: {state} {time.monotonic() - started:.1f}s after the trigger, tries {ti['try_number']}")
    try:
        assert state == "failed", log[-5000:]
        assert ti["try_number"] == 1, "a missing job file was retried"
        assert "no_such_job.py does not exist where the driver looked for it" in log, log[-5000:]
        assert "Fix: Check the operator's application against the files in jobs/" in log
        roles = [pod.metadata.labels.get("spark-role") for pod in job_pods(local_cluster, dag_id)]
        assert "executor" not in roles  # the failed driver itself is kept to inspect
    finally:
        delete_job_pods(local_cluster, dag_id)


def test_a_run_conf_that_breaks_the_dags_params_is_refused_before_any_run(airflow):
    airflow.wait_until_parsed("bad_input_invalid_param")
    with pytest.raises(urllib.error.HTTPError) as refused:
        airflow.rest("POST", "/dags/bad_input_invalid_param/dagRuns", {"logical_date": None, "conf": {"lines": "many"}})
    body = json.loads(refused.value.read())
    print(f"invalid_param: HTTP {refused.value.code}: {body}")
    assert refused.value.code == 400
    assert "lines" in json.dumps(body) and "many" in json.dumps(body)
