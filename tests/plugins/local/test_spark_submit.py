from __future__ import annotations

from pathlib import Path

import pytest

from sparkplane.job_spec import SparkJobSpec
from sparkplane.local.spark_submit import build_local_submit


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
