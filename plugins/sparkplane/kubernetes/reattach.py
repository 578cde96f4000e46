"""Which existing driver a task try follows instead of submitting its own. Pure.

A try first looks for the drivers of its task instance and follows, with its log, one that is
still alive or has already succeeded instead of creating a second one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sparkplane.kubernetes.identity import TRY_NUMBER_LABEL, TaskTry
from sparkplane.kubernetes.pod_status import POD_FAILED, phase

if TYPE_CHECKING:
    from kubernetes.client import V1Pod


def driver_to_follow(drivers: Iterable[V1Pod], task_try: TaskTry) -> V1Pod | None:
    """Return the driver ``task_try`` should follow instead of creating one, or None to submit.

    A worker or triggerer that dies mid-job leaves the driver running; Airflow then fails the try
    and starts the next one. Submitting again would run the job twice (and, for a job that writes
    its output, race the first run). So a try first looks for the drivers of its task instance
    (label ``instance-key``, the same for every try) and follows one that is still alive or has
    already succeeded, with its log, instead of creating a second one:

    - its own driver (a second submission of the same try, e.g. a worker that died after creating
      the pod and before deferring), else
    - the newest driver of an earlier try that is Pending, Running or Succeeded.

    A driver that Failed, or is being deleted, is never followed: the retry exists to run the job
    again. Drivers of later tries (a try that is not the newest) are ignored.
    """
    candidates = []
    for pod in drivers:
        try_number = try_number_of(pod)
        if try_number is None or try_number > task_try.try_number:
            continue
        if pod.metadata.deletion_timestamp is not None:
            continue
        if phase(pod) == POD_FAILED:
            continue
        candidates.append((try_number, pod))
    if not candidates:
        return None
    return max(candidates, key=lambda pair: pair[0])[1]


def try_number_of(pod: V1Pod) -> int | None:
    """Return the try number a driver's label names, or None if it has none."""
    value = (pod.metadata.labels or {}).get(TRY_NUMBER_LABEL, "")
    return int(value) if value.isdigit() else None
