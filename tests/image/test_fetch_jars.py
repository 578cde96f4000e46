"""image/jars.lock and image/fetch_jars.py: the lock fits pyspark's jars, downloads over real HTTP are checked."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from image_helpers import FETCH_JARS, JARS_LOCK, load_fetch_jars

fetch_jars = load_fetch_jars()


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Nothing here needs Docker: stands in for tests/image/conftest.py's engine fixture."""


def pyspark_jars_dir() -> Path:
    spec = importlib.util.find_spec("pyspark")
    assert spec is not None and spec.submodule_search_locations, "pyspark is not installed in this environment"
    return Path(spec.submodule_search_locations[0]) / "jars"


def artifact_of(jar_file_name: str) -> str:
    """Return the artifact id of a jar named ``artifact-version[-classifier].jar``."""
    return re.split(r"-\d", jar_file_name, maxsplit=1)[0]


def test_the_lock_pins_hadoop_aws_at_pysparks_hadoop_and_one_sdk_version():
    jars = fetch_jars.parse_lock(JARS_LOCK.read_text(), source=str(JARS_LOCK))
    (hadoop_client_api,) = pyspark_jars_dir().glob("hadoop-client-api-*.jar")

    versions = {jar.artifact: jar.version for jar in jars}
    assert len(versions) == len(jars)  # one version of each artifact
    assert f"hadoop-aws-{versions['hadoop-aws']}.jar" == hadoop_client_api.name.replace("client-api", "aws")
    assert len({jar.version for jar in jars if jar.group == "software.amazon.awssdk"}) == 1


def test_the_lock_adds_no_artifact_pyspark_already_ships():
    locked = fetch_jars.parse_lock(JARS_LOCK.read_text(), source=str(JARS_LOCK))
    locked_files = {jar.file_name for jar in locked}
    shipped = {artifact_of(path.name) for path in pyspark_jars_dir().glob("*.jar") if path.name not in locked_files}

    # A second copy at another version (httpclient, netty, jackson, ...) would make the classpath's order decide.
    assert shipped and {jar.artifact for jar in locked} & shipped == set()


def test_a_malformed_lock_line_is_refused_with_its_line_number():
    with pytest.raises(fetch_jars.FetchFailed, match=r"^jars\.lock:2 is not 'group:artifact:version sha256'"):
        fetch_jars.parse_lock("# header\norg.example:demo:1.0 not-a-sha256\n", source="jars.lock")


class RecordingHandler(SimpleHTTPRequestHandler):
    """Serves a folder and records the path of every request."""

    requests: list[str]

    def log_message(self, format: str, *args: object) -> None:
        self.requests.append(self.path)


@pytest.fixture
def maven_repository(tmp_path) -> Iterator[tuple[Path, str, list[str]]]:
    """A folder served over HTTP on a free port: (folder, base URL, request paths so far)."""
    root = tmp_path / "repository"
    root.mkdir()
    requests: list[str] = []
    handler = type("Handler", (RecordingHandler,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(target=partial(server.serve_forever, poll_interval=0.05), daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/maven2/", requests
    server.shutdown()
    server.server_close()


def publish(repository: Path, coordinates: str, content: bytes) -> str:
    """Put a jar in the repository's Maven layout (under maven2/); return its lock line."""
    group, artifact, version = coordinates.split(":")
    path = repository / "maven2" / group.replace(".", "/") / artifact / version / f"{artifact}-{version}.jar"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return f"{coordinates} {hashlib.sha256(content).hexdigest()}"


def run_fetch_jars(lock: Path, into: Path, base_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(FETCH_JARS), "--lock", str(lock), "--into", str(into)],
                          env={**os.environ, "SPARKPLANE_MAVEN_URL": base_url}, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def test_jars_are_downloaded_checked_and_a_present_one_is_not_downloaded_again(maven_repository, tmp_path):
    repository, base_url, requests = maven_repository
    lock = tmp_path / "jars.lock"
    lock.write_text("# two jars\n" + publish(repository, "org.example:alpha:1.0", b"alpha jar") + "\n"
                    + publish(repository, "org.example.beta:beta-core:2.1", b"beta jar") + "\n")  # fmt: skip
    into = tmp_path / "jars"

    first = run_fetch_jars(lock, into, base_url)
    assert first.returncode == 0, first.stderr
    assert (into / "alpha-1.0.jar").read_bytes() == b"alpha jar"
    assert (into / "beta-core-2.1.jar").read_bytes() == b"beta jar"
    assert sorted(requests) == ["/maven2/org/example/alpha/1.0/alpha-1.0.jar",
                                "/maven2/org/example/beta/beta-core/2.1/beta-core-2.1.jar"]  # fmt: skip

    requests.clear()
    again = run_fetch_jars(lock, into, base_url)
    assert again.returncode == 0, again.stderr
    assert requests == []
    assert "0 downloaded" in again.stdout

    (into / "alpha-1.0.jar").write_bytes(b"damaged")
    repaired = run_fetch_jars(lock, into, base_url)
    assert repaired.returncode == 0, repaired.stderr
    assert requests == ["/maven2/org/example/alpha/1.0/alpha-1.0.jar"]
    assert (into / "alpha-1.0.jar").read_bytes() == b"alpha jar"


def test_a_checksum_mismatch_is_refused_with_one_clear_line_and_leaves_no_file(maven_repository, tmp_path):
    repository, base_url, _ = maven_repository
    publish(repository, "org.example:alpha:1.0", b"what the mirror serves")
    expected = hashlib.sha256(b"what the lock was made from").hexdigest()
    got = hashlib.sha256(b"what the mirror serves").hexdigest()
    lock = tmp_path / "jars.lock"
    lock.write_text(f"org.example:alpha:1.0 {expected}\n")
    into = tmp_path / "jars"

    result = run_fetch_jars(lock, into, base_url)

    assert result.returncode == 1
    assert result.stderr.splitlines() == [(
        f"fetch_jars: ERROR: org.example:alpha:1.0 downloaded from {base_url}org/example/alpha/1.0/alpha-1.0.jar has "
        f"sha256 {got}, {lock} expects {expected}; nothing was installed. Retry; if it persists, check that "
        "SPARKPLANE_MAVEN_URL serves Maven Central's files, or refresh the lock line as the lock's header says.")]  # fmt: skip
    assert list(into.iterdir()) == []


def test_a_failed_download_names_the_jar_the_url_and_what_to_check(maven_repository, tmp_path):
    _, base_url, _ = maven_repository
    lock = tmp_path / "jars.lock"
    lock.write_text(f"org.example:missing:1.0 {'0' * 64}\n")

    result = run_fetch_jars(lock, tmp_path / "jars", base_url)

    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"fetch_jars: ERROR: could not download org.example:missing:1.0 from "
                           f"{base_url}org/example/missing/1.0/missing-1.0.jar: HTTP Error 404")  # fmt: skip
    assert line.endswith("Check the network and SPARKPLANE_MAVEN_URL (a Maven repository URL), then retry.")
    assert list((tmp_path / "jars").iterdir()) == []


def test_a_jar_the_new_lock_no_longer_lists_is_removed(maven_repository, tmp_path):
    repository, base_url, _ = maven_repository
    old, new = tmp_path / "old.lock", tmp_path / "new.lock"
    old.write_text(publish(repository, "org.example:alpha:1.0", b"alpha 1.0") + "\n")
    new.write_text(publish(repository, "org.example:alpha:1.1", b"alpha 1.1") + "\n")
    into = tmp_path / "jars"
    into.mkdir()
    (into / "unrelated-3.0.jar").write_bytes(b"a jar the lock never listed")

    assert run_fetch_jars(old, into, base_url).returncode == 0
    bumped = run_fetch_jars(new, into, base_url)

    assert bumped.returncode == 0, bumped.stderr
    assert sorted(path.name for path in into.glob("*.jar")) == ["alpha-1.1.jar", "unrelated-3.0.jar"]
    assert (into / ".sparkplane-jars.lock").read_text() == new.read_text()
