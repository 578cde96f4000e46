"""The Spark image, built once per test session with image/build (without pushing)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUILD = PROJECT_ROOT / "image" / "build"
DOCKER = "/usr/bin/docker"
#: A cold build on two cores takes about two minutes; a cached one seconds.
BUILD_TIMEOUT_SECONDS = 20 * 60


def run_build(*args: str, context: Path = PROJECT_ROOT) -> subprocess.CompletedProcess[str]:
    """Run image/build with ``args`` on ``context``; return the finished process."""
    return subprocess.run(
        [str(BUILD), "--context", str(context), *args],
        capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS,
    )


def docker_run(image: str, *command: str, volumes: dict[Path, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in a throwaway container of ``image``."""
    mounts = [arg for host, target in (volumes or {}).items() for arg in ("-v", f"{host}:{target}:ro")]
    return subprocess.run([DOCKER, "run", "--rm", *mounts, image, *command], capture_output=True, text=True, timeout=600)


def copy_build_context(target: Path) -> Path:
    """Copy what the image is built from into ``target`` (laid out like the repository)."""
    shutil.copytree(PROJECT_ROOT / "image", target / "image", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(PROJECT_ROOT / "jobs", target / "jobs", ignore=shutil.ignore_patterns("__pycache__"))
    return target


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
