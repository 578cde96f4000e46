"""The pre-pull task: the platform image (and any extra images) onto every node Spark's pods may use.

Thin: it reads the Spark pod templates, resolves the image to its digest, runs one ``PrepullRun``
per image, logs and returns the reports, and records the Asset event pipelines may be scheduled
on. The task fails when an image reaches fewer eligible nodes than ``min_coverage_percent``,
naming them; its retry pulls again where the image is still missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, BaseOperator

from sparkplane import settings
from sparkplane.exceptions import JobDefinitionError

if TYPE_CHECKING:
    from airflow.sdk import Context

    from sparkplane.prepull.report import PrepullReport
    from sparkplane.prepull.runner import PrepullRun

#: Updated when the platform image is on the required share of eligible nodes; its extra holds
#: the image by digest. Schedule a pipeline on it to start once a new image is everywhere.
SPARK_IMAGE_READY = Asset("sparkplane_spark_image_ready")
#: Where Spark's pods may land is read from the pod templates the platform gives spark-submit.
SPARK_POD_TEMPLATES = ("driver.yaml", "executor.yaml")


class ImagePrepullOperator(BaseOperator):
    """Pull the Spark image onto every eligible node that lacks it, at a bounded pace.

    :param image: the image to pull (templated); default the deployment's Spark image. A tag is
        resolved to its digest at the registry.
    :param extra_images: more images to pull the same way (templated); their coverage is checked,
        the Asset event is the platform image's alone.
    :param node_selector: labels every Spark pod requires on top of its template's (templated).
        Selectors a task adds in its own ``pod_template`` are not known here: add them.
    :param tolerations: tolerations every Spark pod has on top of its template's (templated).
    :param concurrency: how many nodes pull at once; 0 for every node at once (templated).
    :param min_coverage_percent: the share of eligible nodes that must hold each image (templated).
    :param pull_timeout_seconds: how long one node's pull may take (templated).
    :param unschedulable_grace_seconds: how long a puller may wait for the scheduler before its
        node is reported as unable to take it.
    :param progress_interval_seconds: how often each node still pulling is reported in the task log.
    :param image_pull_secrets: Secrets in the platform namespace holding the registry's credentials.
    :param kubernetes_conn_id: the cluster's Airflow connection.
    :param pod_templates_dir: the folder of Spark's pod templates (spark-bootstrap/pod-templates).
    """

    template_fields: Sequence[str] = ("image", "extra_images", "node_selector", "tolerations", "concurrency",
                                      "min_coverage_percent", "pull_timeout_seconds")  # fmt: skip

    def __init__(
        self,
        *,
        image: str | None = None,
        extra_images: Sequence[str] = (),
        node_selector: Mapping[str, str] | None = None,
        tolerations: Sequence[Mapping[str, Any]] = (),
        concurrency: int | str = 10,
        min_coverage_percent: float | str = 100,
        pull_timeout_seconds: float | str = 900,
        unschedulable_grace_seconds: float = 60,
        progress_interval_seconds: float = 30,
        image_pull_secrets: Sequence[str] = (),
        kubernetes_conn_id: str | None = settings.KUBERNETES_CONN_ID,
        pod_templates_dir: Path | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("outlets", [SPARK_IMAGE_READY])
        kwargs.setdefault("execution_timeout", timedelta(hours=2))
        super().__init__(**kwargs)
        self.image = image
        self.extra_images = extra_images
        self.node_selector = node_selector
        self.tolerations = tolerations
        self.concurrency = concurrency
        self.min_coverage_percent = min_coverage_percent
        self.pull_timeout_seconds = pull_timeout_seconds
        self.unschedulable_grace_seconds = unschedulable_grace_seconds
        self.progress_interval_seconds = progress_interval_seconds
        self.image_pull_secrets = image_pull_secrets
        self.kubernetes_conn_id = kubernetes_conn_id
        self.pod_templates_dir = pod_templates_dir
        self._runs: list[PrepullRun] = []

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from sparkplane.image.labels import ImageLabelsError, pin_by_digest
        from sparkplane.prepull.hook import PrepullHook
        from sparkplane.prepull.labels import run_key_of
        from sparkplane.prepull.runner import PrepullPlan, PrepullRun

        if not self.kubernetes_conn_id:
            raise AirflowSkipException("No cluster is configured (SPARKPLANE_KUBERNETES_CONN_ID is unset): Spark runs "
                                       "locally, so there are no nodes to pull images on.")  # fmt: skip
        image = self.image or settings.SPARK_IMAGE
        if not image:
            raise JobDefinitionError("No image to pull: set the DAG's image param or the deployment setting "
                                     "SPARKPLANE_SPARK_IMAGE to the reference image/build printed.")  # fmt: skip
        try:
            images = [pin_by_digest(reference) for reference in [image, *self.extra_images]]
        except ImageLabelsError as error:
            raise JobDefinitionError(f"Cannot pull {image}: {error}") from error
        hook = PrepullHook(self.kubernetes_conn_id)
        ti = context["ti"]
        reports: list[PrepullReport] = []
        for reference in images:
            plan = PrepullPlan(
                image=reference, kinds=self._kinds(), concurrency=int(self.concurrency),
                pull_timeout_seconds=float(self.pull_timeout_seconds),
                unschedulable_grace_seconds=self.unschedulable_grace_seconds,
                progress_interval_seconds=self.progress_interval_seconds,
                image_pull_secrets=tuple(self.image_pull_secrets),
            )  # fmt: skip
            run = PrepullRun(hook, plan, run_key=run_key_of(ti.dag_id, ti.run_id, str(ti.try_number), reference),
                             log=self.log)  # fmt: skip
            self._runs.append(run)
            reports.append(run.run())
            for line in reports[-1].log_lines():
                self.log.info("%s", line)
        platform = reports[0]
        result = {"image": platform.as_xcom(), "extra_images": [report.as_xcom() for report in reports[1:]]}
        ti.xcom_push(key="coverage", value=platform.coverage)
        for report in reports:
            report.check_threshold(float(self.min_coverage_percent))
        context["outlet_events"][SPARK_IMAGE_READY].extra = {
            "image": platform.image, "coverage": platform.coverage, "message": f"platform image ready: {platform.image}"}
        self.log.info("platform image ready: %s (%s)", platform.image, platform.coverage)
        return result

    def on_kill(self) -> None:
        for run in self._runs:
            run.clean_up()

    def _kinds(self) -> list:
        import yaml

        from sparkplane.bootstrap.submit_conf import POD_TEMPLATE_DIR
        from sparkplane.prepull.constraints import constraints_from_pod_templates

        folder = self.pod_templates_dir or POD_TEMPLATE_DIR
        templates = [yaml.safe_load((folder / name).read_text()) or {} for name in SPARK_POD_TEMPLATES]
        return constraints_from_pod_templates(*templates, node_selector=self.node_selector or {},
                                              tolerations=list(self.tolerations or ()))  # fmt: skip
