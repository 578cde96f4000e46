"""One DAG per way a Spark job on Kubernetes fails, for tests/kubernetes/test_spark_operator_failures.py.

Each runs the platform's operator as a pipeline would, against the image named by
SPARKPLANE_SPARK_IMAGE, with one thing wrong.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG
from sparkplane import settings
from sparkplane.kubernetes.secret_refs import SecretEnv, SecretEnvFrom, SecretVolume
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
#: tests/kubernetes/test_spark_operator_secrets.py: a value that must never appear in plain text,
#: and the Secret (keys "password" and "token") and Connection that hold it.
CANARY = os.environ.get("SPARKPLANE_TEST_CANARY", "canary-unset")
CANARY_SECRET = "sparkplane-test-canary"

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
    # The job converted from notebooks/churn_features.ipynb (tests/data/jobs/): its UDF imports scikit-learn,
    # which the image lacks. The test adds it to a copy of the jobs folder (SPARKPLANE_JOBS_ROOT).
    "module_missing": {"application": "churn_features.py"},
    # An ordinary job, for checks that need one (permissions).
    "smoke": {"application": "spark_smoke_test.py", "application_args": ["--lines", "3"]},
    # A pod template that Pod Security "restricted" refuses (a hostPath volume).
    "host_path_template": {
        "application": "spark_smoke_test.py",
        "pod_template": {"spec": {"volumes": [{"name": "host", "hostPath": {"path": "/etc"}}]}},
    },
    # Secrets by reference: an env var from one key, every key with a prefix, a mounted volume.
    "secrets": {
        "application": "spark_smoke_test.py",
        "application_args": ["--lines", "1", "--expect-env", "CANARY_PASSWORD", "--expect-env", "CANARY_FROM_token",
                             "--expect-file", "/etc/secrets/canary/password",
                             # {"fail": true}: the job fails after the check, as a failing job would.
                             "{{ '--expect-env=NOT_GIVEN' if dag_run.conf.get('fail') else '--partitions=4' }}"],
        "secrets": [SecretEnv(name="CANARY_PASSWORD", secret=CANARY_SECRET, key="password"),
                    SecretEnvFrom(secret=CANARY_SECRET, prefix="CANARY_FROM_"),
                    SecretVolume(secret=CANARY_SECRET, mount_path="/etc/secrets/canary")],
    },
    # A secret Spark setting given by value: refused, it would be written into the pod spec.
    "secret_conf": {
        "application": "spark_smoke_test.py",
        "conf": {**SMALL["conf"], "spark.hadoop.fs.s3a.secret.key": CANARY},
    },
    # A job argument taken from a Connection's password: refused for the same reason.
    "connection_argument": {
        "application": "spark_smoke_test.py",
        "application_args": ["--expect-env", "{{ conn.sparkplane_canary.password }}"],
    },
    # A setting the platform owns.
    "reserved_conf": {
        "application": "spark_smoke_test.py",
        "conf": {**SMALL["conf"], "spark.kubernetes.authenticate.executor.serviceAccountName": "spark-sa"},
    },
    # A job path rendered from the run's conf that leaves the jobs folder.
    "escaping_application": {"application": "{{ dag_run.conf.get('job', 'spark_smoke_test.py') }}"},
    # A job writing to the deployment's data root; tests/kubernetes/test_object_store_faults.py
    # points it (SPARKPLANE_DATA_ROOT, the object store's connection) at a store that cannot work.
    "object_store": {
        "application": "generate_orders.py",
        "application_args": ["--orders", "100", "--customers", "10", "--output", settings.DATA_ROOT + "/store-faults"],
    },
    # More executors than namespace spark's quota (spark-bootstrap/15-spark-quota.yaml) can hold.
    "over_quota": {"application": "spark_smoke_test.py", "executor_instances": 500},
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
