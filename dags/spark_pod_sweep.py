"""Delete the Spark driver pods the platform left behind, and notebooks' executors, every 30 minutes.

Two kinds are deleted (each with its executors, Services and ConfigMaps, which the driver owns):

- failed drivers kept for inspection whose keep time is over (the operator's `keep_failed_driver`,
  24 hours by default), and succeeded drivers no task came back for within the same time;
- orphans: drivers still Pending or Running whose task instance has finished, so nothing follows
  them any more (a worker and triggerer that both died, a task marked failed while the triggerer
  was down).

Only pods labelled `app.kubernetes.io/managed-by=sparkplane`, `spark-role=driver` and this
Airflow's `sparkplane.dev/deployment` are looked at: another Airflow sharing the namespace sweeps
its own. A driver whose task instance this Airflow does not know is kept and reported.

A notebook's session has no driver pod (the kernel is the driver), so nothing collects its
executors when the kernel dies: `sweep_notebook_executors` deletes those finished, or Pending,
for longer than `notebook_keep_minutes` (labelled `sparkplane.dev/notebook=true`, a label only the
notebook identity may set). A Running one ends by itself once its notebook is gone. The same task
then deletes the anchor ConfigMap, and with it the Spark authentication secret, of each notebook
session none of whose executors is Pending or Running once `notebook_keep_minutes` have passed
since the session started (`spark.stop()` deletes its own; a kernel shut down without it cannot).

Each task's log has one line per pod saying what was done and why; trigger with `dry_run` to see
that without deleting anything.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, task

with DAG(
    dag_id="spark_pod_sweep",
    description="Delete failed Spark drivers past their keep time, drivers whose task has ended, and notebooks' "
    "finished executors.",
    schedule=timedelta(minutes=30),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "platform", "retries": 1, "retry_delay": timedelta(minutes=2)},
    params={
        "dry_run": Param(False, type="boolean", description="Log what would be deleted; delete nothing."),
        "notebook_keep_minutes": Param(
            60, type="integer", minimum=0, maximum=7 * 24 * 60,
            description="Minutes a notebook's finished (or still Pending) executor is kept, to read its log; "
            "and a session with no live executor, counted from its start.",
        ),
    },
    tags=["platform", "spark", "kubernetes"],
    doc_md=__doc__,
) as dag:

    @task
    def sweep_driver_pods(params=None, ti=None) -> dict:
        """Judge every platform driver in the Spark namespace; delete the left-over ones."""
        from datetime import timezone

        from sparkplane import settings
        from sparkplane.deployment import deployment_id
        from sparkplane.kubernetes.sweep import cluster_hook_or_skip, sweep_drivers

        return sweep_drivers(
            cluster_hook_or_skip("driver pods"),
            settings.SPARK_NAMESPACE,
            lambda dag_id, run_ids, map_index: ti.get_task_states(dag_id=dag_id, run_ids=run_ids, map_index=map_index),
            deployment=deployment_id(),
            now=datetime.now(timezone.utc),
            dry_run=bool(params["dry_run"]),
        )

    @task
    def sweep_notebook_executors(params=None) -> dict:
        """Delete notebook executors finished or pending too long, then the sessions none of whose executors is live."""
        from datetime import timezone

        from sparkplane import settings
        from sparkplane.kubernetes.notebook_sweep import sweep_notebooks
        from sparkplane.kubernetes.sweep import cluster_hook_or_skip

        return sweep_notebooks(
            cluster_hook_or_skip("notebook executors"),
            settings.SPARK_NAMESPACE,
            now=datetime.now(timezone.utc),
            keep=timedelta(minutes=params["notebook_keep_minutes"]),
            dry_run=bool(params["dry_run"]),
        )

    sweep_driver_pods()
    sweep_notebook_executors()
