"""DAGs whose runs the fault suite interrupts (tests/harness/faults.py), one per fault; and DAGs
with one bad input each (tests/kubernetes/test_bad_inputs.py).

The driver runs on a simulated node, so a fault costs seconds, not a Spark job: the API server,
scheduler, admission, kubelet-like status and log serving are real (KWOK), and the test writes the
driver's log lines and ends the pod as its kubelet would. The follower is paced for tests:
short reconnect delays and give-up limits (``FollowerTiming``), set through the operator as a DAG
author would. One quick retry, as a production DAG would have (with a longer delay): the bad
inputs show which failures are final on the first try.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from airflow.sdk import DAG, Param
from sparkplane import settings
from sparkplane.kubernetes.follower_timing import FollowerTiming
from sparkplane.operators import SparkJobOperator

#: Simulated nodes that pull images (not those labelled to fail every pull), tolerating their taint.
ON_A_SIMULATED_NODE = {
    "spec": {
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{
            "matchExpressions": [
                {"key": "sparkplane.dev/node-type", "operator": "In", "values": ["simulated"]},
                {"key": "sparkplane.dev/simulate-pull", "operator": "DoesNotExist"},
            ],
        }]}}},
        "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
    },
}  # fmt: skip
QUICK = FollowerTiming(progress_interval_seconds=2, reconnect_delay_seconds=0.5, checkpoint_interval_seconds=1,
                       api_unreachable_seconds=10, access_denied_seconds=10, log_refused_seconds=10,
                       log_drain_seconds=5)  # fmt: skip
#: Also on a simulated node, evicted 2 s after the node goes NotReady or unreachable (not 300 s),
#: with a 5 s grace period (not 30 s) for the deletion no kubelet will confirm.
EVICTED_SOON = {"spec": {**ON_A_SIMULATED_NODE["spec"], "terminationGracePeriodSeconds": 5, "tolerations": [
    *ON_A_SIMULATED_NODE["spec"]["tolerations"],
    *({"key": f"node.kubernetes.io/{state}", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2}
      for state in ("not-ready", "unreachable")),
]}}  # fmt: skip
#: Each fault's DAG, by what it changes in the operator's arguments.
FAULTS = {
    "triggerer_sigkill": {},
    "scheduler_sigkill": {},
    # A restart takes 10-20 s here: this DAG rides out a minute of outage, as production rides out 5.
    "api_server_restart": {"follower_timing": dataclasses.replace(QUICK, api_unreachable_seconds=60)},
    # Down longer than the follower's give-up: the retry comes once the API answers again.
    "api_server_down": {"retry_delay": timedelta(seconds=30)},
    # The worker follows the driver itself (not deferred), so the killed process is the follower.
    "worker_sigkill": {"deferrable": False},
    # Past the 10 s give-up; the retry comes after the API is back.
    "api_unreachable": {"retry_delay": timedelta(seconds=30)},
    # Production's give-up (5 minutes) against a 6-minute outage.
    "api_unreachable_6min": {"follower_timing": dataclasses.replace(QUICK, api_unreachable_seconds=300),
                             "retry_delay": timedelta(seconds=90)},
    # A silent connection is taken for dead within seconds: the log after 5 s, a watch after 2 + 3 s.
    "half_open": {"follower_timing": dataclasses.replace(
        QUICK, log_quiet_seconds=5, connect_timeout_seconds=3, read_timeout_seconds=5, watch_read_margin_seconds=3,
        api_unreachable_seconds=60)},  # fmt: skip
    "log_stream_cut": {},
    # The triggerer comes back after the API server forgot the driver pod's version.
    "watch_410": {},
    "long_line": {},
    # A driver deleted and not confirmed gone 5 s after its grace period is taken for lost.
    "node_not_ready": {"pod_template": EVICTED_SOON,
                       "follower_timing": dataclasses.replace(QUICK, unconfirmed_deletion_seconds=5)},
    "driver_deleted": {},
    "user_marks_failed": {},
    "user_clears": {},
    # The driver runs past the task's execution_timeout.
    "execution_timeout": {"execution_timeout": timedelta(seconds=20), "retries": 0},
}

REGISTRY = (settings.SPARK_IMAGE or "127.0.0.1:5000/").split("/")[0]
BAD_INPUTS = {
    "reserved_conf_key": {"conf": {"spark.kubernetes.namespace": "default"}},
    "missing_image": {"image": f"{REGISTRY}/sparkplane/no-such-image:1"},
    "wrong_namespace": {"namespace": "no-such-namespace"},
    "over_quota": {"executor_instances": 500},
    "invalid_param": {},  # the run's conf is checked against the DAG's Params
    # A real driver on the real node, which finds no such file in the image.
    "missing_job": {"application": "no_such_job.py", "pod_template": {}},
}

JOB = {
    "task_id": "run",
    "application": "spark_smoke_test.py",
    "application_args": ["--lines", "{{ params.lines }}"],
    "driver_memory": "512m",
    "executor_instances": 1,
    "conf": {"spark.kubernetes.driver.request.cores": "100m"},
    "pod_template": ON_A_SIMULATED_NODE,
    "follower_timing": QUICK,
}
DAGS = {f"fault_{name}": arguments for name, arguments in FAULTS.items()} | {
    f"bad_input_{name}": arguments for name, arguments in BAD_INPUTS.items()}

for dag_id, arguments in DAGS.items():
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        default_args={"owner": "platform-tests", "retries": 1, "retry_delay": timedelta(seconds=2)},
        params={"lines": Param(3, type="integer", minimum=1, maximum=1000)},
        tags=["tests"],
    ):
        SparkJobOperator(**{**JOB, **arguments})
