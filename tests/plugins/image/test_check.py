"""Notebook code as the image check reads it: magics and shell escapes are not Python."""

from __future__ import annotations

import nbformat
from sparkplane.notebook.cells import notebook_python_source, python_source_of_cell, read_notebook
from sparkplane.image.job_imports import imported_modules


def test_magic_and_shell_lines_become_pass_keeping_the_block_valid():
    cell = "%matplotlib inline\nimport pandas\nif True:\n    !pip install scikit-learn\n    import numpy\n"
    source = python_source_of_cell(cell)
    assert set(imported_modules(source)) == {"pandas", "numpy"}


def test_a_timed_cell_keeps_its_body_and_a_shell_cell_is_dropped():
    assert python_source_of_cell("%%time\nimport pyarrow\n") == "import pyarrow"
    assert python_source_of_cell("%%bash\npip install x\n") == ""


def test_a_notebook_gives_its_code_cells_and_its_kernels_python(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("import not_code"),
        nbformat.v4.new_code_cell("%load_ext autoreload\nimport pandas as pd"),
        nbformat.v4.new_code_cell("def udf(x):\n    import sklearn\n    return x"),
    ], metadata={"language_info": {"name": "python", "version": "3.11.7"}})  # fmt: skip
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, path)
    read = read_notebook(path)
    code, python = notebook_python_source(read), read.python_version
    assert python == "3.11.7"
    assert set(imported_modules(code)) == {"pandas", "sklearn"}
