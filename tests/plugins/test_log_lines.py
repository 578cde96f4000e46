"""Output split into bounded lines: whole lines as they were, long ones cut with a marker."""

from __future__ import annotations

from sparkplane.log_lines import LineSplitter


def test_lines_split_across_chunks_come_out_whole():
    splitter = LineSplitter()
    assert splitter.feed(b"first li") == []
    assert splitter.feed(b"ne\nsecond\r\nthi") == ["first line", "second"]
    assert splitter.feed(b"rd\n") == ["third"]
    assert splitter.flush() == []


def test_a_line_longer_than_the_limit_is_cut_and_says_how_long_it_was():
    splitter = LineSplitter(max_line_bytes=10)
    lines = splitter.feed(b"x" * 25) + splitter.feed(b"y" * 5 + b"\nafter\n")
    assert lines == ["x" * 10 + " [line cut: 30 bytes, the first 10 shown]", "after"]


def test_output_without_a_final_newline_is_passed_on_at_the_end():
    splitter = LineSplitter(max_line_bytes=4)
    assert splitter.feed(b"no newline at all") == []
    assert splitter.flush() == ["no n [line cut: 17 bytes, the first 4 shown]"]


def test_a_character_cut_in_half_does_not_break_decoding():
    splitter = LineSplitter(max_line_bytes=1)
    (line,) = splitter.feed("é\n".encode())
    assert line.startswith("\ufffd [line cut: 2 bytes")
