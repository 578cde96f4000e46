"""sparkplane: run notebook-born PySpark jobs as Airflow 3 tasks, locally or on Kubernetes.

The floor plan: at the top, what every job has wherever it runs (``operators``, ``job_spec``,
``settings``, ``exceptions``, ``diagnosis`` of a failed job from its log, ``spark_conf`` keys);
below, one wing per concern: ``local`` (spark-submit in the worker), ``kubernetes`` (driver pods,
the trigger that follows them, preflight, sweep), ``image`` (what the Spark image contains),
``rbac`` (lint, the driver's permissions), ``bootstrap`` (applying spark-bootstrap/), ``storage``
(the object store a job's data lives in), ``quality``, ``notebook`` and ``client``. A new concern
gets a wing of its own.

Airflow puts ``plugins/`` on ``sys.path``, so ``import sparkplane`` works in DAG files, in task
processes and in tests alike. ``plugins/.airflowignore`` keeps Airflow from also loading each module
here under its bare file name.
"""
