"""The sample notebook and the pipeline converted from it compute the same report.

The notebook runs in a real Jupyter kernel (papermill) with local Spark; the generated job runs on
the same parameters, first as a script, then as the generated DAG in real Airflow (local mode,
`airflow dags test`), whose run date comes from the run's logical date and which, as a manual
run, writes under its own run folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from unittest import mock

import pandas as pd
import papermill
import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.airflow

NOTEBOOK = PROJECT_ROOT / "notebooks" / "daily_sales.ipynb"
RUN_DATE = "2026-11-30"
PARAMETERS = {"run_date": RUN_DATE, "days": 10, "min_amount": 10.0}


def _report(path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    return frame.sort_values(["order_date", "region", "size_band"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def notebook_report(tmp_path_factory):
    """Run the notebook as its author does, in a kernel, with local Spark instead of the cluster."""
    folder = tmp_path_factory.mktemp("notebook")
    kernel_env = {"SPARK_MASTER": "local[2]", "SPARK_DRIVER_HOST": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    with mock.patch.dict(os.environ, kernel_env):  # the kernel inherits the environment
        papermill.execute_notebook(
            str(NOTEBOOK), str(folder / "executed.ipynb"), kernel_name="python3", cwd=str(folder), progress_bar=False,
            parameters={**PARAMETERS, "orders_path": str(folder / "orders"), "output_path": str(folder / "report")},
        )  # fmt: skip
    return folder


def test_the_generated_job_reports_what_the_notebook_reports(notebook_report, tmp_path):
    arguments = [f"--{name.replace('_', '-')}={value}" for name, value in PARAMETERS.items()]
    job = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "jobs" / "daily_sales.py"), *arguments,
         "--orders-path", str(notebook_report / "orders"), "--output-path", str(tmp_path / "report")],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYSPARK_PYTHON": sys.executable},
    )  # fmt: skip
    assert job.returncode == 0, job.stderr[-3000:]
    expected = _report(notebook_report / "report")
    assert len(expected) == 4  # the sample's orders from 11-21 to 11-30 of 10.0 or more, in (day, region, band)
    pd.testing.assert_frame_equal(_report(tmp_path / "report"), expected)


def test_the_generated_dag_runs_in_airflow_on_the_run_date(notebook_report, tmp_path):
    data_root = tmp_path / "data"
    (data_root / "data").mkdir(parents=True)
    os.symlink(notebook_report / "orders", data_root / "data" / "orders")
    env = {**os.environ, "SPARKPLANE_DATA_ROOT": str(data_root)}
    airflow = [sys.executable, "-m", "airflow"]
    subprocess.run([*airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    conf = '{"days": 10, "min_amount": 10.0}'
    result = subprocess.run([*airflow, "dags", "test", "daily_sales", RUN_DATE, "--conf", conf],
                            env=env, capture_output=True, text=True, timeout=900)  # fmt: skip
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    assert "--run-date 2026-11-30" in log or "'--run-date', '2026-11-30'" in log
    date_folder = data_root / "data" / "daily_sales" / RUN_DATE
    (run_folder,) = (date_folder / "runs").iterdir()  # a manual run: never the date's own folder
    assert sorted(path.name for path in date_folder.iterdir()) == ["runs"]
    pd.testing.assert_frame_equal(_report(run_folder), _report(notebook_report / "report"))
