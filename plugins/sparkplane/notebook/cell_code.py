"""What of a code cell belongs in a scheduled job, and what only makes sense in a notebook.

A job keeps the cell's Python in order. It loses what needs IPython (magics and shell lines, whose
``get_ipython()`` calls would raise ``NameError`` in a script), what only shows something in the
notebook (``display(...)``, a bare name or attribute on a line of its own) and cells that only
draw a chart. Module imports at the top level of a cell move to the job's module header.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass

from sparkplane.notebook.cells import CodeCell, ipython_lines, python_source_of_cell

#: Names and attributes of charting code: a cell that uses one and defines nothing later cells use only draws.
_PLOTTING_MODULES = ("matplotlib", "seaborn", "plotly", "altair", "bokeh")
_PLOTTING_NAMES = {"plt", "sns", "px"}
_PLOTTING_ATTRIBUTES = {"plot", "hist", "boxplot", "scatter", "savefig", "imshow"}
#: Top-level calls of a notebook's display system, removed from a job.
_DISPLAY_FUNCTIONS = {"display", "display_html", "display_markdown"}


@dataclass(frozen=True)
class JobCell:
    """A cell's contribution to the job.

    :param number: the notebook cell's number.
    :param imports: top-level import statements, as source.
    :param body: the rest, as source; empty when nothing is left.
    :param notes: what was removed or changed, one sentence each.
    :param defines: names the cell assigns at its top level.
    :param uses: names the cell reads.
    :param plotting: the cell draws charts.
    """

    number: int
    imports: tuple[str, ...]
    body: str
    notes: tuple[str, ...]
    defines: frozenset[str]
    uses: frozenset[str]
    plotting: bool


class CellNotConvertible(ValueError):
    """A cell that is not Python a job can run, with the reason."""


def job_cell(cell: CodeCell, *, replace_lines: tuple[int, int, str] | None = None) -> JobCell:
    """Return what of ``cell`` goes into a job.

    :param cell: the notebook's cell.
    :param replace_lines: ``(first, last, statement)``: replace those lines of the cell's Python
        (from 1) with ``statement`` (the session builder).
    :raises CellNotConvertible: a cell magic that is not Python (``%%bash``), or a syntax error.
    """
    notes = [f"{line} removed (IPython only)" for line in ipython_lines(cell.source)]
    source = python_source_of_cell(cell.source)
    if not source.strip():
        if cell.source.strip():
            raise CellNotConvertible(f"{cell.source.strip().splitlines()[0]} cell is not Python; left out")
        return JobCell(cell.number, (), "", (), frozenset(), frozenset(), plotting=False)
    lines = source.splitlines()
    if replace_lines is not None:
        first, last, statement = replace_lines
        lines[first - 1 : last] = statement.splitlines()
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError as error:
        raise CellNotConvertible(f"line {error.lineno}: {error.msg}; left out") from error
    imports: list[str] = []
    removed: set[int] = set()
    for statement in tree.body:
        span = range(statement.lineno, (statement.end_lineno or statement.lineno) + 1)
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            imports.append(ast.get_source_segment("\n".join(lines), statement) or ast.unparse(statement))
            removed.update(span)
        elif _is_display_call(statement):
            notes.append(f"{ast.unparse(statement.value.func)}(...) on line {statement.lineno} removed (shows output in the notebook only)")
            removed.update(span)
        elif _is_bare_display(statement):
            notes.append(f"'{ast.unparse(statement.value)}' on line {statement.lineno} removed (shows a value in the notebook only)")
            removed.update(span)
    body = "\n".join(line for number, line in enumerate(lines, start=1)
                     if number not in removed and not _is_magic_placeholder(line))  # fmt: skip
    return JobCell(
        cell.number, tuple(imports), body.strip("\n"), tuple(notes),
        defines=frozenset(_top_level_assignments(tree)), uses=frozenset(_names_read(tree)),
        plotting=_draws(tree),
    )  # fmt: skip


def _is_display_call(statement: ast.stmt) -> bool:
    return (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)
            and isinstance(statement.value.func, ast.Name) and statement.value.func.id in _DISPLAY_FUNCTIONS)  # fmt: skip


def _is_bare_display(statement: ast.stmt) -> bool:
    """A value alone on a line (``df``, ``df.columns``, ``counts[0]``): Jupyter shows it; a script does nothing."""
    return isinstance(statement, ast.Expr) and isinstance(statement.value, (ast.Name, ast.Attribute, ast.Subscript))


def _is_magic_placeholder(line: str) -> bool:
    """A top-level magic line that ``python_source_of_cell`` turned into ``pass  # ...``; nested ones stay."""
    return line.startswith("pass  # ")


def _top_level_assignments(tree: ast.Module) -> set[str]:
    names = set()
    for statement in tree.body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(statement.name)
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).partition(".")[0] for alias in statement.names)
    return names


def _names_read(tree: ast.Module) -> set[str]:
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def _draws(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in _PLOTTING_NAMES:
            return True
        if isinstance(node, ast.Attribute) and node.attr in _PLOTTING_ATTRIBUTES:
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [alias.name for alias in node.names]
            if any(module.partition(".")[0] in _PLOTTING_MODULES for module in modules):
                return True
    return False


def indent_code(source: str, prefix: str = "    ") -> str:
    """Indent every line of ``source`` (into a function's body), except the lines inside a
    multi-line string, whose text would change: ``\"\"\"SELECT ...\"\"\"`` keeps its lines as written.
    An empty ``source`` becomes ``pass``, so the body is still a body."""
    if not source.strip():
        return prefix + "pass"
    inside_strings: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING and token.end[0] > token.start[0]:
            inside_strings.update(range(token.start[0] + 1, token.end[0] + 1))
    return "\n".join(line if number in inside_strings or not line.strip() else prefix + line
                     for number, line in enumerate(source.splitlines(), start=1))  # fmt: skip
