"""``scripts/stack upload``'s refusals, before it touches any store: no stack on the cluster, no
files to upload, a destination outside the data root. (Its upload itself is proven by the stack's
worked-example test, against the cluster's object store.)"""

from __future__ import annotations

import os
import subprocess
import sys

from harness.platform import PROJECT_ROOT


def _upload(state, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SPARKPLANE_STACK_STATE": str(state)}
    return subprocess.run([sys.executable, str(PROJECT_ROOT / "scripts" / "stack.py"), "upload", *args], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_without_a_stack_on_the_cluster_it_says_how_to_start_one(tmp_path):
    result = _upload(tmp_path / "state", str(PROJECT_ROOT / "notebooks" / "data" / "orders"), "data/orders")
    assert result.returncode == 1
    assert "stack: error: no stack on the cluster runs here: `make up-cluster` starts one" in result.stderr


def test_an_empty_folder_or_a_path_outside_the_data_root_is_refused(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "deployment.env").write_text("SPARKPLANE_DATA_ROOT=s3a://sparkplane/stack\n")
    (tmp_path / "empty").mkdir()
    result = _upload(state, str(tmp_path / "empty"), "data/orders")
    assert result.returncode == 1 and "is no folder with files in it" in result.stderr
    result = _upload(state, str(PROJECT_ROOT / "notebooks" / "data" / "orders"), "../elsewhere")
    assert result.returncode == 1 and "'../elsewhere' is no path under the data root" in result.stderr
