"""A job that fails the way real jobs do: it raises after Spark has started."""

import sys

from pyspark.sql import SparkSession

if __name__ == "__main__":
    spark = SparkSession.builder.getOrCreate()
    rows = spark.range(3).count()
    raise ValueError(f"expected 4 rows, found {rows} (run marker {sys.argv[-1]})")
