from __future__ import annotations

from pathlib import Path

import pytest

from sparkplane.exceptions import JobDefinitionError
from sparkplane.job_spec import SparkJobSpec, check_application_origin


def _spec(**overrides) -> SparkJobSpec:
    return SparkJobSpec(**({"application": "revenue_by_region.py", "name": "report"} | overrides))


def test_relative_application_resolves_under_jobs_root():
    assert _spec().application_path(Path("/opt/jobs")) == Path("/opt/jobs/revenue_by_region.py")


def test_absolute_application_is_kept():
    assert _spec(application="/srv/x.py").application_path(Path("/opt/jobs")) == Path("/srv/x.py")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"application": "report.ipynb"}, "application='report.ipynb' is not a Python file"),
        ({"name": "  "}, "name is empty"),
        ({"arguments": ("--rows", 10)}, "arguments must be strings, got [10]"),
        ({"conf": {"executor.cores": "2"}}, "conf has keys that are not Spark settings: ['executor.cores']"),
        ({"conf": {"spark.executor.cores": 2}}, "conf values must be strings, got [2]"),
        ({"env": {"1BAD": "x"}}, "env has invalid variable names: ['1BAD']"),
        ({"driver_memory": "2 GB"}, "driver_memory='2 GB' is not a Spark memory size"),
        ({"executor_instances": 0}, "executor_instances=0 must be a whole number of at least 1"),
        ({"executor_cores": True}, "executor_cores=True must be a whole number"),
    ],
)
def test_invalid_spec_names_the_field_and_the_fix(overrides, message):
    with pytest.raises(JobDefinitionError) as raised:
        _spec(**overrides)
    assert message in str(raised.value)


def test_a_job_path_climbing_out_of_the_jobs_folder_is_refused():
    with pytest.raises(JobDefinitionError, match=r"climbs out of its folder with '\.\.'"):
        SparkJobSpec(application="../../etc/evil.py", name="x")


def test_an_absolute_job_path_is_accepted_only_as_written_in_the_dag():
    check_application_origin("/opt/jobs/report.py", as_written="/opt/jobs/report.py")
    check_application_origin("reports/daily.py", as_written="{{ params.job }}")
    with pytest.raises(JobDefinitionError, match="absolute path that came from a template"):
        check_application_origin("/tmp/evil.py", as_written="{{ params.job }}")
