"""A notebook's client-mode session settings, and the credentials and addresses it refuses."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from sparkplane.notebook.client_session import (
    NotebookSessionError,
    client_session_conf,
    kubeconfig_credentials,
    notebook_file,
)
from sparkplane.notebook.session_auth import NotebookSessionAuth

IMAGE = "127.0.0.1:5000/sparkplane/spark@sha256:" + "ab" * 32
FILES = (Path("/private/ca.crt"), Path("/private/token"))
AUTH = NotebookSessionAuth("0123456789ab", "spark", Path("/private/spark-auth-0123456789ab"))


def _conf(**overrides):
    arguments = {"image": IMAGE, "server": "https://10.0.0.1:6443", "credential_files": FILES,
                 "driver_host": "10.244.0.1", "executors": 2, "executor_memory": "1g", "executor_cores": 1, "conf": {}, "auth": AUTH}
    return client_session_conf(**{**arguments, **overrides})


def test_the_session_is_the_platforms_with_credentials_as_files_and_no_driver_pod_settings():
    conf = _conf(conf={"spark.sql.shuffle.partitions": "4"})
    assert conf["spark.master"] == "k8s://https://10.0.0.1:6443"
    assert conf["spark.kubernetes.container.image"] == IMAGE
    assert conf["spark.kubernetes.namespace"] == "spark"
    assert conf["spark.kubernetes.authenticate.executor.serviceAccountName"] == "spark-executor"
    executor_template = Path(__file__).resolve().parents[3] / "spark-bootstrap" / "pod-templates" / "executor.yaml"
    assert Path(conf["spark.kubernetes.executor.podTemplateFile"]).resolve() == executor_template
    assert conf["spark.kubernetes.authenticate.oauthTokenFile"] == "/private/token"
    assert conf["spark.kubernetes.driver.ownPersistentVolumeClaim"] == "false"
    assert conf["spark.kubernetes.executor.label.sparkplane.dev/notebook"] == "true"
    assert (conf["spark.driver.host"], conf["spark.executor.instances"]) == ("10.244.0.1", "2")
    assert conf["spark.sql.shuffle.partitions"] == "4"
    assert conf["spark.authenticate"] == "true" and conf["spark.network.crypto.enabled"] == "true"
    assert conf["spark.authenticate.secret.driver.file"] == "/private/spark-auth-0123456789ab"
    assert not any("driver.podTemplateFile" in key or "driver.serviceAccountName" in key for key in conf)


def test_a_loopback_driver_or_a_replaced_platform_setting_is_refused():
    with pytest.raises(NotebookSessionError, match="loopback address, which executor pods cannot reach.*10.244.0.1"):
        _conf(driver_host="127.0.0.1")
    with pytest.raises(NotebookSessionError, match=r"replaces settings the platform sets.*spark.kubernetes.namespace"):
        _conf(conf={"spark.kubernetes.namespace": "default"})


def _kubeconfig(path: Path, user: dict) -> Path:
    path.write_text(json.dumps({
        "clusters": [{"name": "c", "cluster": {"server": "https://10.0.0.1:6443",
                                               "certificate-authority-data": base64.b64encode(b"PEM").decode()}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}], "current-context": "x",
    }))  # fmt: skip
    return path


def test_a_token_kubeconfig_gives_server_ca_and_token_and_a_certificate_one_is_refused(tmp_path):
    assert kubeconfig_credentials(_kubeconfig(tmp_path / "token", {"token": "t0k"})) == ("https://10.0.0.1:6443", b"PEM", "t0k")
    certificate = _kubeconfig(tmp_path / "cert", {"client-certificate-data": "x", "client-key-data": "y"})
    with pytest.raises(NotebookSessionError, match="cannot read the EC key.*sa-kubeconfig spark spark-notebook"):
        kubeconfig_credentials(certificate)
    with pytest.raises(NotebookSessionError, match="no kubeconfig at"):
        kubeconfig_credentials(tmp_path / "missing")


def test_the_notebook_is_the_one_given_or_the_one_jupyter_started_the_kernel_for(tmp_path, monkeypatch):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "daily sales.ipynb").write_text("{}")
    monkeypatch.chdir(folder)  # a kernel runs in its notebook's folder
    assert notebook_file("daily sales.ipynb") == Path("daily sales.ipynb")
    # JupyterLab names the file: the absolute path.
    monkeypatch.setenv("JPY_SESSION_NAME", str(folder / "daily sales.ipynb"))
    assert notebook_file(None) == folder / "daily sales.ipynb"
    # Without the file's name: its path from the server's root folder, not from the kernel's.
    monkeypatch.setenv("JPY_SESSION_NAME", "notebooks/daily sales.ipynb")
    assert notebook_file(None) == folder / "daily sales.ipynb"


@pytest.mark.parametrize(("given", "session_name", "message"), [
    (None, None, "which notebook is this"),
    ("other.ipynb", None, "notebook='other.ipynb' is no file here"),
    (None, "notebooks/other.ipynb", "JPY_SESSION_NAME is 'notebooks/other.ipynb', which is no notebook file here"),
    (None, "a-session-id", "which is no notebook file here"),
])  # fmt: skip
def test_no_notebook_to_check_says_how_to_name_it(tmp_path, monkeypatch, given, session_name, message):
    monkeypatch.chdir(tmp_path)
    if session_name is None:
        monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    else:
        monkeypatch.setenv("JPY_SESSION_NAME", session_name)
    with pytest.raises(NotebookSessionError, match=message) as error:
        notebook_file(given)
    assert "check=False" in str(error.value)
