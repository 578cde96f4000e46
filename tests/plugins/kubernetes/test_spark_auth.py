"""Spark's authentication on Kubernetes: a secret per driver, by file, never in a pod spec."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from harness.pod_models import pod
from sparkplane.job_spec import SparkJobSpec
from sparkplane.kubernetes.driver_pod import KubernetesTarget, build_driver_pod
from sparkplane.kubernetes.identity import EXECUTOR_TEMPLATE_ANNOTATION, TaskTry
from sparkplane.kubernetes.spark_auth import AUTH_SECRET_SUFFIX, auth_secret_manifest, auth_secret_name
from sparkplane.kubernetes.task_policy import reserved_conf_problems

TRY = TaskTry("report", "load", "manual__2026-11-30T00:00:00+00:00", try_number=1)
TARGET = KubernetesTarget(namespace="spark", image="127.0.0.1:5000/sparkplane/spark:abc")


def _conf(manifest: dict) -> dict[str, str]:
    args = manifest["spec"]["containers"][0]["args"]
    return dict(args[i + 1].split("=", 1) for i, arg in enumerate(args) if arg == "--conf")


def test_every_driver_authenticates_its_executors_with_a_mounted_secret_and_encrypts_rpc():
    manifest = build_driver_pod(SparkJobSpec(application="a.py", name="a"), TRY, TARGET)
    conf = _conf(manifest)
    assert conf["spark.authenticate"] == "true"
    assert conf["spark.authenticate.secret.driver.file"] == conf["spark.authenticate.secret.executor.file"] == "/opt/spark/auth/secret"
    assert conf["spark.network.crypto.enabled"] == "true"
    assert conf["spark.ui.killEnabled"] == "false"
    executor = json.loads(manifest["metadata"]["annotations"][EXECUTOR_TEMPLATE_ANNOTATION])
    for spec in (manifest["spec"], executor["spec"]):
        mounts = spec["containers"][0]["volumeMounts"]
        (volume,) = [v for v in spec["volumes"] if v.get("secret", {}).get("secretName") == auth_secret_name(TRY.driver_name())]
        assert {"name": volume["name"], "mountPath": "/opt/spark/auth", "readOnly": True} in mounts


def test_the_secret_is_owned_by_the_driver_and_carries_no_driver_role():
    driver = pod(TRY.driver_name(), labels=TRY.driver_labels())
    driver.metadata.uid, driver.metadata.namespace = "uid-1", "spark"
    secret = auth_secret_manifest(driver, b"\x00" * 32)
    assert secret["metadata"]["name"] == f"{TRY.driver_name()}-spark-auth"
    assert secret["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Pod", "name": TRY.driver_name(), "uid": "uid-1"}]
    assert "spark-role" not in secret["metadata"]["labels"]
    assert base64.b64decode(secret["data"]["secret"]) == b"\x00" * 32


def test_a_task_cannot_turn_authentication_off_or_point_it_elsewhere():
    for key in ("spark.authenticate", "spark.authenticate.secret", "spark.authenticate.secret.executor.file"):
        (problem,) = reserved_conf_problems({key: "x"})
        assert "a secret the platform makes for each driver" in problem



def test_the_admission_policy_allows_exactly_the_secret_name_the_platform_gives_a_driver():
    policies = (Path(__file__).resolve().parents[3] / "spark-bootstrap" / "30-admission-policies.yaml").read_text()
    assert f"object.metadata.name + '{AUTH_SECRET_SUFFIX}'" in policies  # the driver's own secret
    assert f"o.name + '{AUTH_SECRET_SUFFIX}'" in policies  # its executors' (their owner's)
    assert auth_secret_name("d-1-driver") == f"d-1-driver{AUTH_SECRET_SUFFIX}"
