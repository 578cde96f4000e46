"""The Kubernetes API's answers the platform acts on: HTTP statuses and the errors worth retrying.

The synchronous hook and the asynchronous follower both read them from here, so "not found" or
"try again" means the same in both.
"""

from __future__ import annotations

import asyncio
import functools

HTTP_BAD_REQUEST = 400
HTTP_UNAUTHORIZED = 401
HTTP_FORBIDDEN = 403
HTTP_NOT_FOUND = 404
HTTP_CONFLICT = 409
#: A watch's resourceVersion is older than the API server keeps: read the object afresh.
HTTP_GONE = 410
#: API answers worth retrying: overloaded or restarting servers.
TRANSIENT_HTTP_STATUSES = frozenset({429, 500, 502, 503, 504})


@functools.cache
def transient_connection_errors() -> tuple[type[BaseException], ...]:
    """Return the errors of a connection to the API server that a reconnect can cure."""
    # aiohttp's disconnects (ServerDisconnectedError, ClientPayloadError) are not OSErrors.
    from aiohttp import ClientError

    return (OSError, asyncio.TimeoutError, ClientError)
