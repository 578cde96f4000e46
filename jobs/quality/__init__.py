"""The data-quality gate jobs publish through: stage, validate with Great Expectations, promote.

A job writes its output to a staging folder, validates what it wrote (and any frame it wants
checked on the way, such as its input), and only then promotes the staged output to the place
consumers read. A failed blocking expectation leaves the output unpublished and the job fails;
warn-only failures are listed and the job goes on. Either way the job prints one structured
line (``result_line.py``) that the platform's operator recognises in the driver log and hands on
through XCom, and writes the full validation result (JSON) and Great Expectations' Data Docs
(HTML) next to the output.

Standard library and the job image's libraries only: this package runs in the Spark driver,
where the platform's Airflow package is not importable.
"""
