"""Record what this image contains, from inside the image, at build time.

Runs in the image's own virtual environment (standard library only) and writes one JSON
document: Python, Spark and Java versions, every installed distribution with its version, which
distribution provides each importable top-level module, the sha256 of the lock the environment
was installed from, and the jars of image/jars.lock in Spark's jars/ folder (Maven coordinates,
file name, the file's sha256); then, in the job code's layer, the sha256 of each job file, so
the preflight can tell a job changed since the image was built.
``image/build`` copies the same document into the image's labels; ``sparkplane.image.contents``
reads it back.

Usage: python record_contents.py --lock PATH --jars-lock PATH --output PATH
       python record_contents.py --jobs DIR --output PATH   (adds the job files to the document)
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

from fetch_jars import file_sha256, parse_lock

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


def list_module_distributions() -> dict[str, list[str]]:
    """Return ``{top-level module: [normalized distribution names]}`` of this environment.

    The image's own answer to "which package provides import X" (``cv2`` is opencv-python,
    ``yaml`` is PyYAML), which no static table gets right for every package.
    """
    return {
        module: sorted({name.lower().replace("_", "-").replace(".", "-") for name in names})
        for module, names in sorted(metadata.packages_distributions().items())
    }


def list_locked_jars(jars_lock: Path, jars_dir: Path) -> list[dict[str, str]]:
    """Return coordinates, file name and sha256 of each jar of ``jars_lock``, as found in ``jars_dir``.

    The sha256 is the file's own, so the record says what the image holds; a locked jar missing
    from the folder fails the build.

    :param jars_lock: the jars lock (image/jars.lock).
    :param jars_dir: Spark's jars/ folder.
    """
    recorded = []
    for jar in parse_lock(jars_lock.read_text(), source=str(jars_lock)):
        path = jars_dir / jar.file_name
        if not path.is_file():
            raise SystemExit(f"{path} is missing, though {jars_lock} lists {jar.coordinates}; "
                             "the image's jars stage (fetch_jars.py) must put it there.")  # fmt: skip
        recorded.append({"coordinates": jar.coordinates, "file": jar.file_name, "sha256": file_sha256(path)})
    return recorded


def build_contents(lock: Path, jars_lock: Path) -> dict[str, object]:
    """Return the contents document of the running environment.

    :param lock: the requirements lock the environment was installed from.
    :param jars_lock: the lock of the jars added to Spark's jars/ folder.
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
        "module_distributions": list_module_distributions(),
        "jars": list_locked_jars(jars_lock, Path(os.environ["SPARK_HOME"]) / "jars"),
    }


def hash_job_files(jobs_dir: Path) -> dict[str, str]:
    """Return ``{path relative to jobs_dir: sha256}`` of every Python file under ``jobs_dir``."""
    return {
        path.relative_to(jobs_dir).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(jobs_dir.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, help="record the environment installed from this lock")
    parser.add_argument("--jars-lock", type=Path, help="and the jars of this lock in Spark's jars/ folder")
    parser.add_argument("--jobs", type=Path, help="add the job files under this folder to an existing document")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.jobs is not None:
        contents = json.loads(args.output.read_text())
        contents["job_sha256"] = hash_job_files(args.jobs)
        args.output.write_text(json.dumps(contents, indent=2, sort_keys=True) + "\n")
        print(f"recorded the sha256 of {len(contents['job_sha256'])} job files in {args.output}")
        return 0
    if args.lock is None or args.jars_lock is None:
        parser.error("give --lock and --jars-lock (the environment), or --jobs (the job files)")
    contents = build_contents(args.lock, args.jars_lock)
    if not contents["spark_version"]:
        print("ERROR: pyspark is not installed in this environment; the lock must pin it.", file=sys.stderr)
        return 1
    args.output.write_text(json.dumps(contents, indent=2, sort_keys=True) + "\n")
    print(f"recorded {len(contents['distributions'])} distributions, {len(contents['jars'])} jars, "
          f"Python {contents['python_version']}, "
          f"Spark {contents['spark_version']}, Java {contents['java_version']} in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
