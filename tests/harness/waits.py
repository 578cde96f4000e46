"""Bounded waits for cluster tests: poll, and on time-out say what was last seen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def wait_for(
    observe: Callable[[], T],
    done: Callable[[T], bool],
    *,
    timeout_seconds: float,
    what: str,
    interval_seconds: float = 0.5,
) -> T:
    """Return the first observation for which ``done`` holds; fail with the last one after the timeout."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        seen = observe()
        if done(seen):
            return seen
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_seconds:.0f}s waiting for {what}; last seen: {seen!r}")
        time.sleep(interval_seconds)


def pod_phase(core, namespace: str, name: str) -> str:
    return core.read_namespaced_pod(name, namespace).status.phase


def wait_for_pod_finished(core, namespace: str, name: str, *, timeout_seconds: float = 120) -> str:
    """Wait until the pod Succeeded or Failed; fail with its container states otherwise."""

    def observe() -> tuple[str, list]:
        pod = core.read_namespaced_pod(name, namespace)
        states = [(c.name, c.state.to_dict()) for c in pod.status.container_statuses or []]
        return pod.status.phase, states

    phase, _ = wait_for(
        observe,
        lambda seen: seen[0] in ("Succeeded", "Failed"),
        timeout_seconds=timeout_seconds,
        what=f"pod {namespace}/{name} to finish",
    )
    return phase


def pod_events(core, namespace: str, name: str) -> list:
    """Return the pod's events, oldest first."""
    events = core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items
    return sorted(events, key=lambda e: (e.first_timestamp or e.event_time or 0, e.metadata.creation_timestamp))
