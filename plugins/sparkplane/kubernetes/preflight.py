"""Checks before a driver pod is submitted, each failing the task at once with the fix.

The driver's permissions, the image's Python and pyspark, and the job's imports are checked.
The decisions are pure functions; ``run_preflight`` does the I/O through the hook and the
image's labels.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from pathlib import Path

from sparkplane.exceptions import PreflightFailed
from sparkplane.image.contents import (
    ImageContents,
    ImageContentsError,
    normalize_name,
    package_problem,
    python_parity_problem,
    read_image_contents,
)
from sparkplane.image.job_imports import imported_modules, local_module_names, third_party_imports
from sparkplane.rbac.driver_permissions import DRIVER_PERMISSIONS, missing_permissions, permission_failure


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
    """
    problems = [python_parity_problem(contents, driver_python)]
    if driver_pyspark is not None:
        problems.append(package_problem(contents, "pyspark", driver_pyspark))
    for module in sorted(imports):
        distributions = module_distributions.get(module)
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


def run_preflight(
    *,
    is_allowed: Callable[[str, str], bool],
    service_account: str,
    namespace: str,
    image: str,
    job_file: Path | None,
    jobs_root: Path,
    log: logging.Logger,
) -> None:
    """Raise ``PreflightFailed`` with the cause and fix when the job cannot work as configured.

    A job that cannot work should fail in a second with one line of cause and one of fix, not
    after an image pull and a JVM start with a stack trace from an executor. Three questions are
    asked:

    - may ``spark-sa`` do what Spark's driver does (one SubjectAccessReview per verb and resource)?
    - does the image run the Python minor version and pyspark of the Airflow environment, where
      the job was developed and tested (the image records both, see ``sparkplane.image.contents``)?
    - is every library the job imports installed in the image (else executors fail with
      ``ModuleNotFoundError``)?
    """
    missing = missing_permissions(is_allowed)
    if missing:
        raise permission_failure(missing, service_account=service_account, namespace=namespace)
    log.info("Preflight: %s/%s has the driver's %d permissions", namespace, service_account, len(DRIVER_PERMISSIONS))
    try:
        contents = read_image_contents(image)
    except ImageContentsError as error:
        # Unreadable labels do not prove the image wrong; the job itself will tell.
        log.warning("Preflight: cannot read what image %s contains (%s); skipping the image checks", image, error)
        return
    imports: set[str] = set()
    if job_file is not None and job_file.is_file():
        modules = imported_modules(job_file.read_text(), str(job_file))
        imports = third_party_imports(modules, local_modules=local_module_names(jobs_root))
    else:
        log.info("Preflight: the job file is not readable here; its imports are not checked against the image")
    problems = image_problems(
        contents,
        driver_python=platform.python_version(),
        driver_pyspark=_installed_version("pyspark"),
        imports=imports,
        module_distributions=metadata.packages_distributions(),
    )
    if problems:
        raise PreflightFailed(
            cause=f"Image {image} does not fit the job: " + " ".join(problems),
            fix="Build the image from the project's lock (make lock, then image/build) and run the task with "
            "the image reference image/build printed.",
        )
    log.info(
        "Preflight: image has Python %s, pyspark %s and the job's imports (%s)",
        contents.python_version, contents.spark_version, ", ".join(sorted(imports)) or "none",
    )


def _installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
