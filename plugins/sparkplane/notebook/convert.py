"""Convert a notebook into a job, a DAG and a test: ``sparkplane notebook convert``.

The cell tagged ``parameters`` becomes the job's command-line options and the DAG's Params; the
client-mode SparkSession builder becomes a plain one, its executor sizes and Spark settings the
operator's arguments; the cell tagged ``test-input`` becomes the generated test's input. What
could not be converted is listed with its cell number and the reason. The output depends only on
the notebook and the options, and is formatted by the pinned ruff.
"""

from __future__ import annotations

import ast
import datetime
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from sparkplane.notebook.cell_code import CellNotConvertible, JobCell, job_cell
from sparkplane.notebook.cells import CodeCell, Notebook, python_source_of_cell
from sparkplane.notebook.dag_source import dag_source
from sparkplane.notebook.formatting import format_python
from sparkplane.notebook.generated_files import with_header
from sparkplane.notebook.job_source import job_source
from sparkplane.notebook.job_test import job_test_source
from sparkplane.notebook.parameters import Parameter, parse_parameters
from sparkplane.notebook.session import SessionBuilder, find_session_builder

PARAMETERS_TAG = "parameters"
TEST_INPUT_TAG = "test-input"
#: A job name: the DAG id, the job's module and its test's module, so a lowercase Python identifier.
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class ConversionOptions:
    """What the command line says about the pipeline.

    :param name: the DAG id and the job's module name (``daily_sales``).
    :param schedule: the DAG's schedule (a preset like ``@daily`` or a cron expression); None: manual runs only.
    :param owner: the DAG's owner.
    :param retries: how many times a failed task is tried again.
    :param tags: the DAG's tags, besides ``notebook``.
    :param date_parameter: a date parameter that takes the run's logical date unless a run gives one.
    :param start_date: the DAG's start date.
    """

    name: str
    schedule: str | None = None
    owner: str = "data-science"
    retries: int = 1
    tags: tuple[str, ...] = ()
    date_parameter: str | None = None
    start_date: datetime.date = datetime.date(2026, 1, 1)


@dataclass(frozen=True)
class Conversion:
    """The three generated files' text (headers included) and what the conversion left out or changed."""

    job: str
    dag: str
    test: str
    notes: tuple[str, ...]


class ConversionError(ValueError):
    """The notebook or the options cannot make a pipeline; the message says what to change."""


def convert(notebook: Notebook, *, notebook_path: str, notebook_bytes: bytes, options: ConversionOptions) -> Conversion:
    """Return the job, DAG and test made from ``notebook``."""
    name = options.name
    if not _NAME.match(name):
        raise ConversionError(f"--name {name!r} is not usable as a DAG id and a module name: use lowercase letters, "
                              "digits and underscores, starting with a letter (for example daily_sales).")  # fmt: skip
    notes: list[str] = []
    parameters = _parameters(notebook, notes)
    if options.date_parameter is not None:
        named = {p.name: p for p in parameters}.get(options.date_parameter)
        if named is None or named.kind != "date":
            dates = [p.name for p in parameters if p.kind == "date"] or "none"
            raise ConversionError(f"--date-parameter {options.date_parameter!r} is not a date parameter of the notebook's "
                                  f"parameters cell (its date parameters: {dates}).")  # fmt: skip
    builder = _session_builder(notebook, notes)
    cells, test_input = _job_cells(notebook, builder, name, notes)
    imports = _used_imports(cells, test_input)
    for cell in cells:
        notes.extend(f"cell {cell.number}: {note}" for note in cell.notes)
    if test_input is None:
        notes.append(f"no cell is tagged {TEST_INPUT_TAG!r}: the generated test checks the parameters only; tag the "
                      "cell that writes a tiny input and convert again to test main() on it")  # fmt: skip
    description = notebook.title or f"{name}, converted from {notebook_path}"
    digest = hashlib.sha256(notebook_bytes).hexdigest()
    job = job_source(name=name, description=description, parameters=parameters, cells=cells,
                     imports=[*imports, *_session_import(builder, imports)])  # fmt: skip
    dag = dag_source(
        name=name, description=description, parameters=parameters, schedule=options.schedule,
        start_date=options.start_date, owner=options.owner, retries=options.retries, tags=("notebook", *options.tags),
        date_parameter=options.date_parameter, operator_arguments=builder.operator_arguments if builder else {},
        conf=builder.conf if builder else {}, notebook_path=notebook_path,
    )  # fmt: skip
    test = job_test_source(name=name, parameters=parameters, test_input=test_input,
                           session_variable=builder.variable if builder else "spark", imports=imports)  # fmt: skip
    return Conversion(
        job=with_header(format_python(job, filename=f"{name}.py"), notebook=notebook_path, notebook_sha256=digest),
        dag=with_header(format_python(dag, filename=f"dag_{name}.py"), notebook=notebook_path, notebook_sha256=digest),
        test=with_header(format_python(test, filename=f"test_{name}.py"), notebook=notebook_path, notebook_sha256=digest),
        notes=tuple(sorted(notes, key=_cell_number)),
    )  # fmt: skip


def job_code(notebook: Notebook) -> str:
    """Return the Python a job converted from ``notebook`` would run: what the image check scans.

    Charts, displays and magics are not in it, nor the imports only they used (``matplotlib``).
    """
    notes: list[str] = []
    builder = _session_builder(notebook, notes)
    cells, _ = _job_cells(notebook, builder, "job", notes)
    return "\n".join([*_used_imports(cells, None), *(cell.body for cell in cells)])


def output_paths(root: Path, name: str) -> dict[str, Path]:
    """Where the three files go in the project's layout."""
    return {"job": root / "jobs" / f"{name}.py", "dag": root / "dags" / f"{name}.py",
            "test": root / "tests" / "jobs" / f"test_{name}.py"}  # fmt: skip


def _parameters(notebook: Notebook, notes: list[str]) -> list[Parameter]:
    tagged = [cell for cell in notebook.code_cells if PARAMETERS_TAG in cell.tags]
    if not tagged:
        notes.append(f"no cell is tagged {PARAMETERS_TAG!r}: the job has no parameters (tag the cell of the values a "
                     "run may change, as papermill does)")  # fmt: skip
        return []
    for extra in tagged[1:]:
        notes.append(f"cell {extra.number}: a second {PARAMETERS_TAG!r} cell, converted as code; only cell "
                     f"{tagged[0].number} gives parameters")  # fmt: skip
    try:
        parameters, problems = parse_parameters(python_source_of_cell(tagged[0].source))
    except SyntaxError as error:
        raise ConversionError(f"cell {tagged[0].number} (parameters) is not Python: line {error.lineno}: {error.msg}") from error
    for problem in problems:
        notes.append(f"cell {tagged[0].number} line {problem.line}: {problem.reason}; not a parameter")
    for parameter in parameters:
        if parameter.kind in ("integer", "number") and parameter.minimum is None and not parameter.choices:
            notes.append(f"cell {tagged[0].number}: {parameter.name} has no bounds, so whoever triggers a run may pick "
                         "any number; add 'range LOW..HIGH' to its comment")  # fmt: skip
    return parameters


def _session_builder(notebook: Notebook, notes: list[str]) -> SessionBuilder | None:
    for cell in notebook.code_cells:
        try:
            builder = find_session_builder(python_source_of_cell(cell.source))
        except SyntaxError:
            continue
        if builder is None:
            continue
        moved = [f"{key}={value!r}" for key, value in sorted(builder.operator_arguments.items())]
        moved += [f"conf {key}={value!r}" for key, value in sorted(builder.conf.items())]
        notes.append(f"cell {cell.number}: the SparkSession builder keeps its app name only; the platform sets "
                     f"{', '.join(builder.dropped) or 'nothing else'}"
                     + (f"; moved to the operator: {', '.join(moved)}" if moved else ""))  # fmt: skip
        notes.extend(f"cell {cell.number}: {problem}" for problem in builder.problems)
        return builder
    notes.append("no SparkSession builder (name = SparkSession.builder...getOrCreate()) found: the job uses the "
                 "notebook's code as is")  # fmt: skip
    return None


def _converted(cell: CodeCell, builder: SessionBuilder | None, name: str, notes: list[str]) -> JobCell | None:
    replace = None
    if builder is not None:
        try:
            found = find_session_builder(python_source_of_cell(cell.source))
        except SyntaxError:
            found = None
        if found == builder:
            replace = (builder.first_line, builder.last_line, builder.job_statement(name))
    try:
        return job_cell(cell, replace_lines=replace)
    except CellNotConvertible as error:
        notes.append(f"cell {cell.number}: {error}")
        return None


def _job_cells(notebook: Notebook, builder: SessionBuilder | None, name: str,
               notes: list[str]) -> tuple[list[JobCell], JobCell | None]:  # fmt: skip
    """The cells the job runs, in order, and the test-input cell."""
    test_input: JobCell | None = None
    cells: list[JobCell] = []
    parameters_cell = next((cell for cell in notebook.code_cells if PARAMETERS_TAG in cell.tags), None)
    for cell in notebook.code_cells:
        if cell is parameters_cell:
            continue
        converted = _converted(cell, builder, name, notes)
        if converted is None:
            continue
        if TEST_INPUT_TAG in cell.tags:
            test_input = test_input or converted
            continue
        cells.append(converted)
    return _without_charts(cells, notes), test_input


def _used_imports(cells: list[JobCell], test_input: JobCell | None) -> list[str]:
    """The hoisted import statements some kept cell (or the test input) uses, each once, in order."""
    kept = [*cells, *([test_input] if test_input else [])]
    used = set().union(*(cell.uses for cell in kept))
    statements = _unique([line for cell in kept for line in cell.imports])
    return [line for line in statements if _binds(line) & used or "*" in line]


def _binds(import_statement: str) -> set[str]:
    (statement,) = ast.parse(import_statement).body
    return {(alias.asname or alias.name).partition(".")[0] for alias in statement.names}


def _without_charts(cells: list[JobCell], notes: list[str]) -> list[JobCell]:
    """Drop the cells that draw and define nothing a later kept cell uses."""
    kept: list[JobCell] = []
    for index, cell in enumerate(cells):
        later_uses = set().union(*(later.uses for later in cells[index + 1 :]))
        if cell.plotting and not (cell.defines & later_uses):
            notes.append(f"cell {cell.number}: draws a chart and defines nothing later cells use; left out")
            continue
        kept.append(cell)
    return kept


def _session_import(builder: SessionBuilder | None, imports: list[str]) -> list[str]:
    """The job's builder needs ``SparkSession``; add its import when the notebook reached it otherwise."""
    if builder is None or builder.builder != "SparkSession.builder":
        return []
    return [] if any("SparkSession" in line for line in imports) else ["from pyspark.sql import SparkSession"]


def _cell_number(note: str) -> int:
    """Notes about the whole notebook first, then by cell."""
    found = re.match(r"cell (\d+)", note)
    return int(found[1]) if found else 0


def _unique(lines: list[str]) -> list[str]:
    return list(dict.fromkeys(lines))
