"""Local mode: a job run with spark-submit and a local master in the Airflow worker itself,
its output streamed into the task log and its whole process tree stopped with the task."""
