"""The one import scanner, shared by the preflight and the image build."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sparkplane.image.job_code import job_code_sha256
from sparkplane.image.job_imports import imported_modules, job_third_party_imports, local_module_names, third_party_imports

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


def test_a_job_needs_what_the_jobs_folder_modules_it_imports_need(tmp_path):
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "__init__.py").write_text("")
    (tmp_path / "helpers" / "checks.py").write_text("import great_expectations\nfrom shared import x\n")
    (tmp_path / "shared.py").write_text("def x():\n    import scipy\n")
    (tmp_path / "unused.py").write_text("import torch\n")
    job = tmp_path / "job.py"
    job.write_text("import pyspark\nfrom helpers.checks import y\n")
    assert job_third_party_imports(job, tmp_path) == {"pyspark", "great_expectations", "scipy"}


def test_the_job_code_is_the_job_and_the_jobs_folder_files_it_imports(tmp_path):
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "__init__.py").write_text("")
    (tmp_path / "helpers" / "checks.py").write_text("x = 1\n")
    (tmp_path / "unused.py").write_text("y = 2\n")
    (tmp_path / "job.py").write_text("from helpers.checks import x\n")
    digests = job_code_sha256(tmp_path / "job.py", tmp_path)
    assert sorted(digests) == ["helpers/__init__.py", "helpers/checks.py", "job.py"]
    assert digests["helpers/checks.py"] == hashlib.sha256(b"x = 1\n").hexdigest()


def test_the_example_job_needs_great_expectations_through_its_quality_gate():
    assert job_third_party_imports(JOBS / "revenue_by_region.py", JOBS) == {"pyspark", "great_expectations", "py4j"}


def test_the_shipped_jobs_import_only_what_the_image_has():
    for job in JOBS.rglob("*.py"):
        imports = third_party_imports(imported_modules(job.read_text()), local_modules=local_module_names(JOBS))
        assert imports <= {"pyspark", "pandas", "pyarrow", "numpy", "great_expectations", "py4j"}, job.name
