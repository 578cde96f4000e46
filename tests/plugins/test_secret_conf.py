"""Which Spark settings are secret, and the properties file that carries them."""

from __future__ import annotations

from sparkplane.secret_conf import is_secret_setting, properties_text, split_secret_settings


def test_credentials_by_spark_hadoop_or_airflow_names_are_secret():
    secret = ["spark.hadoop.fs.s3a.secret.key", "spark.hadoop.fs.s3a.access.key", "spark.ssl.keyPassword",
              "spark.authenticate.secret", "spark.hadoop.google.cloud.auth.service.account.json.keyfile_dict",
              "spark.jdbc.api_key", "spark.hadoop.fs.azure.sas.token"]  # fmt: skip
    public = ["spark.sql.shuffle.partitions", "spark.executor.memory", "spark.kubernetes.namespace",
              # They name a class and a keystore's location, not a secret.
              "spark.hadoop.fs.s3a.aws.credentials.provider", "spark.hadoop.hadoop.security.credential.provider.path"]
    assert [key for key in secret if not is_secret_setting(key)] == []
    assert [key for key in public if is_secret_setting(key)] == []
    assert split_secret_settings({"spark.a.password": "p", "spark.b": "1"}) == ({"spark.b": "1"}, {"spark.a.password": "p"})


def test_properties_text_escapes_what_javas_reader_would_misread():
    text = properties_text({"spark.x.password": " lead\\ing=:#\nnext", "spark:odd key": "ü"})
    assert text == "spark.x.password=\\ lead\\\\ing=:#\\nnext\nspark\\:odd\\ key=ü\n"
