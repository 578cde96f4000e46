"""``trigger()``: start a pipeline run with a checked conf, and optionally follow it to its end."""

from __future__ import annotations

import time
import warnings
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sparkplane.client.api import AirflowApi, AirflowApiError
from sparkplane.client.conf_check import check_conf
from sparkplane.client.credentials import AirflowCredentials
from sparkplane.client.progress import ProgressView, cause_and_fix, log_lines, render

#: States a run or a task ends in.
_RUN_ENDS = ("success", "failed")
_TAIL_LINES = 15


class UnknownDag(LookupError):
    """No DAG of that id in this Airflow (or none this user may see)."""


class PausedDag(RuntimeError):
    """The DAG is paused: a run would wait in the queue forever."""


class PipelineRunFailed(RuntimeError):
    """The run ended failed; the message holds the failing task's ``Cause:`` and ``Fix:`` lines."""


@dataclass(frozen=True)
class PipelineRun:
    """A run that was triggered: its id, its page in the Airflow UI, and its state when last read."""

    dag_id: str
    run_id: str
    url: str
    state: str


def trigger(
    dag_id: str,
    conf: Mapping[str, Any] | None = None,
    *,
    wait: bool = False,
    url: str | None = None,
    poll_seconds: float = 3,
    timeout_seconds: float | None = None,
) -> PipelineRun:
    """Trigger ``dag_id`` with ``conf``; with ``wait``, show its progress until it ends.

    :param conf: the run's Params; each is checked against the DAG's Param before the run starts.
    :param wait: follow the run (task states, the tail of the running task's log) until it ends.
    :param url: the API server; default ``SPARKPLANE_AIRFLOW_URL``.
    :param timeout_seconds: stop waiting after this long (the run goes on); None waits to the end.
    :raises UnknownDag: no such DAG; the message lists the DAGs there are.
    :raises sparkplane.client.conf_check.ConfError: a value a Param refuses, named by its key.
    :raises PausedDag: the DAG is paused.
    :raises PipelineRunFailed: with ``wait``, the run failed.
    """
    conf = dict(conf or {})
    api = AirflowApi(AirflowCredentials.from_environment(url))
    try:
        details = _details(api, dag_id)
        for warning in check_conf(conf, details.get("params") or {}):
            warnings.warn(warning, stacklevel=2)
        if details.get("is_paused"):
            raise PausedDag(f"DAG {dag_id} is paused, so a run would wait forever: unpause it in the Airflow UI "
                            f"({api.base_url}/dags/{quote(dag_id)}) or with sparkplane.client.unpause({dag_id!r}), "
                            "then trigger again. Unpausing a scheduled DAG also starts its latest scheduled run.")  # fmt: skip
        answer = api.trigger(dag_id, conf)
        run = PipelineRun(dag_id, answer["dag_run_id"], _run_url(api.base_url, dag_id, answer["dag_run_id"]),
                          answer.get("state") or "queued")  # fmt: skip
        return _follow(api, run, poll_seconds=poll_seconds, timeout_seconds=timeout_seconds) if wait else run
    finally:
        api.close()


def unpause(dag_id: str, *, url: str | None = None) -> None:
    """Unpause ``dag_id``, as the toggle in the Airflow UI does: a scheduled DAG then starts its latest
    scheduled run (the DAGs here do not catch up).

    :param url: the API server; default ``SPARKPLANE_AIRFLOW_URL``.
    :raises UnknownDag: no such DAG; the message lists the DAGs there are.
    """
    api = AirflowApi(AirflowCredentials.from_environment(url))
    try:
        _details(api, dag_id)
        api.set_paused(dag_id, False)
    finally:
        api.close()


def _details(api: AirflowApi, dag_id: str) -> dict[str, Any]:
    try:
        return api.dag_details(dag_id)
    except AirflowApiError as error:
        if error.status != 404:
            raise
        known = api.dag_ids()
        raise UnknownDag(f"Airflow at {api.base_url} has no DAG {dag_id!r} (or none you may see). DAGs there: "
                         f"{', '.join(sorted(known)) or 'none'}. A DAG new to its folder appears once the DAG "
                         "processor parsed it.") from None  # fmt: skip


def _run_url(base_url: str, dag_id: str, run_id: str) -> str:
    return f"{base_url}/dags/{quote(dag_id)}/runs/{quote(run_id)}"


def _follow(api: AirflowApi, run: PipelineRun, *, poll_seconds: float, timeout_seconds: float | None) -> PipelineRun:
    view = ProgressView()
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    reading: tuple[str, int] | None = None  # (task, try) whose log the tail shows
    token: str | None = None
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    while True:
        state = api.dag_run(run.dag_id, run.run_id)["state"]
        tasks = api.task_instances(run.dag_id, run.run_id)
        running = [t for t in tasks if t.get("state") in ("running", "deferred", "up_for_retry")]
        if running:
            current = (running[0]["task_id"], int(running[0].get("try_number") or 1))
            if current != reading:
                reading, token = current, None
                tail.clear()
            entries, token = api.task_log(run.dag_id, run.run_id, *reading, continuation_token=token)
            tail.extend(log_lines(entries))
        view.show(render(dag_id=run.dag_id, run_id=run.run_id, url=run.url, state=state, tasks=tasks,
                         tail_task=reading[0] if reading else None, tail=list(tail)))  # fmt: skip
        if state in _RUN_ENDS:
            break
        if deadline is not None and time.monotonic() > deadline:
            return PipelineRun(run.dag_id, run.run_id, run.url, state)
        time.sleep(poll_seconds)
    if state == "failed":
        raise PipelineRunFailed(_failure(api, run, tasks))
    return PipelineRun(run.dag_id, run.run_id, run.url, state)


def _failure(api: AirflowApi, run: PipelineRun, tasks: list[dict[str, Any]]) -> str:
    failed = [t for t in tasks if t.get("state") in ("failed", "upstream_failed")]
    first = next((t for t in failed if t.get("state") == "failed"), None)
    if first is None:
        return f"run {run.run_id} of {run.dag_id} failed: {run.url}"
    lines: list[str] = []
    token = None
    for _ in range(50):  # the log in parts, to its end
        entries, token = api.task_log(run.dag_id, run.run_id, first["task_id"], int(first.get("try_number") or 1),
                                      continuation_token=token)  # fmt: skip
        lines.extend(log_lines(entries))
        if not token or not entries:
            break
    explained = cause_and_fix(lines) or [f"the task log has no Cause:/Fix: lines; its last lines: {lines[-5:]}"]
    return "\n".join([f"run {run.run_id} of {run.dag_id} failed in task {first['task_id']} "
                      f"(try {first.get('try_number')}): {run.url}", *explained])  # fmt: skip
