"""Where notebooks run, the platform installs without Airflow: the package's wheel with the locked
notebooks and jobs extras (requirements-notebooks.lock) in a fresh environment gives the
``sparkplane`` command, which converts the worked example exactly as committed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.conftest import PROJECT_ROOT

def _uv() -> Path:
    version = re.search(r"^UV_VERSION=(\S+)", (PROJECT_ROOT / "scripts" / "lib.sh").read_text(), re.M)[1]
    cache = Path.home() / ".cache" / "sparkplane"
    return cache / f"uv-{version}" / "bin" / "uv"  # installed by make env (scripts/ensure-env)


def _run(*command, cwd=None) -> subprocess.CompletedProcess:
    result = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def test_the_notebook_side_installs_without_airflow_and_converts_the_example(tmp_path):
    source = tmp_path / "source"  # the package's sources only, so the build writes nothing into the checkout
    (source / "plugins").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "pyproject.toml", source)
    shutil.copy(PROJECT_ROOT / "README.md", source)
    shutil.copytree(PROJECT_ROOT / "plugins" / "sparkplane", source / "plugins" / "sparkplane",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    uv = _uv()
    _run(uv, "build", "--wheel", "--quiet", "--out-dir", tmp_path / "dist", source)
    (wheel,) = (tmp_path / "dist").glob("sparkplane-*.whl")
    python = tmp_path / "venv" / "bin" / "python"
    _run(uv, "venv", "--quiet", "--python", "python3.11", tmp_path / "venv")
    _run(uv, "pip", "sync", "--quiet", "--python", python, PROJECT_ROOT / "requirements-notebooks.lock")
    _run(uv, "pip", "install", "--quiet", "--no-deps", "--python", python, wheel)

    no_airflow = subprocess.run([python, "-c", "import airflow"], capture_output=True, text=True, timeout=60)
    assert no_airflow.returncode != 0 and "No module named 'airflow'" in no_airflow.stderr
    _run(python, "-c", "import pyspark, sparkplane.client, sparkplane.notebook.client_session, sparkplane.image.check")
    templates = _run(python, "-c", "from sparkplane.bootstrap.submit_conf import POD_TEMPLATE_DIR as d; "
                     "print(d, (d / 'executor.yaml').read_text(), sep='\\n', end='')").stdout  # fmt: skip
    installed_at, executor_template = templates.split("\n", 1)
    assert installed_at.startswith(str(tmp_path / "venv")), installed_at
    assert executor_template == (PROJECT_ROOT / "spark-bootstrap" / "pod-templates" / "executor.yaml").read_text()

    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "notebooks" / "daily_sales.ipynb", project / "notebooks")
    _run(tmp_path / "venv" / "bin" / "sparkplane", "notebook", "convert", "notebooks/daily_sales.ipynb",
         "--name", "daily_sales", "--schedule", "@daily", "--date-parameter", "run_date", "--tag", "sales", cwd=project)  # fmt: skip
    for path in ("jobs/daily_sales.py", "dags/daily_sales.py", "tests/jobs/test_daily_sales.py"):
        assert (project / path).read_text() == (PROJECT_ROOT / path).read_text(), path
