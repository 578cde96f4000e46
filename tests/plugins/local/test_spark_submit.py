from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sparkplane.job_spec import SparkJobSpec
from sparkplane.local.spark_submit import JOB_RUNNER, build_local_submit, ignored_in_local_mode, secret_argument_positions


def test_local_submit_command_has_master_name_resources_conf_and_arguments():
    spec = SparkJobSpec(
        application="report.py",
        name="daily.report",
        arguments=("--input", "/data/in"),
        conf={"spark.sql.shuffle.partitions": "8"},
        driver_memory="2g",
    )
    argv = build_local_submit(
        spec, spark_submit=Path("/spark/bin/spark-submit"), master="local[2]",
        application_path=Path("/jobs/report.py"),
    )
    assert argv == [
        "/spark/bin/spark-submit",
        "--master", "local[2]",
        "--name", "daily.report",
        "--driver-memory", "2g",
        "--conf", "spark.log.level=WARN",
        "--conf", "spark.sql.shuffle.partitions=8",
        "--conf", "spark.ui.showConsoleProgress=false",
        "/jobs/report.py", "--input", "/data/in",
    ]


def test_task_conf_overrides_local_defaults():
    spec = SparkJobSpec(application="report.py", name="r", conf={"spark.log.level": "INFO"})
    argv = build_local_submit(
        spec, spark_submit=Path("spark-submit"), master="local[1]", application_path=Path("report.py")
    )
    assert "spark.log.level=INFO" in argv and "spark.log.level=WARN" not in argv


def test_secret_settings_go_to_the_properties_file_never_to_the_command_line():
    spec = SparkJobSpec(application="report.py", name="r", conf={
        "spark.hadoop.fs.s3a.secret.key": "s3cr3t-value", "spark.sql.shuffle.partitions": "8"})
    argv = build_local_submit(spec, spark_submit=Path("spark-submit"), master="local[1]",
                              application_path=Path("report.py"), properties_file=Path("/tmp/x/secret.properties"))
    assert "s3cr3t-value" not in " ".join(argv)
    assert argv[argv.index("--properties-file") + 1] == "/tmp/x/secret.properties"
    assert "spark.sql.shuffle.partitions=8" in argv
    with pytest.raises(ValueError, match="need a properties file"):
        build_local_submit(spec, spark_submit=Path("spark-submit"), master="local[1]", application_path=Path("r.py"))


def test_masked_values_go_to_files_and_the_job_runs_through_the_runner():
    from airflow.sdk.log import mask_secret

    mask_secret("from-a-connection-4711")  # what reading a Connection's password does
    spec = SparkJobSpec(application="report.py", name="r", arguments=("--token", "from-a-connection-4711", "--day", "1"),
                        conf={"spark.myapp.endpoint.auth": "from-a-connection-4711"})  # fmt: skip
    assert secret_argument_positions(spec) == [1]
    argv = build_local_submit(spec, spark_submit=Path("spark-submit"), master="local[1]",
                              application_path=Path("/jobs/report.py"), properties_file=Path("/p/secret.properties"),
                              arguments_file=Path("/p/arguments.json"))  # fmt: skip
    assert "from-a-connection-4711" not in " ".join(argv)
    assert argv[-3:] == [str(JOB_RUNNER), "/p/arguments.json", "/jobs/report.py"]
    with pytest.raises(ValueError, match="need an arguments file"):
        build_local_submit(spec, spark_submit=Path("spark-submit"), master="local[1]", application_path=Path("r.py"),
                           properties_file=Path("/p/secret.properties"))  # fmt: skip


def test_the_runner_gives_the_job_its_arguments_and_removes_the_file(tmp_path):
    job = tmp_path / "jobs" / "echo_arguments.py"
    job.parent.mkdir()
    (job.parent / "helper.py").write_text("NAME = 'helper from the job folder'\n")
    job.write_text("import sys, helper\nprint(sys.argv, helper.NAME, __name__)\nraise SystemExit(3)\n")
    arguments = tmp_path / "arguments.json"
    arguments.write_text(json.dumps(["--token", "a b", "c"]))
    done = subprocess.run([sys.executable, str(JOB_RUNNER), str(arguments), str(job)], capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    assert done.stdout.strip() == f"{[str(job), '--token', 'a b', 'c']} helper from the job folder __main__"
    assert not arguments.exists()


def test_settings_a_local_master_ignores_are_named_and_defaults_are_not():
    plain = SparkJobSpec(application="report.py", name="report")
    assert ignored_in_local_mode(plain, pod_template=False) == []
    sized = SparkJobSpec(application="report.py", name="report", executor_instances=4, executor_memory="2g",
                         conf={"spark.kubernetes.executor.request.cores": "500m", "spark.sql.shuffle.partitions": "8"})
    assert ignored_in_local_mode(sized, pod_template=True) == [
        "executor_instances=4", "executor_memory=2g", "pod_template", "spark.kubernetes.executor.request.cores"]
