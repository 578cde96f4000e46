"""Delete the Spark driver pods the platform left behind, every 30 minutes.

Two kinds are deleted (each with its executors, Services and ConfigMaps, which the driver owns):

- failed drivers kept for inspection whose keep time is over (the operator's `keep_failed_driver`,
  24 hours by default), and succeeded drivers no task came back for within the same time;
- orphans: drivers still Pending or Running whose task instance has finished, so nothing follows
  them any more (a worker and triggerer that both died, a task marked failed while the triggerer
  was down).

Only pods labelled `app.kubernetes.io/managed-by=sparkplane`, `spark-role=driver` and this
Airflow's `sparkplane.dev/deployment` are looked at: another Airflow sharing the namespace sweeps
its own. A driver whose task instance this Airflow does not know is kept and reported. The task log has one line per driver saying what was done and why; trigger with
`dry_run` to see that without deleting anything.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, task

with DAG(
    dag_id="spark_pod_sweep",
    description="Delete failed Spark drivers past their keep time and drivers whose task has ended.",
    schedule=timedelta(minutes=30),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "platform", "retries": 1, "retry_delay": timedelta(minutes=2)},
    params={"dry_run": Param(False, type="boolean", description="Log what would be deleted; delete nothing.")},
    tags=["platform", "spark", "kubernetes"],
    doc_md=__doc__,
) as dag:

    @task
    def sweep_driver_pods(params=None, ti=None) -> dict:
        """Judge every platform driver in the Spark namespace; delete the left-over ones."""
        import logging
        from datetime import timezone

        from airflow.sdk.exceptions import AirflowSkipException
        from sparkplane import settings
        from sparkplane.deployment import deployment_id
        from sparkplane.kubernetes.hook import SparkKubernetesHook
        from sparkplane.kubernetes.sweep import sweep_drivers

        if settings.KUBERNETES_CONN_ID is None:
            reason = ("No cluster is configured (SPARKPLANE_KUBERNETES_CONN_ID is unset): Spark runs locally, "
                      "so there are no driver pods to sweep.")  # fmt: skip
            # Said where a reader of the log sees it, not only in the skip's folded details.
            logging.getLogger(__name__).warning("%s", reason)
            raise AirflowSkipException(reason)
        return sweep_drivers(
            SparkKubernetesHook(settings.KUBERNETES_CONN_ID),
            settings.SPARK_NAMESPACE,
            lambda dag_id, run_ids, map_index: ti.get_task_states(dag_id=dag_id, run_ids=run_ids, map_index=map_index),
            deployment=deployment_id(),
            now=datetime.now(timezone.utc),
            dry_run=bool(params["dry_run"]),
        )

    sweep_driver_pods()
