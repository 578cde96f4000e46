"""Follow a container's log across reconnects without losing or repeating a line. Pure.

After a dropped stream the log is asked for again from a little before the last line seen, and
what was already passed on is skipped; the position can be checkpointed in a pod annotation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from sparkplane.kubernetes.identity import LOG_CHECKPOINT_ANNOTATION

_NANOS_PER_SECOND = 1_000_000_000

# ``sinceSeconds`` counts back from the node's clock when the kubelet gets the request, not from
# ours when we send it: a node clock ahead of the triggerer's, or a request that takes a while to
# arrive (a loaded triggerer or API server), would start the new stream after the last line seen
# and silently drop what came between. So we reach ``SINCE_MARGIN_SECONDS`` further back; the
# lines that repeats are skipped by ``LogDeduplicator``.
#: How much further back than the last line seen a reopened stream starts (see above).
SINCE_MARGIN_SECONDS = 60


@dataclass(frozen=True)
class LogLine:
    timestamp_nanos: int
    text: str


@dataclass(frozen=True)
class LogPosition:
    """How far a log has been passed on: the last timestamp, and lines seen with exactly it."""

    timestamp_nanos: int = 0
    lines_at_timestamp: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"timestamp_nanos": self.timestamp_nanos, "lines_at_timestamp": self.lines_at_timestamp}


class LogDeduplicator:
    """Admit each line of a (re)opened stream once, given where the previous stream stopped.

    The API server streams a log with each line prefixed by the kubelet's RFC 3339 timestamp
    (nanoseconds, trailing zeros trimmed). After a dropped stream we ask again from a whole
    second (``sinceSeconds`` has second resolution) and skip what was already passed on: every
    line older than the last one seen, and as many lines with exactly that timestamp as were
    already seen.

    :param position: where the previous stream stopped.
    """

    def __init__(self, position: LogPosition) -> None:
        self.position = position
        self._replayed_at_timestamp = 0

    def admit(self, line: LogLine) -> bool:
        """Return True if ``line`` was not passed on before; advance the position."""
        current = self.position
        if line.timestamp_nanos < current.timestamp_nanos:
            return False
        if line.timestamp_nanos == current.timestamp_nanos:
            self._replayed_at_timestamp += 1
            if self._replayed_at_timestamp <= current.lines_at_timestamp:
                return False
            self.position = LogPosition(current.timestamp_nanos, current.lines_at_timestamp + 1)
            return True
        self._replayed_at_timestamp = 1
        self.position = LogPosition(line.timestamp_nanos, 1)
        return True

    def since_seconds(self, now: datetime) -> int | None:
        """Return the ``sinceSeconds`` that reopens the stream before the position, or None for all."""
        if self.position.timestamp_nanos == 0:
            return None
        position_seconds = self.position.timestamp_nanos // _NANOS_PER_SECOND
        return max(1, int(now.timestamp()) - position_seconds + 1) + SINCE_MARGIN_SECONDS

    def restart(self) -> None:
        """Start counting replayed lines afresh for a reopened stream."""
        self._replayed_at_timestamp = 0


def parse_log_line(raw: str) -> LogLine:
    """Split ``"<RFC 3339 timestamp> <text>"`` as the API server sends it with ``timestamps=true``."""
    stamp, _, text = raw.partition(" ")
    return LogLine(parse_timestamp_nanos(stamp), text)


def parse_timestamp_nanos(stamp: str) -> int:
    """Return nanoseconds since the epoch for an RFC 3339 timestamp with up to 9 fraction digits."""
    body = stamp.rstrip("Z")
    whole, _, fraction = body.partition(".")
    seconds = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return int(seconds) * _NANOS_PER_SECOND + int((fraction or "0").ljust(9, "0")[:9])


def log_checkpoint_value(follower_key: str, position: LogPosition) -> str:
    """Return the checkpoint annotation's value: which try followed the log, and how far."""
    return json.dumps({"follower": follower_key, **position.to_dict()}, separators=(",", ":"))


def read_log_checkpoint(annotations: Mapping[str, str], follower_key: str | None) -> LogPosition | None:
    """Return the log position that ``follower_key``'s try checkpointed in ``annotations``, if any."""
    raw = annotations.get(LOG_CHECKPOINT_ANNOTATION)
    if follower_key is None or not raw:
        return None
    try:
        data = json.loads(raw)
        if data.get("follower") != follower_key:
            return None
        return LogPosition(int(data["timestamp_nanos"]), int(data["lines_at_timestamp"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # hand-edited or foreign: start from the beginning rather than fail the job
