"""How a driver follower paces itself and when it gives up: its timings, and the trouble it counts.

Kept apart from the follower so the log stream (driver_log.py) and the trigger read the same
knobs without importing the follower, and so the knobs read as one table: every one is a
constructor field, production's value its default, and tests shorten them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from sparkplane.kubernetes.api_errors import (
    CONNECT_TIMEOUT_SECONDS,
    READ_TIMEOUT_SECONDS,
    TCP_KEEPALIVE_IDLE_SECONDS,
    TCP_KEEPALIVE_INTERVAL_SECONDS,
    TCP_KEEPALIVE_PROBES,
    WATCH_READ_MARGIN_SECONDS,
    tcp_keepalive_socket_options,
)


@dataclass(frozen=True)
class FollowerTiming:
    """How a follower paces itself, in seconds (the keepalive probes: a count). The defaults are
    production's; tests shorten them.

    :param progress_interval_seconds: cadence of progress lines and stage-timeout checks while the
        pod waits (the checks run on the local clock, also while the API is silent); also the
        ``timeout_seconds`` after which the server ends one watch request.
    :param log_quiet_seconds: a driver silent this long gets its log stream reopened (quietly,
        and losing nothing): a connection that died without a word (half-open) is not waited on
        for ever. It is the log stream's read timeout.
    :param log_drain_seconds: how long to wait for the log stream to end after the pod ended.
    :param log_refused_seconds: how long the API may refuse the driver's log with the same answer
        (403: the identity may not get pods/log; 400: the log cannot be served; 401 even with the
        credentials loaded again) before the log is given up. A minute covers an API server that
        has just restarted; past it the refusal is a setting to fix, and asking on every 2 s for
        the rest of the run only fills the task log. The pod is still watched and its outcome
        reported; the task log says the driver's later lines are missing from it.
    :param checkpoint_interval_seconds: at most one checkpoint PATCH per interval while lines
        flow; it bounds what a hard-killed triggerer repeats after its restart.
    :param api_unreachable_seconds: how long the API may stay unreachable (an API server
        restart, a network blip) before the follower gives up and the task fails with an error.
    :param access_denied_seconds: how long the API may deny access to the pod (401/403: an API
        server just restarted, or a revoked role) before the follower gives up.
    :param unconfirmed_deletion_seconds: how long past its grace period a deleted driver may stay
        unconfirmed by its node before it is taken for lost (its node NotReady or unreachable).
    :param reconnect_delay_seconds: pause between reconnect attempts after the API server
        dropped a watch or a log stream.
    :param connect_timeout_seconds: how long opening a connection (TCP and TLS) may take.
    :param read_timeout_seconds: how long the API may stay silent while answering a call (reading
        the pod, listing its events, the checkpoint PATCH).
    :param watch_read_margin_seconds: how much longer than its ``timeout_seconds`` a watch may stay
        silent before it is taken for dead and resumed.
    :param keepalive_idle_seconds: TCP keepalive: idle time before the first probe.
    :param keepalive_interval_seconds: TCP keepalive: time between probes.
    :param keepalive_probes: TCP keepalive: unanswered probes before the connection is dropped.
    """

    progress_interval_seconds: float = 30.0
    log_quiet_seconds: float = 300.0
    log_drain_seconds: float = 30.0
    log_refused_seconds: float = 60.0
    checkpoint_interval_seconds: float = 2.0
    api_unreachable_seconds: float = 300.0
    access_denied_seconds: float = 60.0
    unconfirmed_deletion_seconds: float = 60.0
    reconnect_delay_seconds: float = 2.0
    connect_timeout_seconds: float = CONNECT_TIMEOUT_SECONDS
    read_timeout_seconds: float = READ_TIMEOUT_SECONDS
    watch_read_margin_seconds: float = WATCH_READ_MARGIN_SECONDS
    keepalive_idle_seconds: float = TCP_KEEPALIVE_IDLE_SECONDS
    keepalive_interval_seconds: float = TCP_KEEPALIVE_INTERVAL_SECONDS
    keepalive_probes: int = TCP_KEEPALIVE_PROBES

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @property
    def watch_timeout_seconds(self) -> int:
        """The ``timeout_seconds`` a watch request asks the server to end it after."""
        return max(1, int(self.progress_interval_seconds))

    def request_timeout(self) -> tuple[float, float]:
        """Return the (connect, read) timeouts of an ordinary call, as both Kubernetes clients take them."""
        return (self.connect_timeout_seconds, self.read_timeout_seconds)

    @property
    def watch_read_timeout_seconds(self) -> float:
        """The longest a watch may stay silent: the longest a healthy API leaves the follower without news."""
        return self.watch_timeout_seconds + self.watch_read_margin_seconds

    def watch_request_timeout(self) -> tuple[float, float]:
        """Return the (connect, read) timeouts of one watch request."""
        return (self.connect_timeout_seconds, self.watch_read_timeout_seconds)

    def keepalive_socket_options(self) -> list[tuple[int, int, int]]:
        """Return the socket options that turn TCP keepalive on at this pace."""
        return tcp_keepalive_socket_options(
            idle_seconds=self.keepalive_idle_seconds, interval_seconds=self.keepalive_interval_seconds,
            probes=self.keepalive_probes,
        )  # fmt: skip


class ApiUnreachable(RuntimeError):
    """The Kubernetes API stayed unreachable longer than the follower waits."""


class AccessDenied(RuntimeError):
    """The Kubernetes API denied access to the driver pod longer than the follower waits."""


class Trouble:
    """How long one kind of trouble with the API has lasted, counted from its first occurrence."""

    def __init__(self) -> None:
        self._since: float | None = None

    def lasted_seconds(self) -> float:
        """Note one more occurrence; return the seconds since the first."""
        now = time.monotonic()
        if self._since is None:
            self._since = now
        return now - self._since

    def end(self) -> None:
        self._since = None
