"""A real child process's output, streamed in bounded lines."""

from __future__ import annotations

import os
import sys

from sparkplane.local.process import StreamingProcess
from sparkplane.log_lines import MAX_LINE_BYTES


def test_a_line_of_megabytes_is_passed_on_cut_and_the_output_goes_on(tmp_path):
    script = "import sys; sys.stdout.write('x' * 5_000_000 + '\\nafter\\n' + 'no newline at the end')"
    lines: list[str] = []
    result = StreamingProcess([sys.executable, "-c", script], env=dict(os.environ), cwd=str(tmp_path)).run(lines.append)
    assert result.exit_code == 0
    cut, after, last = lines
    assert cut == "x" * MAX_LINE_BYTES + f" [line cut: 5000000 bytes, the first {MAX_LINE_BYTES} shown]"
    assert (after, last) == ("after", "no newline at the end")
    assert result.tail == tuple(lines)
