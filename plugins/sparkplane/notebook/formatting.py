"""Generated code in one style: ruff (pinned in the notebooks extra) sorts and prunes imports and formats.

Imports a removed cell alone used (``matplotlib`` for a chart) are dropped, so the job does not
import what the image need not have.
"""

from __future__ import annotations

import subprocess

#: One style for every generated file, independent of any configuration around it.
RUFF_OPTIONS = ("--isolated", "--line-length", "110", "--target-version", "py311")


class FormattingError(RuntimeError):
    """ruff could not format generated code (a bug of the converter: the code does not parse)."""


def format_python(source: str, *, filename: str) -> str:
    """Return ``source`` with unused imports removed, imports sorted, and formatted."""
    fixed = _ruff(["check", "--fix", "--select", "F401,I", "--exit-zero", "--quiet"], source, filename)
    return _ruff(["format"], fixed, filename)


def _ruff(arguments: list[str], source: str, filename: str) -> str:
    from ruff.__main__ import find_ruff_bin

    result = subprocess.run(
        [find_ruff_bin(), *arguments, *RUFF_OPTIONS, "--stdin-filename", filename, "-"],
        input=source, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise FormattingError(f"ruff {arguments[0]} failed on the generated {filename}: {result.stderr.strip()}")
    return result.stdout
