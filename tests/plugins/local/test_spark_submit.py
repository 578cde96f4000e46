from __future__ import annotations

from pathlib import Path

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
