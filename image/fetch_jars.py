"""Put the jars of image/jars.lock into a folder: downloaded from a Maven repository, sha256-checked.

Runs in the image build (into the folder the image's ``${SPARK_HOME}/jars`` gets) and on the host
(scripts/ensure-env, into the environment's ``pyspark/jars``); standard library only.

- A jar already in the folder with the locked sha256 is kept: a warm run downloads nothing.
- A download goes to a hidden file beside its target and is renamed only once its sha256
  matches, so the folder never holds a partial or unchecked jar.
- The folder keeps a copy of the lock it was filled from (``.sparkplane-jars.lock``): jars that
  copy lists and the new lock does not are removed, so a version bump leaves one copy of each
  module on Spark's classpath; scripts/ensure-env compares it with the lock to skip this script.

Usage: python fetch_jars.py --lock image/jars.lock --into DIR
The repository is Maven Central, or ``SPARKPLANE_MAVEN_URL`` (a mirror with Maven's layout).
HTTPS trusts the system's certificates, or the bundle named by ``SSL_CERT_FILE``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

MAVEN_CENTRAL_URL = "https://repo1.maven.org/maven2"
MAVEN_URL_VARIABLE = "SPARKPLANE_MAVEN_URL"
#: The copy of the lock a folder was filled from, kept in that folder.
INSTALLED_LOCK_NAME = ".sparkplane-jars.lock"
DOWNLOAD_TIMEOUT_SECONDS = 60
_LOCK_LINE = re.compile(r"^(?P<group>[\w.-]+):(?P<artifact>[\w.-]+):(?P<version>[\w.-]+) (?P<sha256>[0-9a-f]{64})$")


class FetchFailed(Exception):
    """A jar could not be put in place; the message names the jar, what went wrong and what to do."""


@dataclass(frozen=True)
class LockedJar:
    """One line of the jars lock.

    :param group: Maven group id, e.g. ``org.apache.hadoop``.
    :param artifact: Maven artifact id, e.g. ``hadoop-aws``.
    :param version: the artifact's version.
    :param sha256: the jar file's sha256, hex.
    """

    group: str
    artifact: str
    version: str
    sha256: str

    @property
    def coordinates(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"

    @property
    def file_name(self) -> str:
        return f"{self.artifact}-{self.version}.jar"

    @property
    def repository_path(self) -> str:
        """Return the jar's path in a Maven repository."""
        return f"{self.group.replace('.', '/')}/{self.artifact}/{self.version}/{self.file_name}"


def parse_lock(text: str, *, source: str) -> list[LockedJar]:
    """Return the jars listed in a lock's ``text``; ``#`` comments and blank lines are skipped.

    :param text: the lock's content.
    :param source: where the text comes from, for error messages.
    """
    jars = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _LOCK_LINE.match(line)
        if match is None:
            raise FetchFailed(f"{source}:{number} is not 'group:artifact:version sha256': {line!r}. Fix the line.")
        jars.append(LockedJar(**match.groupdict()))
    return jars


def file_sha256(path: Path) -> str:
    """Return the sha256 of the file at ``path``, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_checked(jar: LockedJar, url: str, target: Path, *, lock_name: str) -> None:
    """Download ``url`` to ``target`` if its sha256 is the lock's; otherwise leave nothing behind.

    :param jar: the lock's line for the file.
    :param url: where to download it from.
    :param target: the file to create or replace.
    :param lock_name: the lock's path, for error messages.
    """
    partial = target.with_name(f".{target.name}.part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response, partial.open("wb") as file:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                file.write(block)
        if digest.hexdigest() != jar.sha256:
            raise FetchFailed(
                f"{jar.coordinates} downloaded from {url} has sha256 {digest.hexdigest()}, {lock_name} expects "
                f"{jar.sha256}; nothing was installed. Retry; if it persists, check that {MAVEN_URL_VARIABLE} "
                "serves Maven Central's files, or refresh the lock line as the lock's header says."
            )
        os.replace(partial, target)
    except (urllib.error.URLError, OSError) as error:
        raise FetchFailed(
            f"could not download {jar.coordinates} from {url}: {error}. Check the network and "
            f"{MAVEN_URL_VARIABLE} (a Maven repository URL), then retry."
        ) from error
    finally:
        partial.unlink(missing_ok=True)


def fetch_jar(jar: LockedJar, *, base_url: str, into: Path, lock_name: str) -> bool:
    """Make ``into`` hold ``jar`` with its locked sha256; return whether it was downloaded.

    :param jar: the lock's line.
    :param base_url: the Maven repository's URL.
    :param into: the folder the jar goes into.
    :param lock_name: the lock's path, for error messages.
    """
    target = into / jar.file_name
    if target.is_file():
        if file_sha256(target) == jar.sha256:
            return False
        target.unlink()  # not the locked jar: it must not stay on Spark's classpath, even if the download fails
    download_checked(jar, f"{base_url}/{jar.repository_path}", target, lock_name=lock_name)
    return True


def remove_dropped_jars(into: Path, jars: list[LockedJar]) -> list[str]:
    """Delete the jars the folder's previous lock listed and ``jars`` does not; return their names.

    :param into: the folder, holding its previous lock as ``INSTALLED_LOCK_NAME`` (or none yet).
    :param jars: the jars the folder must hold now.
    """
    previous = into / INSTALLED_LOCK_NAME
    if not previous.is_file():
        return []
    kept = {jar.file_name for jar in jars}
    dropped = sorted({jar.file_name for jar in parse_lock(previous.read_text(), source=str(previous))} - kept)
    for name in dropped:
        (into / name).unlink(missing_ok=True)
    return dropped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, required=True, help="the jars lock (image/jars.lock)")
    parser.add_argument("--into", type=Path, required=True, help="the folder the jars go into")
    args = parser.parse_args(argv)
    base_url = os.environ.get(MAVEN_URL_VARIABLE, MAVEN_CENTRAL_URL).rstrip("/")
    try:
        lock_text = args.lock.read_text()
        jars = parse_lock(lock_text, source=str(args.lock))
        args.into.mkdir(parents=True, exist_ok=True)
        dropped = remove_dropped_jars(args.into, jars)
        downloaded = sum(fetch_jar(jar, base_url=base_url, into=args.into, lock_name=str(args.lock)) for jar in jars)
        (args.into / INSTALLED_LOCK_NAME).write_text(lock_text)
    except (FetchFailed, OSError) as error:
        print(f"fetch_jars: ERROR: {error}", file=sys.stderr)
        return 1
    removed = f", {len(dropped)} no longer locked removed" if dropped else ""
    print(f"fetch_jars: {len(jars)} jars in {args.into} ({downloaded} downloaded from {base_url}{removed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
