"""Bounded waits: poll an observation until it is what a test needs, or fail saying what was seen.

Every wait of the cluster tests and the benchmarks goes through ``wait_for``, so a time-out always
names what was awaited and the last observation. Standard library only: benchmarks use it
outside pytest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """What was awaited did not happen in time (an AssertionError, so a test fails, not errors)."""


def wait_for(
    observe: Callable[[], T],
    done: Callable[[T], bool],
    *,
    timeout_seconds: float,
    what: str,
    interval_seconds: float = 0.5,
    on_timeout: Callable[[], str] | None = None,
) -> T:
    """Return the first observation for which ``done`` holds; raise ``WaitTimeout`` with the last one.

    :param on_timeout: returns more to show on time-out (for example the tails of component logs).
    """
    deadline = time.monotonic() + timeout_seconds
    while True:
        seen = observe()
        if done(seen):
            return seen
        if time.monotonic() > deadline:
            detail = f"\n{on_timeout()}" if on_timeout else ""
            raise WaitTimeout(f"timed out after {timeout_seconds:.0f}s waiting for {what}; last seen: {seen!r}{detail}")
        time.sleep(interval_seconds)
