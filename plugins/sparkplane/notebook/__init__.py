"""From a notebook to a scheduled pipeline: read its cells, convert them to a job, a DAG and a test.

Nothing here imports Airflow: it runs where notebooks run (the ``notebooks`` extra).
"""
