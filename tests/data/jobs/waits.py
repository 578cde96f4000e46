"""A job that starts Spark, says so, and then waits far longer than any test: for kill tests."""

import time

from pyspark.sql import SparkSession

if __name__ == "__main__":
    spark = SparkSession.builder.getOrCreate()
    spark.range(10).count()
    print("spark session is up", flush=True)
    time.sleep(600)
