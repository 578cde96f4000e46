"""Pull the Spark image onto every node Spark's pods may land on, before a job needs it.

The image is 1.5 GB: a driver or executor landing on a node without it waits in ContainerCreating
for the whole pull. Every hour (new nodes are covered by the next run), after each `image/build`
(it prints the trigger command with the new digest), or on demand, this sends one small puller pod
per node that lacks the image, `concurrency` nodes at a time, and reports per node: pulled (with
seconds), already present, failed (the kubelet's reason), timed out, not eligible (why), unavailable
(cordoned or NotReady: reported, not waited for). Its pods are removed at the end, whatever ends it.

Eligible nodes are those Spark's pod templates (spark-bootstrap/pod-templates) allow, plus the
`node_selector` and `tolerations` params: selectors a task adds in its own `pod_template` are not
known here, so add them as params. The run fails when the image is on fewer than
`min_coverage_percent` of the eligible nodes, naming them; when it succeeds it updates the Asset
`sparkplane_spark_image_ready` (its extra holds the image by digest), which pipelines may be
scheduled on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param
from sparkplane.prepull.operator import ImagePrepullOperator

with DAG(
    dag_id="spark_image_prepull",
    description="Pull the Spark image onto every eligible node, a bounded number at a time.",
    schedule=timedelta(hours=1),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,  # the params reach the operator as lists, dicts and numbers
    default_args={"owner": "platform", "retries": 1, "retry_delay": timedelta(minutes=5)},
    params={
        "image": Param("", type="string", description="Image to pull; empty for the deployment's Spark image."),
        "extra_images": Param([], type="array", items={"type": "string"}, description="More images to pull."),
        "concurrency": Param(10, type="integer", minimum=0, maximum=1000,
                             description="Nodes pulling at once (0: all at once). The registry serves them all."),
        "min_coverage_percent": Param(100, type="number", minimum=0, maximum=100,
                                      description="Fail below this share of eligible nodes holding the image."),
        "pull_timeout_seconds": Param(900, type="integer", minimum=10, maximum=7200,
                                      description="Longest one node's pull may take."),
        "node_selector": Param({}, type="object", description="Labels Spark's pods require (as in a pod spec)."),
        "tolerations": Param([], type="array", items={"type": "object"},
                             description="Tolerations Spark's pods have (as in a pod spec)."),
    },  # fmt: skip
    tags=["platform", "spark", "kubernetes"],
    doc_md=__doc__,
) as dag:
    ImagePrepullOperator(
        task_id="pull_image",
        image="{{ params.image }}",
        extra_images="{{ params.extra_images }}",
        node_selector="{{ params.node_selector }}",
        tolerations="{{ params.tolerations }}",
        concurrency="{{ params.concurrency }}",
        min_coverage_percent="{{ params.min_coverage_percent }}",
        pull_timeout_seconds="{{ params.pull_timeout_seconds }}",
    )
