"""The Spark image, built for real: contents, a PySpark job inside it, the entrypoint, bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from image_helpers import DOCKER, JARS_LOCK, PROJECT_ROOT, copy_build_context, docker_run, load_fetch_jars, run_build
from sparkplane.image.contents import normalize_name, read_image_contents
from sparkplane.image.fit import job_code_problems
from sparkplane.image.job_code import job_code_sha256

SMOKE_JOB = PROJECT_ROOT / "tests" / "data" / "k8s_smoke_job.py"


def test_image_is_tagged_by_content_and_an_unchanged_rebuild_is_a_cache_hit(built_image):
    again = run_build("--no-push", "--json")

    assert again.returncode == 0, again.stderr[-2000:]
    record = json.loads(again.stdout)
    assert record["tag"] == built_image["tag"]
    assert record["image_id"] == built_image["image_id"]
    assert record["cache_hit"] is True


def test_changing_a_job_changes_the_tag(tmp_path):
    context = copy_build_context(tmp_path)
    before = json.loads(run_build("--print-tag", context=context).stdout)["tag"]
    (context / "jobs" / "generate_orders.py").write_text("# edited\n", encoding="utf-8")

    assert json.loads(run_build("--print-tag", context=context).stdout)["tag"] != before


def test_recorded_contents_equal_what_pip_reports_inside_the_image(built_image):
    image = built_image["image"]
    pip_list = json.loads(docker_run(image, "python", "-m", "pip", "list", "--format", "json").stdout)
    python = docker_run(image, "python", "-c", "import platform; print(platform.python_version())").stdout.strip()
    java = docker_run(image, "java", "-version").stderr

    contents = read_image_contents(image, source="docker")
    assert dict(contents.distributions) == {normalize_name(p["name"]): p["version"] for p in pip_list}
    # Which package provides an import, in the image's own words: names no static table guesses.
    assert contents.module_distributions["great_expectations"] == ["great-expectations"]
    assert contents.module_distributions["ruamel"] == ["ruamel-yaml"]
    assert contents.python_version == python
    assert f'version "{contents.java_version}' in java
    assert contents.spark_version == "4.1.4"


def test_the_image_records_each_job_file_so_a_job_changed_since_the_build_is_caught(built_image, tmp_path):
    contents = read_image_contents(built_image["image"], source="docker")
    jobs = PROJECT_ROOT / "jobs"
    assert "quality/gate.py" in contents.job_sha256
    assert job_code_problems(contents, job_code_sha256(jobs / "revenue_by_region.py", jobs)) == []

    edited = tmp_path / "jobs"
    shutil.copytree(jobs, edited, ignore=shutil.ignore_patterns("__pycache__"))
    with (edited / "quality" / "gate.py").open("a") as gate:
        gate.write("# changed after the build\n")
    assert job_code_problems(contents, job_code_sha256(edited / "revenue_by_region.py", edited)) == [
        "jobs/quality/gate.py differs from the image's copy: it changed after the image was built, and the driver "
        "would run the old one."]  # fmt: skip


def test_image_holds_exactly_the_lock_at_the_lock_versions(built_image):
    lock = (PROJECT_ROOT / "image" / "requirements.lock").read_text()
    pinned = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==([^ \\]+)", lock, re.MULTILINE))
    installed = dict(built_image["contents"]["distributions"])

    # pip and setuptools come with every virtual environment; everything else is the lock.
    assert {k: v for k, v in installed.items() if k not in ("pip", "setuptools")} == pinned


def test_the_s3a_jars_are_in_spark_home_and_recorded_in_the_contents(built_image):
    locked = load_fetch_jars().parse_lock(JARS_LOCK.read_text(), source=str(JARS_LOCK))
    listing = docker_run(built_image["image"], "sh", "-c", 'cd "$SPARK_HOME/jars" && sha256sum *.jar')

    assert listing.returncode == 0, listing.stderr
    in_spark_home = {name: sha256 for sha256, name in (line.split() for line in listing.stdout.splitlines())}
    assert {jar.file_name: jar.sha256 for jar in locked}.items() <= in_spark_home.items()
    assert built_image["contents"]["jars"] == [
        {"coordinates": jar.coordinates, "file": jar.file_name, "sha256": jar.sha256} for jar in locked]


S3A_CLIENT_SCRIPT = """
from pyspark.sql import SparkSession
spark = SparkSession.builder.master("local[1]").config("spark.log.level", "WARN").getOrCreate()
jvm, conf = spark._jvm, spark._jsc.hadoopConfiguration()
for key, value in {"endpoint": "http://127.0.0.1:9", "endpoint.region": "us-east-1", "path.style.access": "true"}.items():
    conf.set("fs.s3a." + key, value)
fs = jvm.org.apache.hadoop.fs.FileSystem.get(jvm.java.net.URI("s3a://any-bucket/"), conf)
print("S3A", fs.getClass().getName(), jvm.java.lang.Class.forName(
    "software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient").getName())
"""


def test_spark_in_the_image_creates_the_s3a_filesystem_and_its_sdk_clients(built_image):
    # Creating the filesystem builds the SDK's S3 client (no request is sent: S3A probes no bucket
    # by default); the asynchronous client is the one S3A's uploads from local files need.
    result = docker_run(built_image["image"], "python", "-c", S3A_CLIENT_SCRIPT)

    assert result.returncode == 0, result.stderr[-3000:]
    assert "S3A org.apache.hadoop.fs.s3a.S3AFileSystem software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient" \
        in result.stdout.splitlines()


def test_pyspark_job_runs_inside_the_image_in_local_mode(built_image):
    result = docker_run(
        built_image["image"], "spark-submit", "--master", "local[2]", "--conf", "spark.log.level=WARN",
        "/data/k8s_smoke_job.py", volumes={SMOKE_JOB.parent: "/data"},
    )

    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [l for l in result.stdout.splitlines() if l.startswith("SMOKE-RESULT ")]
    report = json.loads(line.removeprefix("SMOKE-RESULT "))
    assert report["total"] == 500500
    assert {t["pandas"] for t in report["tasks"]} == {"2.3.3"}


def test_job_code_is_importable_in_the_image(built_image):
    result = docker_run(built_image["image"], "python", "-c", "import jobs.generate_orders, jobs.revenue_by_region")

    assert result.returncode == 0, result.stderr


def test_image_runs_as_uid_185_and_keeps_no_certificate_secret(built_image):
    image = built_image["image"]
    assert docker_run(image, "id", "-u").stdout.strip() == "185"
    assert docker_run(image, "test", "-e", "/run/secrets/pip-ca").returncode == 1
    history = subprocess.run([DOCKER, "history", "--no-trunc", image], capture_output=True, text=True).stdout
    assert "BEGIN CERTIFICATE" not in history


def test_executor_role_without_spark_environment_names_the_missing_variable(built_image):
    result = docker_run(built_image["image"], "executor")

    assert result.returncode == 64
    assert "SPARK_DRIVER_URL is not set; Spark's Kubernetes backend sets it for 'executor' pods." in result.stderr


def test_no_command_explains_the_roles(built_image):
    result = docker_run(built_image["image"])

    assert result.returncode == 64
    assert "Expected 'driver ...' or 'executor'" in result.stderr


def drop_lock_entry(lock: Path, name: str) -> None:
    """Remove one package (its pin, hashes and comments) from a requirements lock."""
    lines, skipping = [], False
    for line in lock.read_text().splitlines(keepends=True):
        if re.match(r"^[a-z0-9]", line):
            skipping = line.startswith(f"{name}==")
        if not skipping:
            lines.append(line)
    lock.write_text("".join(lines))


@pytest.mark.long  # a whole failing build; the job-import case below proves the build's own check
def test_build_fails_clearly_when_the_lock_lacks_a_dependency(tmp_path):
    context = copy_build_context(tmp_path)
    drop_lock_entry(context / "image" / "requirements.lock", "tzdata")

    result = run_build("--no-push", context=context)

    assert result.returncode == 1
    assert "image/requirements.lock is incomplete" in result.stderr
    assert "pandas 2.3.3 requires tzdata, which is not installed." in result.stderr
    assert "run scripts/lock" in result.stderr


def test_build_fails_clearly_when_a_job_imports_a_package_the_lock_lacks(tmp_path):
    context = copy_build_context(tmp_path)
    (context / "jobs" / "score_leads.py").write_text("from __future__ import annotations\n\nimport requests_oauthlib\n")

    result = run_build("--no-push", context=context)

    assert result.returncode == 1
    assert "jobs/score_leads.py:3 imports 'requests_oauthlib', which is not installed in the image." in result.stderr
    assert "[jobs] extra in pyproject.toml" in result.stderr


def image_contents_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sparkplane.image.contents", *args], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "plugins")})


def test_image_contents_cli_passes_the_drivers_preflight_and_fails_on_a_missing_package(built_image):
    image = built_image["image"]

    fine = image_contents_cli(image, "--source", "docker", "--require", "pandas==2.3.3", "--require", "pyspark==4.1.4")
    assert fine.returncode == 0, fine.stderr
    assert fine.stdout.startswith("Python 3.11.")

    missing = image_contents_cli(image, "--source", "docker", "--require", "requests-oauthlib")
    assert missing.returncode == 1
    assert "problem: package requests-oauthlib is not in the image" in missing.stderr


def _notebook(path: Path, *, python: str, code: str) -> Path:
    import nbformat

    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)],
                                            metadata={"language_info": {"name": "python", "version": python}}), path)  # fmt: skip
    return path


def test_a_notebook_is_checked_against_the_image_before_anything_runs(built_image, tmp_path):
    image = built_image["image"]

    def check(path: Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sparkplane.image.check", str(path), "--image", image,
                               "--source", "docker", "--jobs", str(PROJECT_ROOT / "jobs")], capture_output=True,
                              text=True, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "plugins")})  # fmt: skip

    fits = check(_notebook(tmp_path / "fits.ipynb", python="3.11.7",
                           code="%matplotlib inline\nimport pandas\nimport pyspark"))
    assert fits.returncode == 0, fits.stderr
    lacking = check(_notebook(tmp_path / "udf.ipynb", python="3.11.7",
                              code="import pandas\ndef score(x):\n    import sklearn\n    return x"))  # fmt: skip
    assert lacking.returncode == 1
    assert "problem: the job imports sklearn, which no package in the image provides" in lacking.stderr
    other_python = check(_notebook(tmp_path / "py312.ipynb", python="3.12.1", code="import pandas"))
    assert other_python.returncode == 1
    assert "the image runs Python 3.11" in other_python.stderr and "the driver Python 3.12.1" in other_python.stderr
    job = check(PROJECT_ROOT / "jobs" / "revenue_by_region.py")
    assert job.returncode == 0, job.stderr  # the same code, and what its jobs/ helpers import, is in the image


def test_the_sample_notebooks_one_fits_the_image_and_one_needs_scikit_learn(built_image):
    def check(path: Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sparkplane", "check", str(path), "--image", built_image["image"],
                               "--source", "docker", "--jobs", str(PROJECT_ROOT / "jobs")], capture_output=True,
                              text=True, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "plugins")})  # fmt: skip

    for fits in (PROJECT_ROOT / "notebooks" / "daily_sales.ipynb", PROJECT_ROOT / "jobs" / "daily_sales.py"):
        result = check(fits)
        assert result.returncode == 0, result.stderr
    churn = check(PROJECT_ROOT / "notebooks" / "churn_features.ipynb")
    assert churn.returncode == 1
    assert churn.stderr.strip() == (
        "problem: the job imports sklearn, which no package in the image provides; executors would fail with "
        "ModuleNotFoundError. Add scikit-learn to the [jobs] extra in pyproject.toml, run make lock and image/build."
    )


def test_image_contents_cli_exits_2_for_an_image_that_does_not_exist():
    result = image_contents_cli("sparkplane/spark:no-such-tag", "--source", "docker")

    assert result.returncode == 2
    assert result.stderr.startswith("error: docker cannot inspect sparkplane/spark:no-such-tag")


def test_image_carries_the_bootstrap_pod_templates(built_image):
    for name in ("driver.yaml", "executor.yaml"):
        inside = docker_run(built_image["image"], "cat", f"/opt/spark/pod-templates/{name}").stdout
        assert inside == (PROJECT_ROOT / "spark-bootstrap" / "pod-templates" / name).read_text()


@pytest.mark.long  # a fresh machine's first build is one already; make test-long runs it
def test_a_build_with_no_layer_cache_succeeds_from_the_base_image(tmp_path):
    # What a fresh machine does: every step runs (Java, Python, the lock, the jobs). Built from a
    # copy with one job edited, so the cold image gets its own tag and leaves the others alone.
    context = copy_build_context(tmp_path)
    (context / "jobs" / "cold_build_marker.py").write_text('"""Marks a cold test build."""\n', encoding="utf-8")
    cold = run_build("--no-push", "--no-cache", "--json", context=context)

    assert cold.returncode == 0, cold.stdout[-2000:] + cold.stderr[-2000:]
    record = json.loads(cold.stdout)
    assert record["cache_hit"] is False
    print(f"cold build: {record['build_seconds']} s, {record['size_bytes'] / 1e9:.2f} GB")
    subprocess.run([DOCKER, "image", "rm", "-f", record["image"]], capture_output=True, check=False)
