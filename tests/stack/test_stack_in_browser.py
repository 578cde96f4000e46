"""The Airflow stack of docker-compose.yaml, as its users meet it: real containers (PostgreSQL, Redis,
API server, scheduler, DAG processor, triggerer, a Celery worker, a Spark History Server) built from
compose/, connected to the local cluster as the platform's identity, and the UI in a real browser
(Debian's Chromium, driven by Playwright).

A run triggered from the UI's form runs on the cluster and its task log reads in folded sections,
linking to the job's application in the History Server; the example pipeline triggered from its
form publishes beside the scheduled run the unpausing starts; the README's worked example
(``daily_sales``, converted from a notebook) runs on its schedule and, triggered from a notebook in
a real kernel, with the notebook's parameters, each writing its own report; a run the job refuses ends its log
with Cause and Fix in view, without a retry, and leaves a debug bundle beside its log; no secret of
the stack is in any log or bundle it wrote, any rendered template or any container's settings;
``down`` leaves no container, volume, network or pod of the stack's jobs. Screenshots are kept in
the test's folder.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from unittest import mock
from urllib.parse import quote, unquote

import pytest
from harness.airflow import free_port
from harness.browser import browser_page
from harness.platform import PROJECT_ROOT
from harness.waits import wait_for
from kubernetes import client

from sparkplane.client import unpause
from sparkplane.client.api import AirflowApi
from sparkplane.client.credentials import AirflowCredentials
from sparkplane.kubernetes.identity import DEPLOYMENT_LABEL, SPARK_NAMESPACE
from sparkplane.storage.run_folders import folder_name

pytestmark = [pytest.mark.cluster, pytest.mark.airflow]

STACK = PROJECT_ROOT / "scripts" / "stack"
PROJECT = "sparkplane-tests"
DOCKER = "/usr/bin/docker"
#: A small run of the example pipeline: two Spark jobs on the cluster in a minute or two.
PIPELINE_CONF = {"orders": 20_000, "customers": 1_500}


@dataclass
class Stack:
    url: str
    history_url: str
    password: str
    state: Path
    env: dict[str, str]
    up_output: str
    screenshots: Path

    def api(self) -> AirflowApi:
        return AirflowApi(AirflowCredentials(self.url, "admin", self.password), timeout_seconds=60)


def _stack(command: str, *args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([str(STACK), command, *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def stack(local_cluster, tmp_path_factory) -> Stack:
    state = tmp_path_factory.mktemp("stack")
    port, history_port = free_port(), free_port()
    env = {**os.environ, "SPARKPLANE_STACK_STATE": str(state), "SPARKPLANE_STACK_PROJECT": PROJECT}
    up = _stack("up", "--cluster", "--port", str(port), "--history-port", str(history_port), env=env, timeout=3600)
    try:
        assert up.returncode == 0, up.stdout[-5000:] + up.stderr[-5000:]
        password = json.loads((state / "auth" / "simple_auth_passwords.json").read_text())["admin"]
        yield Stack(f"http://localhost:{port}", f"http://localhost:{history_port}", password, state, env, up.stdout,
                    tmp_path_factory.mktemp("screenshots"))  # fmt: skip
    finally:
        _stack("down", env=env, timeout=600)


def _sign_in(page, stack: Stack) -> None:
    page.goto(stack.url, wait_until="networkidle")
    page.locator("input[name=username]").fill("admin")
    page.locator("input[name=password]").fill(stack.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{stack.url}/", timeout=60_000)


def _wait_for_run(api: AirflowApi, dag_id: str, run_id: str, *, timeout_seconds: float = 600) -> str:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        state = api.dag_run(dag_id, run_id)["state"]
        if state in ("success", "failed"):
            return state
        time.sleep(3)
    raise AssertionError(f"run {run_id} of {dag_id} did not end within {timeout_seconds} s")


def _log_page(page, stack: Stack, dag_id: str, run_id: str, task_id: str) -> None:
    page.goto(f"{stack.url}/dags/{dag_id}/runs/{quote(run_id)}/tasks/{task_id}", wait_until="networkidle")
    page.get_by_text("Post Execute").first.wait_for(timeout=60_000)  # the whole log is shown


def test_the_stack_comes_up_healthy_and_says_where_the_ui_is(stack):
    assert "stack: healthy" in stack.up_output, stack.up_output
    assert f"Airflow UI and REST API: {stack.url}" in stack.up_output
    assert "Jobs run on the local cluster" in stack.up_output
    assert f"Spark History Server: {stack.history_url}" in stack.up_output


def test_a_run_triggered_from_the_form_runs_on_the_cluster_and_its_log_reads_in_sections(stack):
    with browser_page() as page:
        _sign_in(page, stack)
        page.goto(f"{stack.url}/dags", wait_until="networkidle")
        for dag_id in ("revenue_by_region", "spark_smoke_test", "spark_image_prepull", "spark_pod_sweep"):
            assert page.get_by_role("link", name=dag_id).count() == 1, f"{dag_id} is not in the DAG list"
        page.screenshot(path=stack.screenshots / "01-dags.png")

        page.goto(f"{stack.url}/dags/spark_smoke_test", wait_until="networkidle")
        page.get_by_role("button", name="Trigger Dag").click()
        form = page.get_by_role("dialog")
        form.locator("input[name=element_lines]").fill("7")
        page.screenshot(path=stack.screenshots / "02-trigger-form.png")
        form.get_by_role("button", name="Trigger").click()
        page.wait_for_url("**/dags/spark_smoke_test/runs/**", timeout=60_000)
        run_id = unquote(page.url.rsplit("/runs/", 1)[1].split("/")[0])

        api = stack.api()
        assert _wait_for_run(api, "spark_smoke_test", run_id) == "success"
        _log_page(page, stack, "spark_smoke_test", run_id, "run_smoke_test")
        page.screenshot(path=stack.screenshots / "03-log-folded.png")
        folded = page.locator("body").inner_text()
        assert "Driver log of spark-smoke-test-run-smoke-test-" in folded and "Cleanup" in folded, folded[-3000:]
        assert "smoke line 7 of 7" not in folded, "the driver log is not folded"
        assert "spark_smoke_test.py succeeded on Kubernetes (queued" in folded, folded[-3000:]
        page.get_by_text("Driver log of spark-smoke-test").first.click()
        unfolded = page.locator("body").inner_text()
        page.screenshot(path=stack.screenshots / "04-log-driver-section.png")
    assert "smoke line 7 of 7" in unfolded
    # The platform's identity, and the job's account in namespace spark.
    [task] = api.task_instances("spark_smoke_test", run_id)
    log = _full_log(api, "spark_smoke_test", run_id, "run_smoke_test", task["try_number"])
    assert "Preflight: spark/spark-sa has the driver's 21 rights" in log
    # The image's contents are read at the node address: the checks run, none is skipped.
    assert "Preflight: image has Python 3.11" in log and "skipping the image checks" not in log, log[-3000:]
    assert "Created driver pod spark/spark-smoke-test-run-smoke-test-" in log, log[-3000:]


# A second proof (7 minutes: the form's unpause starts the scheduled run, which the form's run waits
# for): the form and its log's sections are proved with spark_smoke_test above, a manual run
# publishing beside the scheduled one on the stack by the worked example below.
@pytest.mark.long
def test_the_example_pipeline_triggered_from_its_form_publishes_beside_the_scheduled_run(stack):
    with browser_page() as page:
        _sign_in(page, stack)
        page.goto(f"{stack.url}/dags/revenue_by_region", wait_until="networkidle")
        page.get_by_role("button", name="Trigger Dag").click()
        form = page.get_by_role("dialog")
        form.locator("input[name=element_orders]").fill(str(PIPELINE_CONF["orders"]))
        form.locator("input[name=element_customers]").fill(str(PIPELINE_CONF["customers"]))
        page.screenshot(path=stack.screenshots / "05-pipeline-form.png")
        form.get_by_role("button", name="Trigger").click()  # and unpause it, the form's default
        page.wait_for_url("**/dags/revenue_by_region/runs/**", timeout=60_000)
        run_id = unquote(page.url.rsplit("/runs/", 1)[1].split("/")[0])
        api = stack.api()
        assert _wait_for_run(api, "revenue_by_region", run_id, timeout_seconds=1200) == "success"
        _log_page(page, stack, "revenue_by_region", run_id, "revenue_by_region")
        page.screenshot(path=stack.screenshots / "06-pipeline-log.png")
        shown = page.locator("body").inner_text()
    for section in ("Preflight: the object store", "Driver log of revenue-by-region-", "Data quality", "Cleanup"):
        assert section in shown, f"no section {section!r}: {shown[-3000:]}"
    # Its own folder under its date: the scheduled run the unpausing made owns the date's folder.
    published = re.search(r"revenue_by_region\.py succeeded on Kubernetes \(.*\); published "
                          r"s3a://sparkplane/stack/revenue_by_region/(\d{4}-\d\d-\d\d)/runs/(\S+)/report \(\d+ rows\)",
                          shown)  # fmt: skip
    assert published and published.group(2) == folder_name(run_id), shown[-3000:]
    [scheduled] = [run for run in api.dag_runs("revenue_by_region") if run["run_type"] == "scheduled"]
    assert _wait_for_run(api, "revenue_by_region", scheduled["dag_run_id"], timeout_seconds=1200) == "success"
    [task] = [task for task in api.task_instances("revenue_by_region", scheduled["dag_run_id"])
              if task["task_id"] == "revenue_by_region"]  # fmt: skip
    scheduled_log = _full_log(api, "revenue_by_region", scheduled["dag_run_id"], "revenue_by_region", task["try_number"])
    day = published.group(1)
    assert f"; published s3a://sparkplane/stack/revenue_by_region/{day}/report (" in scheduled_log, scheduled_log[-3000:]


#: The worked example's report from the sample orders (notebooks/data/orders) for ten days to
#: 2026-11-30, orders of 10.0 or more (tests/kubernetes/test_generated_dag_on_cluster.py derives it).
WORKED_EXAMPLE_CONF = {"run_date": "2026-11-30", "days": 10, "min_amount": 10.0}
WORKED_EXAMPLE_REPORT = [
    ("2026-11-24", "amer", "large", 1, 420.0), ("2026-11-29", "amer", "medium", 1, 75.0),
    ("2026-11-30", "emea", "large", 1, 250.0), ("2026-11-30", "emea", "small", 1, 12.5),
]  # fmt: skip


def _reports(s3, bucket: str, prefix: str) -> dict[str, list[tuple]]:
    """Every report under ``prefix`` of ``bucket``, by its folder: sorted rows."""
    from harness.platform import reports_under

    return {folder: sorted((str(r.order_date), r.region, r.size_band, int(r.orders), float(r.revenue))
                           for r in frame.itertuples())
            for folder, frame in reports_under(s3, bucket, prefix).items()}  # fmt: skip


def test_the_worked_example_is_scheduled_and_triggered_from_a_notebook_on_the_cluster(stack, local_cluster, tmp_path):
    """The README's worked example on the stack: the sample orders uploaded, daily_sales unpaused (its
    scheduled run starts), then a notebook in a real kernel triggers it with its own parameters and
    follows the run, which queues behind the scheduled one; each writes its own report."""
    import nbformat
    import papermill
    from harness.platform import delete_prefix, platform_store_client

    access, s3 = platform_store_client(local_cluster)
    delete_prefix(s3, access.bucket, "stack/data/daily_sales/")  # reports of an earlier session's stack
    upload = _stack("upload", str(PROJECT_ROOT / "notebooks" / "data" / "orders"), "data/orders", env=stack.env,
                    timeout=120)  # fmt: skip
    assert upload.returncode == 0, upload.stdout + upload.stderr
    assert "uploaded 1 file(s) from" in upload.stdout and "s3a://sparkplane/stack/data/orders" in upload.stdout
    kernel_env = {"SPARKPLANE_AIRFLOW_URL": stack.url, "SPARKPLANE_AIRFLOW_USERNAME": "admin",
                  "SPARKPLANE_AIRFLOW_PASSWORD": stack.password, "PYTHONPATH": str(PROJECT_ROOT / "plugins")}  # fmt: skip
    with mock.patch.dict(os.environ, kernel_env):
        unpause("daily_sales")  # its scheduler starts the latest scheduled run

    cell = (f"from sparkplane.client import trigger\nrun = trigger('daily_sales', conf={WORKED_EXAMPLE_CONF!r}, wait=True)\n"
            "print('OUTCOME', run.state, run.run_id)")  # fmt: skip
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)]), tmp_path / "trigger.ipynb")
    with mock.patch.dict(os.environ, kernel_env):
        papermill.execute_notebook(str(tmp_path / "trigger.ipynb"), str(tmp_path / "out.ipynb"), kernel_name="python3",
                                   progress_bar=False, execution_timeout=1500)  # fmt: skip
    shown = "\n".join(output.get("text", "") or output.get("data", {}).get("text/plain", "")  # printed, or shown in place
                      for output in nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].outputs)  # fmt: skip
    outcome = re.search(r"OUTCOME success (\S+)", shown)
    assert outcome, shown[-3000:]
    assert "  daily_sales: success (try 1)" in shown and "--- last lines of daily_sales's log" in shown, shown[-3000:]

    api = stack.api()
    [task] = api.task_instances("daily_sales", outcome.group(1))
    log = _full_log(api, "daily_sales", outcome.group(1), "daily_sales", task["try_number"])
    assert "daily_sales.py succeeded on Kubernetes" in log and "4 rows written to s3a://" in log, log[-3000:]
    assert "Preflight: the object store" in log and "Driver log of daily-sales-" in log, log[-3000:]
    [scheduled] = wait_for(lambda: [run for run in api.dag_runs("daily_sales") if run["run_type"] == "scheduled"],
                           bool, timeout_seconds=120, what="the scheduled run of daily_sales")  # fmt: skip
    assert _wait_for_run(api, "daily_sales", scheduled["dag_run_id"], timeout_seconds=600) == "success"
    reports = _reports(s3, access.bucket, "stack/data/daily_sales/")
    manual = [folder for folder in reports if folder.endswith(f"/runs/{folder_name(outcome.group(1))}")]
    assert len(manual) == 1 and reports[manual[0]] == sorted(WORKED_EXAMPLE_REPORT), reports
    # The scheduled run's report is its date's, beside the manual run's own folder.
    assert [folder for folder in reports if "/runs/" not in folder] == [scheduled["logical_date"][:10]], reports


def _history_application(history_url: str, application_id: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{history_url}/api/v1/applications/{application_id}", timeout=10) as answer:
            return json.load(answer)
    except OSError:
        return None


def test_a_spark_task_s_log_links_to_its_application_in_the_stack_s_history_server(stack):
    api = stack.api()
    runs = [run for run in api.dag_runs() if run["dag_id"] == "spark_smoke_test" and run["state"] == "success"]
    assert runs, "no successful run of spark_smoke_test (see the form's test)"
    [task] = api.task_instances("spark_smoke_test", runs[0]["dag_run_id"])
    log = _full_log(api, "spark_smoke_test", runs[0]["dag_run_id"], "run_smoke_test", task["try_number"])
    link = re.search(r"Spark history: (\S+)/history/([a-z0-9][a-z0-9-]*)", log)
    assert link and link.group(1) == stack.history_url, log[-3000:]
    # The driver's event log closes when it stops; the server lists it as completed on a scan after
    # that (one during the driver's end lists it as running).
    wait_for(lambda: _history_application(stack.history_url, link.group(2)),
             lambda application: bool(application) and application["attempts"][-1]["completed"],
             timeout_seconds=120, interval_seconds=3, what="the History Server to list the application as completed")  # fmt: skip
    with browser_page() as page:
        page.goto(f"{stack.history_url}/history/{link.group(2)}", wait_until="networkidle")
        page.get_by_text("Completed Jobs").first.wait_for(timeout=60_000)
        page.screenshot(path=stack.screenshots / "07-spark-history.png")


def test_a_value_the_job_refuses_ends_the_log_with_cause_and_fix_in_view_and_no_retry(stack):
    api = stack.api()
    run_id = api.trigger("spark_smoke_test", {"lines": 2.0})["dag_run_id"]
    assert _wait_for_run(api, "spark_smoke_test", run_id) == "failed"
    [task] = api.task_instances("spark_smoke_test", run_id)
    assert task["try_number"] == 1, "a usage error must not be retried"
    with browser_page() as page:
        _sign_in(page, stack)
        _log_page(page, stack, "spark_smoke_test", run_id, "run_smoke_test")
        page.screenshot(path=stack.screenshots / "08-failed-run.png")
        for prefix in ("Cause: spark_smoke_test.py rejected its arguments: argument --lines: invalid int value: '2.0'",
                       "Fix: --lines takes its value from the DAG param 'lines'"):  # fmt: skip
            line = page.get_by_text(prefix).first
            assert line.is_visible(), f"{prefix!r} is not shown"
            box = line.bounding_box()
            assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= 900, (
                f"{prefix!r} is not in view without scrolling: {box}")


def _full_log(api: AirflowApi, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
    parts, token = [], None
    while True:
        content, token = api.task_log(dag_id, run_id, task_id, try_number, continuation_token=token)
        parts += [entry if isinstance(entry, str) else json.dumps(entry) for entry in content]
        if not token or not content:
            return "\n".join(parts)


def _stack_secrets(stack: Stack) -> dict[str, str]:
    """Every secret the stack holds: its own, the store's key, the cluster token, the login."""
    secrets_dir = stack.state / "secrets"
    found = {name: (secrets_dir / name).read_text().strip()
             for name in ("postgres_password", "jwt_secret", "api_secret_key")}  # fmt: skip
    connections = json.loads((secrets_dir / "connections.json").read_text())
    found["object store key"] = connections["object_store"]["password"]
    kubeconfig = json.loads((secrets_dir / "spark_cluster.kubeconfig").read_text())
    found["cluster token"] = kubeconfig["users"][0]["user"]["token"]
    found["login password"] = stack.password
    assert all(len(value) >= 12 for value in found.values()), "a secret is empty or too short to search for"
    return found


def test_no_secret_of_the_stack_is_in_its_logs_bundles_rendered_templates_or_container_settings(stack):
    api = stack.api()
    compose = ["docker-compose", "--project-name", PROJECT, "--file", str(PROJECT_ROOT / "docker-compose.yaml")]
    services_log = subprocess.run([*compose, "logs", "--no-color"], env=stack.env, capture_output=True, text=True,
                                  timeout=300, check=True).stdout  # fmt: skip
    containers = subprocess.run([DOCKER, "ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}"],
                                capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    settings = subprocess.run([DOCKER, "inspect", *containers], capture_output=True, text=True, check=True).stdout
    texts = {"the services' logs": services_log, "the containers' settings": settings}
    runs = api.dag_runs()
    assert runs, "no runs to read the logs of"
    for run in runs:
        for task in api.task_instances(run["dag_id"], run["dag_run_id"]):
            key = f"{run['dag_id']}/{run['dag_run_id']}/{task['task_id']}"
            texts[f"the task log of {key}"] = _full_log(api, run["dag_id"], run["dag_run_id"], task["task_id"],
                                                        max(task["try_number"], 1))  # fmt: skip
            texts[f"the rendered fields of {key}"] = json.dumps(task.get("rendered_fields"))
    assert len(texts["the services' logs"]) > 10_000, "the services wrote almost no log: was it read?"
    # The refused run's debug bundle, beside its log on the workers' log volume.
    worker = subprocess.run([*compose, "ps", "-q", "airflow-worker"], env=stack.env, capture_output=True, text=True,
                            check=True).stdout.split()[0]  # fmt: skip
    bundles = subprocess.run([DOCKER, "exec", worker, "sh", "-c", "cat /opt/airflow/logs/dag_id=*/run_id=*/task_id=*/*.debug/*"],
                             capture_output=True, text=True, timeout=60).stdout  # fmt: skip
    assert "Debug bundle of driver pod spark/spark-smoke-test-" in bundles, "no debug bundle of the refused run"
    texts["the debug bundles"] = bundles
    leaks = [f"{secret} in {where}" for secret, value in _stack_secrets(stack).items()
             for where, text in texts.items() if value in text]  # fmt: skip
    assert not leaks, f"secrets in plain text: {leaks}"


def test_down_leaves_no_container_volume_network_or_pod(stack, local_cluster):
    down = _stack("down", env=stack.env, timeout=600)
    assert down.returncode == 0, down.stdout + down.stderr
    label = f"label=com.docker.compose.project={PROJECT}"
    for kind in (["ps", "-aq"], ["volume", "ls", "-q"], ["network", "ls", "-q"]):
        left = subprocess.run([DOCKER, *kind, "--filter", label], capture_output=True, text=True, check=True).stdout
        assert not left.strip(), f"docker {' '.join(kind)} still lists: {left}"
    assert not stack.state.exists(), "the stack's secrets were left behind"
    core = client.CoreV1Api(local_cluster.api_client())
    wait_for(lambda: core.list_namespaced_pod(SPARK_NAMESPACE, label_selector=f"{DEPLOYMENT_LABEL}=stack").items,
             lambda pods: not pods, timeout_seconds=120, interval_seconds=2,
             what="the stack's driver and executor pods to go")  # fmt: skip
