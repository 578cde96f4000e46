"""The ``sparkplane`` command, for where notebooks run (no Airflow needed).

    sparkplane notebook convert NOTEBOOK.ipynb --name NAME [--schedule S] [--date-parameter P] [--force]
    sparkplane check NOTEBOOK.ipynb|JOB.py --image REF
"""

from __future__ import annotations

import argparse
import datetime
import sys
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sparkplane", description="From notebook to scheduled Spark pipeline.")
    commands = parser.add_subparsers(dest="command", required=True)
    notebook = commands.add_parser("notebook", help="work with notebooks").add_subparsers(dest="action", required=True)
    convert = notebook.add_parser("convert", help="write jobs/NAME.py, dags/NAME.py and tests/jobs/test_NAME.py")
    convert.add_argument("notebook", type=Path)
    convert.add_argument("--name", required=True, help="the DAG id and job module, e.g. daily_sales")
    convert.add_argument("--schedule", help="a preset (@daily) or a cron expression; default: manual runs only")
    convert.add_argument("--date-parameter", help="a date parameter that takes the run's date (its logical date) by default")
    convert.add_argument("--owner", default="data-science")
    convert.add_argument("--retries", type=int, default=1, help="tries after a failure (default: 1)")
    convert.add_argument("--tag", action="append", default=[], dest="tags", help="a DAG tag (repeatable)")
    convert.add_argument("--start-date", type=datetime.date.fromisoformat, default=datetime.date(2026, 1, 1))
    convert.add_argument("--project", type=Path, default=Path("."), help="the project root (default: .)")
    convert.add_argument("--force", action="store_true", help="replace files edited by hand since generated")
    check = commands.add_parser("check", help="check a notebook or job file against the Spark image")
    check.add_argument("path", type=Path)
    check.add_argument("--image", required=True)
    check.add_argument("--source", choices=("auto", "registry", "docker"), default="auto")
    check.add_argument("--jobs", type=Path, default=Path("jobs"))
    args = parser.parse_args(argv)
    if args.command == "check":
        from sparkplane.image.check import main as check_main

        return check_main([str(args.path), "--image", args.image, "--source", args.source, "--jobs", str(args.jobs)])
    return _convert(args)


def _convert(args: argparse.Namespace) -> int:
    from sparkplane.notebook import generated_files
    from sparkplane.notebook.cells import read_notebook
    from sparkplane.notebook.convert import ConversionError, ConversionOptions, convert, output_paths

    options = ConversionOptions(name=args.name, schedule=args.schedule, owner=args.owner, retries=args.retries, tags=tuple(args.tags),
                                date_parameter=args.date_parameter, start_date=args.start_date)  # fmt: skip
    try:
        notebook = read_notebook(args.notebook)
        conversion = convert(notebook, notebook_path=_shown(args.notebook, args.project),
                             notebook_bytes=args.notebook.read_bytes(), options=options)  # fmt: skip
        paths = output_paths(args.project, args.name)
        planned = generated_files.write(
            generated_files.plan({paths["job"]: conversion.job, paths["dag"]: conversion.dag, paths["test"]: conversion.test}),
            force=args.force,
        )  # fmt: skip
    except (ConversionError, FileExistsError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for item in planned:
        print(f"{item.state:>11}  {item.path}")
    for note in conversion.notes:
        print(f"note: {note}")
    return 0


def _shown(path: Path, project: Path) -> str:
    """The notebook's path as the generated files name it: relative to the project when inside it."""
    try:
        return path.resolve().relative_to(project.resolve()).as_posix()
    except ValueError:
        return path.name


if __name__ == "__main__":
    sys.exit(main())
