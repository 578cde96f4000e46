"""Build ``spark-submit`` command lines from a ``SparkJobSpec``: pure, no I/O.

Each part of the command comes from one small function, so a new deployment mode adds its own
part instead of another branch in a long function.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from sparkplane.job_spec import SparkJobSpec
from sparkplane.secret_conf import is_masked_value, split_secret_settings
from sparkplane.spark_conf import TASK_LOG_CONF


def ignored_in_local_mode(spec: SparkJobSpec, *, pod_template: bool) -> list[str]:
    """Name what the task sets, beyond the defaults, that a local master does nothing with: executors
    are threads of the driver, there is no pod, and Spark reads ``spark.kubernetes.*`` only on Kubernetes."""
    defaults = {item.name: item.default for item in fields(SparkJobSpec)}
    ignored = [f"{name}={getattr(spec, name)}" for name in ("executor_instances", "executor_cores", "executor_memory")
               if getattr(spec, name) != defaults[name]]  # fmt: skip
    if pod_template:
        ignored.append("pod_template")
    ignored += sorted(key for key in spec.conf if key.startswith("spark.kubernetes."))
    return ignored


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


#: Runs the job with arguments read from a file (``run_job.py``), when some are secret.
JOB_RUNNER = Path(__file__).with_name("run_job.py")


def application_args(spec: SparkJobSpec, application_path: Path, arguments_file: Path | None) -> list[str]:
    if arguments_file is not None:
        return [str(JOB_RUNNER), str(arguments_file), str(application_path)]
    return [str(application_path), *spec.arguments]


def properties_file_args(properties_file: Path | None) -> list[str]:
    return ["--properties-file", str(properties_file)] if properties_file else []


def local_settings(spec: SparkJobSpec) -> tuple[dict[str, str], dict[str, str]]:
    """Return the job's Spark settings in local mode as ``(public, secret)``."""
    return split_secret_settings({**TASK_LOG_CONF, **spec.conf})


def secret_argument_positions(spec: SparkJobSpec) -> list[int]:
    """Return the positions of the job arguments that hold a value Airflow masks."""
    return [position for position, argument in enumerate(spec.arguments) if is_masked_value(argument)]


def build_local_submit(
    spec: SparkJobSpec,
    *,
    spark_submit: Path,
    master: str,
    application_path: Path,
    properties_file: Path | None = None,
    arguments_file: Path | None = None,
) -> list[str]:
    """Return the argv that runs ``spec`` with a local master (executors are driver threads).

    :param properties_file: the file holding the job's secret settings (``local_settings``),
        which never go on the command line; required when there are any.
    :param arguments_file: the file holding the job's arguments (a JSON list), required when
        some are secret (``secret_argument_positions``); the job then runs through ``run_job.py``.
    """
    public, secret = local_settings(spec)
    if secret and properties_file is None:
        raise ValueError(f"secret settings {sorted(secret)} need a properties file; none was given")
    if secret_argument_positions(spec) and arguments_file is None:
        raise ValueError("secret job arguments need an arguments file; none was given")
    return [
        str(spark_submit),
        *master_args(master),
        *name_args(spec),
        *driver_resource_args(spec),
        *properties_file_args(properties_file),
        *conf_args(public),
        *application_args(spec, application_path, arguments_file),
    ]
