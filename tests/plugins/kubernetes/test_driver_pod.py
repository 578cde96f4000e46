from __future__ import annotations

from sparkplane.job_spec import SparkJobSpec
from sparkplane.kubernetes.driver_pod import KubernetesTarget, application_uri, build_driver_conf, build_driver_pod, memory_request_mib
from sparkplane.kubernetes.identity import TaskTry

TARGET = KubernetesTarget(namespace="spark", image="127.0.0.1:5000/sparkplane/spark:abc")
TRY = TaskTry("revenue_by_region", "report", "manual__2026-11-25T10:00:00+00:00", try_number=1)
SPEC = SparkJobSpec(
    application="revenue_by_region.py",
    name="revenue_by_region.report",
    arguments=("--input", "/data/in"),
    conf={"spark.sql.shuffle.partitions": "8"},
    env={"TZ": "UTC"},
    driver_memory="2g",
)


def _conf_args(pod: dict) -> dict[str, str]:
    args = pod["spec"]["containers"][0]["args"]
    return dict(args[i + 1].split("=", 1) for i, arg in enumerate(args) if arg == "--conf")


def test_driver_pod_runs_the_job_from_the_image_as_spark_sa():
    pod = build_driver_pod(SPEC, TRY, TARGET)
    container = pod["spec"]["containers"][0]
    assert pod["metadata"]["name"] == TRY.driver_name()
    assert pod["spec"]["serviceAccountName"] == "spark-sa"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert container["args"][:3] == ["driver", "--name", "revenue_by_region.report"]
    assert container["args"][-3:] == ["local:///opt/spark/jobs/revenue_by_region.py", "--input", "/data/in"]
    assert {"name": "TZ", "value": "UTC"} in container["env"]


def test_driver_and_executors_carry_the_try_labels():
    pod = build_driver_pod(SPEC, TRY, TARGET)
    conf = _conf_args(pod)
    app_id = TRY.driver_name().removesuffix("-driver")
    assert pod["metadata"]["labels"] == {**TRY.labels(), "spark-role": "driver", "spark-app-selector": app_id}
    assert conf["spark.app.id"] == app_id
    for key, value in TRY.labels().items():
        assert conf[f"spark.kubernetes.executor.label.{key}"] == value


def test_executors_are_owned_by_the_driver_pod_and_reach_it_by_ip():
    conf = build_driver_conf(SPEC, TRY, TARGET)
    assert conf["spark.kubernetes.driver.pod.name"] == TRY.driver_name()
    assert conf["spark.driver.host"] == "$(SPARK_DRIVER_BIND_ADDRESS)"
    assert conf["spark.master"] == "k8s://https://kubernetes.default.svc:443"
    assert conf["spark.kubernetes.authenticate.executor.serviceAccountName"] == "spark-executor"


def test_task_conf_overrides_platform_defaults():
    spec = SparkJobSpec(application="a.py", name="a", conf={"spark.executor.instances": "5"})
    assert build_driver_conf(spec, TRY, TARGET)["spark.executor.instances"] == "5"


def test_driver_pod_passes_pod_security_restricted():
    pod = build_driver_pod(SPEC, TRY, TARGET)
    security = pod["spec"]["securityContext"]
    container_security = pod["spec"]["containers"][0]["securityContext"]
    assert security["runAsNonRoot"] is True and security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container_security == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def test_pod_memory_adds_pyspark_overhead_to_the_heap():
    assert memory_request_mib("2g") == 2048 + 819
    assert memory_request_mib("512m") == 512 + 384
    pod = build_driver_pod(SPEC, TRY, TARGET)
    assert pod["spec"]["containers"][0]["resources"]["limits"] == {"memory": "2867Mi"}


def test_absolute_application_paths_are_kept():
    assert application_uri(SparkJobSpec(application="/opt/other/x.py", name="x")) == "local:///opt/other/x.py"


def test_driver_pod_cpu_request_follows_sparks_own_settings():
    def cpu(conf: dict[str, str]) -> str:
        spec = SparkJobSpec(application="job.py", name="job", conf=conf)
        return build_driver_pod(spec, TRY, TARGET)["spec"]["containers"][0]["resources"]["requests"]["cpu"]

    assert cpu({}) == "1"
    assert cpu({"spark.driver.cores": "2"}) == "2"
    assert cpu({"spark.driver.cores": "2", "spark.kubernetes.driver.request.cores": "500m"}) == "500m"


def test_driver_asks_for_no_volume_claim_rights():
    assert build_driver_conf(SPEC, TRY, TARGET)["spark.kubernetes.driver.ownPersistentVolumeClaim"] == "false"


def test_driver_pod_says_how_long_to_keep_it_after_a_failure():
    pod = build_driver_pod(SPEC, TRY, TARGET, keep_failed_seconds=3600)
    assert pod["metadata"]["annotations"]["sparkplane.dev/keep-failed-seconds"] == "3600"
    assert TRY.annotations().items() <= pod["metadata"]["annotations"].items()
