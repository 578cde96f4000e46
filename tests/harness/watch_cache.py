"""Make the API server forget a resourceVersion, so a watch from it is refused with 410 Gone.

The API server serves watches from a cache of each resource's recent changes (pods of every
namespace share one); a watch from a version older than the oldest change it holds is refused
with 410 Gone, as a client that resumes a watch after a long gap meets in production. The cache
drops its oldest change only once it is full and that change is older than
``WATCH_CACHE_FRESH_SECONDS`` (until then a full cache grows), so forcing a 410 takes that long
plus a few bursts of changes to a scratch pod.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from kubernetes import client, watch

from harness.simulated import SIMULATED_IMAGE

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Api

#: The apiserver watch cache's eventFreshDuration: a change younger than this is never dropped.
WATCH_CACHE_FRESH_SECONDS = 75
SCRATCH_POD = "watch-cache-scratch"


def watch_from(core: CoreV1Api, namespace: str, resource_version: str) -> int | None:
    """Start a watch of ``namespace``'s pods from ``resource_version``; return the error status, or None."""
    try:
        for _ in watch.Watch().stream(core.list_namespaced_pod, namespace, resource_version=resource_version,
                                      timeout_seconds=1):  # fmt: skip
            pass
    except client.ApiException as error:
        return error.status
    return None


def push_out_of_the_watch_cache(core: CoreV1Api, resource_version: Callable[[], str], namespace: str,
                                *, changed_at: float, timeout_seconds: float = 300) -> int:  # fmt: skip
    """Change a scratch pod in ``namespace`` until a watch from ``resource_version()`` is refused (410).

    ``changed_at`` is when the version was current (``time.monotonic()``); the scratch pod is left
    for the caller's namespace to take away. Return how many changes it took.
    """
    core.create_namespaced_pod(namespace, {"metadata": {"name": SCRATCH_POD}, "spec": {
        "schedulerName": "sparkplane-test-no-such-scheduler",  # stays Pending, nowhere
        "containers": [{"name": "c", "image": SIMULATED_IMAGE}]}})  # fmt: skip
    deadline = time.monotonic() + timeout_seconds
    changes = 0
    while watch_from(core, namespace, resource_version()) != 410:
        if time.monotonic() > deadline:
            raise AssertionError(f"the watch cache still holds resourceVersion {resource_version()} after "
                                 f"{timeout_seconds:.0f}s and {changes} changes")  # fmt: skip
        if time.monotonic() - changed_at < WATCH_CACHE_FRESH_SECONDS:
            time.sleep(2)
            continue
        for _ in range(50):
            core.patch_namespaced_pod(SCRATCH_POD, namespace, {"metadata": {"annotations": {"change": str(changes)}}})
            changes += 1
        time.sleep(0.5)
    return changes
