from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sparkplane.kubernetes.identity import LOG_CHECKPOINT_ANNOTATION
from sparkplane.kubernetes.log_position import (
    SINCE_MARGIN_SECONDS,
    LogDeduplicator,
    LogLine,
    LogPosition,
    log_checkpoint_value,
    parse_log_line,
    parse_timestamp_nanos,
    read_log_checkpoint,
)

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
        checkpoint = {LOG_CHECKPOINT_ANNOTATION: log_checkpoint_value("try-key", first.position)}
        second = LogDeduplicator(read_log_checkpoint(checkpoint, "try-key"))
        passed += [line.text for line in STREAM if second.admit(line)]
        assert passed == [f"line {n}" for n in range(1, 6)], split


def test_since_seconds_reaches_back_before_the_positions_second_by_the_margin():
    follower = LogDeduplicator(LogPosition(timestamp_nanos=parse_timestamp_nanos("2026-11-25T10:00:01.5Z")))
    now = datetime(2026, 11, 25, 10, 0, 31, tzinfo=timezone.utc)
    assert follower.since_seconds(now) == 31 + SINCE_MARGIN_SECONDS
    assert LogDeduplicator(LogPosition()).since_seconds(now) is None


def test_a_reopened_stream_that_starts_early_repeats_nothing_and_loses_nothing():
    # The node's clock runs 5 s ahead: the reopened stream starts well before the position.
    lines = [LogLine(parse_timestamp_nanos(f"2026-11-25T10:00:{second:02d}Z"), f"line {second}") for second in range(60)]
    first = LogDeduplicator(LogPosition())
    passed_on = [line.text for line in lines[:30] if first.admit(line)]
    reopened = LogDeduplicator(first.position)
    now_on_node = datetime(2026, 11, 25, 10, 0, 35, tzinfo=timezone.utc)
    since = now_on_node.timestamp() - reopened.since_seconds(now_on_node - timedelta(seconds=5))
    replayed = [line for line in lines if line.timestamp_nanos >= since * 1e9]
    passed_on += [line.text for line in replayed if reopened.admit(line)]
    assert passed_on == [f"line {second}" for second in range(60)]


def test_checkpoint_is_read_back_only_by_the_try_that_wrote_it():
    position = LogPosition(timestamp_nanos=1_795_000_000 * SECOND + 5, lines_at_timestamp=2)
    annotations = {LOG_CHECKPOINT_ANNOTATION: log_checkpoint_value("try-a", position)}
    assert read_log_checkpoint(annotations, "try-a") == position
    assert read_log_checkpoint(annotations, "try-b") is None
    assert read_log_checkpoint(annotations, None) is None
    assert read_log_checkpoint({}, "try-a") is None


def test_a_damaged_checkpoint_means_start_from_the_beginning():
    for raw in ("not json", '{"follower": "try-a"}', '["try-a"]', '{"follower": "try-a", "timestamp_nanos": "x"}'):
        assert read_log_checkpoint({LOG_CHECKPOINT_ANNOTATION: raw}, "try-a") is None
