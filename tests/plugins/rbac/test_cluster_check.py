"""The RBAC check's failure: every cause, then every fix, in one exception that Airflow does not retry."""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowFailException
from rbac_manifests import answers, bootstrap_manifests, find, rbac_objects
from sparkplane.rbac.cluster_check import report_failure
from sparkplane.rbac.namespace_check import check_namespace
from sparkplane.rbac.needed_rights import access_questions


def test_a_failed_report_becomes_one_failure_naming_each_cause_and_each_fix():
    manifests = [m for m in bootstrap_manifests() if (m["kind"], m["metadata"]["name"]) != ("RoleBinding", "spark-driver")]
    manifests = [m for m in manifests if (m["kind"], m["metadata"]["name"]) != ("ServiceAccount", "spark-executor")]
    rbac = rbac_objects(manifests)
    report = check_namespace(
        namespace=find(manifests, "Namespace", "spark"),
        driver_account=find(manifests, "ServiceAccount", "spark-sa", "spark"),
        executor_account=None,
        rbac=rbac,
        answers=answers(rbac, access_questions()),
    )

    failure = report_failure(report)

    assert isinstance(failure, AirflowFailException)
    assert failure.cause.startswith("Namespace spark is not ready for Spark jobs (2 to fix). ServiceAccount spark/spark-executor "
                                    "does not exist")  # fmt: skip
    assert "ServiceAccount spark/spark-sa may not get, list, watch" in failure.cause
    assert ": no RoleBinding binds spark-sa in namespace spark" in failure.cause
    assert "(10-spark-driver.yaml creates it)" in failure.fix and "Create the RoleBinding below" in failure.fix
    assert failure.fix.endswith("The rules and manifests each fix names are in the report above.")
