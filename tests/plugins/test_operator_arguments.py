"""The operator turns its rendered arguments into a job spec, or says which argument to fix."""

from __future__ import annotations

import pytest

from sparkplane.exceptions import JobDefinitionError
from sparkplane.operators import SparkJobOperator


def _spec(**kwargs):
    return SparkJobOperator(task_id="job", application="job.py", **kwargs).build_spec()


def test_counts_rendered_from_templates_become_numbers():
    spec = _spec(executor_instances="3", executor_cores=" 2 ")
    assert (spec.executor_instances, spec.executor_cores) == (3, 2)


def test_a_count_that_renders_to_words_names_the_argument():
    with pytest.raises(JobDefinitionError, match=r"executor_instances='three' is not a whole number"):
        _spec(executor_instances="three")


def test_resources_and_image_are_templated():
    fields = set(SparkJobOperator.template_fields)
    assert {"image", "driver_memory", "executor_memory", "executor_cores", "executor_instances"} <= fields
