"""Check a job file or a notebook against a Spark image before anything runs.

The questions the operator's preflight asks of a job (``sparkplane/image/fit.py``), asked where a
data scientist works: does the image run the code's Python minor version and pyspark, does it
have every module the code imports (imports inside functions and UDFs included, those of the
``jobs/`` modules a job imports too), and, for a job under the jobs folder, is the image's copy
this code? A notebook is checked for the job converted from it (``sparkplane notebook convert``):
its charts and the imports only they use stay in the notebook. One line per problem, with its fix. Exit status: 0 fits, 1 the job would fail, 2 the
image or the file cannot be read. No Airflow needed.

Usage: python -m sparkplane.image.check NOTEBOOK.ipynb|JOB.py --image REF [--source S] [--jobs DIR]
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from sparkplane.image.contents import ImageContents, ImageContentsError, read_image_contents
from sparkplane.image.fit import image_problems, job_code_problems
from sparkplane.image.job_code import job_code_sha256
from sparkplane.image.job_imports import (
    imported_modules,
    job_third_party_imports,
    local_module_names,
    third_party_imports,
)
from sparkplane.notebook.cells import read_notebook
from sparkplane.notebook.convert import job_code


def check_source(path: Path, contents: ImageContents, *, jobs_dir: Path) -> list[str]:
    """Return what in the image does not fit the notebook or job file at ``path`` (empty when all fits)."""
    problems: list[str] = []
    if path.suffix == ".ipynb":
        notebook = read_notebook(path)
        code, python = job_code(notebook), notebook.python_version
        imports = third_party_imports(imported_modules(code, str(path)), local_modules=local_module_names(path.parent))
    else:
        python = None
        imports = job_third_party_imports(path, jobs_dir)
        if path.resolve().is_relative_to(jobs_dir.resolve()):
            problems += job_code_problems(contents, job_code_sha256(path, jobs_dir))
    problems += image_problems(
        contents, driver_python=python or platform.python_version(), driver_pyspark=_installed_version("pyspark"),
        imports=imports, module_distributions=metadata.packages_distributions(),
    )  # fmt: skip
    return problems


def _installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sparkplane.image.check", description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="a notebook (.ipynb) or a job file (.py)")
    parser.add_argument("--image", required=True, help="image reference, e.g. 127.0.0.1:5000/sparkplane/spark:TAG")
    parser.add_argument("--source", choices=("auto", "registry", "docker"), default="auto")
    parser.add_argument("--jobs", type=Path, default=Path("jobs"), help="the jobs folder (default: ./jobs)")
    args = parser.parse_args(argv)
    try:
        contents = read_image_contents(args.image, source=args.source)
        problems = check_source(args.path, contents, jobs_dir=args.jobs)
    except (ImageContentsError, OSError, SyntaxError, ValueError) as error:
        print(f"error: cannot check {args.path} against {args.image}: {error}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"{args.path} fits {args.image}: Python {contents.python_version}, pyspark {contents.spark_version}, "
          "every module it imports")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
