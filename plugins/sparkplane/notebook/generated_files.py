"""Generated files carry a header with two hashes, so converting again never loses a hand edit.

``notebook-sha256`` is the notebook the file came from; ``content-sha256`` is the file below the
header as written. A file whose content still has its hash is the converter's and is replaced;
one edited since (or written by hand, with no header) is left alone unless the caller forces it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_MARKER = re.compile(r"^# sparkplane-generated: notebook-sha256=(?P<notebook>[0-9a-f]+) content-sha256=(?P<content>[0-9a-f]+)$", re.M)


@dataclass(frozen=True)
class PlannedFile:
    """A file the converter would write, and what writing it means."""

    path: Path
    text: str
    state: str  # new, unchanged, regenerated, edited (by hand since generated) or foreign (not generated)


def with_header(content: str, *, notebook: str, notebook_sha256: str) -> str:
    """Return ``content`` under the header that marks it generated from ``notebook``."""
    return (
        f"# Generated from {notebook} by `sparkplane notebook convert`: change the notebook and convert again.\n"
        "# Converting refuses to replace this file once edited by hand (--force replaces it).\n"
        f"# sparkplane-generated: notebook-sha256={notebook_sha256[:16]} content-sha256={_sha256(content)[:16]}\n"
        + content
    )


def plan(files: Mapping[Path, str]) -> list[PlannedFile]:
    """Say, for each file to write, whether it is new, unchanged, regenerated, edited or foreign."""
    return [PlannedFile(path, text, _state(path, text)) for path, text in files.items()]


def write(planned: list[PlannedFile], *, force: bool) -> list[PlannedFile]:
    """Write the new and regenerated files (the edited and foreign ones too when ``force``).

    Nothing is written when a file would be refused: the three files stay of one conversion.

    :raises FileExistsError: naming each file edited by hand or not generated, and the way out.
    """
    refused = [item for item in planned if item.state in ("edited", "foreign")]
    if refused and not force:
        reasons = "; ".join(f"{item.path} {'was edited by hand' if item.state == 'edited' else 'was not generated'}"
                            for item in refused)  # fmt: skip
        raise FileExistsError(f"not converting: {reasons}. Move your changes into the notebook and convert again, "
                              "or pass --force to replace them.")  # fmt: skip
    for item in planned:
        if item.state != "unchanged":
            item.path.parent.mkdir(parents=True, exist_ok=True)
            item.path.write_text(item.text)
    return planned


def _state(path: Path, text: str) -> str:
    if not path.exists():
        return "new"
    existing = path.read_text()
    if existing == text:
        return "unchanged"
    marker = _MARKER.search(existing)
    if marker is None:
        return "foreign"
    content = existing[marker.end() + 1 :]
    return "regenerated" if _sha256(content).startswith(marker["content"]) else "edited"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
