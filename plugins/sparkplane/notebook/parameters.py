"""The notebook's ``parameters`` cell (papermill's convention) as typed, bounded job parameters.

Each line of the cell is ``name = literal`` or ``name: type = literal``, with an optional comment
that describes it. Two phrases in the comment bound it, and the job, the DAG's Params and the
generated test all follow them::

    days = 7            # days in the window, range 1..31
    region = "all"      # one of: all, emea, amer, apac
    run_date = "2026-11-30"  # last day of the report (YYYY-MM-DD)

A string default that is an ISO date makes a date parameter. Anything else in the cell (an
expression, a call) cannot become a command-line parameter and is reported with its line.
"""

from __future__ import annotations

import ast
import datetime
import io
import re
import tokenize
from dataclasses import dataclass

#: JSON schema types, as Airflow Params write them, for the Python types a parameter may have.
_SCHEMA_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}
_ANNOTATIONS = {"bool": bool, "int": int, "float": float, "str": str}
_RANGE = re.compile(r",?\s*range\s+(?P<low>-?\d+(?:\.\d+)?)\s*\.\.\s*(?P<high>-?\d+(?:\.\d+)?)\s*", re.IGNORECASE)
_CHOICES = re.compile(r",?\s*one of:\s*(?P<choices>[^;]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Parameter:
    """One job parameter: a command-line option of the job and a Param of its DAG.

    :param name: the notebook's variable name.
    :param kind: ``boolean``, ``integer``, ``number``, ``string`` or ``date`` (a string in ISO form).
    :param default: the cell's value.
    :param description: the comment, without its bounds.
    :param minimum: from ``range LOW..HIGH``.
    :param maximum: from ``range LOW..HIGH``.
    :param choices: from ``one of: a, b, c``.
    """

    name: str
    kind: str
    default: bool | int | float | str
    description: str = ""
    minimum: int | float | None = None
    maximum: int | float | None = None
    choices: tuple[str | int | float, ...] = ()

    @property
    def option(self) -> str:
        """The job's command-line option, ``--run-date`` for ``run_date``."""
        return "--" + self.name.replace("_", "-")

    @property
    def python_type(self) -> str:
        """The Python type of the parsed value, as source: ``int``, ``float``, ``str``, ``bool``."""
        return {"boolean": "bool", "integer": "int", "number": "float"}.get(self.kind, "str")


@dataclass(frozen=True)
class ParameterProblem:
    """A line of the parameters cell that could not become a parameter."""

    line: int
    reason: str


def parse_parameters(source: str) -> tuple[list[Parameter], list[ParameterProblem]]:
    """Return the parameters the cell ``source`` defines, and what in it could not be converted."""
    tree = ast.parse(source)
    comments = _comments_by_line(source)
    parameters: list[Parameter] = []
    problems: list[ParameterProblem] = []
    for statement in tree.body:
        parsed = _parameter(statement, comments.get(statement.end_lineno or statement.lineno, ""))
        if isinstance(parsed, Parameter):
            parameters.append(parsed)
        else:
            problems.append(ParameterProblem(statement.lineno, parsed))
    return parameters, problems


def _parameter(statement: ast.stmt, comment: str) -> Parameter | str:
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target, annotation, value = statement.targets[0], None, statement.value
    elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
        target, annotation, value = statement.target, statement.annotation, statement.value
    else:
        return "not a 'name = value' line; a parameter is one name given one literal value"
    if not isinstance(target, ast.Name):
        return "assigns to something other than a plain name"
    try:
        default = ast.literal_eval(value)
    except ValueError:
        return f"{target.id} is computed ({ast.unparse(value)}); a parameter's default must be a literal"
    python_type = type(default)
    if annotation is not None:
        named = _ANNOTATIONS.get(ast.unparse(annotation))
        if named is None:
            return f"{target.id} is annotated {ast.unparse(annotation)}; use bool, int, float or str"
        if named is float and python_type is int:
            default, python_type = float(default), float
        elif named is not python_type:
            return f"{target.id}'s value {default!r} is not a {ast.unparse(annotation)}"
    if python_type not in _SCHEMA_TYPES:
        return f"{target.id} is a {python_type.__name__}; parameters are bool, int, float or str"
    kind = _SCHEMA_TYPES[python_type]
    if kind == "string" and _is_iso_date(default):
        kind = "date"
    return _bounded(Parameter(target.id, kind, default), comment)


def _bounded(parameter: Parameter, comment: str) -> Parameter | str:
    description = comment
    minimum = maximum = None
    choices: tuple[str | int | float, ...] = ()
    if found := _RANGE.search(description):
        if parameter.kind not in ("integer", "number"):
            return f"{parameter.name} has a range but is not a number"
        convert = int if parameter.kind == "integer" else float
        try:
            minimum, maximum = convert(found["low"]), convert(found["high"])
        except ValueError:
            return f"{parameter.name}'s range {found['low']}..{found['high']} is not of whole numbers"
        if not minimum <= parameter.default <= maximum:
            return f"{parameter.name}'s value {parameter.default} is outside its range {minimum}..{maximum}"
        description = description[: found.start()] + description[found.end() :]
    if found := _CHOICES.search(description):
        choices = tuple(_choice(word.strip(), parameter.kind) for word in found["choices"].split(",") if word.strip())
        if parameter.default not in choices:
            return f"{parameter.name}'s value {parameter.default!r} is not one of its choices {list(choices)}"
        description = description[: found.start()] + description[found.end() :]
    return Parameter(parameter.name, parameter.kind, parameter.default, description.strip(" ,;"),
                     minimum, maximum, choices)  # fmt: skip


def _choice(word: str, kind: str) -> str | int | float:
    if kind == "integer":
        return int(word)
    if kind == "number":
        return float(word)
    return word.strip("\"'")


def _is_iso_date(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _comments_by_line(source: str) -> dict[int, str]:
    found = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            found[token.start[0]] = token.string.lstrip("#").strip()
    return found
