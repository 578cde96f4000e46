"""A small PySpark job for the cluster test: runs tasks on executors and prints what they saw.

Each task reports its host name (the executor pod's name), its Python version and the pandas
version it imported, so the test can tell the work really ran in executor pods of the image.
"""

from __future__ import annotations

import json
import sys


def describe_partition(rows):
    import platform
    import socket

    import pandas

    total = sum(rows)
    yield {"host": socket.gethostname(), "python": platform.python_version(), "pandas": pandas.__version__, "sum": total}


def main() -> int:
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("k8s-smoke").getOrCreate()
    reports = spark.sparkContext.parallelize(range(1, 1001), 4).mapPartitions(describe_partition).collect()
    print("SMOKE-RESULT " + json.dumps({"total": sum(r["sum"] for r in reports), "tasks": reports}), flush=True)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
