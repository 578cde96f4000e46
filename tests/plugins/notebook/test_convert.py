"""Converting the sample notebooks: the committed example is exactly what the converter writes, and
the command line reports what it left out, refuses hand edits and bad options."""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest
from sparkplane.cli import main
from sparkplane.notebook.cells import read_notebook
from sparkplane.notebook.convert import ConversionError, ConversionOptions, convert, output_paths

from tests.conftest import PROJECT_ROOT

DAILY_SALES = PROJECT_ROOT / "notebooks" / "daily_sales.ipynb"
CHURN = PROJECT_ROOT / "notebooks" / "churn_features.ipynb"
#: The README's worked example.
DAILY_SALES_OPTIONS = ConversionOptions(name="daily_sales", schedule="@daily", date_parameter="run_date", tags=("sales",))


def _convert(path, options):
    return convert(read_notebook(path), notebook_path=f"notebooks/{path.name}", notebook_bytes=path.read_bytes(),
                   options=options)  # fmt: skip


def test_the_committed_example_is_what_the_converter_writes_from_the_sample():
    conversion = _convert(DAILY_SALES, DAILY_SALES_OPTIONS)
    paths = output_paths(PROJECT_ROOT, "daily_sales")
    assert conversion.job == paths["job"].read_text(), "convert notebooks/daily_sales.ipynb again (README)"
    assert conversion.dag == paths["dag"].read_text()
    assert conversion.test == paths["test"].read_text()
    assert conversion == _convert(DAILY_SALES, DAILY_SALES_OPTIONS)
    assert conversion.notes == (
        "cell 3: %matplotlib inline removed (IPython only)",
        "cell 4: the SparkSession builder keeps its app name only; the platform sets master(os.environ.get("
        "'SPARK_MASTER', 'k8s://https://127.0.0.1:6443')), spark.kubernetes.namespace, "
        "spark.kubernetes.container.image, spark.kubernetes.authenticate.serviceAccountName, spark.driver.host; "
        "moved to the operator: executor_cores=1, executor_instances=2, executor_memory='1g', "
        "conf spark.sql.session.timeZone='UTC', conf spark.sql.shuffle.partitions='8'",
        "cell 8: display(...) on line 16 removed (shows output in the notebook only)",
        "cell 10: draws a chart and defines nothing later cells use; left out",
    )
    assert "matplotlib" not in conversion.job and "import os" not in conversion.job


def test_the_second_sample_converts_and_keeps_its_scikit_learn_udf():
    conversion = _convert(CHURN, ConversionOptions(name="churn_features"))
    # The cluster test of the preflight runs this copy (tests/data/dags/operator_failure_cases.py).
    assert conversion.job == (PROJECT_ROOT / "tests" / "data" / "jobs" / "churn_features.py").read_text()
    assert "from sklearn.preprocessing import minmax_scale" in conversion.job
    assert "schedule=None" in conversion.dag
    assert "cell 6: 'features' on line 4 removed (shows a value in the notebook only)" in conversion.notes
    assert any(note.startswith("no cell is tagged 'test-input'") for note in conversion.notes)


def test_converting_again_updates_the_files_and_refuses_a_hand_edit(tmp_path, capsys):
    notebook = tmp_path / "notebooks" / "daily.ipynb"
    notebook.parent.mkdir()
    notebook.write_bytes(DAILY_SALES.read_bytes())
    command = ["notebook", "convert", str(notebook), "--name", "daily", "--project", str(tmp_path)]
    assert main(command) == 0
    assert "new  " in capsys.readouterr().out
    document = nbformat.read(notebook, as_version=4)
    document.cells[1].source = document.cells[1].source.replace("days = 7", "days = 14")
    nbformat.write(document, notebook)
    assert main(command) == 0
    assert "regenerated" in capsys.readouterr().out
    job = tmp_path / "jobs" / "daily.py"
    assert "default=14" in job.read_text()
    job.write_text(job.read_text() + "\n# tuned by hand\n")
    assert main(command) == 2
    assert "jobs/daily.py was edited by hand" in capsys.readouterr().err
    assert main([*command, "--force"]) == 0
    assert "# tuned by hand" not in job.read_text()


@pytest.mark.parametrize(("options", "message"), [
    (ConversionOptions(name="Daily-Sales"), "is not usable as a DAG id"),
    (ConversionOptions(name="daily", date_parameter="days"), r"is not a date parameter .* \['run_date'\]"),
])  # fmt: skip
def test_bad_options_say_what_to_use(options, message):
    with pytest.raises(ConversionError, match=message):
        _convert(DAILY_SALES, options)


def test_a_notebook_without_tags_converts_to_a_job_and_a_test_that_pass(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("rows = 3  # range 1..10\n"),
        nbformat.v4.new_code_cell("from pyspark.sql import SparkSession\n"
                                  "spark = SparkSession.builder.master('local[1]').getOrCreate()\n"),
        nbformat.v4.new_code_cell("print(json.dumps({'rows': spark.range(rows).count()}))\nimport json"),
    ])  # fmt: skip
    path = tmp_path / "tiny.ipynb"
    nbformat.write(notebook, path)
    assert main(["notebook", "convert", str(path), "--name", "tiny", "--project", str(tmp_path)]) == 0
    job = subprocess.run([sys.executable, str(tmp_path / "jobs" / "tiny.py")], capture_output=True, text=True, timeout=300)
    assert job.returncode == 0, job.stderr[-3000:]
    assert json.loads(job.stdout.strip().splitlines()[-1]) == {"rows": 3}
    test = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "tests")],
                          cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "jobs")}, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert test.returncode == 0, test.stdout[-3000:]


def test_a_second_parameters_cell_is_converted_as_code():
    from sparkplane.notebook.cells import CodeCell, Notebook

    notebook = Notebook(code_cells=(CodeCell(1, "days = 7  # range 1..9", frozenset({"parameters"})),
                                    CodeCell(2, "extra = days * 2", frozenset({"parameters"}))))  # fmt: skip
    conversion = convert(notebook, notebook_path="n.ipynb", notebook_bytes=b"", options=ConversionOptions(name="n"))
    assert "extra = days * 2" in conversion.job
    assert "cell 2: a second 'parameters' cell, converted as code; only cell 1 gives parameters" in conversion.notes
