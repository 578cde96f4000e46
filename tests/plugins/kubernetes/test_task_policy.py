"""What a task may not set in Kubernetes mode: the platform's own settings, and secret values."""

from __future__ import annotations

import pytest
from sparkplane.job_spec import SparkJobSpec
from sparkplane.kubernetes.task_policy import (
    reserved_conf_problems,
    reserved_pod_template_problems,
    secret_value_problems,
)


def test_ordinary_settings_are_the_tasks_own():
    conf = {"spark.sql.shuffle.partitions": "8", "spark.executor.instances": "3",
            "spark.kubernetes.executor.request.cores": "500m", "spark.kubernetes.executor.label.team": "finance"}
    assert reserved_conf_problems(conf) == []
    assert reserved_pod_template_problems({"metadata": {"labels": {"team": "finance"}},
                                           "spec": {"nodeSelector": {"disk": "ssd"},
                                                    "containers": [{"name": "x", "env": []}]}}) == []


@pytest.mark.parametrize("key", [
    "spark.kubernetes.authenticate.executor.serviceAccountName",
    "spark.kubernetes.authenticate.driver.oauthTokenFile",
    "spark.kubernetes.namespace",
    "spark.kubernetes.executor.podTemplateFile",
    "spark.kubernetes.driver.pod.name",
    "spark.kubernetes.container.image.pullPolicy",
    "spark.master",
    "spark.kubernetes.executor.label.sparkplane.dev/instance-key",
    "spark.kubernetes.executor.annotation.sparkplane.dev/run-id",
    "spark.kubernetes.executor.label.app.kubernetes.io/managed-by",
])
def test_settings_the_platform_owns_are_refused_with_the_reason(key):
    (problem,) = reserved_conf_problems({key: "x"})
    assert problem.startswith(f"conf[{key!r}] is set by the platform: ")
    assert len(problem) > len(key) + 40


def test_pod_template_fields_the_platform_owns_are_refused():
    template = {
        "metadata": {"name": "mine", "namespace": "other", "labels": {"sparkplane.dev/try-key": "forged", "team": "a"}},
        "spec": {"serviceAccountName": "admin", "automountServiceAccountToken": True,
                 "containers": [{"name": "spark", "command": ["sh"], "image": "evil:1"}]},
    }
    text = "\n".join(reserved_pod_template_problems(template))
    for field in ("metadata.name", "metadata.namespace", "spec.serviceAccountName", "spec.automountServiceAccountToken",
                  "metadata.labels['sparkplane.dev/try-key']", "spec.containers[0].command",
                  "spec.containers[0].image"):
        assert f"pod_template {field}" in text, field
    assert "team" not in text


def test_secrets_by_name_and_values_airflow_masks_are_refused_without_showing_them():
    from airflow.sdk.log import mask_secret

    mask_secret("canary-from-a-connection-4711")
    spec = SparkJobSpec(
        application="a.py", name="a",
        arguments=("--user", "reporter", "--password", "canary-from-a-connection-4711"),
        conf={"spark.hadoop.fs.s3a.secret.key": "canary-s3-1", "spark.sql.shuffle.partitions": "8",
              "spark.app.note": "prefix-canary-from-a-connection-4711"},
        env={"DB_PASSWORD": "canary-env-2", "TZ": "UTC"},
    )
    problems = secret_value_problems(spec)
    assert problems == [
        "conf['spark.hadoop.fs.s3a.secret.key'] holds a secret (by its name)",
        "env['DB_PASSWORD'] holds a secret (by its name)",
        "conf['spark.app.note'] holds a value Airflow masks (from a Connection or a sensitive Variable)",
        "application_args[3] holds a value Airflow masks (from a Connection or a sensitive Variable)",
    ]
    assert "canary" not in "".join(problems)
