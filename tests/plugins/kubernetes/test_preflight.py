"""The preflight decisions: which permissions are missing, what a job imports, what the image lacks."""

from __future__ import annotations

from pathlib import Path

from sparkplane.image_contents import ImageContents
from sparkplane.preflight import (
    DRIVER_PERMISSIONS,
    image_problems,
    job_imports,
    missing_permissions,
    permission_failure,
    third_party_imports,
)

JOBS = Path(__file__).resolve().parents[2] / "jobs"
IMAGE = ImageContents(
    python_version="3.11.2",
    spark_version="4.1.4",
    java_version="17.0.16",
    lock_sha256="0" * 64,
    distributions={"pyspark": "4.1.4", "pandas": "2.3.3", "great-expectations": "1.24.1"},
)


def _problems(**overrides):
    arguments = dict(driver_python="3.11.7", driver_pyspark="4.1.4", imports=set(), module_distributions={})
    return image_problems(IMAGE, **{**arguments, **overrides})


def test_every_denied_permission_is_named_with_the_way_to_grant_it():
    allowed = {("get", "pods"), ("list", "pods"), ("watch", "pods")}
    missing = missing_permissions(lambda verb, resource: (verb, resource) in allowed)
    assert missing == ["create pods", "delete pods", "create configmaps", "delete configmaps"]
    failure = permission_failure(missing, service_account="spark-sa", namespace="spark")
    assert failure.cause.startswith("ServiceAccount spark/spark-sa may not create pods, delete pods")
    assert "python -m sparkplane.bootstrap apply" in failure.fix


def test_nothing_is_missing_when_all_is_allowed():
    assert missing_permissions(lambda verb, resource: True) == []
    assert len(DRIVER_PERMISSIONS) == 7


def test_imports_are_found_in_functions_but_not_under_type_checking():
    source = '''
from __future__ import annotations
import os.path
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from pyspark.sql import DataFrame
def main():
    import pandas as pd
    from great_expectations import core
    from . import helpers
'''
    assert job_imports(source) == {"__future__", "os", "typing", "pandas", "great_expectations"}


def test_the_standard_library_and_the_jobs_own_modules_are_not_third_party():
    modules = {"__future__", "os", "typing", "pandas", "revenue_by_region", "jobs"}
    assert third_party_imports(modules, local_modules={"revenue_by_region", "jobs"}) == {"pandas"}


def test_the_shipped_jobs_import_only_what_the_image_has():
    for job in JOBS.glob("*.py"):
        imports = third_party_imports(job_imports(job.read_text()), local_modules={p.stem for p in JOBS.iterdir()})
        assert imports <= {"pyspark", "pandas", "pyarrow", "numpy", "great_expectations"}, job.name


def test_an_image_that_fits_has_no_problems():
    assert _problems(imports={"pandas"}, module_distributions={"pandas": ["pandas"]}) == []


def test_another_python_minor_is_a_problem():
    (problem,) = _problems(driver_python="3.12.1")
    assert "the image runs Python 3.11.2, the driver Python 3.12.1" in problem


def test_another_pyspark_is_a_problem():
    (problem,) = _problems(driver_pyspark="4.0.1")
    assert "the image has pyspark 4.1.4, the driver 4.0.1" in problem


def test_a_library_missing_from_the_image_names_the_package_and_the_lock():
    (problem,) = _problems(imports={"sklearn"}, module_distributions={"sklearn": ["scikit-learn"]})
    assert problem.startswith("the job imports sklearn: package scikit-learn is not in the image")
    assert "[jobs] extra in pyproject.toml" in problem


def test_a_module_no_package_provides_is_a_problem_unless_the_image_has_it():
    (problem,) = _problems(imports={"nowhere"})
    assert "the job imports nowhere, which no locked package provides" in problem
    assert _problems(imports={"pandas"}) == []
