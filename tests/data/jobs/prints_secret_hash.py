"""A job that proves it received a secret Spark setting without printing it: it prints its sha256."""

import hashlib
import sys

from pyspark.sql import SparkSession

if __name__ == "__main__":
    key = sys.argv[1]
    spark = SparkSession.builder.getOrCreate()
    value = spark.conf.get(key)
    print(f"sha256 of {key}: {hashlib.sha256(value.encode()).hexdigest()}", flush=True)
    spark.stop()
