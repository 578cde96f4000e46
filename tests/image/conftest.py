"""The Spark image, built once per test session with image/build (without pushing)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
from image_helpers import PROJECT_ROOT, copy_build_context, run_build
from localcluster.host import dockerd_of_docker_up_runs
from localcluster.settings import load_settings


@pytest.fixture(scope="session", autouse=True)
def docker_engine() -> Iterator[None]:
    """The Docker engine the image tests build with: started by cluster/docker-up when none runs,
    and stopped after the session's last test if this session started it. A local cluster the
    session starts later finds it running and leaves it; it is stopped before this runs down."""
    settings = load_settings()
    started_here = not dockerd_of_docker_up_runs(settings)
    subprocess.run([str(PROJECT_ROOT / "cluster" / "docker-up")], check=True, capture_output=True, timeout=300)
    yield
    if started_here and dockerd_of_docker_up_runs(settings):
        subprocess.run([str(PROJECT_ROOT / "cluster" / "docker-down")], check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def built_image(tmp_path_factory) -> dict:
    """Build the image from a clean copy of its sources (a cache hit if this content was built
    before: the tag is the content's; ``make test-long`` builds with no layer cache); return the record."""
    context = copy_build_context(tmp_path_factory.mktemp("context"))
    result = run_build("--no-push", "--json", context=context)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)
