"""Check that a namespace is ready for Spark jobs: its accounts, Pod Security and RBAC, daily.

Reads the namespace, the driver's and executors' ServiceAccounts (spark-sa, spark-executor), its
Roles and RoleBindings and every ClusterRole and ClusterRoleBinding, and asks the API server (one
access review each) for every right the platform's identities need: spark-sa's in the namespace,
and the Airflow identity's there, in sparkplane-system and cluster-wide
(`sparkplane.rbac.needed_rights` holds the one table). The log starts with whose rights were
checked: the connection's user, with a warning when that is not the platform's Airflow identity.

The run **fails** when something needed is missing: the namespace or an account, Pod Security
`restricted`, a token-free executor account, or a right. Each missing right is named with why (no
binding, a binding to a Role that does not exist, a Role that lacks the verb) and the YAML that
fixes it. It **warns** and succeeds when spark-sa holds more than Spark uses (a ClusterRoleBinding,
a wildcard, secrets), and on the RBAC linter's findings on the live objects that reach spark-sa.

Trigger it with a `namespace` to check another namespace set up for jobs; the Airflow identity
needs the bootstrap's read rights there (spark-bootstrap/20-airflow.yaml).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, task
from sparkplane import settings

with DAG(
    dag_id="spark_rbac_check",
    description="Check a namespace's accounts, Pod Security and RBAC for Spark jobs; fail on what is missing.",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    # A failed check raises AirflowFailException and is not retried (only an RBAC change helps);
    # the one retry is for an API server that did not answer.
    default_args={"owner": "platform", "retries": 1, "retry_delay": timedelta(minutes=1)},
    params={"namespace": Param(settings.SPARK_NAMESPACE, type="string", minLength=1,
                               description="The namespace Spark jobs run in.")},  # fmt: skip
    tags=["platform", "spark", "kubernetes", "rbac"],
    doc_md=__doc__,
) as dag:

    @task
    def check_rbac(params=None) -> dict:
        """Check the namespace; fail with the cause and fix when something needed is missing."""
        import logging

        from airflow.sdk.exceptions import AirflowSkipException
        from sparkplane.rbac.cluster_check import run_rbac_check
        from sparkplane.rbac.hook import RbacHook

        if settings.KUBERNETES_CONN_ID is None:
            raise AirflowSkipException(
                "No cluster is configured (SPARKPLANE_KUBERNETES_CONN_ID is unset): Spark runs locally, "
                "so there is no RBAC to check."
            )
        log = logging.getLogger("sparkplane.rbac.check")
        return run_rbac_check(RbacHook(settings.KUBERNETES_CONN_ID), params["namespace"], log=log)

    check_rbac()
