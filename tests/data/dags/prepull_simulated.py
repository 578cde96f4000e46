"""The pre-pull task against the simulated nodes, paced for tests and failing on its first try.

Spark's pods are taken to land on simulated nodes (their label, their taint tolerated), so the
pre-pull covers them; the real node lacks the label and is not eligible. No retry: a test reads
the first try's outcome. Params as the platform DAG's (dags/spark_image_prepull.py).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param
from sparkplane.prepull.operator import ImagePrepullOperator

#: As cluster/localcluster labels and taints the simulated nodes.
SIMULATED = {"sparkplane.dev/node-type": "simulated"}
SIMULATED_NODE_TOLERATION = {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}

with DAG(
    dag_id="prepull_simulated",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    render_template_as_native_obj=True,
    default_args={"owner": "platform-tests", "retries": 0},
    params={
        "image": Param("", type="string"),
        "concurrency": Param(5, type="integer", minimum=0),
        "min_coverage_percent": Param(100, type="number", minimum=0, maximum=100),
        "pull_timeout_seconds": Param(120, type="integer", minimum=1),
        "node_selector": Param(SIMULATED, type="object"),
    },
    tags=["tests"],
):
    ImagePrepullOperator(
        task_id="pull_image",
        image="{{ params.image }}",
        node_selector="{{ params.node_selector }}",
        tolerations=[SIMULATED_NODE_TOLERATION],
        concurrency="{{ params.concurrency }}",
        min_coverage_percent="{{ params.min_coverage_percent }}",
        pull_timeout_seconds="{{ params.pull_timeout_seconds }}",
        unschedulable_grace_seconds=20,  # time for the scheduler to hear of nodes created just before
        progress_interval_seconds=5,  # a line per node still pulling every 5 s, so a test sees one
    )
