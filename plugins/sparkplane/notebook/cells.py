"""A notebook's cells as plain Python: what the image check and the converter both read.

IPython syntax is not Python: a line magic (``%matplotlib inline``) or a shell escape
(``!pip install x``) is a syntax error to ``ast``, and a cell magic (``%%bash``) makes the whole
cell another language. Cells are numbered from 1 in the order the notebook shows them, markdown
cells included, so a number in a message points at the cell a person sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: Cell magics whose body is Python.
PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture", "%%prun")
#: An IPython line magic or shell escape (``%matplotlib inline``, ``!pip install x``), indentation kept.
_IPYTHON_LINE = re.compile(r"^(?P<indent>\s*)(?=[%!])")


@dataclass(frozen=True)
class CodeCell:
    """A code cell: its number (from 1, every cell counted), its source as written, and its tags."""

    number: int
    source: str
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Notebook:
    """What the check and the converter need of a notebook."""

    code_cells: tuple[CodeCell, ...]
    python_version: str | None = None
    title: str | None = None


def python_source_of_cell(cell_source: str) -> str:
    """Return a code cell as plain Python: magic and shell lines become ``pass``; a cell magic that
    runs its body as Python (``%%time``) loses its first line, any other (``%%bash``) the whole cell."""
    stripped = cell_source.lstrip()
    if stripped.startswith("%%"):
        magic, _, body = stripped.partition("\n")
        if magic.split()[0] not in PYTHON_CELL_MAGICS:
            return ""
        cell_source = body
    return "\n".join(_IPYTHON_LINE.sub(r"\g<indent>pass  # ", line) if _IPYTHON_LINE.match(line) else line
                     for line in cell_source.splitlines())  # fmt: skip


def ipython_lines(cell_source: str) -> list[str]:
    """Return the magic and shell lines of a cell (a cell magic counts as one line), as written."""
    stripped = cell_source.lstrip()
    if stripped.startswith("%%"):
        return [stripped.partition("\n")[0].strip()]
    return [line.strip() for line in cell_source.splitlines() if _IPYTHON_LINE.match(line)]


def read_notebook(path: Path) -> Notebook:
    """Read a notebook file (any nbformat version, upgraded to 4)."""
    import nbformat

    document = nbformat.read(path, as_version=4)
    code_cells = tuple(
        CodeCell(number=number, source=cell.source, tags=frozenset(cell.get("metadata", {}).get("tags", [])))
        for number, cell in enumerate(document.cells, start=1)
        if cell.cell_type == "code"
    )
    markdown = tuple(cell.source for cell in document.cells if cell.cell_type == "markdown")
    version = document.metadata.get("language_info", {}).get("version")
    return Notebook(code_cells, python_version=str(version) if version else None,
                    title=_first_heading(markdown))  # fmt: skip


def notebook_python_source(notebook: Notebook) -> str:
    """Return every code cell of ``notebook`` as one Python source."""
    return "\n\n".join(python_source_of_cell(cell.source) for cell in notebook.code_cells)


def _first_heading(markdown: tuple[str, ...]) -> str | None:
    for text in markdown:
        for line in text.splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip() or None
    return None
