"""What a Spark job is, independent of where it runs: a frozen, validated specification.

The operator renders its templated arguments, then builds a ``SparkJobSpec``; everything after
that (the spark-submit command line, and later the Kubernetes objects) is a pure function of
the spec. Validation happens here, once, with messages that name the field and the way out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sparkplane.exceptions import JobDefinitionError

# Spark's JVM memory strings: a number with an optional binary unit (k, m, g, t).
_MEMORY = re.compile(r"^[1-9][0-9]*[kmgt]?$", re.IGNORECASE)
# Environment variable names a POSIX shell accepts.
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class SparkJobSpec:
    """A PySpark application with its arguments, Spark configuration and resources.

    :param application: path of the job's ``.py`` file, relative to the jobs root or absolute.
    :param arguments: command-line arguments passed to the job's ``main``.
    :param name: the Spark application name, shown in the Spark UI and in logs.
    :param conf: Spark configuration; every key starts with ``spark.``.
    :param env: environment variables for the driver.
    :param driver_memory: driver JVM heap, Spark's format (``512m``, ``2g``).
    :param executor_memory: executor JVM heap, Spark's format.
    :param executor_cores: cores per executor.
    :param executor_instances: number of executors.
    """

    application: str
    name: str
    arguments: tuple[str, ...] = ()
    conf: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    driver_memory: str = "1g"
    executor_memory: str = "1g"
    executor_cores: int = 1
    executor_instances: int = 2

    def __post_init__(self) -> None:
        if not self.application.endswith(".py"):
            raise JobDefinitionError(
                f"application={self.application!r} is not a Python file. Point it at a PySpark "
                "job such as 'revenue_by_region.py' (relative to the jobs folder)."
            )
        if ".." in PurePosixPath(self.application).parts:
            raise JobDefinitionError(
                f"application={self.application!r} climbs out of its folder with '..'. Name a job file "
                "under the jobs folder (for example 'reports/daily.py'), or write an absolute path in the DAG."
            )
        if not self.name.strip():
            raise JobDefinitionError("name is empty. Give the Spark application a name.")
        _check_strings("arguments", self.arguments, "application_args=['--input', '/data/in']")
        _check_strings("conf values", tuple(self.conf.values()), "conf={'spark.sql.shuffle.partitions': '8'}")
        _check_strings("env values", tuple(self.env.values()), "env={'TZ': 'UTC'}")
        bad_keys = sorted(key for key in self.conf if not str(key).startswith("spark."))
        if bad_keys:
            raise JobDefinitionError(
                f"conf has keys that are not Spark settings: {bad_keys}. Spark ignores keys that do "
                "not start with 'spark.'; prefix them (for example 'spark.executor.cores') or remove them."
            )
        bad_names = sorted(name for name in self.env if not _ENV_NAME.match(str(name)))
        if bad_names:
            raise JobDefinitionError(
                f"env has invalid variable names: {bad_names}. Use letters, digits and underscores, "
                "not starting with a digit."
            )
        for field_name in ("driver_memory", "executor_memory"):
            value = getattr(self, field_name)
            if not isinstance(value, str) or not _MEMORY.match(value):
                raise JobDefinitionError(
                    f"{field_name}={value!r} is not a Spark memory size. Use a number with an "
                    "optional unit k, m, g or t, for example '512m' or '2g'."
                )
        for field_name in ("executor_cores", "executor_instances"):
            value = getattr(self, field_name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise JobDefinitionError(f"{field_name}={value!r} must be a whole number of at least 1.")

    def application_path(self, jobs_root: Path) -> Path:
        """Return the job file's absolute path, resolving a relative one against ``jobs_root``."""
        path = Path(self.application)
        return path if path.is_absolute() else jobs_root / path


def _check_strings(what: str, values: tuple[object, ...], example: str) -> None:
    not_strings = [value for value in values if not isinstance(value, str)]
    if not_strings:
        raise JobDefinitionError(
            f"{what} must be strings, got {not_strings!r}. Quote them in the DAG, for example {example}."
        )


def check_application_origin(application: str, *, as_written: str) -> None:
    """Refuse an absolute job path that a template produced: only the DAG's author may leave the jobs folder.

    ``as_written`` is the operator's argument before rendering. A path rendered from a template
    (``{{ params.job }}``, and so from a run's conf) stays inside the jobs folder; an absolute path
    written literally in the DAG file is the author's explicit choice.
    """
    if PurePosixPath(application).is_absolute() and application != as_written:
        raise JobDefinitionError(
            f"application={application!r} is an absolute path that came from a template ({as_written!r}). "
            "Rendered paths (from params or a run's conf) must name a job inside the jobs folder, such as "
            "'revenue_by_region.py'; write an absolute path literally in the DAG if the job lives elsewhere."
        )


def whole_number(field_name: str, value: int | str) -> int:
    """Return a rendered template's digits as an int; anything else goes to the spec's check."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, str):
        raise JobDefinitionError(
            f"{field_name}={value!r} is not a whole number. Pass an int, or a template that renders "
            "to digits, such as '{{ params.executors }}'."
        )
    return value
