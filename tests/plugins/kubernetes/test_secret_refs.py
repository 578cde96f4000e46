"""Secret references become secretKeyRef, envFrom and secret volumes: names only, never values."""

from __future__ import annotations

import json

from sparkplane.job_spec import SparkJobSpec
from sparkplane.kubernetes.driver_pod import KubernetesTarget, build_driver_pod
from sparkplane.kubernetes.identity import EXECUTOR_TEMPLATE_ANNOTATION, TaskTry
from sparkplane.kubernetes.secret_refs import (
    SecretEnv,
    SecretEnvFrom,
    SecretVolume,
    check_secret_references,
    secret_pod_template,
    secret_volume_name,
)

TARGET = KubernetesTarget(namespace="spark", image="127.0.0.1:5000/sparkplane/spark:abc")
TRY = TaskTry("reports", "load", "manual__2026-11-25T10:00:00+00:00", try_number=1)
SPEC = SparkJobSpec(application="load.py", name="reports.load", env={"TZ": "UTC"})
SECRETS = [
    SecretEnv(name="WAREHOUSE_PASSWORD", secret="warehouse", key="password"),
    SecretEnvFrom(secret="s3-credentials", prefix="S3_"),
    SecretVolume(secret="tls.client", mount_path="/etc/secrets/tls"),
]


def test_driver_and_executors_get_the_references_and_the_platform_fields_stay():
    pod = build_driver_pod(SPEC, TRY, TARGET, secrets=SECRETS)
    executor = json.loads(pod["metadata"]["annotations"][EXECUTOR_TEMPLATE_ANNOTATION])
    for role, spec in (("driver", pod["spec"]), ("executor", executor["spec"])):
        container = spec["containers"][0]
        assert {"name": "WAREHOUSE_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "warehouse", "key": "password"}}} in container["env"], role
        assert container["envFrom"] == [{"secretRef": {"name": "s3-credentials"}, "prefix": "S3_"}], role
        volume = secret_volume_name("tls.client", "/etc/secrets/tls")
        assert {"name": volume, "secret": {"secretName": "tls.client", "defaultMode": 0o440}} in spec["volumes"], role
        assert {"name": volume, "mountPath": "/etc/secrets/tls", "readOnly": True} in container["volumeMounts"], role
    driver = pod["spec"]["containers"][0]
    assert driver["name"] == "spark-kubernetes-driver"
    assert {"name": "TZ", "value": "UTC"} in driver["env"]
    assert pod["spec"]["serviceAccountName"] == "spark-sa"
    assert executor["spec"]["automountServiceAccountToken"] is False


def test_references_are_added_to_the_tasks_own_template_without_changing_it():
    template = {"spec": {"containers": [{"name": "main", "env": [{"name": "MODE", "value": "full"}]}]}}
    merged = secret_pod_template(SECRETS[:1], template)
    assert [entry["name"] for entry in merged["spec"]["containers"][0]["env"]] == ["MODE", "WAREHOUSE_PASSWORD"]
    assert template["spec"]["containers"][0]["env"] == [{"name": "MODE", "value": "full"}]
    assert secret_pod_template([], None) == {}


def test_volume_names_are_dns_labels_even_for_long_dotted_secret_names():
    name = secret_volume_name("a." * 60 + "b", "/etc/secrets/x")
    assert len(name) <= 63 and name.replace("-", "").isalnum() and name == name.lower()
    assert name != secret_volume_name("a." * 60 + "b", "/etc/secrets/y")


def test_valid_references_have_no_problems():
    assert check_secret_references(SECRETS, env_names=["TZ"]) == []


def test_each_bad_reference_is_named_with_what_is_wrong():
    problems = check_secret_references([
        SecretEnv(name="TZ", secret="warehouse", key="password"),
        SecretEnv(name="SPARK_HOME", secret="warehouse", key="password"),
        SecretEnv(name="OK_NAME", secret="Not_A_Name", key="pass word"),
        SecretVolume(secret="tls", mount_path="relative/path"),
        SecretVolume(secret="tls", mount_path="/opt/spark/jobs"),
        SecretEnvFrom(secret="s3", prefix="PYSPARK_"),
        {"secret": "warehouse"},
    ], env_names=["TZ"])
    text = "\n".join(problems)
    assert "TZ is set twice" in text
    assert "SPARK_HOME would shadow Spark's own variables" in text
    assert "'Not_A_Name' is not a Kubernetes Secret name" in text and "key 'pass word'" in text
    assert "mount_path must be an absolute folder" in text
    assert "/opt/spark/jobs would hide the image's own files" in text
    assert "prefix 'PYSPARK_' would shadow" in text
    assert "is not a secret reference; use SecretEnv(" in text
    assert len(problems) == 8
