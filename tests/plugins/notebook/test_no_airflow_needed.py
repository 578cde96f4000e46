"""What runs where notebooks run imports no Airflow: the converter, the check, the session helper,
the trigger client and the command line."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import PROJECT_ROOT

NOTEBOOK_SIDE = ("sparkplane.cli", "sparkplane.notebook.convert", "sparkplane.image.check",
                 "sparkplane.notebook.client_session", "sparkplane.client")  # fmt: skip


def test_the_notebook_side_imports_no_airflow_module():
    script = ("import importlib, json, sys\n"
              f"for name in {NOTEBOOK_SIDE!r}:\n    importlib.import_module(name)\n"
              "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'airflow')))")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True,
                            env={"PYTHONPATH": str(PROJECT_ROOT / "plugins")})  # fmt: skip
    assert json.loads(result.stdout) == []
