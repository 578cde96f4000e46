"""The one line a job prints for the platform: a compact, bounded data-quality result as JSON.

The operator finds it in the driver log by its prefix (``sparkplane/quality/result_line.py``
holds the same prefix, and a test keeps the two equal) and puts the JSON in XCom. Everything
in it is bounded here, so a result over millions of failing rows is still one short line: at
most ``MAX_DATASETS`` data sets, ``MAX_FAILURES`` failures each (blocking ones first),
``MAX_SAMPLE_VALUES`` sample values per failure, each value cut to ``MAX_VALUE_CHARS``
characters; and the whole line at most ``MAX_LINE_BYTES``, samples and then the last failures
dropped (and counted) to fit. Below the pipe's atomic write size, the line is never interleaved
with the JVM's own output where both share one pipe (local mode).
"""

from __future__ import annotations

import copy
import json
from typing import Any

RESULT_LINE_PREFIX = "sparkplane.quality: "
MAX_DATASETS = 10
MAX_FAILURES = 20
MAX_SAMPLE_VALUES = 5
MAX_VALUE_CHARS = 80
#: Below PIPE_BUF (4096 on Linux): one write(2) of the line is atomic.
MAX_LINE_BYTES = 4000


def shorten(value: Any) -> Any:
    """Return ``value`` as JSON can hold it, a long text cut to ``MAX_VALUE_CHARS`` with a marker."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def format_result_line(result: dict[str, Any]) -> str:
    """Return the line that carries ``result`` to the operator, cut to ``MAX_LINE_BYTES``."""
    line = _line(result)
    if len(line.encode("utf-8")) <= MAX_LINE_BYTES:
        return line
    fitted = copy.deepcopy(result)
    for dataset in fitted["datasets"]:
        for failure in dataset["failures"]:
            failure["sample"] = []
    while len((line := _line(fitted)).encode("utf-8")) > MAX_LINE_BYTES:
        longest = max(fitted["datasets"], key=lambda dataset: len(dataset["failures"]))
        if not longest["failures"]:
            raise ValueError(f"the result does not fit {MAX_LINE_BYTES} bytes even without failures")
        longest["failures"].pop()  # the last: warn-only ones come after the blocking ones
    return line


def _line(result: dict[str, Any]) -> str:
    return RESULT_LINE_PREFIX + json.dumps(result, separators=(",", ":"), sort_keys=True, default=str,
                                           ensure_ascii=False)  # fmt: skip
