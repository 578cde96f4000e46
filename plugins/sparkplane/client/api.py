"""The handful of Airflow REST API calls the client makes, over plain HTTP.

Plain HTTP (httpx) rather than the generated ``apache-airflow-client``: five endpoints, the
token call that client lacks, and one dependency fewer where notebooks run. Errors name the
call, the HTTP status and what the server said; the token never leaves this module.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import httpx

from sparkplane.client.credentials import AirflowCredentials


class AirflowApiError(RuntimeError):
    """An API call failed; ``status`` is the HTTP status (0 when the server did not answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class AirflowApi:
    """An authenticated session with one Airflow API server."""

    def __init__(self, credentials: AirflowCredentials, *, timeout_seconds: float = 30) -> None:
        self.base_url = credentials.url
        self._http = httpx.Client(base_url=credentials.url, timeout=timeout_seconds)
        self._http.headers["Authorization"] = f"Bearer {self._token(credentials)}"

    def close(self) -> None:
        self._http.close()

    def _token(self, credentials: AirflowCredentials) -> str:
        if credentials.username:
            body = {"username": credentials.username, "password": credentials.password}
            answer = self._call("POST", "/auth/token", json=body, what="signing in")
        else:
            answer = self._call("GET", "/auth/token", what="asking for a token without credentials")
        return answer["access_token"]

    def dag_details(self, dag_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/v2/dags/{quote(dag_id)}/details", what=f"reading DAG {dag_id}")

    def dag_ids(self, limit: int = 100) -> list[str]:
        answer = self._call("GET", "/api/v2/dags", params={"limit": limit}, what="listing DAGs")
        return [dag["dag_id"] for dag in answer.get("dags", [])]

    def set_paused(self, dag_id: str, paused: bool) -> dict[str, Any]:
        return self._call("PATCH", f"/api/v2/dags/{quote(dag_id)}", json={"is_paused": paused},
                          what=f"{'pausing' if paused else 'unpausing'} {dag_id}")  # fmt: skip

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> dict[str, Any]:
        # Now, as the UI's form does: a run without a logical date has no ``ds``, and a DAG that
        # templates it (the example pipeline, daily_sales) would fail to render its arguments.
        body = {"logical_date": datetime.now(timezone.utc).isoformat(), "conf": conf}
        return self._call("POST", f"/api/v2/dags/{quote(dag_id)}/dagRuns", json=body, what=f"triggering {dag_id}")

    def dag_runs(self, dag_id: str = "~", limit: int = 100) -> list[dict[str, Any]]:
        """Return the latest runs of ``dag_id`` (``~``: of every DAG)."""
        answer = self._call("GET", f"/api/v2/dags/{quote(dag_id)}/dagRuns", what=f"listing the runs of {dag_id}",
                            params={"limit": limit, "order_by": "-run_after"})  # fmt: skip
        return answer.get("dag_runs", [])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}", what=f"reading run {run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        answer = self._call("GET", f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances",
                            what=f"reading the tasks of run {run_id}")  # fmt: skip
        return answer.get("task_instances", [])

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int, *,
                 continuation_token: str | None = None) -> tuple[list[Any], str | None]:  # fmt: skip
        """Return the next part of a try's log and the token for the part after it (None at its end)."""
        path = f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances/{quote(task_id)}/logs/{try_number}"
        params = {"token": continuation_token} if continuation_token else {}
        answer = self._call("GET", path, params=params, headers={"Accept": "application/json"},
                            what=f"reading the log of {task_id}")  # fmt: skip
        return answer.get("content", []), answer.get("continuation_token")

    def _call(self, method: str, path: str, *, what: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise AirflowApiError(f"{what}: Airflow at {self.base_url} did not answer ({error}). Is the API server "
                                  "running, and is SPARKPLANE_AIRFLOW_URL its address?") from None  # fmt: skip
        if response.is_success:
            return response.json()
        raise AirflowApiError(f"{what}: Airflow answered {response.status_code}: {_detail(response)}",
                              status=response.status_code)  # fmt: skip


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        return response.text[:500]
    return detail if isinstance(detail, str) else str(detail)[:500]
