"""A client-mode SparkSession from a notebook, made the platform's way: ``client_session()``.

The notebook's kernel is Spark's driver; executors start as pods in namespace ``spark`` and
connect back to it. What a hand-written builder gets wrong, this gets right:

- the image is checked against the notebook first (Python minor, pyspark, every module the job
  converted from it imports: ``sparkplane check``), so a module the image lacks stops the cell
  with its fix before any executor starts, not after four task failures in Java stack traces;
- the platform's settings (``bootstrap_spark_conf``): namespace, image, executors as
  ``spark-executor`` with the "restricted" pod template, no persistent volume claims (else
  ``spark.stop()`` logs a Forbidden stack);
- credentials from a token kubeconfig of the notebook identity (``spark-notebook``), passed to
  Spark as files (CA and token, mode 0600), never as values in Spark's configuration; Spark's
  bundled Kubernetes client cannot read an EC private key, which is what the cluster's admin
  kubeconfig holds;
- a driver address executors can reach (``driver_host``), checked not to be a loopback address;
- Spark's authentication and RPC encryption, with a secret the kernel and its executors share
  and no pod spec holds (``session_auth``), so no other pod can join the session as an executor.
"""

from __future__ import annotations

import atexit
import base64
import ipaddress
import os
import shutil
import socket
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sparkplane import spark_conf as c
from sparkplane.bootstrap.submit_conf import POD_TEMPLATE_DIR, bootstrap_spark_conf
from sparkplane.kubernetes.identity import NOTEBOOK_LABEL, SPARK_NAMESPACE
from sparkplane.notebook.session_auth import NotebookSessionAuth, close_session_auth, open_session_auth, session_auth_conf

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Api
    from pyspark.sql import SparkSession

#: Where the notebook's kubeconfig is, when not given: this variable, then ~/.kube/sparkplane-notebook.
KUBECONFIG_VARIABLE = "SPARKPLANE_NOTEBOOK_KUBECONFIG"
DEFAULT_KUBECONFIG = Path.home() / ".kube" / "sparkplane-notebook"
#: The address executors reach this machine at, when not given.
DRIVER_HOST_VARIABLE = "SPARKPLANE_DRIVER_HOST"
#: What Jupyter Server tells a kernel about the notebook it was started for.
SESSION_NAME_VARIABLE = "JPY_SESSION_NAME"
#: The interpreter executors start in the image.
IMAGE_PYTHON = "python3"


class NotebookSessionError(RuntimeError):
    """The session cannot start as asked; the message says what to change."""


def client_session(
    app_name: str,
    *,
    image: str,
    notebook: str | Path | None = None,
    kubeconfig: str | Path | None = None,
    executors: int = 2,
    executor_memory: str = "1g",
    executor_cores: int = 1,
    driver_host: str | None = None,
    conf: Mapping[str, str] | None = None,
    check: bool = True,
    pod_template_dir: str | Path = POD_TEMPLATE_DIR,
) -> SparkSession:
    """Start a client-mode SparkSession with executors on the cluster, or return the one running.

    :param image: the platform's Spark image, by digest (what ``make image`` printed).
    :param notebook: this notebook's file, checked against the image before anything starts;
        default: the notebook Jupyter started the kernel for (``notebook_file``).
    :param kubeconfig: a token kubeconfig of the notebook identity (``SPARKPLANE_NOTEBOOK_KUBECONFIG``
        or ``~/.kube/sparkplane-notebook`` by default; ``cluster/sa-kubeconfig spark spark-notebook``
        writes one for the local cluster).
    :param driver_host: the address executor pods reach this machine at (default
        ``SPARKPLANE_DRIVER_HOST``, else the address this machine uses towards the API server).
    :param conf: more Spark settings; the platform's own cannot be replaced.
    :param check: check the notebook against the image first (``False`` skips it).
    :param pod_template_dir: the platform's pod templates (``spark-bootstrap/pod-templates``, which the
        package carries): another folder holding ``executor.yaml``.
    :raises NotebookSessionError: the image does not fit the notebook, or a setting is missing.
    """
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    if SparkContext._active_spark_context is not None:  # what PySpark itself asks to know a context runs
        return SparkSession.builder.getOrCreate()
    if not (Path(pod_template_dir) / "executor.yaml").is_file():
        raise NotebookSessionError(f"no executor pod template in {pod_template_dir}: pass pod_template_dir= the "
                                   "platform's spark-bootstrap/pod-templates folder.")  # fmt: skip
    if check:
        _check_notebook(notebook_file(notebook), image)
    kubeconfig_path = Path(kubeconfig or os.environ.get(KUBECONFIG_VARIABLE) or DEFAULT_KUBECONFIG)
    server, ca_pem, token = kubeconfig_credentials(kubeconfig_path)
    host = driver_host or os.environ.get(DRIVER_HOST_VARIABLE) or _address_towards(server)
    folder = _private_folder()
    core = _notebook_api(kubeconfig_path)
    auth = _open_auth(core, folder, server)
    try:
        settings = client_session_conf(
            image=image, server=server, credential_files=_private_files(folder, ca_pem, token), driver_host=host,
            executors=executors, executor_memory=executor_memory, executor_cores=executor_cores, conf=conf or {},
            pod_template_dir=Path(pod_template_dir), auth=auth,
        )  # fmt: skip

        def end_session() -> None:
            _close_session(core, auth)
            shutil.rmtree(folder, ignore_errors=True)

        _start_context(app_name, settings, on_stop=end_session)
    except BaseException:
        _close_session(core, auth)
        raise
    return SparkSession.builder.getOrCreate()


def client_session_conf(
    *,
    image: str,
    server: str,
    credential_files: tuple[Path, Path],
    driver_host: str,
    executors: int,
    executor_memory: str,
    executor_cores: int,
    conf: Mapping[str, str],
    auth: NotebookSessionAuth,
    pod_template_dir: Path = POD_TEMPLATE_DIR,
) -> dict[str, str]:
    """Return the Spark settings of a client-mode session against ``server`` (pure).

    :param credential_files: the API server's CA certificate and the notebook identity's token.
    :param auth: the session's authentication secret (``session_auth.open_session_auth``).
    :raises NotebookSessionError: ``driver_host`` is a loopback address, or ``conf`` replaces a platform setting.
    """
    try:
        loopback = ipaddress.ip_address(driver_host).is_loopback
    except ValueError:
        loopback = driver_host == "localhost"
    if loopback:
        raise NotebookSessionError(
            f"driver_host {driver_host!r} is this machine's loopback address, which executor pods cannot reach. "
            f"Pass driver_host= (or set {DRIVER_HOST_VARIABLE}) to the address pods reach this machine at; "
            "for the local cluster that is 10.244.0.1."
        )
    ca_file, token_file = credential_files
    platform = {
        **c.TASK_LOG_CONF,
        **{key: value for key, value in bootstrap_spark_conf(image, pod_template_dir=pod_template_dir).items()
           if key not in (c.SPARK_DRIVER_SERVICE_ACCOUNT, c.SPARK_DRIVER_POD_TEMPLATE)},  # no driver pod here
        c.SPARK_MASTER: f"k8s://{server}",
        "spark.submit.deployMode": "client",
        "spark.kubernetes.authenticate.caCertFile": str(ca_file),
        "spark.kubernetes.authenticate.oauthTokenFile": str(token_file),
        c.SPARK_DRIVER_HOST: driver_host,
        "spark.driver.bindAddress": "0.0.0.0",
        c.SPARK_EXECUTOR_INSTANCES: str(executors),
        c.SPARK_EXECUTOR_MEMORY: executor_memory,
        c.SPARK_EXECUTOR_CORES: str(executor_cores),
        "spark.kubernetes.driver.reusePersistentVolumeClaim": "false",
        # A client-mode driver has no Service; deleting one as Spark stops would log a Forbidden stack.
        "spark.kubernetes.driver.service.deleteOnTermination": "false",
        c.SPARK_EXECUTOR_LABEL_PREFIX + NOTEBOOK_LABEL: "true",
        **session_auth_conf(auth),
    }  # fmt: skip
    replaced = sorted(key for key in conf if key in platform and conf[key] != platform[key])
    if replaced:
        raise NotebookSessionError(f"conf replaces settings the platform sets for a notebook session: {replaced}. "
                                   "Use the function's arguments (executors, executor_memory, ...) or leave them out.")  # fmt: skip
    return {**platform, **conf}


def kubeconfig_credentials(path: Path) -> tuple[str, bytes, str]:
    """Return the API server URL, its CA certificate (PEM) and the bearer token of a token kubeconfig."""
    if not path.is_file():
        raise NotebookSessionError(
            f"no kubeconfig at {path}. Write one for the notebook identity (on the local cluster: "
            f"cluster/sa-kubeconfig spark spark-notebook --output {path}), or pass kubeconfig=."
        )
    import yaml

    document = yaml.safe_load(path.read_text())
    contexts = {entry["name"]: entry["context"] for entry in document.get("contexts", [])}
    context = contexts.get(document.get("current-context", ""), {})
    cluster = {entry["name"]: entry["cluster"] for entry in document.get("clusters", [])}.get(context.get("cluster"), {})
    user = {entry["name"]: entry["user"] for entry in document.get("users", [])}.get(context.get("user"), {})
    if not user.get("token"):
        raise NotebookSessionError(
            f"{path} authenticates without a token (a client certificate or a plugin): Spark's Kubernetes client "
            "cannot read the EC key of a certificate kubeconfig. Use a token kubeconfig of the notebook identity "
            "(cluster/sa-kubeconfig spark spark-notebook)."
        )
    if not cluster.get("server") or not cluster.get("certificate-authority-data"):
        raise NotebookSessionError(f"{path}: its current context names no server with certificate-authority-data.")
    return cluster["server"], base64.b64decode(cluster["certificate-authority-data"]), user["token"]


#: The sessions this kernel opened, with the API that opened them: (api, auth).
_opened_sessions: list[tuple[CoreV1Api, NotebookSessionAuth]] = []


def _private_folder() -> Path:
    """Return a new folder only this user reads (``mkdtemp`` makes it 0700), removed when the session
    stops or the process exits."""
    folder = Path(tempfile.mkdtemp(prefix="sparkplane-notebook-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _notebook_api(kubeconfig: Path) -> CoreV1Api:
    from kubernetes.client import CoreV1Api
    from kubernetes.config import new_client_from_config

    return CoreV1Api(new_client_from_config(str(kubeconfig)))


def _open_auth(core: CoreV1Api, folder: Path, server: str) -> NotebookSessionAuth:
    """Make this session's secret; it is deleted when the session stops (``spark.stop()``), else when
    the process exits (a script), else by the pod sweep once the kernel is gone."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        auth = open_session_auth(core, SPARK_NAMESPACE, folder)
    except ApiException as error:
        raise NotebookSessionError(
            f"the cluster refused the session's authentication secret in namespace {SPARK_NAMESPACE} "
            f"({error.status} {error.reason}: {_api_message(error)}). The notebook identity spark-notebook "
            "creates it; if the cluster's platform settings predate this, apply spark-bootstrap/ again (make bootstrap)."
        ) from error
    except HTTPError as error:
        raise NotebookSessionError(f"cannot reach the Kubernetes API server at {server}: {error}") from error
    _opened_sessions.append((core, auth))
    return auth


def _start_context(app_name: str, settings: Mapping[str, str], *, on_stop: Callable[[], None]) -> None:
    """Start the kernel's SparkContext with ``settings``; ``on_stop`` runs once it has stopped.

    A kernel's exit is no place for clean-up: Jupyter kills a kernel that takes more than five
    seconds to exit, and a kernel that ran a Spark session takes about thirty, so its ``atexit``
    handlers never run. ``spark.stop()`` (which stops the context) is where a session ends.
    """
    from pyspark import SparkConf, SparkContext

    class NotebookSessionContext(SparkContext):
        def stop(self) -> None:
            try:
                super().stop()
            finally:
                on_stop()

    spark_conf = SparkConf().setAppName(app_name).setAll(list(settings.items()))
    # PySpark tells executors which interpreter to start from PYSPARK_PYTHON as the context starts;
    # a kernel's own (a path on this machine) does not exist in the image, whose is python3.
    previous = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = IMAGE_PYTHON
    try:
        NotebookSessionContext(conf=spark_conf)
    finally:
        if previous is None:
            del os.environ["PYSPARK_PYTHON"]
        else:
            os.environ["PYSPARK_PYTHON"] = previous


def _close_session(core: CoreV1Api, auth: NotebookSessionAuth) -> None:
    """Delete a session's secret (through its anchor) and forget it; a second call does nothing.
    A failure is a warning: the session has ended either way, and the pod sweep deletes what is left."""
    if (core, auth) not in _opened_sessions:
        return
    _opened_sessions.remove((core, auth))
    try:
        close_session_auth(core, auth)
    except Exception as error:  # noqa: BLE001 - the API's and the network's errors alike
        warnings.warn(f"could not delete this session's ConfigMap {SPARK_NAMESPACE}/{auth.anchor_name} and its Spark "
                      f"authentication secret ({error}); the pod sweep deletes them once the keep time is over",
                      stacklevel=2)  # fmt: skip


def _close_all_sessions() -> None:
    """At the exit of a Python process (a script; Jupyter kills a kernel before this runs)."""
    for core, auth in list(_opened_sessions):
        _close_session(core, auth)


atexit.register(_close_all_sessions)


def _api_message(error: Exception) -> str:
    import json

    try:
        return json.loads(error.body)["message"]
    except (TypeError, ValueError, KeyError):
        return str(getattr(error, "body", "") or error)


def _private_files(folder: Path, ca_pem: bytes, token: str) -> tuple[Path, Path]:
    """Write the CA and the token to ``folder`` (only this user reads it); Spark gets their paths."""
    ca_file, token_file = folder / "ca.crt", folder / "token"
    for path, content in ((ca_file, ca_pem), (token_file, token.encode())):
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
    return ca_file, token_file


def _address_towards(server: str) -> str:
    """The local address this machine sends from towards the API server (no packet is sent)."""
    parts = urlsplit(server)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((parts.hostname or "127.0.0.1", parts.port or 443))
        return probe.getsockname()[0]


def notebook_file(given: str | Path | None) -> Path:
    """Return the notebook to check: ``given``, else the one Jupyter started this kernel for.

    Jupyter Server gives the kernel ``JPY_SESSION_NAME``: the notebook's absolute path when the
    front end names the file (JupyterLab, Notebook 7), else its path from the server's root
    folder, while the kernel runs in the notebook's own folder; so a relative name that is no file
    here is looked for by its file name in the kernel's folder too.
    """
    if given:
        if not Path(given).is_file():
            raise NotebookSessionError(f"notebook={str(given)!r} is no file here (the kernel runs in {Path.cwd()}): "
                                       "pass the notebook's path, or check=False to skip the check.")  # fmt: skip
        return Path(given)
    session_name = os.environ.get(SESSION_NAME_VARIABLE)
    if not session_name:
        raise NotebookSessionError(
            "which notebook is this? Pass notebook='name.ipynb' so it is checked against the image before executors "
            f"start (Jupyter sets {SESSION_NAME_VARIABLE} to it; other kernels do not), or check=False to skip the check."
        )
    for candidate in (Path(session_name), Path.cwd() / Path(session_name).name):
        if candidate.suffix == ".ipynb" and candidate.is_file():
            return candidate
    raise NotebookSessionError(
        f"{SESSION_NAME_VARIABLE} is {session_name!r}, which is no notebook file here (the kernel runs in {Path.cwd()}): "
        "pass notebook='name.ipynb', or check=False to skip the check."
    )


def _check_notebook(notebook: Path, image: str) -> None:
    from sparkplane.image.check import check_source
    from sparkplane.image.contents import ImageContentsError, read_image_contents

    try:
        contents = read_image_contents(image)
    except ImageContentsError as error:
        raise NotebookSessionError(f"cannot read what image {image} contains: {error}") from error
    problems = check_source(notebook, contents, jobs_dir=notebook.parent)
    if problems:
        raise NotebookSessionError(
            f"image {image} cannot run {notebook.name}; no executor was started:\n"
            + "\n".join(f"- {problem}" for problem in problems)
        )
