"""The notebook's client-mode SparkSession builder: what the platform owns, what the operator takes."""

from __future__ import annotations

from sparkplane.notebook.session import find_session_builder

CELL = '''import os
spark = (
    SparkSession.builder.appName("daily-sales")
    .master("k8s://https://127.0.0.1:6443")
    .config("spark.kubernetes.namespace", "spark")
    .config("spark.driver.host", os.environ["DRIVER_HOST"])
    .config("spark.executor.instances", 3)
    .config("spark.executor.memory", "2g")
    .config("spark.sql.adaptive.enabled", True)
    .config("spark.jars.packages", JARS)
    .getOrCreate()
)
'''


def test_the_builder_keeps_its_name_and_the_platform_takes_the_rest():
    builder = find_session_builder(CELL)
    assert (builder.variable, builder.first_line, builder.last_line) == ("spark", 2, 12)
    assert builder.dropped == ("master('k8s://https://127.0.0.1:6443')", "spark.kubernetes.namespace", "spark.driver.host")
    assert builder.operator_arguments == {"executor_instances": 3, "executor_memory": "2g"}
    assert builder.conf == {"spark.sql.adaptive.enabled": "true"}
    assert builder.problems == (".config('spark.jars.packages', JARS) is not a literal setting; set it in the DAG's conf by hand",)
    assert builder.job_statement("fallback") == "spark = SparkSession.builder.appName('daily-sales').getOrCreate()"


def test_a_qualified_builder_is_kept_qualified_and_other_code_is_not_a_builder():
    builder = find_session_builder("s = pyspark.sql.SparkSession.builder.getOrCreate()")
    assert builder.job_statement("daily") == "s = pyspark.sql.SparkSession.builder.appName('daily').getOrCreate()"
    assert find_session_builder("spark = make_session()\nrows = spark.range(3).count()") is None


def test_the_platforms_notebook_session_converts_like_a_builder():
    builder = find_session_builder(
        "spark = client_session('daily', image=IMAGE, notebook='n.ipynb', executors=3, executor_memory='2g',\n"
        "                       conf={'spark.sql.shuffle.partitions': 8, 'spark.kubernetes.namespace': 'x'})"
    )
    assert builder.operator_arguments == {"executor_instances": 3, "executor_memory": "2g"}
    assert builder.conf == {"spark.sql.shuffle.partitions": "8"}
    assert builder.dropped == ("client_session image", "client_session notebook")
    assert builder.job_statement("x") == "spark = SparkSession.builder.appName('daily').getOrCreate()"
