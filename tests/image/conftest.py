"""The Spark image, built once per test session with image/build (without pushing)."""

from __future__ import annotations

import json

import pytest
from image_helpers import copy_build_context, run_build


@pytest.fixture(scope="session")
def built_image(tmp_path_factory) -> dict:
    """Build the image from a clean copy of its sources (a cache hit if this content was built
    before: the tag is the content's; ``make test-long`` builds with no layer cache); return the record."""
    context = copy_build_context(tmp_path_factory.mktemp("context"))
    result = run_build("--no-push", "--json", context=context)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)
