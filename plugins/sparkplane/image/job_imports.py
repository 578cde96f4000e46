"""Fail the image build when a job imports a module the image does not have.

Runs inside the image (standard library only) after the job code is copied in. A missing
library would otherwise surface only on an executor, as ``ModuleNotFoundError`` in the middle
of a run; here it stops the build with the file, the line and the fix.

Usage: python check_job_imports.py JOBS_DIR
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path


def imported_top_level_modules(source: str, filename: str) -> Iterator[tuple[str, int]]:
    """Yield ``(top-level module, line)`` for every absolute import in ``source``.

    :param source: Python source code.
    :param filename: used in syntax error messages.
    """
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.partition(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.partition(".")[0], node.lineno


def find_missing_imports(jobs_dir: Path) -> list[str]:
    """Return one message per import in ``jobs_dir`` that this environment cannot satisfy.

    :param jobs_dir: folder of the job modules (it is importable as the package ``jobs``).
    """
    local_names = {"jobs"} | {path.stem for path in jobs_dir.glob("*.py")}
    problems = []
    for path in sorted(jobs_dir.rglob("*.py")):
        for module, line in imported_top_level_modules(path.read_text(), str(path)):
            if module in local_names or module in sys.stdlib_module_names or module == "__future__":
                continue
            if importlib.util.find_spec(module) is None:
                problems.append(
                    f"{path.relative_to(jobs_dir.parent)}:{line} imports '{module}', which is not installed in the image."
                )
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: check_job_imports.py JOBS_DIR", file=sys.stderr)
        return 2
    problems = find_missing_imports(Path(argv[0]))
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    if problems:
        print(
            "Fix: add the distribution that provides each module to the [jobs] extra in pyproject.toml, "
            "run scripts/lock, and build again.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
