# Generated from notebooks/daily_sales.ipynb by `sparkplane notebook convert`: change the notebook and convert again.
# Converting refuses to replace this file once edited by hand (--force replaces it).
# sparkplane-generated: notebook-sha256=1d29e81b9a96bb3e content-sha256=dc9653c48eceafe2
"""Daily sales per region and order size

Converted from notebooks/daily_sales.ipynb: the task runs jobs/daily_sales.py through the platform's Spark operator,
locally by default and on Kubernetes when a cluster is configured. Trigger it with other values
from the UI's form or the API (the run's conf); each Param is checked before the run starts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param
from sparkplane import settings
from sparkplane.operators import SparkJobOperator
from sparkplane.storage.run_folders import RUN_FOLDER_MACROS

with DAG(
    dag_id="daily_sales",
    description="Daily sales per region and order size",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "data-science", "retries": 1, "retry_delay": timedelta(minutes=2)},
    params={
        "run_date": Param(
            None,
            type=["null", "string"],
            format="date",
            description="last day of the report (YYYY-MM-DD). Empty: the run's date.",
        ),
        "days": Param(7, type="integer", minimum=1, maximum=31, description="days in the window"),
        "min_amount": Param(
            0.0,
            type="number",
            minimum=0.0,
            maximum=100000.0,
            description="orders below this amount are left out",
        ),
        "region": Param("all", type="string", enum=["all", "emea", "amer", "apac"], description="region"),
        "orders_path": Param(
            settings.DATA_ROOT + "/data/orders",
            type="string",
            description="Parquet orders: order_id, region, amount, order_date (a relative path in the notebook: here under the deployment's data root)",
        ),
        "output_path": Param(
            settings.DATA_ROOT + "/data/daily_sales",
            type="string",
            description="the report, Parquet (a relative path in the notebook: here under the deployment's data root); each run writes under <this>/<date>, a manual run under <date>/runs/<run id>",
        ),
    },
    user_defined_macros=RUN_FOLDER_MACROS,
    tags=["notebook", "sales"],
    doc_md=__doc__,
) as dag:
    SparkJobOperator(
        task_id="daily_sales",
        application="daily_sales.py",
        application_args=[
            "--run-date",
            "{{ params.run_date or run_day(dag_run) }}",
            "--days",
            "{{ params.days }}",
            "--min-amount",
            "{{ params.min_amount }}",
            "--region",
            "{{ params.region }}",
            "--orders-path",
            "{{ params.orders_path }}",
            "--output-path",
            "{{ params.output_path }}/{{ run_folder(dag_run) }}",
        ],
        executor_cores=1,
        executor_instances=2,
        executor_memory="1g",
        conf={"spark.sql.session.timeZone": "UTC", "spark.sql.shuffle.partitions": "8"},
    )
