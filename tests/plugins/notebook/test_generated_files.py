"""Converting again replaces the converter's own files and never a hand edit, unless forced."""

from __future__ import annotations

import pytest
from sparkplane.notebook.generated_files import plan, with_header, write


def _generated(text: str) -> str:
    return with_header(text, notebook="notebooks/n.ipynb", notebook_sha256="ab" * 32)


def test_new_unchanged_and_regenerated_files(tmp_path):
    job = tmp_path / "jobs" / "n.py"
    assert [item.state for item in write(plan({job: _generated("x = 1\n")}), force=False)] == ["new"]
    assert [item.state for item in plan({job: _generated("x = 1\n")})] == ["unchanged"]
    assert [item.state for item in write(plan({job: _generated("x = 2\n")}), force=False)] == ["regenerated"]
    assert job.read_text().endswith("x = 2\n")


def test_a_hand_edit_or_a_foreign_file_stops_the_whole_conversion_until_forced(tmp_path):
    job, dag = tmp_path / "job.py", tmp_path / "dag.py"
    job.write_text(_generated("x = 1\n") + "y = 2  # tuned by hand\n")
    dag.write_text("# written by hand\n")
    test = tmp_path / "test.py"
    planned = plan({job: _generated("x = 3\n"), dag: _generated("d = 1\n"), test: _generated("t = 1\n")})
    assert [item.state for item in planned] == ["edited", "foreign", "new"]
    with pytest.raises(FileExistsError, match=r"job.py was edited by hand; .*dag.py was not generated.*--force"):
        write(planned, force=False)
    assert not test.exists() and job.read_text().endswith("# tuned by hand\n")
    write(planned, force=True)
    assert job.read_text().endswith("x = 3\n") and test.exists()
