"""The generated job file: typed command-line parameters, then the notebook's cells inside ``main``.

The job runs under the platform's operator (spark-submit, locally or on Kubernetes) and in the
generated test, which calls ``main(argv)``. It is self-contained: the image holds the jobs folder,
not the platform's package. No ``from __future__ import annotations``: a pandas UDF's type hints
must stay real types, or Spark cannot read them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sparkplane.notebook.cell_code import JobCell, indent_code
from sparkplane.notebook.parameters import Parameter

_HELPERS = {
    "date": '''
def _iso_date(text: str) -> str:
    """A date in ISO form (YYYY-MM-DD), kept as the string the notebook used."""
    import datetime

    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in the form YYYY-MM-DD") from None
    return text
''',
    "boolean": '''
def _boolean(text: str) -> bool:
    """true/false, yes/no, 1/0 (a rendered Airflow Param is 'True' or 'False')."""
    if text.lower() in ("true", "yes", "1"):
        return True
    if text.lower() in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not true or false")
''',
}
_TYPES = {"integer": "int", "number": "float", "date": "_iso_date", "boolean": "_boolean"}


def job_source(
    *, name: str, description: str, parameters: Sequence[Parameter], cells: Sequence[JobCell], imports: Sequence[str]
) -> str:
    """Return the job module's source (before formatting)."""
    helpers = "".join(_HELPERS[kind] for kind in sorted({p.kind for p in parameters} & _HELPERS.keys()))
    body = "\n\n".join(f"# notebook cell {cell.number}\n{cell.body}" for cell in cells if cell.body.strip())
    assignments = "".join(f"    {p.name} = options.{p.name}\n" for p in parameters)
    return f'''"""{description}

Usage: spark-submit {name}.py [OPTIONS]; --help lists the notebook's parameters.
"""

import argparse
from collections.abc import Sequence
{chr(10).join(imports)}


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The notebook's parameters cell as command-line options, with its values as defaults."""
    parser = argparse.ArgumentParser(prog="{name}.py", description={description!r})
{_options(parameters)}    options = parser.parse_args(argv)
{_range_checks(parameters)}    return options
{helpers}

def main(argv: Sequence[str] | None = None) -> None:
    options = parse_arguments(argv)
{assignments}
{indent_code(body)}


if __name__ == "__main__":
    main()
'''


def _options(parameters: Sequence[Parameter]) -> str:
    lines = []
    for parameter in parameters:
        arguments = [repr(parameter.option)]
        if parameter.kind in _TYPES:
            arguments.append(f"type={_TYPES[parameter.kind]}")
        arguments.append(f"default={parameter.default!r}")
        if parameter.choices:
            arguments.append(f"choices={list(parameter.choices)!r}")
        arguments.append(f"help={_help(parameter)!r}")
        lines.append(f"    parser.add_argument({', '.join(arguments)})\n")
    return "".join(lines)


def _help(parameter: Parameter) -> str:
    text = parameter.description or parameter.name.replace("_", " ")
    if parameter.minimum is not None:
        text += f" ({parameter.minimum} to {parameter.maximum})"
    return text + " (default: %(default)s)"


def _range_checks(parameters: Sequence[Parameter]) -> str:
    checks = []
    for parameter in parameters:
        if parameter.minimum is None:
            continue
        checks.append(
            f"    if not {parameter.minimum!r} <= options.{parameter.name} <= {parameter.maximum!r}:\n"
            f"        parser.error(f\"{parameter.option} must be from {parameter.minimum} to {parameter.maximum}, "
            f"not {{options.{parameter.name}}}\")\n"
        )
    return "".join(checks)
