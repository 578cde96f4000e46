"""What a node's status says about the images it holds, and how image references compare."""

from __future__ import annotations

import pytest
from kubernetes.client import V1ContainerImage, V1Node, V1NodeStatus, V1ObjectMeta

from sparkplane.prepull.images import ImageReference, node_has_image, parse_image_reference

DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32
SPARK = "registry.example.com:5000/sparkplane/spark"


def _node(*names: list[str]) -> V1Node:
    images = [V1ContainerImage(names=image_names, size_bytes=1_484_148_106) for image_names in names]
    return V1Node(metadata=V1ObjectMeta(name="node-1"), status=V1NodeStatus(images=images or None))


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        (f"{SPARK}:3.5@{DIGEST}", ImageReference(SPARK, "3.5", DIGEST)),
        (f"{SPARK}@{DIGEST}", ImageReference(SPARK, None, DIGEST)),
        (f"{SPARK}:c0ffee", ImageReference(SPARK, "c0ffee", None)),
        ("localhost:5000/spark", ImageReference("localhost:5000/spark", "latest", None)),
        ("spark:3.5", ImageReference("docker.io/library/spark", "3.5", None)),
        ("bitnami/spark", ImageReference("docker.io/bitnami/spark", "latest", None)),
        ("index.docker.io/library/spark:1", ImageReference("docker.io/library/spark", "1", None)),
    ],
)
def test_references_are_split_and_normalised_like_the_runtime_names_them(reference, expected):
    assert parse_image_reference(reference) == expected


@pytest.mark.parametrize("reference", ["", " spark", "spark@sha256:abc", "spark:", "registry:5000/", "a//b:1"])
def test_malformed_references_are_refused(reference):
    with pytest.raises(ValueError, match="image reference"):
        parse_image_reference(reference)


def test_a_digest_reference_is_found_by_the_digest_the_node_lists():
    node = _node([f"{SPARK}@{DIGEST}", f"{SPARK}:c0ffee"])
    assert node_has_image(node, f"{SPARK}@{DIGEST}")
    assert node_has_image(node, f"{SPARK}:c0ffee@{DIGEST}")


def test_a_tag_does_not_prove_a_digest():
    node = _node([f"{SPARK}@{OTHER_DIGEST}", f"{SPARK}:c0ffee"])
    assert not node_has_image(node, f"{SPARK}:c0ffee@{DIGEST}")


def test_the_same_digest_in_another_repository_does_not_count():
    assert not node_has_image(_node([f"registry.example.com:5000/mirror/spark@{DIGEST}"]), f"{SPARK}@{DIGEST}")


def test_a_tag_reference_is_found_by_tag_and_familiar_names_match_their_full_form():
    node = _node(["docker.io/library/spark:3.5", "docker.io/library/spark@" + DIGEST], ["<none>@<none>", "<none>:<none>"])
    assert node_has_image(node, "spark:3.5")
    assert not node_has_image(node, "spark:3.4")


def test_a_node_without_an_image_list_lists_nothing():
    assert not node_has_image(_node(), f"{SPARK}@{DIGEST}")
    assert not node_has_image(V1Node(metadata=V1ObjectMeta(name="new")), f"{SPARK}@{DIGEST}")
