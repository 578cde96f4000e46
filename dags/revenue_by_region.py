"""Daily revenue by customer region, the example pipeline born from a notebook.

generate_orders writes a deterministic orders/customers data set for the run's date; then
revenue_by_region joins and aggregates it into a Parquet report, published only if its data-quality
expectations pass (jobs/expectations/revenue_by_region.py; the result is in the task's XCom
"quality", the full result and Data Docs under the run folder's _quality/). Both tasks run through the
platform's Spark operator, locally by default and on Kubernetes when a cluster is configured.
A scheduled run writes under the folder of its logical date, and re-running it (clearing its tasks)
overwrites that date's report; a run triggered by hand, with its own params, writes under
``<date>/runs/<run id>`` and never touches the scheduled run's report (``sparkplane.storage.run_folders``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param
from sparkplane import settings
from sparkplane.operators import SparkJobOperator
from sparkplane.storage.run_folders import RUN_FOLDER_MACROS

RUN_FOLDER = settings.DATA_ROOT + "/revenue_by_region/{{ run_folder(dag_run) }}"

with DAG(
    dag_id="revenue_by_region",
    description="Join orders to customers and report daily revenue per region (PySpark).",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "data-science",
        "retries": 1,
        "retry_delay": timedelta(minutes=2),
    },
    params={
        "orders": Param(
            300_000, type="integer", minimum=1, maximum=10_000_000,
            description="Orders to generate, at most 10 million (over 30 times the default): the tasks "
            "run on two executors of 1g each.",
        ),
        "customers": Param(
            20_000, type="integer", minimum=1, maximum=1_000_000,
            description="Customers to generate, at most a million: the join's customer side stays small.",
        ),
    },
    user_defined_macros=RUN_FOLDER_MACROS,
    tags=["example", "spark"],
    doc_md=__doc__,
) as dag:
    generate_orders = SparkJobOperator(
        task_id="generate_orders",
        application="generate_orders.py",
        application_args=[
            "--orders", "{{ params.orders }}",
            "--customers", "{{ params.customers }}",
            "--first-day", "{{ macros.ds_add(run_day(dag_run), -27) }}",
            "--output", RUN_FOLDER + "/input",
        ],
    )
    report = SparkJobOperator(
        task_id="revenue_by_region",
        application="revenue_by_region.py",
        application_args=["--input", RUN_FOLDER + "/input", "--output", RUN_FOLDER + "/report"],
        conf={"spark.sql.shuffle.partitions": "8"},
    )
    generate_orders >> report
