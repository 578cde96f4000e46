"""Which images a node holds, as its status says, and how image references compare. Pure.

A node's ``status.images`` lists the images its container runtime holds, each under every name
it is known by: ``registry/repo@sha256:<digest>`` (the digest it was pulled by) and
``registry/repo:<tag>``. The list is a hint, not an inventory:

* The kubelet reports at most ``--node-status-max-images`` images (``nodeStatusMaxImages`` in
  its config file; default 50, -1 for no limit), the largest first. A node holding many large
  images (an ML node) may hold the Spark image without listing it. **Absence from the list is
  not proof of absence**: the runner still sends a puller, which then reports "already present".
* The list is refreshed with the node's status (every few seconds), and image garbage collection
  may remove an image after it was listed. Presence is proof as of the last status update.

Names compare after the normalisation the container runtime applies: ``spark:1`` is
``docker.io/library/spark:1``, and a reference with neither tag nor digest means ``:latest``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubernetes.client import V1Node

#: The kubelet's default ``--node-status-max-images``: a node lists at most this many images.
DEFAULT_NODE_STATUS_MAX_IMAGES = 50

_DEFAULT_DOMAIN = "docker.io"
_LEGACY_DEFAULT_DOMAINS = frozenset({"index.docker.io", "registry-1.docker.io"})
_OFFICIAL_NAMESPACE = "library"
_DEFAULT_TAG = "latest"
_DIGEST = re.compile(r"(?P<algorithm>[a-z0-9]+(?:[+._-][a-z0-9]+)*):(?P<hex>[0-9a-fA-F]{32,})")
_SHA256_HEX_LENGTH = 64
_TAG = re.compile(r"[\w][\w.-]{0,127}")


@dataclass(frozen=True)
class ImageReference:
    """An image reference, normalised the way the container runtime names images.

    :param repository: registry and path, e.g. ``registry.example.com:5000/sparkplane/spark``.
    :param tag: the tag, or None when the reference pins a digest only.
    :param digest: ``sha256:<64 hex>``, or None when the reference names a tag only.
    """

    repository: str
    tag: str | None
    digest: str | None

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.repository}{tag}{digest}"


def parse_image_reference(reference: str) -> ImageReference:
    """Return ``reference`` split into repository, tag and digest; raise ValueError if malformed."""
    if not reference or reference != reference.strip() or any(c.isspace() for c in reference):
        raise ValueError(f"image reference {reference!r} is empty or contains spaces")
    name, _, digest = reference.partition("@")
    if digest:
        match = _DIGEST.fullmatch(digest)
        if not match or (match["algorithm"] == "sha256" and len(match["hex"]) != _SHA256_HEX_LENGTH):
            raise ValueError(f"image reference {reference!r} has a malformed digest {digest!r}")
    repository, tag = name, None
    head, colon, tail = name.rpartition(":")
    if colon and "/" not in tail:  # a colon before the last slash is a registry's port
        repository, tag = head, tail
        if not _TAG.fullmatch(tag):
            raise ValueError(f"image reference {reference!r} has a malformed tag {tag!r}")
    if not repository or repository.endswith("/") or "//" in repository:
        raise ValueError(f"image reference {reference!r} has a malformed repository {repository!r}")
    return ImageReference(
        repository=_normalise_repository(repository),
        tag=tag if tag or digest else _DEFAULT_TAG,
        digest=digest.lower() if digest else None,
    )


def _normalise_repository(repository: str) -> str:
    first, slash, rest = repository.partition("/")
    has_domain = slash and ("." in first or ":" in first or first == "localhost")
    if not has_domain:
        first, rest = _DEFAULT_DOMAIN, repository
    if first in _LEGACY_DEFAULT_DOMAINS:
        first = _DEFAULT_DOMAIN
    if first == _DEFAULT_DOMAIN and "/" not in rest:
        rest = f"{_OFFICIAL_NAMESPACE}/{rest}"
    return f"{first}/{rest}"


def node_image_names(node: V1Node) -> list[str]:
    """Return every name of every image the node's status lists."""
    images = (node.status.images if node.status else None) or []
    return [name for image in images for name in (image.names or [])]


def node_has_image(node: V1Node, image: str) -> bool:
    """Return whether the node's status lists ``image``: by digest when it pins one, else by tag.

    False means "not listed", which is not "not there" (see the module's notes).
    """
    wanted = parse_image_reference(image)
    for name in node_image_names(node):
        try:
            listed = parse_image_reference(name)
        except ValueError:
            continue  # a placeholder such as '<none>@<none>' names no image
        if listed.repository != wanted.repository:
            continue
        if wanted.digest is not None and listed.digest == wanted.digest:
            return True
        if wanted.digest is None and listed.tag == wanted.tag:
            return True
    return False
