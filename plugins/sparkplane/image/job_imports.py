"""Which modules a job imports, and which of them this environment lacks. Standard library only.

The preflight compares a job's imports with what the image records about itself; the image
build runs this very file inside the image and fails when a job imports a module it lacks.

Usage (inside the image): python job_imports.py JOBS_DIR
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path


def imported_modules(source: str, filename: str = "<job>") -> dict[str, int]:
    """Return each top-level module ``source`` imports at run time, with the line of its first import.

    One rule for the preflight and the image build: imports under ``if TYPE_CHECKING:`` are not
    needed at run time, and relative imports are the job's own modules; neither is returned.

    :param source: Python source code.
    :param filename: used in syntax error messages.
    """
    tree = ast.parse(source, filename=filename)
    type_checking_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and _is_type_checking(block.test)
        for statement in block.body
        for node in ast.walk(statement)
    }
    found: dict[str, int] = {}
    for node in ast.walk(tree):
        if id(node) in type_checking_only:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            module = name.partition(".")[0]
            found[module] = min(found.get(module, node.lineno), node.lineno)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def local_module_names(jobs_dir: Path) -> set[str]:
    """Return the names a job may import from its own folder (the folder is the package ``jobs``)."""
    return {jobs_dir.name} | {path.stem for path in jobs_dir.iterdir()}


def third_party_imports(modules: Iterable[str], *, local_modules: Iterable[str]) -> set[str]:
    """Drop the standard library, ``__future__`` and the jobs folder's own modules."""
    return set(modules) - set(sys.stdlib_module_names) - {"__future__"} - set(local_modules)


def job_third_party_imports(job_file: Path, jobs_dir: Path) -> set[str]:
    """Return the third-party modules a job needs: its own imports and those of every module of
    the jobs folder it imports (see ``job_source_files``).

    :param job_file: the job's file.
    :param jobs_dir: the folder of the job modules, whose names the job imports as its own.
    """
    local_modules = local_module_names(jobs_dir)
    needed: set[str] = set()
    for path in job_source_files(job_file, jobs_dir):
        needed |= third_party_imports(imported_modules(path.read_text(), str(path)), local_modules=local_modules)
    return needed


def job_source_files(job_file: Path, jobs_dir: Path) -> list[Path]:
    """Return the job's file and every file of the jobs folder it imports, followed to the end
    (a package of the jobs folder counts whole).

    :param job_file: the job's file.
    :param jobs_dir: the folder of the job modules.
    """
    local_modules = local_module_names(jobs_dir)
    found: list[Path] = []
    pending = [job_file]
    while pending:
        path = pending.pop()
        if path in found:
            continue
        found.append(path)
        modules = imported_modules(path.read_text(), str(path))
        for name in sorted(modules.keys() & local_modules, reverse=True):
            pending.extend(_files_of_local_module(jobs_dir, name))
    return found


def _files_of_local_module(jobs_dir: Path, name: str) -> list[Path]:
    package = jobs_dir / name
    if package.is_dir():
        return sorted(package.rglob("*.py"))
    module = jobs_dir / f"{name}.py"
    return [module] if module.is_file() else []


def find_missing_imports(jobs_dir: Path) -> list[str]:
    """Return one message per import in ``jobs_dir`` that this environment cannot satisfy.

    The image build runs this very file inside the image (image/Dockerfile copies it there) and
    fails when a job imports a module the image does not have, which would otherwise surface
    only on an executor as ``ModuleNotFoundError`` in the middle of a run.

    :param jobs_dir: folder of the job modules.
    """
    local_modules = local_module_names(jobs_dir)
    problems = []
    for path in sorted(jobs_dir.rglob("*.py")):
        modules = imported_modules(path.read_text(), str(path))
        for module in sorted(third_party_imports(modules, local_modules=local_modules), key=modules.get):
            if importlib.util.find_spec(module) is None:
                problems.append(
                    f"{path.relative_to(jobs_dir.parent)}:{modules[module]} imports '{module}', "
                    "which is not installed in the image."
                )
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: job_imports.py JOBS_DIR", file=sys.stderr)
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
