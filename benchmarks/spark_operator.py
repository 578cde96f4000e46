"""Measure the Spark operator on the local cluster and print figures beside the alternative.

One run of the platform's ``spark_smoke_test`` DAG in real Airflow (API server, scheduler,
DAG processor, triggerer; deferrable, as the platform's identity), and one plain
``spark-submit --deploy-mode cluster`` of the same job in the same session. Printed:

- task start -> driver pod created, and spark-submit start -> driver pod created (with the
  spark-submit JVM's peak memory: the cost an Airflow worker would carry per job);
- driver terminal -> task state change (the pod's Succeeded seen by a watch -> the task's end);
- driver line -> task log: the kubelet's timestamp of each numbered line -> the time the
  triggerer wrote it to the task log;
- API requests per job by the platform's identity, from the API server's audit log.

Needs root and the local cluster (started here, and stopped at the end, if it is not running).
Figures, not assertions: ``make bench-operator`` (which puts plugins/, cluster/ and tests/ on
PYTHONPATH for the platform, the local cluster and the harness).
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from harness.airflow import AirflowServices
from harness.cluster import LocalCluster, cluster_answers
from harness.platform import airflow_identity_connection, apply_bootstrap
from harness.pods import PodWatch
from harness.waits import wait_for
from kubernetes import client
from localcluster.kubeconfigs import mint_serviceaccount_kubeconfig
from localcluster.settings import load_settings

from sparkplane.bootstrap.submit_conf import bootstrap_spark_conf
from sparkplane.image.layout import IMAGE_JOBS_ROOT
from sparkplane.kubernetes.identity import (
    AIRFLOW_NAMESPACE,
    AIRFLOW_SERVICE_ACCOUNT,
    DRIVER_CONTAINER_NAME,
    DRIVER_SERVICE_ACCOUNT,
    SPARK_NAMESPACE,
)
from sparkplane.kubernetes.log_position import parse_timestamp_nanos

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DAG_ID = "spark_smoke_test"
TASK_ID = "run_smoke_test"
LINES = 200
AIRFLOW_USER = f"system:serviceaccount:{AIRFLOW_NAMESPACE}:{AIRFLOW_SERVICE_ACCOUNT}"
SMALL = {
    "spark.kubernetes.driver.request.cores": "500m",
    "spark.kubernetes.executor.request.cores": "500m",
    "spark.driver.memory": "512m",
    "spark.executor.memory": "512m",
    "spark.executor.instances": "1",
}


class PodTimeline(PodWatch):
    """When this process saw each pod appear and reach each phase (a real watch, local clock)."""

    def __init__(self, core: client.CoreV1Api, label_selector: str) -> None:
        super().__init__(core, SPARK_NAMESPACE, label_selector)
        self.seen: dict[str, dict[str, float]] = {}
        self.log_stamps: dict[int, int] = {}  # numbered line -> kubelet timestamp (ns)

    def on_change(self, pod: client.V1Pod) -> None:
        now = time.time()
        marks = self.seen.setdefault(pod.metadata.name, {"created": now})
        marks.setdefault(pod.status.phase or "Pending", now)
        if pod.metadata.labels.get("spark-role") == "driver" and pod.status.phase == "Running" and "log" not in marks:
            marks["log"] = now
            threading.Thread(target=self._read_log, args=(pod.metadata.name,), daemon=True).start()

    def _read_log(self, name: str) -> None:
        stream = self.core.read_namespaced_pod_log(name, SPARK_NAMESPACE, container=DRIVER_CONTAINER_NAME, follow=True,
                                                   timestamps=True, _preload_content=False)
        for raw in stream.stream():
            for line in raw.decode(errors="replace").splitlines():
                stamp, _, text = line.partition(" ")
                if match := re.match(rf"smoke line (\d+) of {LINES}$", text):
                    self.log_stamps[int(match[1])] = parse_timestamp_nanos(stamp)

    def driver(self) -> dict[str, float]:
        return next(marks for name, marks in self.seen.items() if name.endswith("-driver"))


def task_log_events(log_text: str) -> list[tuple[float, str]]:
    """(epoch seconds, message) of each JSON line of a task log, in order."""
    events = []
    for line in log_text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "timestamp" in record:
            stamp = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")).timestamp()
            events.append((stamp, str(record.get("event"))))
    return events


def operator_start_seconds(log_text: str) -> tuple[float, float]:
    """Return (Airflow starting the task, the operator until its driver pod exists) from the task log."""
    events = task_log_events(log_text)
    parsed = next(i for i, (_, text) in enumerate(events) if text.startswith("Worker startup parse complete"))
    execute_starts = events[parsed + 1][0]  # the "::endgroup::" that closes Airflow's pre-execute
    created = next(stamp for stamp, text in events if text.startswith("Created driver pod"))
    return execute_starts - events[0][0], created - execute_starts


def logged_stamps(log_text: str) -> dict[int, float]:
    """Numbered line -> when the triggerer wrote it (epoch seconds), from the task log's JSON lines."""
    stamps = {}
    for line in log_text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and (match := re.match(rf"smoke line (\d+) of {LINES}$", str(record.get("event")))):
            stamps[int(match[1])] = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")).timestamp()
    return stamps


def audit_requests(audit_log: Path, since: float, until: float) -> Counter:
    """Requests of the platform's identity in [since, until], by verb and resource."""
    counts: Counter = Counter()
    for line in audit_log.read_text(errors="replace").splitlines() if audit_log.exists() else []:
        event = json.loads(line)
        received = datetime.fromisoformat(event["requestReceivedTimestamp"].replace("Z", "+00:00")).timestamp()
        if event.get("user", {}).get("username") != AIRFLOW_USER or not since <= received <= until:
            continue
        ref = event.get("objectRef", {})
        resource_name = ref.get("resource", event["requestURI"]) + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        counts[f"{event['verb']} {resource_name}"] += 1
    return counts


def run_operator(settings, image: str, connection: str, core: client.CoreV1Api) -> dict:
    home = Path(subprocess.check_output(["mktemp", "-d", "/tmp/sparkplane-bench-XXXXXX"], text=True).strip())
    # Only the measured DAG: a scheduled pipeline starting its own runs would add pods and requests.
    dags = home / "dags"
    dags.mkdir()
    (dags / f"{DAG_ID}.py").symlink_to(PROJECT_ROOT / "dags" / f"{DAG_ID}.py")
    airflow = AirflowServices(home=home / "airflow", dags_folder=dags, extra_env={
        "AIRFLOW_CONN_SPARK_CLUSTER": connection, "SPARKPLANE_KUBERNETES_CONN_ID": "spark_cluster",
        "SPARKPLANE_SPARK_IMAGE": image})
    airflow.start_all()
    try:
        with PodTimeline(core, f"app.kubernetes.io/managed-by=sparkplane,sparkplane.dev/dag-id={DAG_ID}") as timeline:
            run_id = airflow.trigger(DAG_ID, {"lines": LINES, "executors": 1})
            state = airflow.wait_for_run(DAG_ID, run_id, timeout_seconds=900)
        (started, ended), = airflow.query(
            "SELECT start_date, end_date FROM task_instance WHERE dag_id = ? AND run_id = ? AND task_id = ?",
            DAG_ID, run_id, TASK_ID)
        log = airflow.task_log(DAG_ID, run_id, TASK_ID, 1)
    finally:
        airflow.stop_all()
    task_start, task_end = (datetime.fromisoformat(v).replace(tzinfo=timezone.utc).timestamp() for v in (started, ended))
    driver = timeline.driver()
    written = logged_stamps(log)
    lags = [written[n] - timeline.log_stamps[n] / 1e9 for n in written if n in timeline.log_stamps]
    airflow_start, operator_start = operator_start_seconds(log)
    return {
        "state": state,
        "task_start_to_driver_created": driver["created"] - task_start,
        "airflow_task_start": airflow_start,
        "operator_to_created": operator_start,
        "driver_terminal_to_task_end": task_end - driver.get("Succeeded", float("nan")),
        "log_lag": lags,
        "lines_in_task_log": len(written),
        "requests": audit_requests(settings.log_dir / "audit.log", task_start - 1, task_end + 1),
    }


def run_spark_submit(settings, image: str, core: client.CoreV1Api) -> dict:
    app = f"bench-submit-{time.time_ns() % 10**8}"
    conf = bootstrap_spark_conf(image) | SMALL | {"spark.kubernetes.submission.waitAppCompletion": "false"}
    argv = [str(Path(sys.executable).parent / "spark-submit"), "--master", f"k8s://{settings.apiserver_url}",
            "--deploy-mode", "cluster", "--name", app]
    argv += [arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")]
    argv += [f"local://{IMAGE_JOBS_ROOT}/spark_smoke_test.py", "--lines", str(LINES)]
    kubeconfig = mint_serviceaccount_kubeconfig(SPARK_NAMESPACE, DRIVER_SERVICE_ACCOUNT, settings=settings)
    with PodTimeline(core, f"spark-app-name={app}") as timeline:
        spark_home = Path(__import__("pyspark").__file__).parent
        env = {"KUBECONFIG": str(kubeconfig), "SPARK_HOME": str(spark_home), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
        started = time.time()
        process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        peak_kib = 0
        while process.poll() is None:  # spark-submit execs the JVM in place: one pid to watch
            peak_kib = max(peak_kib, _peak_rss_kib(process.pid))
            time.sleep(0.05)
        exited = time.time()
        if process.returncode != 0:
            raise RuntimeError(f"spark-submit failed ({process.returncode}):\n{process.stderr.read()[-3000:]}")
        wait_for(lambda: timeline.seen, bool, timeout_seconds=60, interval_seconds=1, what="spark-submit's driver pod")
    for pod in core.list_namespaced_pod(SPARK_NAMESPACE, label_selector=f"spark-app-name={app}").items:
        core.delete_namespaced_pod(pod.metadata.name, SPARK_NAMESPACE)
    return {
        "start_to_driver_created": timeline.driver()["created"] - started,
        "process_seconds": exited - started,
        "jvm_peak_rss_mib": peak_kib / 1024,
    }


def _peak_rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match[1]) if match else 0


def main() -> int:
    settings = load_settings()
    started_cluster = not cluster_answers(settings)
    subprocess.run([str(PROJECT_ROOT / "cluster" / "up")], check=True, stdout=subprocess.DEVNULL)
    try:
        return measure(settings)
    finally:
        if started_cluster:
            subprocess.run([str(PROJECT_ROOT / "cluster" / "down")], check=False, stdout=subprocess.DEVNULL)


def measure(settings) -> int:
    image = json.loads(subprocess.check_output([sys.executable, str(PROJECT_ROOT / "image" / "build"), "--registry",
                                                settings.registry, "--json"], text=True))["pinned"]
    cluster = LocalCluster(settings)
    apply_bootstrap(cluster)
    connection = airflow_identity_connection(cluster)
    core = client.CoreV1Api(cluster.api_client())

    submit = run_spark_submit(settings, image, core)
    operator = run_operator(settings, image, connection, core)
    lags = sorted(operator["log_lag"])
    print(f"\nSpark operator on the local cluster ({LINES} numbered lines, 1 executor), run state: {operator['state']}")
    print(f"{'measure':<46} {'sparkplane operator':>20} {'plain spark-submit':>20}")
    print(f"{'start -> driver pod created (s)':<46} {operator['task_start_to_driver_created']:>20.2f} "
          f"{submit['start_to_driver_created']:>20.2f}")
    print(f"{'  of which Airflow starting the task (s)':<46} {operator['airflow_task_start']:>20.2f}")
    print(f"{'  of which the operator: clients, preflight (s)':<46} {operator['operator_to_created']:>20.2f}")
    print(f"{'submitting process: wall time (s)':<46} {'(no process)':>20} {submit['process_seconds']:>20.2f}")
    print(f"{'submitting process: peak memory (MiB)':<46} {'(no process)':>20} {submit['jvm_peak_rss_mib']:>20.0f}")
    print(f"{'driver Succeeded -> task state change (s)':<46} {operator['driver_terminal_to_task_end']:>20.2f}")
    if lags:
        print(f"{'driver line -> task log lag, median / p95 / max (s)':<46} "
              f"{statistics.median(lags):.3f} / {lags[int(len(lags) * 0.95) - 1]:.3f} / {lags[-1]:.3f}")
    print(f"{'numbered lines in the task log':<46} {operator['lines_in_task_log']:>20}")
    requests = operator["requests"]
    print(f"API requests of the platform identity during the task: {sum(requests.values())}")
    for what, count in requests.most_common():
        print(f"  {count:>5}  {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
