"""Run a PySpark job whose arguments are in a file, so that no command line shows them.

Local mode starts this script, not the job, when a job argument holds a value Airflow masks:
``spark-submit ... run_job.py <arguments file> <job.py>``. It reads the arguments (a JSON list),
removes the file, and runs the job as ``python job.py <arguments>`` would. Standard library only:
it runs in the Spark driver's interpreter, where the platform's package is not importable.
"""

from __future__ import annotations

import json
import os
import runpy
import sys


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit("usage: run_job.py <arguments file> <job.py>")
    arguments_file, job = argv
    with open(arguments_file, encoding="utf-8") as file:
        arguments = json.load(file)
    os.remove(arguments_file)  # read once: the job needs it no longer
    sys.argv = [job, *arguments]
    sys.path[0] = os.path.dirname(os.path.abspath(job))  # as if the job had been started itself
    runpy.run_path(job, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
