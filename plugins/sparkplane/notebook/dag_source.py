"""The generated DAG file: one platform operator task, with Airflow Params for the notebook's parameters.

The Params carry the parameters' types, bounds and choices, so the UI's trigger form and the API
refuse a bad value before a run starts; the task passes each Param to the job as its option.
A date parameter named as the run's date is empty by default and then takes the run's day
(``run_day``: its logical date, or the day it was queued for when it has none), so a scheduled run
reports on its own day and a manual run may pick another. A path parameter whose notebook value is
relative (``data/orders``) defaults to that path under the deployment's data root
(``SPARKPLANE_DATA_ROOT``), where every task of the deployment finds it. An output parameter (a
path parameter named ``output...``) is the folder the run's own folder goes under
(``sparkplane.storage.run_folders``): a scheduled run writes to ``<output>/<date>``, a manual run
to ``<output>/<date>/runs/<run id>``, so a run triggered from a notebook never overwrites the
scheduled run's report.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence

from sparkplane.notebook.job_test import is_path_parameter
from sparkplane.notebook.parameters import Parameter

#: How a path parameter's name starts when the job writes there.
OUTPUT_PREFIX = "output"


def is_output_parameter(parameter: Parameter) -> bool:
    return is_path_parameter(parameter) and parameter.name.startswith(OUTPUT_PREFIX)


def dag_source(
    *,
    name: str,
    description: str,
    parameters: Sequence[Parameter],
    schedule: str | None,
    start_date: datetime.date,
    owner: str,
    retries: int,
    tags: Sequence[str],
    date_parameter: str | None,
    operator_arguments: Mapping[str, str | int],
    conf: Mapping[str, str],
    notebook_path: str,
) -> str:
    """Return the DAG module's source (before formatting)."""
    params = "".join(f"        {p.name!r}: {_param(p, is_run_date=p.name == date_parameter)},\n" for p in parameters)
    arguments = "".join(f"            {p.option!r}, {_template(p, is_run_date=p.name == date_parameter)!r},\n"
                        for p in parameters)  # fmt: skip
    extra = "".join(f"        {key}={value!r},\n" for key, value in sorted(operator_arguments.items()))
    if conf:
        extra += f"        conf={dict(sorted(conf.items()))!r},\n"
    return f'''"""{description}

Converted from {notebook_path}: the task runs jobs/{name}.py through the platform's Spark operator,
locally by default and on Kubernetes when a cluster is configured. Trigger it with other values
from the UI's form or the API (the run's conf); each Param is checked before the run starts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param
from sparkplane import settings
from sparkplane.operators import SparkJobOperator
from sparkplane.storage.run_folders import RUN_FOLDER_MACROS

with DAG(
    dag_id={name!r},
    description={description!r},
    schedule={schedule!r},
    start_date=datetime({start_date.year}, {start_date.month}, {start_date.day}),
    catchup=False,
    max_active_runs=1,
    default_args={{"owner": {owner!r}, "retries": {retries}, "retry_delay": timedelta(minutes=2)}},
    params={{
{params}    }},
    user_defined_macros=RUN_FOLDER_MACROS,
    tags={sorted(set(tags))!r},
    doc_md=__doc__,
) as dag:
    SparkJobOperator(
        task_id={name!r},
        application={name + ".py"!r},
        application_args=[
{arguments}        ],
{extra}    )
'''


def _param(parameter: Parameter, *, is_run_date: bool) -> str:
    description = parameter.description or parameter.name.replace("_", " ")
    if is_run_date:
        return (f"Param(None, type=['null', 'string'], format='date', "
                f"description={description + '. Empty: the run' + chr(39) + 's date.'!r})")  # fmt: skip
    keywords = [repr(parameter.default)]
    if is_path_parameter(parameter) and _is_relative(str(parameter.default)):
        keywords = [f"settings.DATA_ROOT + {'/' + str(parameter.default).removeprefix('./')!r}"]
        description += " (a relative path in the notebook: here under the deployment's data root)"
    if is_output_parameter(parameter):
        description += "; each run writes under <this>/<date>, a manual run under <date>/runs/<run id>"
    if parameter.kind == "date":
        keywords += ["type='string'", "format='date'"]
    else:
        keywords.append(f"type={parameter.kind!r}")
    if parameter.minimum is not None:
        keywords += [f"minimum={parameter.minimum!r}", f"maximum={parameter.maximum!r}"]
    if parameter.choices:
        keywords.append(f"enum={list(parameter.choices)!r}")
    keywords.append(f"description={description!r}")
    return f"Param({', '.join(keywords)})"


def _is_relative(path: str) -> bool:
    return not path.startswith("/") and "://" not in path


def _template(parameter: Parameter, *, is_run_date: bool) -> str:
    if is_run_date:
        return f"{{{{ params.{parameter.name} or run_day(dag_run) }}}}"
    if is_output_parameter(parameter):
        return f"{{{{ params.{parameter.name} }}}}/{{{{ run_folder(dag_run) }}}}"
    return f"{{{{ params.{parameter.name} }}}}"
