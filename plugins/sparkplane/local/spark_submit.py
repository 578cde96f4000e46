"""Build ``spark-submit`` command lines from a ``SparkJobSpec``: pure, no I/O.

Each part of the command comes from one small function, so a new deployment mode adds its own
part instead of another branch in a long function.
"""

from __future__ import annotations

from pathlib import Path

from sparkplane.spark_conf import TASK_LOG_CONF
from sparkplane.job_spec import SparkJobSpec


def master_args(master: str) -> list[str]:
    return ["--master", master]


def name_args(spec: SparkJobSpec) -> list[str]:
    return ["--name", spec.name]


def conf_args(conf: dict[str, str]) -> list[str]:
    args: list[str] = []
    for key in sorted(conf):
        args += ["--conf", f"{key}={conf[key]}"]
    return args


def driver_resource_args(spec: SparkJobSpec) -> list[str]:
    return ["--driver-memory", spec.driver_memory]


def application_args(spec: SparkJobSpec, application_path: Path) -> list[str]:
    return [str(application_path), *spec.arguments]


def build_local_submit(
    spec: SparkJobSpec, *, spark_submit: Path, master: str, application_path: Path
) -> list[str]:
    """Return the argv that runs ``spec`` with a local master (executors are driver threads)."""
    conf = {**TASK_LOG_CONF, **spec.conf}
    return [
        str(spark_submit),
        *master_args(master),
        *name_args(spec),
        *driver_resource_args(spec),
        *conf_args(conf),
        *application_args(spec, application_path),
    ]
