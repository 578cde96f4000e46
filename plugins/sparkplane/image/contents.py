"""What a Spark image contains, read from its labels without running anything in a cluster.

Reads back the contents document ``image/build`` records in the image and answers the
operator's preflight questions: same Python minor as the driver? is package X in the image?

Usage: python -m sparkplane.image.contents IMAGE [--require NAME[==VERSION]]... [--source S]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sparkplane.image.labels import (
    ImageLabelsError,
    ImageNotFound,
    parse_image_reference,
    read_labels_from_docker,
    read_labels_from_registry,
)

#: The label holding the whole contents document (image/build writes it).
CONTENTS_LABEL = "dev.sparkplane.image.contents"
#: The layout this module understands (image/record_contents.py writes it).
SCHEMA = "sparkplane.image-contents/v1"
Source = Literal["auto", "registry", "docker"]


class ImageContentsError(Exception):
    """The contents of an image could not be read or understood; the message says what to do."""


class ImageNotInRegistry(ImageContentsError):
    """The image's registry says it does not exist: a job that uses it can never start."""


@dataclass(frozen=True)
class ImageContents:
    """Versions recorded in a Spark image at build time.

    ``image/build`` records, at build time and from inside the image, its Python, Spark and Java
    versions, every installed distribution and the lock's sha256, and copies that document into
    the image label ``dev.sparkplane.image.contents``.

    :param python_version: e.g. ``3.11.2``.
    :param spark_version: the pyspark distribution's version.
    :param java_version: the Java runtime's version.
    :param lock_sha256: sha256 of the lock the image's environment was installed from.
    :param distributions: normalized distribution name -> version, for every one installed.
    :param job_sha256: path under the jobs folder -> sha256, for every job file the image holds
        (empty for an image built before the platform recorded them).
    :param module_distributions: top-level module -> the distributions providing it, in the image
        (empty for an image built before the platform recorded them).
    """

    python_version: str
    spark_version: str
    java_version: str
    lock_sha256: str
    distributions: Mapping[str, str]
    job_sha256: Mapping[str, str] = field(default_factory=dict)
    module_distributions: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @classmethod
    def from_document(cls, document: Mapping[str, object]) -> ImageContents:
        """Build from the JSON document recorded in the image; reject other layouts."""
        if document.get("schema") != SCHEMA:
            raise ImageContentsError(
                f"the contents document has schema {document.get('schema')!r}, expected {SCHEMA!r}; "
                "rebuild the image with image/build or upgrade sparkplane."
            )
        distributions = document.get("distributions")
        if not isinstance(distributions, dict):
            raise ImageContentsError("the contents document has no 'distributions' mapping; rebuild the image.")
        job_sha256 = document.get("job_sha256") or {}
        module_distributions = document.get("module_distributions") or {}
        if not isinstance(job_sha256, dict) or not isinstance(module_distributions, dict):
            raise ImageContentsError("the contents document's 'job_sha256' or 'module_distributions' is not a "
                                     "mapping; rebuild the image.")  # fmt: skip
        return cls(
            python_version=str(document["python_version"]),
            spark_version=str(document["spark_version"]),
            java_version=str(document["java_version"]),
            lock_sha256=str(document["lock_sha256"]),
            distributions={normalize_name(k): str(v) for k, v in distributions.items()},
            job_sha256={str(k): str(v) for k, v in job_sha256.items()},
            module_distributions={str(k): [normalize_name(str(d)) for d in v] for k, v in module_distributions.items()
                                  if isinstance(v, list)},  # fmt: skip
        )


# The comparison helpers below are pure and answer the operator's preflight questions: same
# Python minor as the driver? is package X (at version Y) in the image?


def normalize_name(name: str) -> str:
    """Return a distribution name in PEP 503 normal form (``Great_Expectations`` -> ``great-expectations``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def python_parity_problem(contents: ImageContents, driver_python_version: str) -> str | None:
    """Return why the image's Python cannot serve a driver on ``driver_python_version``, or None.

    PySpark refuses to run when driver and workers differ in the minor version.

    :param contents: what the image holds.
    :param driver_python_version: the driver's ``X.Y[.Z]``.
    """
    image_minor = contents.python_version.split(".")[:2]
    driver_minor = driver_python_version.split(".")[:2]
    if image_minor == driver_minor:
        return None
    return (
        f"the image runs Python {contents.python_version}, the driver Python {driver_python_version}: "
        f"PySpark needs the same minor version on both. Build the image and the driver environment from one lock."
    )


def package_problem(contents: ImageContents, name: str, version: str | None = None) -> str | None:
    """Return why the image lacks package ``name`` (at ``version`` when given), or None.

    :param contents: what the image holds.
    :param name: a distribution name, any spelling.
    :param version: the exact version the driver has, or None for any version.
    """
    installed = contents.distributions.get(normalize_name(name))
    if installed is None:
        return (
            f"package {name} is not in the image; executors would fail with ModuleNotFoundError. "
            "Add it to the [jobs] extra in pyproject.toml, run scripts/lock and image/build."
        )
    if version is not None and installed != version:
        return (
            f"the image has {name} {installed}, the driver {version}. "
            "Rebuild the image from the current lock with image/build."
        )
    return None


def parse_requirement(text: str) -> tuple[str, str | None]:
    """Split ``name==version`` (or a bare ``name``) into its parts."""
    name, _, version = text.partition("==")
    return name.strip(), (version.strip() or None)


def read_image_contents(image: str, *, source: Source = "auto") -> ImageContents:
    """Return what ``image`` contains, from its labels.

    The labels are read through ``sparkplane.image.labels``: the registry's HTTP API, which is
    what a Kubernetes deployment has, or the local Docker engine.

    :param image: the image reference.
    :param source: ``registry``, ``docker``, or ``auto`` (the registry when the reference names one).
    """
    try:
        ref = parse_image_reference(image)
        use_registry = source == "registry" or (source == "auto" and ref.registry is not None)
        if use_registry and ref.registry is None:
            raise ImageContentsError(f"{image} names no registry; give registry/repository:tag or use the docker source.")
        labels = read_labels_from_registry(ref) if use_registry else read_labels_from_docker(image)
    except ImageNotFound as e:
        raise ImageNotInRegistry(f"{image} does not exist: {e}") from e
    except ImageLabelsError as e:
        raise ImageContentsError(str(e)) from e
    raw = labels.get(CONTENTS_LABEL)
    if raw is None:
        raise ImageContentsError(f"{image} has no {CONTENTS_LABEL} label; it was not built by image/build. Rebuild it.")
    return ImageContents.from_document(json.loads(raw))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sparkplane.image.contents", description=__doc__.splitlines()[0])
    parser.add_argument("image", help="image reference, e.g. 127.0.0.1:5000/sparkplane/spark:TAG")
    parser.add_argument("--source", choices=("auto", "registry", "docker"), default="auto")
    parser.add_argument("--driver-python", default=platform.python_version(), help="default: this interpreter's")
    parser.add_argument("--require", action="append", default=[], metavar="NAME[==VERSION]",
                        help="a package the image must have; repeat for more")
    parser.add_argument("--json", action="store_true", help="print the recorded contents as JSON")
    args = parser.parse_args(argv)
    try:
        contents = read_image_contents(args.image, source=args.source)
    except ImageContentsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({**contents.__dict__, "distributions": dict(contents.distributions)}, indent=2))
    else:
        print(f"Python {contents.python_version}, Spark {contents.spark_version}, Java {contents.java_version}, "
              f"{len(contents.distributions)} distributions, lock sha256 {contents.lock_sha256[:12]}")
    problems = [python_parity_problem(contents, args.driver_python)]
    problems += [package_problem(contents, *parse_requirement(r)) for r in args.require]
    for problem in filter(None, problems):
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if any(problems) else 0


if __name__ == "__main__":
    sys.exit(main())
