"""sparkplane: run notebook-born PySpark jobs as Airflow 3 tasks, locally or on Kubernetes.

Airflow puts ``plugins/`` on ``sys.path``, so ``import sparkplane`` works in DAG files, in task
processes and in tests alike. ``plugins/.airflowignore`` keeps Airflow from also loading each module
here under its bare file name.
"""
