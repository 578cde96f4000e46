"""One DAG per way a Spark job on Kubernetes fails, for tests/kubernetes/test_spark_operator_failures.py.

Each runs the platform's operator as a pipeline would, against the image named by
SPARKPLANE_SPARK_IMAGE, with one thing wrong.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG
from sparkplane import settings
from sparkplane.operators import SparkJobOperator

SMALL = {
    "driver_memory": "512m",
    "executor_memory": "512m",
    "executor_instances": 1,
    "conf": {
        "spark.kubernetes.driver.request.cores": "500m",
        "spark.kubernetes.executor.request.cores": "500m",
    },
}
REGISTRY = (settings.SPARK_IMAGE or "127.0.0.1:5000/").split("/")[0]

CASES = {
    # The job reads a folder that does not exist: a Python exception in the driver.
    "job_raises": {
        "application": "revenue_by_region.py",
        "application_args": ["--input", "/tmp/sparkplane-no-such-input", "--output", "/tmp/sparkplane-out"],
    },
    # The image is not in the registry; preflight is off so the node's pull fails for real.
    "missing_image": {
        "application": "spark_smoke_test.py",
        "image": f"{REGISTRY}/sparkplane/no-such-image:1",
        "preflight": False,
    },
    # No node has 64 GiB of memory.
    "unschedulable": {"application": "spark_smoke_test.py", "driver_memory": "64g"},
    # An ordinary job, for checks that need one (permissions).
    "smoke": {"application": "spark_smoke_test.py", "application_args": ["--lines", "3"]},
    # A pod template that Pod Security "restricted" refuses (a hostPath volume).
    "host_path_template": {
        "application": "spark_smoke_test.py",
        "pod_template": {"spec": {"volumes": [{"name": "host", "hostPath": {"path": "/etc"}}]}},
    },
}

#: What tests/kubernetes/test_spark_operator_pod_template.py adds to the driver and executor pods.
POD_TEMPLATE = {
    "metadata": {"labels": {"team": "finance"}},
    "spec": {
        "nodeSelector": {"sparkplane.dev/node-type": "real"},
        "volumes": [{"name": "scratch", "emptyDir": {}}],
        "containers": [{
            "name": "spark",
            "env": [{"name": "REPORT_MODE", "value": "full"}],
            "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
        }],
    },
}

for case, arguments in {**CASES, "pod_template": {"application": "spark_smoke_test.py",
                                                 "pod_template": POD_TEMPLATE}}.items():
    with DAG(
        dag_id=f"operator_case_{case}",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        default_args={"owner": "platform-tests", "retries": 0},
        tags=["tests"],
    ):
        SparkJobOperator(task_id="run", **{**SMALL, **arguments})
