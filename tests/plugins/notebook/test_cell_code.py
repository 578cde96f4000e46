"""A cell's part in a job: imports hoisted, IPython and display-only lines removed, charts recognised."""

from __future__ import annotations

import pytest
from sparkplane.notebook.cell_code import CellNotConvertible, job_cell
from sparkplane.notebook.cells import CodeCell


def test_magics_displays_and_bare_values_leave_and_imports_move_up():
    cell = CodeCell(3, "%matplotlib inline\nimport os\nfrom pyspark.sql import functions as F\n"
                       "df = spark.range(3)\ndisplay(df)\nif True:\n    !echo hi\ndf.columns\ndf.show()\n")  # fmt: skip
    converted = job_cell(cell)
    assert converted.imports == ("import os", "from pyspark.sql import functions as F")
    assert converted.body == "df = spark.range(3)\nif True:\n    pass  # !echo hi\ndf.show()"
    assert converted.notes == (
        "%matplotlib inline removed (IPython only)",
        "!echo hi removed (IPython only)",
        "display(...) on line 5 removed (shows output in the notebook only)",
        "'df.columns' on line 8 removed (shows a value in the notebook only)",
    )
    assert "df" in converted.defines and "spark" in converted.uses and not converted.plotting


def test_the_session_lines_are_replaced_and_a_chart_is_recognised():
    converted = job_cell(CodeCell(4, "x = 1\nspark = (\n  B\n)\nax = pdf.plot()\n"),
                         replace_lines=(2, 4, "spark = SparkSession.builder.getOrCreate()"))  # fmt: skip
    assert converted.body == "x = 1\nspark = SparkSession.builder.getOrCreate()\nax = pdf.plot()"
    assert converted.plotting


@pytest.mark.parametrize(("source", "reason"), [("%%bash\npip list\n", "%%bash cell is not Python"),
                                                ("def f(:\n", "line 1: invalid syntax")])  # fmt: skip
def test_a_cell_a_job_cannot_run_says_why(source, reason):
    with pytest.raises(CellNotConvertible, match=reason):
        job_cell(CodeCell(2, source))


def test_code_moved_into_main_keeps_its_multi_line_strings_as_written():
    from sparkplane.notebook.cell_code import indent_code

    code = 'query = """\nSELECT *\n  FROM t\n"""\nif query:\n    run(query)'
    assert indent_code(code) == '    query = """\nSELECT *\n  FROM t\n"""\n    if query:\n        run(query)'
