"""Which Spark settings hold secrets, and how they are written where only the job reads them. Pure.

A setting is secret when Airflow's masker deems its name sensitive (``password``, ``secret``,
``token``, ...), it names credentials the way Spark and Hadoop do, or its value is one the masker
knows (from a Connection or a sensitive Variable). Such values never go on a
command line (every user of the machine can read those) and are registered with Airflow's masker.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

#: Parts of a Spark or Hadoop setting's name that mark its value as a secret, beyond Airflow's
#: sensitive names (``spark.hadoop.fs.s3a.secret.key``, ``...password``, ``...credentials...``).
SECRET_NAME_PARTS = ("secret", "password", "token", "credential", "passphrase", "private.key", "access.key")
#: Endings of settings whose names hold such a part but whose values name a class or a file:
#: S3A's credentials provider chain, Hadoop's credential provider path (a keystore's location).
NOT_SECRET_NAME_ENDINGS = (".credentials.provider", ".credential.provider.path")
#: Characters that Java's Properties format reads specially in a key (and, first, in a value).
_PROPERTIES_KEY_SPECIAL = re.compile(r"([\\:=#! ])")


def is_secret_setting(key: str) -> bool:
    """Return whether the value of Spark setting ``key`` must be kept secret."""
    from airflow.sdk._shared.secrets_masker import should_hide_value_for_key

    lowered = key.lower()
    if lowered.endswith(NOT_SECRET_NAME_ENDINGS):
        return False
    return any(part in lowered for part in SECRET_NAME_PARTS) or should_hide_value_for_key(key)


def is_masked_value(value: str) -> bool:
    """Return whether ``value`` holds a secret registered with Airflow's masker in this process
    (a Connection's password or extra, a sensitive Variable, anything passed to ``mask_secret``)."""
    from airflow.sdk._shared.secrets_masker import redact

    return redact(value) != value


def split_secret_settings(conf: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Return ``(public, secret)``: the settings safe to show, and those secret by name or by value."""
    public = {key: value for key, value in conf.items() if not is_secret_setting(key) and not is_masked_value(value)}
    return public, {key: value for key, value in conf.items() if key not in public}


def properties_text(settings: Mapping[str, str]) -> str:
    """Return ``settings`` in Java's Properties format, as ``spark-submit --properties-file`` reads it."""
    return "".join(f"{_escape_key(key)}={_escape_value(value)}\n" for key, value in sorted(settings.items()))


def _escape_key(key: str) -> str:
    return _escape_controls(_PROPERTIES_KEY_SPECIAL.sub(r"\\\1", key))


def _escape_value(value: str) -> str:
    escaped = _escape_controls(value.replace("\\", "\\\\"))
    # A leading blank would be skipped by the reader.
    return "\\" + escaped if escaped[:1] in (" ", "\t", "\f") else escaped


def _escape_controls(text: str) -> str:
    return text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t").replace("\f", "\\f")
