from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One small local SparkSession for all job tests (starting a JVM takes seconds)."""
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
