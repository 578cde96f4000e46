"""Where the client finds Airflow and who it is there: the environment, then a netrc file."""

from __future__ import annotations

import pytest
from sparkplane.client.credentials import AirflowCredentials, CredentialsError


def test_the_environment_gives_the_url_and_the_user_and_the_password_stays_out_of_the_repr():
    found = AirflowCredentials.from_environment(environ={
        "SPARKPLANE_AIRFLOW_URL": "http://localhost:8080/api/v2/", "SPARKPLANE_AIRFLOW_USERNAME": "analyst",
        "SPARKPLANE_AIRFLOW_PASSWORD": "s3cret", "SPARKPLANE_AIRFLOW_NETRC": "/nonexistent"})  # fmt: skip
    assert (found.url, found.username, found.password) == ("http://localhost:8080", "analyst", "s3cret")
    assert "s3cret" not in repr(found)


def test_a_netrc_entry_for_the_host_is_used_when_the_environment_has_no_user(tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine airflow.internal login analyst password from-netrc\n")
    netrc.chmod(0o600)
    found = AirflowCredentials.from_environment(
        "https://airflow.internal", environ={"SPARKPLANE_AIRFLOW_NETRC": str(netrc)})  # fmt: skip
    assert (found.username, found.password) == ("analyst", "from-netrc")
    nobody = AirflowCredentials.from_environment("http://other:8080", environ={"SPARKPLANE_AIRFLOW_NETRC": str(netrc)})
    assert nobody.username is None


@pytest.mark.parametrize(("environ", "message"), [
    ({}, "no Airflow address: set SPARKPLANE_AIRFLOW_URL"),
    ({"SPARKPLANE_AIRFLOW_URL": "localhost:8080"}, "is not an http"),
    ({"SPARKPLANE_AIRFLOW_URL": "http://h", "SPARKPLANE_AIRFLOW_USERNAME": "a"}, "SPARKPLANE_AIRFLOW_PASSWORD is not set"),
])  # fmt: skip
def test_what_is_missing_is_named(environ, message):
    with pytest.raises(CredentialsError, match=message):
        AirflowCredentials.from_environment(environ={"SPARKPLANE_AIRFLOW_NETRC": "/nonexistent", **environ})
