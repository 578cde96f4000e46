"""Where things are inside the platform's Spark image (image/Dockerfile), for pods that run it."""

from __future__ import annotations

#: Where the image keeps the jobs/ folder; applications are referenced as local:// paths.
IMAGE_JOBS_ROOT = "/opt/spark/jobs"
#: Executor pod template baked into the image (Pod Security "restricted", no API token).
IMAGE_EXECUTOR_POD_TEMPLATE = "/opt/spark/pod-templates/executor.yaml"
#: UID of the image's unprivileged user, Spark's convention.
SPARK_UID = 185
