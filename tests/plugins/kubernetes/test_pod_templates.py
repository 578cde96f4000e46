from __future__ import annotations

import json
from pathlib import Path

import yaml

from sparkplane.job_spec import SparkJobSpec
from sparkplane.kubernetes.driver_pod import KubernetesTarget, build_driver_pod
from sparkplane.kubernetes.pod_templates import (
    EXECUTOR_TEMPLATE_ANNOTATION,
    EXECUTOR_TEMPLATE_FILE,
    check_pod_template,
    merge_pod_template,
    restricted_executor_template,
)
from sparkplane.kubernetes.identity import TaskTry

BOOTSTRAP_TEMPLATES = Path(__file__).resolve().parents[3] / "spark-bootstrap" / "pod-templates"
TARGET = KubernetesTarget(namespace="spark", image="127.0.0.1:5000/sparkplane/spark:abc")
TRY = TaskTry("report", "aggregate", "manual__2026-11-25T10:00:00+00:00", try_number=1)
SPEC = SparkJobSpec(application="report.py", name="report.aggregate", env={"TZ": "UTC"})
TEMPLATE = {
    "metadata": {"labels": {"team": "finance"}},
    "spec": {
        "nodeSelector": {"disk": "ssd"},
        "tolerations": [{"key": "spark", "operator": "Exists", "effect": "NoSchedule"}],
        "securityContext": {"runAsUser": 0},
        "volumes": [{"name": "scratch", "emptyDir": {}}],
        "containers": [{
            "name": "anything",
            "image": "not-ours:1",
            "env": [{"name": "TZ", "value": "Europe/Paris"}, {"name": "REPORT_MODE", "value": "full"}],
            "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
        }],
    },
}


def _conf(pod: dict) -> dict[str, str]:
    args = pod["spec"]["containers"][0]["args"]
    return dict(args[i + 1].split("=", 1) for i, arg in enumerate(args) if arg == "--conf")


def test_platform_executor_template_is_the_bootstrap_one():
    assert restricted_executor_template()["spec"] == yaml.safe_load((BOOTSTRAP_TEMPLATES / "executor.yaml").read_text())["spec"]


def test_template_adds_scheduling_volumes_and_env_but_the_platform_fields_win():
    pod = build_driver_pod(SPEC, TRY, TARGET, pod_template=TEMPLATE)
    spark = pod["spec"]["containers"][0]
    assert pod["metadata"]["labels"]["team"] == "finance" and pod["metadata"]["labels"]["spark-role"] == "driver"
    assert pod["spec"]["nodeSelector"] == {"disk": "ssd"} and pod["spec"]["tolerations"] == TEMPLATE["spec"]["tolerations"]
    assert pod["spec"]["securityContext"]["runAsUser"] == 185, "the template must not make the driver run as root"
    assert spark["name"] == "spark-kubernetes-driver" and spark["image"] == TARGET.image
    env = {e["name"]: e.get("value") for e in spark["env"]}
    assert env["TZ"] == "UTC" and env["REPORT_MODE"] == "full", "the task's env wins, the template's adds"
    assert {"name": "scratch", "mountPath": "/scratch"} in spark["volumeMounts"]
    assert {"name": "scratch", "emptyDir": {}} in pod["spec"]["volumes"]


def test_executors_get_the_template_through_a_file_mounted_from_the_drivers_annotation():
    pod = build_driver_pod(SPEC, TRY, TARGET, pod_template=TEMPLATE)
    executor = json.loads(pod["metadata"]["annotations"][EXECUTOR_TEMPLATE_ANNOTATION])
    assert _conf(pod)["spark.kubernetes.executor.podTemplateFile"] == EXECUTOR_TEMPLATE_FILE
    assert executor["spec"]["nodeSelector"] == {"disk": "ssd"}
    assert executor["spec"]["automountServiceAccountToken"] is False
    assert executor["spec"]["containers"][0]["name"] == "spark-kubernetes-executor"
    assert executor["spec"]["securityContext"]["runAsUser"] == 185
    (volume,) = [v for v in pod["spec"]["volumes"] if "downwardAPI" in v]
    assert volume["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"] == f"metadata.annotations['{EXECUTOR_TEMPLATE_ANNOTATION}']"


def test_without_a_template_executors_still_get_the_restricted_one_with_the_drivers_auth_secret():
    pod = build_driver_pod(SPEC, TRY, TARGET)
    executor = json.loads(pod["metadata"]["annotations"][EXECUTOR_TEMPLATE_ANNOTATION])
    assert _conf(pod)["spark.kubernetes.executor.podTemplateFile"] == EXECUTOR_TEMPLATE_FILE
    assert executor["spec"]["automountServiceAccountToken"] is False
    for spec in (pod["spec"], executor["spec"]):
        (volume,) = [v for v in spec["volumes"] if "secret" in v]
        assert volume["secret"]["secretName"] == f"{TRY.driver_name()}-spark-auth"


def test_sidecars_follow_the_spark_container():
    template = {"spec": {"containers": [{"name": "main"}, {"name": "log-shipper", "image": "shipper:1"}]}}
    merged = merge_pod_template(template, {"spec": {"containers": [{"name": "spark-kubernetes-driver", "image": "s"}]}})
    assert [c["name"] for c in merged["spec"]["containers"]] == ["spark-kubernetes-driver", "log-shipper"]


def test_templates_that_cannot_be_used_are_explained():
    assert check_pod_template(TEMPLATE) == []
    assert check_pod_template(["spec"]) == ["it is a list, not a mapping like {'spec': {'nodeSelector': {...}}}"]
    assert check_pod_template({"spce": {}}) == ["unknown top-level key 'spce' (allowed: metadata, spec)"]
    assert check_pod_template({"spec": {"containers": {"name": "x"}}}) == ["spec.containers is not a list"]
