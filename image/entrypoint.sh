#!/bin/bash
# Entrypoint of the sparkplane Spark image, run under tini.
#
# Spark's Kubernetes backend creates the pods and chooses the role through the container
# arguments (it never overrides the image's entrypoint):
#   driver ARGS...   the driver pod: ARGS are spark-submit arguments (--properties-file
#                    with the conf the submitter mounted, --class, the application and its
#                    arguments). The submitter already chose cluster mode; inside the pod
#                    the driver runs in client mode, bound to the pod's IP.
#   executor         an executor pod: everything comes from environment variables set by
#                    the driver (SPARK_DRIVER_URL, SPARK_EXECUTOR_ID, _CORES, _MEMORY,
#                    SPARK_APPLICATION_ID, SPARK_EXECUTOR_POD_IP, _POD_NAME,
#                    SPARK_RESOURCE_PROFILE_ID, SPARK_JAVA_OPT_0..N).
#   anything else    run as given (docker run IMAGE python ..., a debugging shell).
set -euo pipefail

# require NAME: stop with a message naming the missing variable, instead of starting a JVM
# with an empty argument that fails later with a less clear error.
require() {
  if [[ -z "${!1:-}" ]]; then
    echo "entrypoint: $1 is not set; Spark's Kubernetes backend sets it for '$role' pods." \
         "Start this image through spark-submit --master k8s://..., or pass a command to run." >&2
    exit 64
  fi
}

# The JVM and Hadoop look up the user name of the UID; without a passwd entry they fail with
# an obscure "invalid null input: name". /etc/passwd is not writable by a non-root user, so
# only say what to do.
if ! getent passwd "$(id -u)" >/dev/null; then
  echo "entrypoint: UID $(id -u) has no passwd entry; run as UID 185 (runAsUser: 185)." >&2
fi

# Spark's configuration folder (the backend mounts spark.properties there) comes first on
# the classpath, then Spark's jars, then anything the pod adds.
conf_dir="${SPARK_CONF_DIR:-/opt/spark/conf}"
classpath="$conf_dir:$SPARK_HOME/jars/*"
if [[ -n "${HADOOP_CONF_DIR:-}" ]]; then
  classpath="$HADOOP_CONF_DIR:$classpath"
fi
if [[ -n "${SPARK_EXTRA_CLASSPATH:-}" ]]; then
  classpath="$classpath:$SPARK_EXTRA_CLASSPATH"
fi

role="${1:-}"
case "$role" in
  driver)
    shift
    require SPARK_DRIVER_BIND_ADDRESS
    exec "$SPARK_HOME/bin/spark-submit" \
      --conf "spark.driver.bindAddress=$SPARK_DRIVER_BIND_ADDRESS" \
      --conf "spark.executorEnv.SPARK_DRIVER_POD_IP=$SPARK_DRIVER_BIND_ADDRESS" \
      --deploy-mode client \
      "$@"
    ;;
  executor)
    shift
    for name in SPARK_DRIVER_URL SPARK_EXECUTOR_ID SPARK_EXECUTOR_CORES SPARK_EXECUTOR_MEMORY \
                SPARK_APPLICATION_ID SPARK_EXECUTOR_POD_IP SPARK_EXECUTOR_POD_NAME; do
      require "$name"
    done
    # SPARK_JAVA_OPT_<n> carry the executor's JVM options; their order matters (a later
    # option overrides an earlier one), so sort by the number, not the text.
    java_opts=()
    while IFS= read -r name; do
      java_opts+=("${!name}")
    done < <(compgen -e | grep '^SPARK_JAVA_OPT_[0-9]*$' | sort -t_ -k4 -n || true)
    if [[ -n "${SPARK_EXECUTOR_LIBRARY_PATH:-}" ]]; then
      export LD_LIBRARY_PATH="$SPARK_EXECUTOR_LIBRARY_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
    # Spark reads its authentication secret from a file (spark.authenticate.secret.file) only
    # when its master is a Kubernetes one, and an executor asks the driver for its settings, the
    # master among them, over a connection that is already authenticated. So it is told here.
    exec "$JAVA_HOME/bin/java" \
      "-Dspark.master=k8s://https://kubernetes.default.svc" \
      "${java_opts[@]}" \
      "-Xms$SPARK_EXECUTOR_MEMORY" "-Xmx$SPARK_EXECUTOR_MEMORY" \
      -cp "$classpath" \
      org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
      --driver-url "$SPARK_DRIVER_URL" \
      --executor-id "$SPARK_EXECUTOR_ID" \
      --cores "$SPARK_EXECUTOR_CORES" \
      --app-id "$SPARK_APPLICATION_ID" \
      --hostname "$SPARK_EXECUTOR_POD_IP" \
      --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID:-0}" \
      --podName "$SPARK_EXECUTOR_POD_NAME"
    ;;
  "")
    echo "entrypoint: no command given. Expected 'driver ...' or 'executor' (from Spark's" \
         "Kubernetes backend) or a command to run, e.g. 'python -c ...'." >&2
    exit 64
    ;;
  *)
    exec "$@"
    ;;
esac
