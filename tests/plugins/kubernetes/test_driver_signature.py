"""A driver's signature binds the platform's key to the pod's uid, name and task keys."""

from __future__ import annotations

from harness.pod_models import pod
from sparkplane.kubernetes.driver_signature import driver_signature, is_signed_by, signature_of
from sparkplane.kubernetes.identity import SIGNATURE_ANNOTATION, TaskTry

KEY = b"k" * 32
TRY = TaskTry("report", "load", "manual__2026-11-30T00:00:00+00:00", try_number=1)


def _driver(uid: str, *, signature: str | None = None):
    driver = pod(TRY.driver_name(), phase="Succeeded", labels=TRY.driver_labels())
    driver.metadata.uid = uid
    driver.metadata.namespace = "spark"
    driver.metadata.annotations = {SIGNATURE_ANNOTATION: signature} if signature else {}
    return driver


def test_a_pod_signed_with_the_key_is_recognised():
    driver = _driver("uid-1")
    driver.metadata.annotations[SIGNATURE_ANNOTATION] = signature_of(driver, KEY)
    assert is_signed_by(driver, KEY)


def test_no_signature_another_key_or_a_copy_on_another_pod_is_refused():
    genuine = _driver("uid-1")
    genuine_signature = signature_of(genuine, KEY)
    assert not is_signed_by(_driver("uid-1"), KEY)
    assert not is_signed_by(_driver("uid-1", signature=genuine_signature), b"x" * 32)
    assert not is_signed_by(_driver("uid-2", signature=genuine_signature), KEY)
    assert not is_signed_by(_driver("", signature=driver_signature(KEY, uid="", namespace="spark", name=TRY.driver_name(),
                                                                   try_key=TRY.key, instance_key=TRY.instance_key)), KEY)


def test_every_field_is_bound():
    base = {"uid": "u", "namespace": "spark", "name": "n", "try_key": "t", "instance_key": "i"}
    signatures = {driver_signature(KEY, **{**base, field: "other"}) for field in base}
    assert len(signatures | {driver_signature(KEY, **base)}) == len(base) + 1
    assert driver_signature(KEY, **base).startswith("v1.")
