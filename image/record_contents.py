"""Record what this image contains, from inside the image, at build time.

Runs in the image's own virtual environment (standard library only) and writes one JSON
document: Python, Spark and Java versions, every installed distribution with its version,
and the sha256 of the lock the environment was installed from. ``image/build`` copies the
same document into the image's labels; ``sparkplane.image.contents`` reads it back.

Usage: python record_contents.py --lock PATH --output PATH
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

#: Identifies the document's layout; bump it when a key changes meaning.
SCHEMA = "sparkplane.image-contents/v1"


def read_java_version(java_home: Path) -> str:
    """Return the Java runtime version from the JDK's ``release`` file (no JVM start needed).

    :param java_home: the Java installation folder (``JAVA_HOME``).
    """
    release = java_home / "release"
    for line in release.read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "JAVA_VERSION":
            return value.strip().strip('"')
    raise SystemExit(f"{release} has no JAVA_VERSION line; is JAVA_HOME={java_home} a Java installation?")


def list_distributions() -> dict[str, str]:
    """Return ``{normalized name: version}`` of every distribution in this environment."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[name.lower().replace("_", "-").replace(".", "-")] = dist.version
    return dict(sorted(found.items()))


def build_contents(lock: Path) -> dict[str, object]:
    """Return the contents document of the running environment.

    :param lock: the requirements lock the environment was installed from.
    """
    distributions = list_distributions()
    return {
        "schema": SCHEMA,
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "spark_version": distributions.get("pyspark", ""),
        "java_version": read_java_version(Path(os.environ["JAVA_HOME"])),
        "lock_sha256": hashlib.sha256(lock.read_bytes()).hexdigest(),
        "distributions": distributions,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    contents = build_contents(args.lock)
    if not contents["spark_version"]:
        print("ERROR: pyspark is not installed in this environment; the lock must pin it.", file=sys.stderr)
        return 1
    args.output.write_text(json.dumps(contents, indent=2, sort_keys=True) + "\n")
    print(f"recorded {len(contents['distributions'])} distributions, Python {contents['python_version']}, "
          f"Spark {contents['spark_version']}, Java {contents['java_version']} in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
