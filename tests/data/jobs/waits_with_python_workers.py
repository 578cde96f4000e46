"""A job that starts Spark and its Python workers, says so, then waits far longer than any test:
for kill tests that must see the workers (``pyspark.daemon``, no job argument on their command
line) go too."""

import sys
import time

from pyspark.sql import SparkSession

if __name__ == "__main__":
    spark = SparkSession.builder.getOrCreate()
    # A Python lambda needs Python workers; the worker daemon stays up, idle, for the next stage.
    squares = spark.sparkContext.parallelize(range(10), 2).map(lambda number: number * number).sum()
    print(f"python workers are up (sum of squares {squares}, run marker {sys.argv[1]})", flush=True)
    time.sleep(600)
