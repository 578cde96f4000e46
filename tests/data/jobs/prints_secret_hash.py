"""A job that proves it received secrets without printing them: it prints their sha256.

``--setting KEY`` (a Spark setting), ``--argument VALUE`` (a job argument), ``--env NAME`` (an
environment variable), each repeatable; ``--fail`` then fails the job, as a failing job would.
"""

import argparse
import hashlib
import os

from pyspark.sql import SparkSession


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--setting", action="append", default=[])
    parser.add_argument("--argument", action="append", default=[])
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--fail", action="store_true")
    args = parser.parse_args()
    spark = SparkSession.builder.getOrCreate()
    for key in args.setting:
        print(f"sha256 of {key}: {_sha256(spark.conf.get(key))}", flush=True)
    for position, value in enumerate(args.argument):
        print(f"sha256 of argument {position}: {_sha256(value)}", flush=True)
    for name in args.env:
        print(f"sha256 of env {name}: {_sha256(os.environ[name])}", flush=True)
    spark.stop()
    if args.fail:
        raise SystemExit("failing as asked (--fail)")
