"""The generated test: the job's ``main`` on tiny input, with a local SparkSession.

The tiny input is the notebook's own: the cell tagged ``test-input`` writes it (to the paths the
parameters name), and the test runs that cell's code with every path parameter moved under
pytest's ``tmp_path``, then ``main`` with the same paths. A notebook without such a cell gets a
test of the job's parameters only, and the converter says so.
"""

from __future__ import annotations

from collections.abc import Sequence

from sparkplane.notebook.cell_code import JobCell, indent_code
from sparkplane.notebook.parameters import Parameter

#: Parameter names that hold a file or folder location; the test moves them under ``tmp_path``.
PATH_SUFFIXES = ("_path", "_dir", "_folder", "_uri", "_location")


def is_path_parameter(parameter: Parameter) -> bool:
    return parameter.kind == "string" and parameter.name.endswith(PATH_SUFFIXES)


def job_test_source(
    *, name: str, parameters: Sequence[Parameter], test_input: JobCell | None, session_variable: str,
    imports: Sequence[str],
) -> str:  # fmt: skip
    """Return the test module's source (before formatting)."""
    paths = [p for p in parameters if is_path_parameter(p)]
    if test_input is None:
        return f'''"""Generated with jobs/{name}.py: its parameters parse with the notebook's defaults.

Tag a notebook cell "test-input" that writes tiny input, and convert again, to test main() on it.
"""

from __future__ import annotations

import {name}


def test_the_defaults_are_the_notebooks():
    options = {name}.parse_arguments([])
{"".join(f"    assert options.{p.name} == {p.default!r}{chr(10)}" for p in parameters) or "    assert options"}
'''
    inputs = sorted((test_input.uses - test_input.defines) & {p.name for p in parameters})
    signature = ", ".join([session_variable, *inputs])
    locations = "".join(f"    {p.name} = str(tmp_path / {p.name!r})\n" for p in paths)
    arguments = "".join(f"{p.option!r}, {p.name}, " for p in paths)
    checks = "".join(f"    assert Path({p.name}).exists(), {p.name}\n" for p in paths)
    input_call = ", ".join(["spark", *(f"{n}={n}" if n in {p.name for p in paths} else f"{n}={name}.parse_arguments([]).{n}"
                                       for n in inputs)])  # fmt: skip
    return f'''"""Generated with jobs/{name}.py: main() on the tiny input of the notebook's "test-input" cell."""

from __future__ import annotations

from pathlib import Path

import {name}
{chr(10).join(imports)}


def write_test_input({signature}):
    """The notebook's test-input cell (cell {test_input.number})."""
{indent_code(test_input.body)}


def test_main_runs_on_the_notebooks_tiny_input(spark, tmp_path):
{locations}    write_test_input({input_call})
    {name}.main([{arguments}])
{checks}'''
