from __future__ import annotations

from sparkplane.diagnosis import explain_failure

TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "/jobs/report.py", line 12, in <module>',
    "    raise ValueError('no orders for 2026-01-01')",
]


def test_argparse_error_points_at_application_args():
    tail = ["usage: report [-h] --rows ROWS", "report: error: argument --rows: invalid int value: 'ten'"]
    diagnosis = explain_failure(2, tail, application="report.py")
    assert diagnosis.cause == "report.py rejected its arguments: argument --rows: invalid int value: 'ten'"
    assert "application_args" in diagnosis.fix


def test_python_exception_is_named_with_its_message():
    diagnosis = explain_failure(1, [*TRACEBACK, "ValueError: no orders for 2026-01-01"], application="report.py")
    assert diagnosis.cause == "report.py raised ValueError: no orders for 2026-01-01"
    assert "traceback" in diagnosis.fix


def test_last_exception_wins_over_chained_ones():
    tail = [*TRACEBACK, "KeyError: 'x'", "", "During handling...", *TRACEBACK, "RuntimeError: wrapped"]
    assert explain_failure(1, tail, application="a.py").cause == "a.py raised RuntimeError: wrapped"


def test_missing_module_says_which_package_to_add_to_the_lock():
    tail = [*TRACEBACK, "ModuleNotFoundError: No module named 'sklearn.linear_model'"]
    diagnosis = explain_failure(1, tail, application="train.py")
    assert "imports 'sklearn.linear_model'" in diagnosis.cause
    assert "provides 'sklearn'" in diagnosis.fix and "make lock" in diagnosis.fix


def test_missing_input_path_is_explained():
    tail = [
        *TRACEBACK,
        "pyspark.errors.exceptions.captured.AnalysisException: [PATH_NOT_FOUND] Path does not exist: "
        "file:/data/in/orders. SQLSTATE: 42K03",
    ]
    diagnosis = explain_failure(1, tail, application="report.py")
    assert "does not exist: [PATH_NOT_FOUND] Path does not exist: file:/data/in/orders" in diagnosis.cause
    assert "upstream task" in diagnosis.fix


def test_sigkill_suggests_more_memory():
    diagnosis = explain_failure(137, ["some output"], application="big.py")
    assert "SIGKILL" in diagnosis.cause and "driver_memory" in diagnosis.fix


def test_sigterm_says_the_task_was_stopped():
    assert "stopped with SIGTERM" in explain_failure(143, [], application="a.py").cause


def test_jvm_out_of_memory_is_recognised_whatever_the_exit_code():
    tail = ["java.lang.OutOfMemoryError: Java heap space"]
    assert "out of JVM heap" in explain_failure(1, tail, application="big.py").cause


def test_unknown_failure_falls_back_to_the_exit_code():
    diagnosis = explain_failure(3, ["something odd"], application="odd.py")
    assert diagnosis.cause == "spark-submit for odd.py exited with code 3."


def test_exception_lines_without_traceback_are_not_taken_for_the_cause():
    tail = ["WARN SomeClass: IOException: retrying"]
    assert "exited with code 1" in explain_failure(1, tail, application="a.py").cause


def test_python_version_mismatch_names_both_versions_and_the_image_rebuild():
    # The worker's exception as PySpark 4.1 words it, inside the driver's wrapped traceback.
    tail = [
        *TRACEBACK,
        "pyspark.errors.exceptions.captured.PythonException: ",
        "  An exception was thrown from the Python worker. Please see the stack trace below.",
        "Traceback (most recent call last):",
        "pyspark.errors.exceptions.base.PySparkRuntimeError: [PYTHON_VERSION_MISMATCH] Python in worker has "
        "different version: 3.9 than that in driver: 3.11, PySpark cannot run with different minor versions.",
        "Please check environment variables PYSPARK_PYTHON and PYSPARK_DRIVER_PYTHON are correctly set.",
    ]
    diagnosis = explain_failure(1, tail, application="report.py")
    assert diagnosis.cause == (
        "report.py: the Python workers run Python 3.9 but the driver runs Python 3.11; "
        "PySpark needs the same minor version on both."
    )
    assert "image/build" in diagnosis.fix and "Python 3.11" in diagnosis.fix


def test_a_missing_job_file_fails_for_good_naming_the_file():
    tail = ["python3: can't open file '/opt/spark/work-dir/jobs/no_such_job.py': [Errno 2] No such file or directory"]
    diagnosis = explain_failure(2, tail, application="no_such_job.py")
    assert diagnosis.retry_cannot_help
    assert diagnosis.cause.startswith("The job file /opt/spark/work-dir/jobs/no_such_job.py does not exist")
    assert "image/build" in diagnosis.fix


def test_a_usage_error_fails_for_good_and_other_failures_are_retried():
    assert explain_failure(2, ["job.py: error: argument --lines: invalid int value: '2.0'"], application="job.py").retry_cannot_help
    assert not explain_failure(1, ["ValueError: bad input"], application="job.py").retry_cannot_help
