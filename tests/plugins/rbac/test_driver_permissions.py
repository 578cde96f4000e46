"""Which of the driver's permissions are missing, and the failure that says how to grant them."""

from __future__ import annotations

from sparkplane.rbac.driver_permissions import DRIVER_PERMISSIONS, missing_permissions, permission_failure


def test_every_denied_permission_is_named_with_the_way_to_grant_it():
    allowed = {("get", "pods"), ("list", "pods"), ("watch", "pods")}
    missing = missing_permissions(lambda verb, resource: (verb, resource) in allowed)
    assert missing == ["create pods", "delete pods", "create configmaps", "delete configmaps"]
    failure = permission_failure(missing, service_account="spark-sa", namespace="spark")
    assert failure.cause.startswith("ServiceAccount spark/spark-sa may not create pods, delete pods")
    assert "python -m sparkplane.bootstrap apply" in failure.fix


def test_nothing_is_missing_when_all_is_allowed():
    assert missing_permissions(lambda verb, resource: True) == []
    assert len(DRIVER_PERMISSIONS) == 7
