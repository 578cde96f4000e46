"""Read an image's labels without running it: from its registry, or from the local engine.

The registry path is what a Kubernetes deployment has: the Docker registry HTTP API v2 gives
the image's manifest, the manifest names the config blob, and the config carries the labels.
Only the standard library is used, so a preflight needs no Docker client.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus


class ImageLabelsError(Exception):
    """The labels of an image could not be read; the message says where and what to do."""


class ImageNotFound(ImageLabelsError):
    """The registry answered that the image (its manifest or configuration) does not exist."""


#: Manifest media types asked from the registry, single-platform ones first.
MANIFEST_MEDIA_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)
#: Seconds to wait for one registry response; a local registry answers in milliseconds.
REGISTRY_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class ImageReference:
    """An image reference split into registry host, repository and tag or digest.

    :param registry: ``host[:port]``, or None for a name without a registry part.
    :param repository: path inside the registry, e.g. ``sparkplane/spark``.
    :param reference: a tag or a ``sha256:...`` digest.
    """

    registry: str | None
    repository: str
    reference: str


def parse_image_reference(ref: str) -> ImageReference:
    """Split ``[registry/]repository[:tag|@digest]`` the way Docker does.

    The first path component is a registry when it has a dot or a port, or is ``localhost``.

    :param ref: the image reference.
    """
    name, _, digest = ref.partition("@")
    tag = "latest"
    last_slash = name.rfind("/")
    if ":" in name[last_slash + 1 :]:
        name, _, tag = name.rpartition(":")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = None, name
    if not repository:
        raise ImageLabelsError(f"{ref!r} is not an image reference; expected e.g. 127.0.0.1:5000/sparkplane/spark:TAG.")
    return ImageReference(registry, repository, digest or tag)


def _registry_get(url: str, accept: Sequence[str]) -> tuple[dict[str, object], str]:
    """GET a JSON document from a registry; return it and its media type."""
    request = urllib.request.Request(url, headers={"Accept": ", ".join(accept)})
    try:
        with urllib.request.urlopen(request, timeout=REGISTRY_TIMEOUT_SECONDS) as response:
            return json.load(response), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        error = ImageNotFound if e.code == HTTPStatus.NOT_FOUND else ImageLabelsError
        raise error(
            f"the registry answered {e.code} for {url}; check the image name and tag, and that it was pushed (image/build)."
        ) from e
    except (urllib.error.URLError, OSError) as e:
        raise ImageLabelsError(f"no registry answers at {url}: {e}. Start the registry or check its address.") from e


def parse_registry_aliases(text: str) -> dict[str, str]:
    """Return ``{registry name: URL to read it at}`` from ``name=url,name=url`` (``SPARKPLANE_IMAGE_REGISTRY_ALIASES``)."""
    aliases = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        name, _, url = pair.partition("=")
        if not name.strip() or not url.strip().startswith(("http://", "https://")):
            raise ImageLabelsError(
                f"SPARKPLANE_IMAGE_REGISTRY_ALIASES has {pair!r}; give name=URL pairs separated by commas, "
                "such as 127.0.0.1:5000=http://10.244.0.1:5000 (the registry as image references name it = "
                "where this machine reaches it)."
            )
        aliases[name.strip()] = url.strip().rstrip("/")
    return aliases


def _registry_base(ref: ImageReference) -> str:
    from sparkplane import settings

    alias = parse_registry_aliases(settings.IMAGE_REGISTRY_ALIASES).get(ref.registry or "")
    if alias:
        return f"{alias}/v2/{ref.repository}"
    host = (ref.registry or "").rsplit(":", 1)[0]
    scheme = "http" if host in ("127.0.0.1", "localhost", "[::1]") else "https"
    return f"{scheme}://{ref.registry}/v2/{ref.repository}"


def pin_by_digest(reference: str) -> str:
    """Return ``reference`` by digest (``registry/repository@sha256:...``), asking its registry for a tag's digest."""
    ref = parse_image_reference(reference)
    if ref.reference.startswith("sha256:"):
        return reference
    if ref.registry is None:
        raise ImageLabelsError(f"{reference!r} names no registry, so its digest cannot be looked up; "
                               "give the reference image/build printed (registry/repository@sha256:...).")  # fmt: skip
    url = f"{_registry_base(ref)}/manifests/{ref.reference}"
    request = urllib.request.Request(url, method="HEAD", headers={"Accept": ", ".join(MANIFEST_MEDIA_TYPES)})
    try:
        with urllib.request.urlopen(request, timeout=REGISTRY_TIMEOUT_SECONDS) as response:
            digest = response.headers.get("Docker-Content-Digest")
    except urllib.error.HTTPError as e:
        error = ImageNotFound if e.code == HTTPStatus.NOT_FOUND else ImageLabelsError
        raise error(f"the registry answered {e.code} for {url}; check the image name and tag, and that it was "
                    "pushed (image/build).") from e  # fmt: skip
    except (urllib.error.URLError, OSError) as e:
        raise ImageLabelsError(f"no registry answers at {url}: {e}. Start the registry or check its address.") from e
    if not digest:
        raise ImageLabelsError(f"the registry gave no digest for {reference}; give the image by digest instead.")
    return f"{ref.registry}/{ref.repository}@{digest}"


def read_labels_from_registry(ref: ImageReference) -> dict[str, str]:
    """Return the labels of an image from its registry: manifest, then config blob.

    Loopback registries are spoken to over plain HTTP (as Docker and containerd do).

    :param ref: an image reference that names a registry.
    """
    base = _registry_base(ref)
    manifest, media_type = _registry_get(f"{base}/manifests/{ref.reference}", MANIFEST_MEDIA_TYPES)
    if "manifests" in manifest:  # an index of platforms: follow linux/amd64, the nodes' platform
        chosen = next(
            (m for m in manifest["manifests"] if m.get("platform", {}).get("architecture") == "amd64"), None  # type: ignore[union-attr]
        )
        if chosen is None:
            raise ImageLabelsError(f"{base}:{ref.reference} has no linux/amd64 image; build one with image/build.")
        manifest, media_type = _registry_get(f"{base}/manifests/{chosen['digest']}", MANIFEST_MEDIA_TYPES[:2])
    config_digest = manifest.get("config", {}).get("digest")  # type: ignore[union-attr]
    if not config_digest:
        raise ImageLabelsError(f"the manifest of {base}:{ref.reference} ({media_type}) has no config blob.")
    config, _ = _registry_get(f"{base}/blobs/{config_digest}", ("application/json", "*/*"))
    return dict(config.get("config", {}).get("Labels") or {})  # type: ignore[union-attr]


def read_labels_from_docker(image: str) -> dict[str, str]:
    """Return the labels of an image in the local Docker engine.

    :param image: any reference the engine knows.
    """
    try:
        result = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", image],
            capture_output=True, text=True, check=True,
        )
    except FileNotFoundError as e:
        raise ImageLabelsError("the docker command is not installed; read the image from its registry instead.") from e
    except subprocess.CalledProcessError as e:
        raise ImageLabelsError(f"docker cannot inspect {image}: {e.stderr.strip()}. Build or pull it first.") from e
    return json.loads(result.stdout) or {}
