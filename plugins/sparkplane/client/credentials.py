"""Where the client finds Airflow and who it is there: the environment or a netrc file, never code.

- ``SPARKPLANE_AIRFLOW_URL``: the API server's address, e.g. ``http://localhost:8080`` (a trailing
  ``/api/v2`` is accepted and dropped).
- ``SPARKPLANE_AIRFLOW_USERNAME`` and ``SPARKPLANE_AIRFLOW_PASSWORD``, or else an entry for the
  URL's host in the netrc file (``SPARKPLANE_AIRFLOW_NETRC``, default ``~/.netrc``)::

      machine localhost login analyst password ...

With neither, the client asks for a token without credentials, which only an Airflow whose
simple auth manager makes everyone an admin (development) hands out.
"""

from __future__ import annotations

import netrc
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

URL_VARIABLE = "SPARKPLANE_AIRFLOW_URL"
USERNAME_VARIABLE = "SPARKPLANE_AIRFLOW_USERNAME"
PASSWORD_VARIABLE = "SPARKPLANE_AIRFLOW_PASSWORD"  # noqa: S105 (the variable's name, not a password)
NETRC_VARIABLE = "SPARKPLANE_AIRFLOW_NETRC"


class CredentialsError(ValueError):
    """The client cannot tell where Airflow is or who to be; the message says what to set."""


@dataclass(frozen=True)
class AirflowCredentials:
    """The API server's base URL and, when known, a username and password (never shown in a repr)."""

    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls, url: str | None = None, environ: dict[str, str] | None = None) -> AirflowCredentials:
        """Read the URL (unless given), then the username and password from the environment or netrc."""
        environ = dict(os.environ if environ is None else environ)
        url = (url or environ.get(URL_VARIABLE, "")).strip()
        if not url:
            raise CredentialsError(f"no Airflow address: set {URL_VARIABLE} (for example http://localhost:8080) "
                                   "or pass url= to trigger().")  # fmt: skip
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CredentialsError(f"{URL_VARIABLE}={url!r} is not an http(s) address such as http://localhost:8080.")
        base = url.rstrip("/").removesuffix("/api/v2")
        username, password = environ.get(USERNAME_VARIABLE), environ.get(PASSWORD_VARIABLE)
        if username and password:
            return cls(base, username, password)
        if username or password:
            missing = PASSWORD_VARIABLE if username else USERNAME_VARIABLE
            raise CredentialsError(f"{missing} is not set: set both {USERNAME_VARIABLE} and {PASSWORD_VARIABLE}, "
                                   "or neither and use a netrc entry.")  # fmt: skip
        netrc_path = Path(environ.get(NETRC_VARIABLE) or Path.home() / ".netrc")
        if netrc_path.is_file():
            try:
                entry = netrc.netrc(netrc_path).authenticators(parts.hostname)
            except netrc.NetrcParseError as error:
                raise CredentialsError(f"{netrc_path} cannot be read: {error.msg} (line {error.lineno}).") from error
            if entry is not None and entry[0] and entry[2]:
                return cls(base, entry[0], entry[2])
        return cls(base)
