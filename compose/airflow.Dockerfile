# Airflow for the docker-compose stack: every component (API server, scheduler, DAG processor,
# triggerer, Celery workers) runs this one image with a different command.
#
# It carries Debian's Python 3.11 and a virtual environment of exactly compose/requirements.lock
# (Airflow, the cncf.kubernetes and Celery providers, the PostgreSQL driver, and the jobs extra:
# pyspark and the job libraries, at the versions the Spark image has), Java 17 for local-mode
# Spark on the workers, and the S3A jars of image/jars.lock in pyspark's jars/ folder.
# dags/, plugins/ and jobs/ are not copied in: the stack mounts them, so an edit shows without
# a rebuild.
#
# scripts/stack builds it (BuildKit; context = the repository root), with the certificate
# bundle pip trusts as the secret pip-ca (never written to a layer), as image/build does.

FROM debian:bookworm-slim

# Pinned like the Spark image's (image/Dockerfile): bump a version when Debian's mirror drops it.
ARG JAVA_PACKAGE_VERSION=17.0.21.1+2-1~deb12u1
ARG PYTHON_PACKAGE_VERSION=3.11.2-6+deb12u9
ARG TINI_PACKAGE_VERSION=0.19.0-1+b3

COPY image/debian.sources /etc/apt/sources.list.d/debian.sources
RUN rm -f /etc/apt/sources.list \
 && mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      openjdk-17-jre-headless="${JAVA_PACKAGE_VERSION}" \
      python3.11="${PYTHON_PACKAGE_VERSION}" \
      python3.11-venv="${PYTHON_PACKAGE_VERSION}" \
      tini="${TINI_PACKAGE_VERSION}" \
 && rm -rf /var/lib/apt/lists/*

# UID 50000 with group 0, as in Airflow's official image: files it writes to mounted folders
# (logs) stay readable by the host user's group.
RUN useradd --uid 50000 --gid 0 --home-dir /opt/airflow --create-home --shell /bin/bash airflow

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/usr/lib/jvm/java-17-openjdk-amd64/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 \
    AIRFLOW_HOME=/opt/airflow \
    PYTHONDONTWRITEBYTECODE=1 \
    LANG=C.UTF-8

COPY compose/requirements.lock /opt/airflow-build/requirements.lock
# --require-hashes --no-deps: the lock is the whole truth (see image/Dockerfile).
RUN --mount=type=secret,id=pip-ca,required=true \
    --mount=type=cache,target=/root/.cache/pip,id=sparkplane-pip \
    python3.11 -m venv /opt/venv \
 && PIP_CERT=/run/secrets/pip-ca PIP_DISABLE_PIP_VERSION_CHECK=1 \
    /opt/venv/bin/pip install --no-deps --require-hashes --use-pep517 \
      -r /opt/airflow-build/requirements.lock \
 && /opt/venv/bin/pip check \
 && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +

# Local-mode jobs on the workers read and write s3a:// paths as the Spark image's do.
COPY image/jars.lock image/fetch_jars.py /opt/airflow-build/
RUN --mount=type=secret,id=pip-ca,required=true \
    SSL_CERT_FILE=/run/secrets/pip-ca python3.11 /opt/airflow-build/fetch_jars.py \
      --lock /opt/airflow-build/jars.lock --into /opt/venv/lib/python3.11/site-packages/pyspark/jars

# The stack mounts named volumes here; a new volume takes the folder's owner from the image.
RUN mkdir -p /opt/airflow/logs /opt/airflow/data && chown 50000:0 /opt/airflow/logs /opt/airflow/data

USER 50000
WORKDIR /opt/airflow
ENTRYPOINT ["/usr/bin/tini", "--", "airflow"]
CMD ["version"]
