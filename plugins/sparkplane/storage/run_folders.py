"""Which folder a DAG run writes to, so that a manual run never overwrites a scheduled run's output.

A date's output belongs to the run the schedule made for it: a scheduled run (or a backfill of a
scheduled date) writes to ``<date>``. Every other run (triggered from the UI form, the REST API, a
notebook, an asset) writes to ``<date>/runs/<run id>``, where nothing else writes: a manual run with
other params beside a date's scheduled run keeps both outputs. To redo a date's published output,
clear the scheduled run's task (or backfill the date) instead of triggering a new run.

A run triggered with no logical date (``logical_date: null`` in the REST API) has no ``ds``: its
date is the day it was queued for (``run_after``). Templates use the macros in ``RUN_FOLDER_MACROS``:
``{{ run_folder(dag_run) }}`` and ``{{ run_day(dag_run) }}``.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Protocol

#: Run types whose output is a date's own: the schedule's runs and backfills of its dates.
DATE_OWNING_RUN_TYPES = frozenset({"scheduled", "backfill"})
#: What a folder name keeps of a run id; everything else (``:`` and ``+`` of a timestamp, which
#: Hadoop paths refuse) becomes ``-``.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class DagRunFacts(Protocol):
    """What the folder of a run depends on (Airflow's ``dag_run`` in a template's context has it)."""

    run_id: str
    run_type: object
    logical_date: datetime | None
    run_after: datetime


def run_day(dag_run: DagRunFacts) -> str:
    """Return the run's date as ``YYYY-MM-DD``: its logical date's, else the day it was queued for."""
    when = dag_run.logical_date or dag_run.run_after
    return when.date().isoformat()


def folder_name(run_id: str) -> str:
    """Return ``run_id`` as one folder name any file system or object store takes.

    Characters outside letters, digits, ``.``, ``_`` and ``-`` become ``-``, and then a short hash
    of the run id is added, so two run ids never share a folder.
    """
    safe = _UNSAFE.sub("-", run_id)
    if safe == run_id and safe not in ("", ".", ".."):
        return safe
    return f"{safe.strip('.')}-{hashlib.sha256(run_id.encode()).hexdigest()[:8]}"


def run_folder(dag_run: DagRunFacts) -> str:
    """Return where the run writes, relative to the pipeline's folder: ``<date>`` for a scheduled run
    or a backfill, ``<date>/runs/<run id>`` for any other run."""
    run_type = str(getattr(dag_run.run_type, "value", dag_run.run_type))
    if run_type in DATE_OWNING_RUN_TYPES:
        return run_day(dag_run)
    return f"{run_day(dag_run)}/runs/{folder_name(dag_run.run_id)}"


#: ``user_defined_macros`` for a DAG whose paths use ``run_folder(dag_run)`` and ``run_day(dag_run)``.
RUN_FOLDER_MACROS = {"run_folder": run_folder, "run_day": run_day}
