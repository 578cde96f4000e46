"""The operator's side of the data-quality gate: read the result line a job prints, bound it,
say it in the task log, and turn a blocking failure into a ``Cause:``/``Fix:``.

The gate itself runs inside the Spark job, where the data is (``jobs/quality/``); Airflow only
ever sees its compact result. Why not GX's Airflow provider: it validates inside the Airflow
worker, far from data that lives in a cluster-mode driver, and its 1.0 release cannot be installed
next to Airflow 3.3 (it pins an older structlog).
"""
