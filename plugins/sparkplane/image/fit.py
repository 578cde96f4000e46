"""Whether an image fits a job: pure comparisons of what the image recorded with what the job needs.

The operator's preflight asks these questions before it creates a pod; nothing here talks to a
cluster or imports Airflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sparkplane.image.contents import ImageContents, normalize_name, package_problem, python_parity_problem


def image_problems(
    contents: ImageContents,
    *,
    driver_python: str,
    driver_pyspark: str | None,
    imports: Iterable[str],
    module_distributions: Mapping[str, list[str]],
) -> list[str]:
    """Return what in the image does not fit the job, one sentence each (empty when all fits).

    :param contents: what the image records about itself.
    :param driver_python: the Airflow environment's ``X.Y.Z``.
    :param driver_pyspark: pyspark's version in the Airflow environment, if installed.
    :param imports: third-party modules the job imports.
    :param module_distributions: module -> distributions providing it, in the Airflow environment.
        The image's own map, when it recorded one, says what the image provides; this one only
        names the package to add.
    """
    problems = [python_parity_problem(contents, driver_python)]
    if driver_pyspark is not None:
        problems.append(package_problem(contents, "pyspark", driver_pyspark))
    for module in sorted(imports):
        distributions = module_distributions.get(module)
        if contents.module_distributions:
            if module not in contents.module_distributions:
                package = distributions[0] if distributions else "the package that provides it"
                problems.append(
                    f"the job imports {module}, which no package in the image provides; executors would fail "
                    f"with ModuleNotFoundError. Add {package} to the [jobs] extra in pyproject.toml, run make lock "
                    "and image/build."
                )
            continue
        if not distributions:
            if normalize_name(module) not in contents.distributions:
                problems.append(
                    f"the job imports {module}, which no locked package provides; executors would fail "
                    f"with ModuleNotFoundError. Add the package that provides it to the [jobs] extra in "
                    "pyproject.toml, run make lock and image/build."
                )
            continue
        problem = package_problem(contents, distributions[0])
        if problem is not None:
            problems.append(f"the job imports {module}: {problem}")
    return [problem for problem in problems if problem]


def job_code_problems(contents: ImageContents, local_sha256: Mapping[str, str]) -> list[str]:
    """Return one sentence per job file whose copy in the image differs from the local one (or is missing).

    :param contents: what the image holds; an image that recorded no job files yields no problems.
    :param local_sha256: path under the jobs folder -> sha256 of the file the task would run.
    """
    if not contents.job_sha256:
        return []
    problems = []
    for path, digest in sorted(local_sha256.items()):
        in_image = contents.job_sha256.get(path)
        if in_image is None:
            problems.append(f"jobs/{path} is not in the image: it was added after the image was built.")
        elif in_image != digest:
            problems.append(f"jobs/{path} differs from the image's copy: it changed after the image was built, "
                            "and the driver would run the old one.")  # fmt: skip
    return problems
