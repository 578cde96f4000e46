from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from unittest import mock

import pytest
from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One small local SparkSession for all job tests (starting a JVM takes seconds)."""
    # UDFs run in Python workers, started from PYSPARK_PYTHON (else whatever `python3` is first on
    # PATH), which the context reads once as it starts; the platform's local launcher sets it the
    # same way. Set only for that moment: a leaked value would reach spark-submit in the cluster
    # tests, and a driver pod would look for this machine's interpreter.
    with mock.patch.dict(os.environ, {"PYSPARK_PYTHON": sys.executable}):
        session = (
            SparkSession.builder.master("local[2]")
            .appName("sparkplane-job-tests")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
    yield session
    session.stop()
    # py4j logs at INFO while the interpreter shuts down, after pytest closed its capture streams.
    logging.getLogger("py4j").setLevel(logging.WARNING)
