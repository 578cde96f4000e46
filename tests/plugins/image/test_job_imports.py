"""The one import scanner, shared by the preflight and the image build."""

from __future__ import annotations

from pathlib import Path

from sparkplane.image.job_imports import imported_modules, local_module_names, third_party_imports

JOBS = Path(__file__).resolve().parents[3] / "jobs"


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
    assert set(imported_modules(source)) == {"__future__", "os", "typing", "pandas", "great_expectations"}


def test_the_standard_library_and_the_jobs_own_modules_are_not_third_party():
    modules = {"__future__", "os", "typing", "pandas", "revenue_by_region", "jobs"}
    assert third_party_imports(modules, local_modules={"revenue_by_region", "jobs"}) == {"pandas"}


def test_the_shipped_jobs_import_only_what_the_image_has():
    for job in JOBS.glob("*.py"):
        imports = third_party_imports(imported_modules(job.read_text()), local_modules=local_module_names(JOBS))
        assert imports <= {"pyspark", "pandas", "pyarrow", "numpy", "great_expectations"}, job.name
