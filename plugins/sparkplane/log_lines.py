"""Split a job's output into lines of bounded size, whatever arrives: pure, no I/O.

A driver may print a line of megabytes (a DataFrame's ``show()`` of a wide column, a JSON
dump) or output with no newline at all. Reading it line by line without a bound either fails
(aiohttp refuses a line longer than its buffer) or grows memory with the line. Here a line is
kept up to ``max_line_bytes`` and the rest is counted, not stored; the line is passed on cut,
with a marker that says how long it was.
"""

from __future__ import annotations

#: Bytes of one output line passed on to the task log; the rest of a longer line is dropped
#: and counted. Generous for any line a person reads, small enough for the task log and its UI.
MAX_LINE_BYTES = 64 * 1024


class LineSplitter:
    """Turn chunks of output into lines of at most ``max_line_bytes`` bytes each (then decoded).

    :param max_line_bytes: bytes kept of each line; a longer line is cut and marked.
    """

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.max_line_bytes = max_line_bytes
        self._kept = bytearray()
        self._length = 0

    def feed(self, chunk: bytes) -> list[str]:
        """Return the lines that ``chunk`` completes, without their newline."""
        lines = []
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            self._keep(chunk[start:end])
            lines.append(self._take())
            start = end + 1
        self._keep(chunk[start:])
        return lines

    def flush(self) -> list[str]:
        """Return what is left after the output ended without a final newline."""
        return [self._take()] if self._length else []

    def _keep(self, data: bytes) -> None:
        room = self.max_line_bytes - len(self._kept)
        if room > 0:
            self._kept += data[:room]
        self._length += len(data)

    def _take(self) -> str:
        text = bytes(self._kept).decode("utf-8", errors="replace").rstrip("\r")
        if self._length > self.max_line_bytes:
            text += f" [line cut: {self._length} bytes, the first {self.max_line_bytes} shown]"
        self._kept.clear()
        self._length = 0
        return text
