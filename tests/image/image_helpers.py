"""Running image/build and the built image from tests (shared by the image and cluster tests)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUILD = PROJECT_ROOT / "image" / "build"
DOCKER = "/usr/bin/docker"
#: A cold build on two cores takes about two minutes; a cached one seconds.
BUILD_TIMEOUT_SECONDS = 20 * 60
#: The jars the image adds to Spark's jars/ folder (S3A), and their lock's reader.
JARS_LOCK = PROJECT_ROOT / "image" / "jars.lock"
FETCH_JARS = PROJECT_ROOT / "image" / "fetch_jars.py"


def load_fetch_jars() -> ModuleType:
    """Import image/fetch_jars.py (a script the image build runs, not a package module)."""
    spec = importlib.util.spec_from_file_location("fetch_jars", FETCH_JARS)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


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
    shutil.copytree(PROJECT_ROOT / "spark-bootstrap" / "pod-templates", target / "spark-bootstrap" / "pod-templates")
    scanner = Path("plugins", "sparkplane", "image", "job_imports.py")
    (target / scanner).parent.mkdir(parents=True)
    shutil.copy2(PROJECT_ROOT / scanner, target / scanner)
    return target
