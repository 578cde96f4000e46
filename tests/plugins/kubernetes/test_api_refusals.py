"""A 403 from the API server becomes the platform's exception: admission and quota are not RBAC."""

from __future__ import annotations

import json

import pytest
from airflow.exceptions import AirflowFailException
from kubernetes.client.exceptions import ApiException
from sparkplane.exceptions import KubernetesPermissionDenied, PodRejected, QuotaExceeded
from sparkplane.kubernetes.hook import translate_api_error


def _forbidden(message: str) -> ApiException:
    error = ApiException(status=403, reason="Forbidden")
    error.body = json.dumps({"kind": "Status", "message": message})
    return error


@pytest.mark.parametrize(("message", "kind", "fix", "final"), [
    ('pods "d" is forbidden: violates PodSecurity "restricted:latest": hostPath volumes', PodRejected,
     "remove what the message names from the task's pod_template", True),
    ("pods \"d\" is forbidden: ValidatingAdmissionPolicy 'sparkplane-allowlisted-secrets' with binding "
     "'sparkplane-allowlisted-secrets' denied request: not allowlisted: db", PodRejected,
     "the namespace's admission policies", True),
    ('pods "d" is forbidden: exceeded quota: spark-jobs, requested: requests.cpu=4, used: requests.cpu=62, '
     "limited: requests.cpu=64", QuotaExceeded, "the task's retry tries again once other jobs end", False),
    ('pods is forbidden: User "system:serviceaccount:sparkplane-system:sparkplane-airflow" cannot create '
     'resource "pods"', KubernetesPermissionDenied, "apply spark-bootstrap/", True),
])  # fmt: skip
def test_a_refusal_says_whose_rule_refused_and_whether_a_retry_can_help(message, kind, fix, final):
    translated = translate_api_error(_forbidden(message), action="create pods in namespace 'spark'")
    assert type(translated) is kind
    assert message in str(translated) and fix in str(translated)
    assert isinstance(translated, AirflowFailException) == final


def test_other_errors_are_left_as_they_are():
    error = ApiException(status=500, reason="Internal Server Error")
    assert translate_api_error(error, action="get pods") is error
