"""The Spark image, built once per test session with image/build (without pushing)."""

from __future__ import annotations

import json
import subprocess

import pytest
from image_helpers import DOCKER, copy_build_context, run_build


@pytest.fixture(scope="session")
def built_image(tmp_path_factory) -> dict:
    """Build the image from a clean copy of its sources, its local tag removed first; return the record."""
    context = copy_build_context(tmp_path_factory.mktemp("context"))
    tag = json.loads(run_build("--no-push", "--print-tag", context=context).stdout)["tag"]
    # Clean state: no image of this content exists before the build.
    for name in (f"sparkplane/spark:{tag}", f"sparkplane/spark:{tag}-unlabeled"):
        subprocess.run([DOCKER, "image", "rm", "--force", name], capture_output=True)
    result = run_build("--no-push", "--json", context=context)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)
