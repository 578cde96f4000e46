"""The preflight's decision on the image: what it lacks for the job."""

from __future__ import annotations

from sparkplane.image.contents import ImageContents
from sparkplane.kubernetes.preflight import image_problems

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
