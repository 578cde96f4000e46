"""Start and stop the platform's Airflow stack (docker-compose.yaml) on this machine.

``up`` makes what the stack needs and starts it: the project's Docker engine (cluster/docker-up)
and base image (cluster/seed-base-image), Debian's docker-compose, the stack's three images built
from compose/ (each tagged by a hash of what it is built from, so an unchanged one is not built
again), and the stack's secrets under the state folder (.local/stack by default): the metadata
database's password and URL, one JWT secret and one API secret key for every component, the
login's password, and the connections file. With ``--cluster`` the stack runs jobs on the local
Kubernetes cluster as the platform's own identity (sparkplane-system/sparkplane-airflow, never
admin), at the node address the API server's certificate names, with its data in the cluster's
object store. Then it waits until every service is healthy and says where the UI is.

``down`` removes the stack's containers, network and volumes and its state folder; the images stay
(a cache), and a Docker engine that ``up`` started is stopped unless the local cluster runs.

``build`` makes the images (and starts the engine) without starting the stack.

``upload FOLDER PATH`` puts a local folder's files at PATH under the stack's data root in the
cluster's object store (``s3a://sparkplane/stack/PATH``), replacing what was there: the input of
a pipeline, such as the worked example's orders.

Usage: scripts/stack up [--cluster] [--port PORT] [--history-port PORT] | build | down | status
                     | upload FOLDER PATH
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT / "cluster"), str(REPO_ROOT / "plugins")]

CACHE = Path(os.environ.get("SPARKPLANE_CACHE", Path.home() / ".cache" / "sparkplane"))
STATE = Path(os.environ.get("SPARKPLANE_STACK_STATE", REPO_ROOT / ".local" / "stack"))
PROJECT = os.environ.get("SPARKPLANE_STACK_PROJECT", "sparkplane")
DOCKER = "/usr/bin/docker"
COMPOSE = os.environ.get("SPARKPLANE_COMPOSE", "docker-compose")
CA_BUNDLE = Path(os.environ.get("SPARKPLANE_PIP_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"))
#: The UID the Airflow image runs as (compose/airflow.Dockerfile): owner of its secret files.
AIRFLOW_UID = 50000
#: Each image: its Dockerfile and the files it is built from (besides the Dockerfile and its ignore file).
IMAGES = {
    "airflow": ("compose/airflow.Dockerfile", ("compose/requirements.lock", "image/debian.sources",
                                               "image/jars.lock", "image/fetch_jars.py")),
    "postgres": ("compose/postgres.Dockerfile", ("image/debian.sources", "compose/postgres-entrypoint.sh")),
    "redis": ("compose/redis.Dockerfile", ("image/debian.sources",)),
}  # fmt: skip
SERVICES = ("postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
            "airflow-worker", "airflow-triggerer", "spark-history")  # fmt: skip
#: Where the stack's jobs keep their data with the cluster: a folder of the platform's bucket.
CLUSTER_DATA_ROOT = "s3a://sparkplane/stack"
#: Where every driver writes its event logs, read by the stack's Spark History Server: on the
#: cluster a folder of the platform's bucket; in local mode the workers' data volume, which the
#: History Server mounts too.
CLUSTER_EVENT_LOG_DIR = f"{CLUSTER_DATA_ROOT}/spark-events"
LOCAL_EVENT_LOG_DIR = "file:/opt/airflow/data/spark-events"
#: The History Server's port inside its container (Spark's default).
HISTORY_CONTAINER_PORT = 18080
DEPLOYMENT_ID = "stack"


class StackError(Exception):
    """Something the stack needs failed; the message says what and where to look."""


def say(message: str) -> None:
    print(f"stack: {message}", flush=True)


def run(argv: list[str], *, what: str, log: Path | None = None, env: dict[str, str] | None = None,
        input_text: str | None = None, timeout: float = 3600) -> str:  # fmt: skip
    """Run a command; return its output, or raise with its tail (and its log's path)."""
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, input=input_text, timeout=timeout)
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-25:]
        where = f" (full output: {log})" if log else ""
        raise StackError(f"{what} failed{where}:\n" + "\n".join(tail))
    return proc.stdout


# --- prerequisites --------------------------------------------------------------------------


def docker_engine() -> bool:
    """Make the project's Docker engine answer; return whether this call started it."""
    pidfile = CACHE / "docker" / "dockerd.pid"
    running_before = _engine_answers()
    run([str(REPO_ROOT / "cluster" / "docker-up")], what="starting the Docker engine (cluster/docker-up)")
    run([str(REPO_ROOT / "cluster" / "seed-base-image")], what="providing debian:bookworm-slim (cluster/seed-base-image)")
    return not running_before and pidfile.exists()


def _engine_answers() -> bool:
    return subprocess.run([DOCKER, "info"], capture_output=True).returncode == 0


def compose_installed() -> None:
    """Install Debian's docker-compose (1.29) unless a compose command is there already."""
    if shutil.which(COMPOSE.split()[0]):
        return
    from localcluster.procs import ComponentError
    from localcluster.up import install_packages

    try:
        install_packages(["docker-compose"])
    except ComponentError as error:
        raise StackError(str(error)) from error


# --- images ---------------------------------------------------------------------------------


def content_tag(dockerfile: str, inputs: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for name in (dockerfile, f"{dockerfile}.dockerignore", *inputs):
        digest.update(name.encode() + b"\0" + (REPO_ROOT / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def image_ref(name: str) -> str:
    dockerfile, inputs = IMAGES[name]
    return f"sparkplane/{name}:{content_tag(dockerfile, inputs)}"


def build_images() -> dict[str, str]:
    """Build the stack's images that are missing, one caller at a time; return their refs by name.

    A second caller (``make test`` builds them early, beside the first tests) waits for the first
    and then finds them built.
    """
    import fcntl

    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / "stack-images.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return {name: build_image(name) for name in IMAGES}


def build_image(name: str) -> str:
    """Build one of the stack's images unless an image of the same content tag exists; return its ref."""
    ref = image_ref(name)
    if subprocess.run([DOCKER, "image", "inspect", ref], capture_output=True).returncode == 0:
        return ref
    dockerfile, _ = IMAGES[name]
    log = CACHE / "stack" / f"build-{name}.log"
    say(f"building {ref} (log: {log})")
    started = time.monotonic()
    run([DOCKER, "build", "--progress=plain", "-f", str(REPO_ROOT / dockerfile), "-t", ref,
         "--secret", f"id=pip-ca,src={CA_BUNDLE}", str(REPO_ROOT)],
        what=f"building the {name} image", log=log, env={**os.environ, "DOCKER_BUILDKIT": "1"})  # fmt: skip
    size = int(run([DOCKER, "image", "inspect", "-f", "{{.Size}}", ref], what="reading the image size"))
    say(f"built {ref} in {time.monotonic() - started:.0f} s, {size / 1e6:.1f} MB")
    # Earlier builds of this image are superseded: keep the cache to the current one.
    earlier = run([DOCKER, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", f"sparkplane/{name}"],
                  what="listing earlier builds").split()  # fmt: skip
    for old in earlier:
        if old != ref:
            subprocess.run([DOCKER, "image", "rm", old], capture_output=True)
    return ref


def container_uid(image: str, user: str) -> int:
    return int(run([DOCKER, "run", "--rm", "--entrypoint", "id", image, "-u", user], what=f"reading {user}'s UID"))


# --- secrets and settings -------------------------------------------------------------------


def write_private(path: Path, text: str, *, uid: int, mode: int = 0o400) -> None:
    """Write a file whole that only ``uid`` (a container's user) can read."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    os.chown(tmp, uid, 0)
    os.chmod(tmp, mode)
    tmp.replace(path)


def write_secret(name: str, text: str, *, uid: int) -> None:
    """Write a secret file only its container user can read (compose mounts it read-only, as it is)."""
    path = STATE / "secrets" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o711)
    write_private(path, text, uid=uid)


def kept_secret(name: str, make) -> str:
    """The secret already written (the stack's volumes outlive an up), or a new one."""
    path = STATE / "secrets" / name
    return path.read_text() if path.exists() else make()


def write_stack_secrets(*, postgres_uid: int, connections: dict, kubeconfig: str, history_env: dict[str, str]) -> None:
    """Write every secret file of the stack (those made before are kept: the volumes may outlive an up)."""
    db_password = kept_secret("postgres_password", lambda: secrets.token_urlsafe(24))
    write_secret("postgres_password", db_password, uid=postgres_uid)
    database = f"postgresql+psycopg2://airflow:{db_password}@postgres:5432/airflow"
    write_secret("sql_alchemy_conn", database, uid=AIRFLOW_UID)
    write_secret("celery_result_backend", f"db+postgresql+psycopg2://airflow:{db_password}@postgres:5432/airflow",
                 uid=AIRFLOW_UID)  # fmt: skip
    write_secret("jwt_secret", kept_secret("jwt_secret", lambda: secrets.token_hex(32)), uid=AIRFLOW_UID)
    write_secret("api_secret_key", kept_secret("api_secret_key", lambda: secrets.token_hex(32)), uid=AIRFLOW_UID)
    # The login's password: the auth manager opens its file for writing, so it lives in a folder
    # only the API server mounts, owned by its user, rather than among the read-only secrets.
    auth = STATE / "auth" / "simple_auth_passwords.json"
    if not auth.exists():
        auth.parent.mkdir(parents=True, exist_ok=True)
        write_private(auth, json.dumps({"admin": secrets.token_urlsafe(12)}), uid=AIRFLOW_UID, mode=0o600)
        os.chown(auth.parent, AIRFLOW_UID, 0)
        os.chmod(auth.parent, 0o700)
    write_secret("connections.json", json.dumps(connections, indent=2), uid=AIRFLOW_UID)
    write_secret("spark_cluster.kubeconfig", kubeconfig, uid=AIRFLOW_UID)
    # The History Server reads the object store with the key in its environment, from this file.
    write_secret("history_server.env", "".join(f"export {name}={shlex.quote(value)}\n"
                                               for name, value in sorted(history_env.items())) or "# no object store\n",
                 uid=AIRFLOW_UID)  # fmt: skip


def history_server_deployment(store_connection: dict | None) -> tuple[str, dict[str, str]]:
    """The stack's Spark History Server: (its settings file's text, its environment's secrets).

    With the object store, the event log folder is made now: Spark's History Server refuses to start
    on a folder that does not exist, and on a store a folder exists only once something is in it.
    """
    from history_server import server_settings

    from sparkplane.secret_conf import properties_text
    from sparkplane.storage.event_logs import prepare_event_log_dir
    from sparkplane.storage.object_store import object_store_from_json

    if store_connection is None:
        return properties_text(server_settings(LOCAL_EVENT_LOG_DIR, HISTORY_CONTAINER_PORT, None)), {}
    store = object_store_from_json("object_store", json.dumps(store_connection))
    prepare_event_log_dir(CLUSTER_EVENT_LOG_DIR, store)
    return properties_text(server_settings(CLUSTER_EVENT_LOG_DIR, HISTORY_CONTAINER_PORT, store)), store.local_env()


def cluster_deployment() -> tuple[dict[str, str], dict, str]:
    """Connect the stack to the local cluster: (settings, connections, kubeconfig text)."""
    from localcluster import object_store
    from localcluster.kubeconfigs import mint_serviceaccount_kubeconfig
    from localcluster.settings import load_settings

    from sparkplane.bootstrap.apply import DEFAULT_MANIFEST_DIR, apply_manifests, dynamic_client, load_manifests
    from sparkplane.kubernetes.identity import AIRFLOW_NAMESPACE, AIRFLOW_SERVICE_ACCOUNT, SPARK_NAMESPACE

    run([str(REPO_ROOT / "cluster" / "up")], what="starting the local cluster (cluster/up)")
    s = load_settings()
    say("building and pushing the Spark image (image/build)")
    record = json.loads(run([sys.executable, str(REPO_ROOT / "image" / "build"), "--registry", "127.0.0.1:5000",
                             "--json"], what="image/build"))  # fmt: skip
    list(apply_manifests(dynamic_client(s.admin_kubeconfig), load_manifests(DEFAULT_MANIFEST_DIR)))
    object_store.apply_platform_secret(s, SPARK_NAMESPACE)
    minted = STATE / "identity.kubeconfig"
    mint_serviceaccount_kubeconfig(AIRFLOW_NAMESPACE, AIRFLOW_SERVICE_ACCOUNT, output=minted, settings=s,
                                   duration_seconds=7 * 24 * 3600,
                                   server=f"https://{s.node_ip}:{s.apiserver_port}")  # fmt: skip
    kubeconfig = minted.read_text()
    minted.unlink()
    connections = {
        "spark_cluster": {"conn_type": "kubernetes",
                          "extra": {"kube_config_path": "/run/secrets/spark_cluster_kubeconfig"}},
        "object_store": json.loads(object_store.airflow_connection(object_store.platform_access(s))),
    }  # fmt: skip
    settings = {
        "SPARKPLANE_KUBERNETES_CONN_ID": "spark_cluster",
        "SPARKPLANE_OBJECT_STORE_CONN_ID": "object_store",
        "SPARKPLANE_SPARK_IMAGE": record["pinned"],
        "SPARKPLANE_DATA_ROOT": CLUSTER_DATA_ROOT,
        "SPARKPLANE_SPARK_EVENT_LOG_DIR": CLUSTER_EVENT_LOG_DIR,
        # The image names the nodes' loopback registry; the containers read it at the node address.
        "SPARKPLANE_IMAGE_REGISTRY_ALIASES": f"{s.registry}=http://{s.node_registry}",
    }
    return settings, connections, kubeconfig


# --- compose --------------------------------------------------------------------------------


def compose_env(ports: dict[str, int] | None = None) -> dict[str, str]:
    """The environment compose runs in: the images' tags, the state folder, the published ports
    (``ports`` as ``up`` was given them, else as it recorded them)."""
    env = {**os.environ, "SPARKPLANE_STACK_STATE": str(STATE), "COMPOSE_PROJECT_NAME": PROJECT}
    env |= {f"SPARKPLANE_{name.upper()}_IMAGE": image_ref(name) for name in IMAGES}
    recorded = STATE / "ports.json"
    if ports is None and recorded.exists():
        ports = json.loads(recorded.read_text())
    env |= {variable: str(port) for variable, port in (ports or {}).items()}
    return env


def compose(*args: str, env: dict[str, str], what: str, timeout: float = 900) -> str:
    argv = [*COMPOSE.split(), "--project-name", PROJECT, "--file", str(REPO_ROOT / "docker-compose.yaml"), *args]
    return run(argv, what=what, env=env, log=CACHE / "stack" / "compose.log", timeout=timeout)


def service_health(env: dict[str, str]) -> dict[str, str]:
    """Each service's health (or state, for those without a health check)."""
    health = {}
    for service in SERVICES:
        ids = compose("ps", "-q", service, env=env, what=f"listing {service}").split()
        if not ids:
            health[service] = "missing"
            continue
        state = json.loads(run([DOCKER, "inspect", "-f", "{{json .State}}", ids[0]], what=f"inspecting {service}"))
        health[service] = (state.get("Health") or {}).get("Status") or state.get("Status", "unknown")
    return health


def wait_healthy(env: dict[str, str], *, timeout_seconds: float) -> float:
    started = time.monotonic()
    health: dict[str, str] = {}
    while time.monotonic() - started < timeout_seconds:
        health = service_health(env)
        if all(state == "healthy" for state in health.values()):
            return time.monotonic() - started
        if any(state in ("exited", "dead", "unhealthy") for state in health.values()):
            break
        time.sleep(3)
    logs = compose("logs", "--no-color", "--tail", "30", env=env, what="reading the services' logs")
    raise StackError(f"the stack did not become healthy: {health}\n{logs[-6000:]}")


def remove_leftovers() -> None:
    """Remove the containers, volumes and networks of a stack whose state folder is gone: its
    database volume holds a password nobody has any more. (Not through compose, which wants the
    state's files to read its configuration.)"""
    label = f"label=com.docker.compose.project={PROJECT}"
    for kind, remove in ((["ps", "-aq"], ["rm", "--force"]), (["volume", "ls", "-q"], ["volume", "rm"]),
                         (["network", "ls", "-q"], ["network", "rm"])):  # fmt: skip
        found = run([DOCKER, *kind, "--filter", label], what=f"listing leftovers (docker {' '.join(kind)})").split()
        if found:
            say(f"removing what a stack without its state left: docker {' '.join(remove)} {' '.join(found)}")
            run([DOCKER, *remove, *found], what=f"docker {' '.join(remove)}")


def up(args: argparse.Namespace) -> int:
    started = time.monotonic()
    started_engine = docker_engine()
    STATE.mkdir(parents=True, exist_ok=True)
    if started_engine:
        (STATE / "docker-started").touch()
    compose_installed()
    refs = build_images()
    if not (STATE / "secrets" / "postgres_password").exists():
        remove_leftovers()
    if args.cluster:
        settings, connections, kubeconfig = cluster_deployment()
    else:
        settings = {"SPARKPLANE_DATA_ROOT": "/opt/airflow/data", "SPARKPLANE_SPARK_EVENT_LOG_DIR": LOCAL_EVENT_LOG_DIR}
        connections, kubeconfig = {}, "# no cluster: local mode\n"
    history_settings, history_env = history_server_deployment(connections.get("object_store"))
    (STATE / "spark-history.properties").write_text(history_settings)
    history_url = f"http://localhost:{args.history_port}"
    settings |= {"SPARKPLANE_DEPLOYMENT_ID": DEPLOYMENT_ID, "SPARKPLANE_SPARK_HISTORY_URL": history_url}
    (STATE / "deployment.env").write_text("".join(f"{key}={value}\n" for key, value in sorted(settings.items())))
    ports = {"SPARKPLANE_STACK_PORT": args.port, "SPARKPLANE_STACK_HISTORY_PORT": args.history_port}
    (STATE / "ports.json").write_text(json.dumps(ports))
    write_stack_secrets(postgres_uid=container_uid(refs["postgres"], "postgres"),
                        connections=connections, kubeconfig=kubeconfig, history_env=history_env)  # fmt: skip
    env = compose_env(ports)
    say("starting the stack (docker-compose up)")
    compose_started = time.monotonic()
    # Recreated: a secret file written anew (a fresh cluster token) is a new file, which a running
    # container's mount would not show.
    compose("up", "--detach", "--no-build", "--force-recreate", env=env, what="docker-compose up")
    healthy_after = wait_healthy(env, timeout_seconds=args.timeout)
    url = f"http://localhost:{args.port}"
    say(f"healthy {time.monotonic() - compose_started:.0f} s after compose up ({healthy_after:.0f} s of waiting); "
        f"{time.monotonic() - started:.0f} s in all")  # fmt: skip
    mode = "on the local cluster (namespace spark), data in s3a://sparkplane/stack" if args.cluster else "in local mode"
    print(f"\nAirflow UI and REST API: {url}  (user admin, password in {STATE / 'auth' / 'simple_auth_passwords.json'})")
    print(f"Spark History Server: {history_url}  (each Spark task's log links to its application there)")
    print(f"Jobs run {mode}. Stop it with: make down")
    return 0


def build(args: argparse.Namespace) -> int:
    """Make what ``up`` needs before it starts anything: the engine, the base image, compose, the images."""
    docker_engine()
    compose_installed()
    for ref in build_images().values():
        say(f"{ref} is built")
    return 0


def down(args: argparse.Namespace) -> int:
    if not (STATE / "deployment.env").exists() and not _engine_answers():
        say("no stack to stop")
        return 0
    deployment = STATE / "deployment.env"
    on_cluster = deployment.exists() and "SPARKPLANE_KUBERNETES_CONN_ID=" in deployment.read_text()
    if _engine_answers() and shutil.which(COMPOSE.split()[0]):
        compose("down", "--volumes", "--remove-orphans", env=compose_env(), what="docker-compose down", timeout=300)
    if on_cluster:
        delete_stack_drivers()
    started_engine = (STATE / "docker-started").exists()
    if STATE.exists():
        shutil.rmtree(STATE)
    from localcluster.settings import running_settings_file

    # The admin kubeconfig outlives the cluster; its settings file is there only while it runs.
    if started_engine and not running_settings_file(CACHE).exists():
        run([str(REPO_ROOT / "cluster" / "docker-down")], what="stopping the Docker engine (cluster/docker-down)")
    say("stopped; containers, network and volumes removed")
    return 0


def delete_stack_drivers() -> None:
    """Delete the driver pods the stack's jobs left on the local cluster (failed ones kept to inspect);
    their executors go with them. Other deployments' pods are not touched."""
    from localcluster.kubeconfigs import kubectl
    from localcluster.settings import load_settings

    from sparkplane.kubernetes.identity import DEPLOYMENT_LABEL, SPARK_NAMESPACE

    s = load_settings()
    if not s.admin_kubeconfig.exists():
        return
    kubectl(s, "delete", "pods", "--namespace", SPARK_NAMESPACE, "--selector", f"{DEPLOYMENT_LABEL}={DEPLOYMENT_ID}",
            "--ignore-not-found", "--wait=false", what="deleting the stack's driver pods")  # fmt: skip


def status(args: argparse.Namespace) -> int:
    if not (STATE / "deployment.env").exists():
        say("not running")
        return 1
    for service, health in service_health(compose_env()).items():
        print(f"{service:24} {health}")
    return 0


def upload(args: argparse.Namespace) -> int:
    """Replace what is at ``args.path`` under the stack's data root with the files of ``args.folder``."""
    deployment = STATE / "deployment.env"
    if not deployment.exists() or f"SPARKPLANE_DATA_ROOT={CLUSTER_DATA_ROOT}\n" not in deployment.read_text():
        raise StackError("no stack on the cluster runs here: `make up-cluster` starts one (a stack in local mode keeps "
                         "its data in the workers' volume, which jobs there fill themselves)")  # fmt: skip
    folder, path = Path(args.folder), args.path.strip("/")
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    if not files:
        raise StackError(f"{folder} is no folder with files in it: give the local folder to upload")
    if not path or ".." in path.split("/"):
        raise StackError(f"{args.path!r} is no path under the data root: give one like data/orders")
    from localcluster import object_store
    from localcluster.settings import load_settings

    from sparkplane.storage.object_store import object_store_from_json

    store = object_store_from_json("object_store", object_store.airflow_connection(object_store.platform_access(load_settings())))
    bucket, prefix = CLUSTER_DATA_ROOT.removeprefix("s3a://").split("/", 1)
    s3, key_prefix = store.s3_client(), f"{prefix}/{path}/"
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
    for file in files:
        s3.upload_file(str(file), bucket, key_prefix + file.relative_to(folder).as_posix())
    say(f"uploaded {len(files)} file(s) from {folder} to {CLUSTER_DATA_ROOT}/{path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/stack", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="build what is missing and start the stack")
    start.add_argument("--cluster", action="store_true", help="run jobs on the local Kubernetes cluster")
    start.add_argument("--port", type=int, default=int(os.environ.get("SPARKPLANE_STACK_PORT", "8080")),
                       help="the UI's port on 127.0.0.1 (default 8080)")  # fmt: skip
    start.add_argument("--history-port", type=int,
                       default=int(os.environ.get("SPARKPLANE_STACK_HISTORY_PORT", "18481")),
                       help="the Spark History Server's port on 127.0.0.1 (default 18481)")  # fmt: skip
    start.add_argument("--timeout", type=float, default=600, help="seconds to wait for every service to be healthy")
    commands.add_parser("build", help="build the stack's images (and start the Docker engine) without starting the stack")
    commands.add_parser("down", help="stop the stack and remove its containers, network, volumes and state")
    commands.add_parser("status", help="each service's health")
    put = commands.add_parser("upload", help="replace a folder under the stack's data root with a local one's files")
    put.add_argument("folder", help="the local folder, e.g. notebooks/data/orders")
    put.add_argument("path", help="where under the data root, e.g. data/orders (s3a://sparkplane/stack/data/orders)")
    args = parser.parse_args(argv)
    try:
        return {"up": up, "build": build, "down": down, "status": status, "upload": upload}[args.command](args)
    except StackError as error:
        print(f"stack: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
