from __future__ import annotations

from datetime import datetime, timezone

from sparkplane.log_position import LogDeduplicator, LogPosition, parse_log_line, parse_timestamp_nanos

SECOND = 1_000_000_000


def _lines(*stamped: str):
    return [parse_log_line(raw) for raw in stamped]


STREAM = _lines(
    "2026-11-25T10:00:00.5Z line 1",
    "2026-11-25T10:00:01.000000001Z line 2",
    "2026-11-25T10:00:01.000000001Z line 3",
    "2026-11-25T10:00:01.25Z line 4",
    "2026-11-25T10:00:02Z line 5",
)


def test_timestamps_with_trimmed_fractions_compare_correctly():
    assert parse_timestamp_nanos("2026-11-25T10:00:01.25Z") > parse_timestamp_nanos("2026-11-25T10:00:01.000000001Z")
    assert parse_timestamp_nanos("2026-11-25T10:00:02Z") % SECOND == 0


def test_line_text_keeps_its_spaces():
    assert parse_log_line("2026-11-25T10:00:00Z  indented text").text == " indented text"


def test_reconnect_in_the_middle_of_equal_timestamps_loses_and_repeats_nothing():
    first = LogDeduplicator(LogPosition())
    passed = [line.text for line in STREAM[:2] if first.admit(line)]  # stream drops after line 2
    second = LogDeduplicator(first.position)
    # The reopened stream replays from the start of the position's second.
    passed += [line.text for line in STREAM[1:] if second.admit(line)]
    assert passed == ["line 1", "line 2", "line 3", "line 4", "line 5"]


def test_every_split_point_gives_each_line_once():
    for split in range(len(STREAM) + 1):
        first = LogDeduplicator(LogPosition())
        passed = [line.text for line in STREAM[:split] if first.admit(line)]
        second = LogDeduplicator(LogPosition.from_dict(first.position.to_dict()))
        passed += [line.text for line in STREAM if second.admit(line)]
        assert passed == [f"line {n}" for n in range(1, 6)], split


def test_since_seconds_reaches_back_to_the_positions_second():
    follower = LogDeduplicator(LogPosition(timestamp_nanos=parse_timestamp_nanos("2026-11-25T10:00:01.5Z")))
    now = datetime(2026, 11, 25, 10, 0, 31, tzinfo=timezone.utc)
    assert follower.since_seconds(now) == 31
    assert LogDeduplicator(LogPosition()).since_seconds(now) is None
