"""Deployment settings, read once from the environment.

This is the only module that reads environment variables. Per-task choices are operator
arguments; these are the knobs that differ between deployments (a laptop, CI, a cluster).
"""

from __future__ import annotations

import os
from pathlib import Path

from sparkplane.kubernetes.identity import SPARK_NAMESPACE as BOOTSTRAP_SPARK_NAMESPACE

PROJECT_ROOT = Path(__file__).resolve().parents[2]

#: Folder that relative ``application`` paths of the Spark operator are resolved against.
JOBS_ROOT = Path(os.environ.get("SPARKPLANE_JOBS_ROOT", PROJECT_ROOT / "jobs"))

#: Where the example pipelines read and write their data: a local folder by default (the
#: embedded default, no server needed), or an object store URI such as ``s3a://bucket/prefix``
#: (then set SPARKPLANE_OBJECT_STORE_CONN_ID too).
DATA_ROOT = os.environ.get("SPARKPLANE_DATA_ROOT", str(PROJECT_ROOT / ".local" / "data"))

#: Airflow connection (conn type aws) of the object store Spark jobs read and write: its endpoint,
#: region and addressing, its key for local mode, and the Kubernetes Secret holding the key for
#: pods (see ``sparkplane.storage.object_store``). Unset: no object store settings are given to jobs.
OBJECT_STORE_CONN_ID = os.environ.get("SPARKPLANE_OBJECT_STORE_CONN_ID") or None

#: Spark master used in local mode. Two threads keep a laptop or a CI machine responsive.
LOCAL_MASTER = os.environ.get("SPARKPLANE_LOCAL_MASTER", "local[2]")

#: Seconds a Spark process gets to exit after SIGTERM before it is killed. Spark's shutdown
#: hooks (stopping the context, deleting temp dirs) normally finish in one or two seconds.
TERMINATE_GRACE_SECONDS = float(os.environ.get("SPARKPLANE_TERMINATE_GRACE_SECONDS", "10"))

#: Airflow connection (type kubernetes) of the cluster Spark jobs run on. Unset means the
#: embedded default: every Spark task runs locally. Tasks may name another connection.
KUBERNETES_CONN_ID = os.environ.get("SPARKPLANE_KUBERNETES_CONN_ID") or None

#: Namespace of Spark drivers and executors (spark-bootstrap/ creates it with spark-sa).
SPARK_NAMESPACE = os.environ.get("SPARKPLANE_SPARK_NAMESPACE", BOOTSTRAP_SPARK_NAMESPACE)

#: The platform's Spark image, as image/build prints it (registry/name:content-tag).
SPARK_IMAGE = os.environ.get("SPARKPLANE_SPARK_IMAGE") or None

#: Where this Airflow reads an image registry that it cannot reach by the name image references
#: give it: ``name=url`` pairs, comma-separated. The local cluster's nodes pull from their loopback
#: registry (``127.0.0.1:5000``); an Airflow in a container reads the same images at the node address
#: (``127.0.0.1:5000=http://10.244.0.1:5000``). Image references, and so the pods, keep the name.
IMAGE_REGISTRY_ALIASES = os.environ.get("SPARKPLANE_IMAGE_REGISTRY_ALIASES", "")

#: Base URL of the Spark history server, if the deployment runs one; the task's XCom and log
#: then link to the job's page there (``<url>/history/<application id>``).
SPARK_HISTORY_URL = (os.environ.get("SPARKPLANE_SPARK_HISTORY_URL") or "").rstrip("/") or None

#: Where every Spark driver of the deployment writes its event logs (rolling), for a Spark
#: History Server reading the same folder: a URI such as ``s3a://bucket/spark-events/prod``, one
#: per deployment. Unset: no event logs.
SPARK_EVENT_LOG_DIR = os.environ.get("SPARKPLANE_SPARK_EVENT_LOG_DIR") or None

#: Which Airflow this is, in every driver's labels, keys and name, so that two Airflows sharing a
#: namespace (staging and production) never follow, report on or sweep each other's drivers.
#: Lowercase letters, digits and dashes, at most 20. Unset: an id made once and kept in the
#: Airflow Variable ``sparkplane_deployment_id`` (see ``sparkplane.deployment``).
DEPLOYMENT_ID = os.environ.get("SPARKPLANE_DEPLOYMENT_ID") or None
