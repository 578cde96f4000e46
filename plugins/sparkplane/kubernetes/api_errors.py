"""The Kubernetes API's answers the platform acts on, and how long it waits for them.

HTTP statuses, the errors worth retrying, and when a silent connection counts as one of them:
the synchronous hook and the asynchronous follower both read them from here, so "not found",
"try again" or "gave up waiting" means the same in both.

Timeouts. The Kubernetes clients send a request with no timeout unless ``_request_timeout`` is
given (the provider's client wrappers then put 60 s on the whole request, which would also cut a
long log stream), so a connection whose server went silent without closing it (half-open: a
crashed node, a dropped NAT entry, a stuck proxy) could block its caller for ever. Every call the
platform makes passes ``(connect, read)``: the connect timeout bounds the TCP and TLS handshakes,
the read timeout the silence between two reads of the answer, and there is no total. A watch asks
the server to end it after ``timeout_seconds``; its read timeout is that plus
``WATCH_READ_MARGIN_SECONDS``, so only a watch that outlives its own end is taken for dead.

TCP keepalive. aiohttp opens its sockets without ``SO_KEEPALIVE``; the trigger's client gets it
through ``use_tcp_keepalive``: a socket factory on the client's aiohttp connector that sets
``SO_KEEPALIVE``, ``TCP_KEEPIDLE``, ``TCP_KEEPINTVL`` and ``TCP_KEEPCNT`` on every new socket
(aiohttp's own ``keepalive_timeout`` is how long an idle HTTP connection is kept for reuse, not
TCP keepalive). Keepalive finds a peer that is gone (host down, path cut, NAT entry dropped) on
an idle connection, such as a quiet log stream; it cannot find a server that is alive but does
not answer, whose kernel still acknowledges the probes: the read timeouts are for that. The
synchronous hook's client has TCP keepalive from the cncf.kubernetes provider (urllib3 socket
options from ``[kubernetes_executor] tcp_keep_idle/tcp_keep_intvl/tcp_keep_cnt``, on unless the
connection sets ``disable_tcp_keepalive``); its calls are short and bounded by their timeouts.

Expired credentials. A client reads its credentials once, when it is built, and the trigger keeps
one for the whole job: a short-lived token (an exec plugin's on EKS or GKE, a bound ServiceAccount
token, a rewritten ``tokenFile``) that expires while the job runs makes the API answer
``401 Unauthorized`` from then on. ``RenewableCoreV1`` is the client the follower and its log
share; after a 401 it builds one new client from the connection, with the credentials loaded
again, before a 401 counts as access denied.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient, CoreV1Api

HTTP_BAD_REQUEST = 400
HTTP_UNAUTHORIZED = 401
HTTP_FORBIDDEN = 403
HTTP_NOT_FOUND = 404
HTTP_CONFLICT = 409
#: A watch's resourceVersion is older than the API server keeps: read the object afresh.
HTTP_GONE = 410
#: API answers worth retrying: overloaded or restarting servers.
TRANSIENT_HTTP_STATUSES = frozenset({429, 500, 502, 503, 504})

#: How long opening a connection to the API server may take, TCP and TLS handshakes together
#: (client-go allows 30 s to dial).
CONNECT_TIMEOUT_SECONDS = 30.0
#: How long the API server may stay silent while answering an ordinary call. It ends a request it
#: cannot finish within its ``--request-timeout`` (60 s by default) with a 504, so an answer still
#: missing five seconds later is not coming.
READ_TIMEOUT_SECONDS = 65.0
#: How much longer than the ``timeout_seconds`` it asked the server for a watch may stay silent.
WATCH_READ_MARGIN_SECONDS = 5.0
#: TCP keepalive: an idle connection is probed after this many seconds without traffic...
TCP_KEEPALIVE_IDLE_SECONDS = 30
#: ...then every this many seconds...
TCP_KEEPALIVE_INTERVAL_SECONDS = 10
#: ...and dropped after this many unanswered probes: a vanished peer is noticed after about a minute.
TCP_KEEPALIVE_PROBES = 3


@functools.cache
def transient_connection_errors() -> tuple[type[BaseException], ...]:
    """Return the errors of a connection to the API server that a reconnect can cure."""
    # aiohttp's disconnects (ServerDisconnectedError, ClientPayloadError) are not OSErrors; its
    # timeouts (SocketTimeoutError, ConnectionTimeoutError) are both ClientErrors and TimeoutErrors.
    from aiohttp import ClientError

    return (OSError, asyncio.TimeoutError, ClientError)


def tcp_keepalive_socket_options(
    *, idle_seconds: float, interval_seconds: float, probes: int
) -> list[tuple[int, int, int]]:
    """Return the ``(level, option, value)`` triples that turn TCP keepalive on with these timings.

    The timings are Linux's (and most platforms') option names; where one is missing the
    system's default applies. The kernel counts in whole seconds, at least one.
    """
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (("TCP_KEEPIDLE", idle_seconds), ("TCP_KEEPINTVL", interval_seconds), ("TCP_KEEPCNT", probes)):
        if hasattr(socket, name):
            options.append((socket.IPPROTO_TCP, getattr(socket, name), max(1, round(value))))
    return options


def use_tcp_keepalive(api_client: ApiClient, options: list[tuple[int, int, int]]) -> None:
    """Open the asynchronous client's new connections with the socket ``options`` (keepalive).

    kubernetes_asyncio builds its aiohttp connector itself and passes no socket factory; the one
    set here applies to every connection the client opens from now on.
    """
    connector = api_client.rest_client.pool_manager.connector
    if not hasattr(connector, "_socket_factory"):
        # Checked, because assigning to a renamed attribute would silently leave keepalive off.
        raise TypeError(
            f"{type(connector).__name__} has no socket factory to set (aiohttp changed); "
            "TCP keepalive cannot be turned on for the Kubernetes API client"
        )

    def keepalive_socket(addr_info) -> socket.socket:
        family, type_, proto, _, _ = addr_info
        sock = socket.socket(family=family, type=type_, proto=proto)
        for level, option, value in options:
            sock.setsockopt(level, option, value)
        return sock

    connector._socket_factory = keepalive_socket


def describe_error(error: BaseException) -> str:
    """Return the error's type and message, for a log."""
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def api_message(error: BaseException) -> str:
    """Return what the API server said: the message of its Status answer, else the error's first line."""
    for text in (getattr(error, "body", None), getattr(error, "reason", None)):
        message = status_message(text) if isinstance(text, (str, bytes)) else None
        if message:
            return message
    return describe_error(error).splitlines()[0]


def status_message(text: str | bytes) -> str:
    """Return the ``message`` of a Kubernetes Status answer (JSON), else the text itself, cut to 500 characters."""
    try:
        status = json.loads(text)
    except ValueError:
        status = None
    if isinstance(status, dict) and isinstance(status.get("message"), str):
        return status["message"]
    return (text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text).strip()[:500]


class RenewableCoreV1:
    """The async CoreV1Api a follower and its log share, built once more after a 401.

    On a ``401 Unauthorized`` the caller hands over the client that got it. ``renew`` builds a new
    one (``build``: from the connection, its credentials loaded again) and the caller asks again
    with ``core_v1``. A 401 from a client already replaced (the watch and the log stream meet one
    expiry together) just means asking again: one expiry builds one client. A 401 from a renewed
    client that has had no answer yet means fresh credentials are refused too: ``renew`` returns
    False and the caller treats it as access denied (403). The clients replaced are closed by
    whoever built them, when the follow ends: a log stream already open on one goes on meanwhile.

    :param core_v1: the client to start with.
    :param build: builds a new CoreV1Api with its credentials loaded again; None: a 401 is access
        denied at once.
    :param log: where a renewal is reported (the task log, from a trigger).
    """

    def __init__(
        self,
        core_v1: CoreV1Api,
        *,
        build: Callable[[], Awaitable[CoreV1Api]] | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.core_v1 = core_v1
        self.renewals = 0
        self._build = build
        self._log = log or logging.getLogger(__name__)
        self._unproven = False  # the current client is a renewed one that has had no answer yet
        self._lock = asyncio.Lock()

    async def renew(self, failed: CoreV1Api) -> bool:
        """Make sure the client in use has fresh credentials after ``failed`` got a 401; return whether to ask again."""
        async with self._lock:
            if failed is not self.core_v1:
                return True
            if self._build is None or self._unproven:
                return False
            self._log.info("Kubernetes answered 401 Unauthorized: the credentials may have expired; loading them "
                           "again from the connection")  # fmt: skip
            try:
                self.core_v1 = await self._build()
            except Exception as build_error:  # an exec plugin or the connection failing: a denial, retried as such
                self._log.warning("Could not load the credentials again (%s)", describe_error(build_error))
                return False
            self.renewals += 1
            self._unproven = True
            return True

    def answered(self, by: CoreV1Api) -> None:
        """Note that the API answered a request of ``by``: a later 401 to it may renew again."""
        if by is self.core_v1:
            self._unproven = False
