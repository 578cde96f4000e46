"""What a person sees while a run goes: one block of text, redrawn in place in a notebook cell.

Pure functions make the text; ``ProgressView`` puts it in a Jupyter output that it updates (an
IPython display with an id), or, outside a kernel, prints only what is new.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: A line the platform ends a failed task with, for the error the client raises.
_CAUSE_OR_FIX = re.compile(r"\b(Cause|Fix): (.*)")


def log_lines(entries: Iterable[Any]) -> list[str]:
    """Turn the log endpoint's structured entries into text lines (``time level message``)."""
    lines = []
    for entry in entries:
        if isinstance(entry, str):
            lines.extend(entry.splitlines())
            continue
        if not isinstance(entry, Mapping) or entry.get("sources") is not None:
            continue  # the "log message source details" group: where the log was read from
        event = str(entry.get("event", ""))
        if event.startswith("::group::") or event.startswith("::endgroup::"):
            continue
        level = str(entry.get("level", "")).upper()
        stamp = str(entry.get("timestamp", ""))[11:19]
        lines.append(" ".join(part for part in (stamp, level, event) if part))
    return lines


def cause_and_fix(lines: Sequence[str]) -> list[str]:
    """The last ``Cause:`` and ``Fix:`` lines of a failed task's log, as the platform wrote them."""
    found: dict[str, str] = {}
    for line in lines:
        if match := _CAUSE_OR_FIX.search(line):
            found[match[1]] = f"{match[1]}: {match[2].strip()}"
    return [found[key] for key in ("Cause", "Fix") if key in found]


def render(*, dag_id: str, run_id: str, url: str, state: str, tasks: Sequence[Mapping[str, Any]],
           tail_task: str | None, tail: Sequence[str]) -> str:  # fmt: skip
    """The whole block: the run, each task's state and try, the last lines of the running task's log."""
    lines = [f"{dag_id}  {run_id}  {state}", url]
    for task in tasks:
        lines.append(f"  {task.get('task_id')}: {task.get('state') or 'waiting'} (try {task.get('try_number') or 0})")
    if tail_task:
        lines.append(f"--- last lines of {tail_task}'s log")
        lines.extend(tail)
    return "\n".join(lines)


class ProgressView:
    """Shows the block: replaced in place in a notebook, new lines printed elsewhere."""

    def __init__(self) -> None:
        self._handle = None
        self._printed: list[str] = []
        try:
            from IPython import get_ipython

            in_kernel = get_ipython() is not None and hasattr(get_ipython(), "kernel")
        except ImportError:
            in_kernel = False
        if in_kernel:
            from IPython.display import display

            self._handle = display({"text/plain": ""}, raw=True, display_id=True)

    def show(self, text: str) -> None:
        if self._handle is not None:
            self._handle.update({"text/plain": text}, raw=True)
            return
        lines = text.splitlines()
        for line in lines:
            if line not in self._printed:
                print(line, file=sys.stdout, flush=True)
        self._printed = lines
