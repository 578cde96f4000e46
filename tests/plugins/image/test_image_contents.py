"""Pure helpers of sparkplane.image.contents and sparkplane.image.labels: references, parity, package presence."""

from __future__ import annotations

import pytest
from sparkplane.image.contents import (
    SCHEMA,
    ImageContents,
    ImageContentsError,
    normalize_name,
    package_problem,
    parse_requirement,
    python_parity_problem,
)
from sparkplane.image.fit import job_code_problems
from sparkplane.image.labels import ImageLabelsError, ImageReference, parse_image_reference, parse_registry_aliases

DOCUMENT = {
    "schema": SCHEMA,
    "python_version": "3.11.2",
    "python_implementation": "CPython",
    "spark_version": "4.1.4",
    "java_version": "17.0.21.1",
    "lock_sha256": "ab" * 32,
    "distributions": {"pyspark": "4.1.4", "pandas": "2.3.3", "great-expectations": "1.24.1"},
}
CONTENTS = ImageContents.from_document(DOCUMENT)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("127.0.0.1:5000/sparkplane/spark:abc", ImageReference("127.0.0.1:5000", "sparkplane/spark", "abc")),
        ("localhost/spark", ImageReference("localhost", "spark", "latest")),
        ("registry.example.com/a/b@sha256:00ff", ImageReference("registry.example.com", "a/b", "sha256:00ff")),
        ("sparkplane/spark:dev", ImageReference(None, "sparkplane/spark", "dev")),
        ("debian", ImageReference(None, "debian", "latest")),
    ],
)
def test_image_references_split_like_docker(ref, expected):
    assert parse_image_reference(ref) == expected


def test_same_minor_python_is_parity_even_with_another_patch_release():
    assert python_parity_problem(CONTENTS, "3.11.7") is None


def test_other_minor_python_is_a_problem_naming_both_versions():
    problem = python_parity_problem(CONTENTS, "3.12.1")

    assert problem is not None
    assert "Python 3.11.2" in problem and "Python 3.12.1" in problem


def test_package_in_image_at_the_drivers_version_is_fine_in_any_spelling():
    assert package_problem(CONTENTS, "Great_Expectations", "1.24.1") is None
    assert package_problem(CONTENTS, "pandas") is None


def test_missing_package_says_how_to_add_it():
    problem = package_problem(CONTENTS, "requests-oauthlib")

    assert problem is not None
    assert problem.startswith("package requests-oauthlib is not in the image")
    assert "scripts/lock" in problem


def test_version_mismatch_names_both_versions():
    assert package_problem(CONTENTS, "pandas", "3.0.0") == (
        "the image has pandas 2.3.3, the driver 3.0.0. Rebuild the image from the current lock with image/build."
    )


def test_unknown_document_layout_is_rejected():
    with pytest.raises(ImageContentsError, match="schema"):
        ImageContents.from_document({**DOCUMENT, "schema": "other/v9"})


def test_names_and_requirements_are_normalized():
    assert normalize_name("Ruamel.YAML") == "ruamel-yaml"
    assert parse_requirement("pandas==2.3.3") == ("pandas", "2.3.3")
    assert parse_requirement("pandas") == ("pandas", None)


def test_a_job_file_changed_or_added_after_the_build_is_named():
    contents = ImageContents.from_document({**DOCUMENT, "job_sha256": {"report.py": "aa", "quality/gate.py": "bb"}})
    assert job_code_problems(contents, {"report.py": "aa", "quality/gate.py": "bb"}) == []
    assert job_code_problems(contents, {"report.py": "aa", "quality/gate.py": "cc", "new.py": "dd"}) == [
        "jobs/new.py is not in the image: it was added after the image was built.",
        "jobs/quality/gate.py differs from the image's copy: it changed after the image was built, and the driver "
        "would run the old one.",
    ]


def test_an_image_that_recorded_no_job_files_is_not_judged_on_them():
    assert CONTENTS.job_sha256 == {}
    assert job_code_problems(CONTENTS, {"report.py": "aa"}) == []


def test_registry_aliases_say_where_a_registry_is_read_and_a_bad_one_says_how_to_write_it():
    assert parse_registry_aliases("") == {}
    assert parse_registry_aliases("127.0.0.1:5000=http://10.244.0.1:5000/, registry.example=https://mirror.example") == {
        "127.0.0.1:5000": "http://10.244.0.1:5000", "registry.example": "https://mirror.example"}
    with pytest.raises(ImageLabelsError, match="name=URL pairs.*127.0.0.1:5000=http://10.244.0.1:5000"):
        parse_registry_aliases("127.0.0.1:5000=10.244.0.1:5000")
