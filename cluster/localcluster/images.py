"""The sandbox (pause) image, built from Kubernetes' own pause.c.

registry.k8s.io is unreachable here, so the image every pod sandbox runs is
compiled from the pinned k8s.io/kubernetes module source (already in the Go
module cache after the build), packed FROM scratch and pushed to the local
registry that the node's containerd pulls from.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path

from .procs import ComponentError, run
from .settings import Settings

PAUSE_VERSION = "3.10.1"
DOCKER = "/usr/bin/docker"
MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])  # fmt: skip


def registry_has(s: Settings, repository: str, tag: str) -> bool:
    """Return whether the local registry serves ``repository:tag``."""
    request = urllib.request.Request(
        f"http://{s.registry}/v2/{repository}/manifests/{tag}", method="HEAD", headers={"Accept": MANIFEST_TYPES}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def _pause_source(s: Settings) -> Path:
    gomodcache = subprocess.run(
        ["/usr/local/go/bin/go", "env", "GOMODCACHE"], capture_output=True, text=True, check=False
    ).stdout.strip() or str(Path.home() / "go" / "pkg" / "mod")
    source = Path(gomodcache) / f"k8s.io/kubernetes@{s.kube_version}" / "build/pause/linux/pause.c"
    if not source.exists():
        # The module is downloaded by build-binaries; fetch it if the cache was cleaned since.
        run(["/usr/local/go/bin/go", "mod", "download", f"k8s.io/kubernetes@{s.kube_version}"],
            what="pause image (go mod download)", log=s.log_dir / "pause-image.log")  # fmt: skip
    return source


def ensure_pause_image(s: Settings) -> None:
    """Build and push the pause image unless the registry already has it."""
    if registry_has(s, "sparkplane/pause", PAUSE_VERSION):
        return
    log = s.log_dir / "pause-image.log"
    with tempfile.TemporaryDirectory() as context:
        binary = Path(context) / "pause"
        run(["gcc", "-Os", "-Wall", "-static", f"-DVERSION=v{PAUSE_VERSION}-sparkplane",
             "-o", str(binary), str(_pause_source(s))], what="pause image (gcc)", log=log)  # fmt: skip
        run(["strip", str(binary)], what="pause image (strip)", log=log)
        (Path(context) / "Dockerfile").write_text(
            'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n'
        )
        env_builder = {"DOCKER_BUILDKIT": "0"}  # the classic builder needs no extra images
        docker = DOCKER if os.path.exists(DOCKER) else shutil.which("docker") or "docker"
        for argv in ([docker, "build", "-q", "-t", s.pause_image, context], [docker, "push", s.pause_image]):
            proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **env_builder})
            if proc.returncode != 0:
                log.write_text(proc.stdout + proc.stderr)
                raise ComponentError("pause image", f"`{' '.join(argv)}` failed", log)
