"""Check that Spark works end to end where it runs: executors start, run Python, answer.

The platform runs it to prove a cluster, an image or a new node pool before real jobs do:
it spreads a small computation over the executors, compares each executor's Python version with
the driver's (PySpark fails on a mismatch only when the first Python task runs), and prints
numbered lines so a reader can check that the log arrived whole. Given ``--expect-env`` or
``--expect-file`` (a Kubernetes Secret passed by reference, say), it checks that the variable or
file reaches the driver and every executor, printing its sha256, never its value.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import socket
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def executor_facts(spark: SparkSession, *, partitions: int) -> list[tuple[str, str, int]]:
    """Return (host, python version, rows) for each partition, computed on the executors."""

    def describe(rows):
        yield socket.gethostname(), platform.python_version(), sum(1 for _ in rows)

    return spark.sparkContext.parallelize(range(partitions * 100), partitions).mapPartitions(describe).collect()


def fingerprint(kind: str, name: str) -> str:
    """Return the sha256 of an environment variable's value (kind "env") or a file's content, or 'missing'."""
    if kind == "env":
        value = os.environ.get(name)
        return "missing" if value is None else hashlib.sha256(value.encode()).hexdigest()
    try:
        with open(name, "rb") as file:
            return hashlib.sha256(file.read()).hexdigest()
    except OSError:
        return "missing"


def expected_items(args: argparse.Namespace) -> list[tuple[str, str]]:
    """Return ("env" or "file", name) for every item the job was asked to find everywhere."""
    return [("env", name) for name in args.expect_env] + [("file", path) for path in args.expect_file]


def executor_fingerprints(
    spark: SparkSession, items: list[tuple[str, str]], *, partitions: int
) -> set[tuple[str, str, str, str]]:
    """Return (host, kind, name, sha256) of each item, computed on the executors."""

    def describe(_rows):
        for kind, name in items:
            yield socket.gethostname(), kind, name, fingerprint(kind, name)

    return set(spark.sparkContext.parallelize(range(partitions), partitions).mapPartitions(describe).collect())


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="spark_smoke_test", description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=4, help="tasks to spread over the executors")
    parser.add_argument("--lines", type=int, default=10, help="numbered lines to print at the end")
    parser.add_argument(
        "--line-interval-seconds", type=float, default=0,
        help="pause between numbered lines, so the log streams for a while (to test log following)",
    )
    parser.add_argument(
        "--hold-seconds", type=float, default=0,
        help="keep the application and its executors up this long after the check (to visit the "
        "Spark UI, or to stop the task while executors run)",
    )
    parser.add_argument("--expect-env", action="append", default=[], metavar="NAME",
                        help="an environment variable the driver and every executor must have (sha256 printed)")
    parser.add_argument("--expect-file", action="append", default=[], metavar="PATH",
                        help="a file the driver and every executor must have (sha256 printed)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("spark_smoke_test").getOrCreate()
    try:
        facts = executor_facts(spark, partitions=args.partitions)
        items = expected_items(args)
        seen = executor_fingerprints(spark, items, partitions=args.partitions) if items else set()
        if args.hold_seconds > 0:
            print(f"Holding the application and its executors for {args.hold_seconds:g}s", flush=True)
            time.sleep(args.hold_seconds)
    finally:
        spark.stop()
    driver_python = platform.python_version()
    for host, python, rows in sorted(facts):
        print(f"executor {host}: Python {python}, {rows} rows")
    missing = report_fingerprints(items, seen)
    mismatched = sorted({python for _, python, _ in facts if python.rsplit(".", 1)[0] != driver_python.rsplit(".", 1)[0]})
    for number in range(1, args.lines + 1):
        print(f"smoke line {number} of {args.lines}", flush=True)
        if args.line_interval_seconds > 0 and number < args.lines:
            time.sleep(args.line_interval_seconds)
    if missing:
        print(f"Missing where the job runs: {', '.join(missing)}. Check the task's secrets or env.", file=sys.stderr)
        return 1
    if mismatched:
        print(f"Driver runs Python {driver_python} but executors run {mismatched}: rebuild the image "
              "from the driver's lock (image/build).", file=sys.stderr)
        return 1
    print(f"Spark works: {len(facts)} tasks on {len({host for host, _, _ in facts})} executor host(s), "
          f"Python {driver_python} everywhere")
    return 0


def report_fingerprints(items: list[tuple[str, str]], seen: set[tuple[str, str, str, str]]) -> list[str]:
    """Print where each expected item was found with its sha256; return the items missing somewhere."""
    missing = []
    for kind, name in items:
        places = [("the driver", fingerprint(kind, name))]
        places += sorted((f"executor {host}", digest) for host, k, n, digest in seen if (k, n) == (kind, name))
        for place, digest in places:
            print(f"{kind} {name} on {place}: sha256 {digest}")
        if any(digest == "missing" for _, digest in places):
            missing.append(f"{kind} {name}")
    return missing


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
