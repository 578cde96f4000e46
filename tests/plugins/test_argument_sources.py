"""A usage error's fix names the DAG param or run conf key that gave the refused option its value."""

from __future__ import annotations

from sparkplane.argument_sources import argument_sources, rejected_option_fix
from sparkplane.diagnosis import explain_failure

USAGE_TAIL = ["usage: spark_smoke_test.py [-h] [--lines LINES]",
              "spark_smoke_test.py: error: argument --lines: invalid int value: '2.0'"]  # fmt: skip


def test_options_are_traced_to_the_params_and_conf_keys_in_their_templates():
    sources = argument_sources([
        "--lines", "{{ params.lines }}",
        "--day={{ dag_run.conf['day'] }}",
        "--region", "{{ params['region'] | upper }}",
        "--output", "/data/report",
        "--mode", "{{ dag_run.conf.get(\"mode\", 'full') }}",
        "--flag",
    ])  # fmt: skip
    assert sources == {
        "--lines": "the DAG param 'lines' (a triggered run's conf key 'lines')",
        "--day": "the run's conf key 'day'",
        "--region": "the DAG param 'region' (a triggered run's conf key 'region')",
        "--mode": "the run's conf key 'mode'",
    }


def test_a_refused_option_names_its_param_and_cannot_be_retried():
    sources = argument_sources(["--lines", "{{ params.lines }}", "--partitions", "4"])
    diagnosis = explain_failure(2, USAGE_TAIL, application="spark_smoke_test.py", argument_sources=sources)
    assert diagnosis.cause == "spark_smoke_test.py rejected its arguments: argument --lines: invalid int value: '2.0'"
    assert diagnosis.fix.startswith("--lines takes its value from the DAG param 'lines' (a triggered run's conf key "
                                    "'lines'): run again with a value the job accepts")  # fmt: skip
    assert diagnosis.retry_cannot_help


def test_an_option_written_in_the_dag_keeps_the_generic_fix():
    sources = argument_sources(["--lines", "ten", "--partitions", "{{ params.partitions }}"])
    diagnosis = explain_failure(2, USAGE_TAIL, application="spark_smoke_test.py", argument_sources=sources)
    assert diagnosis.fix == "Correct the task's application_args (the job's usage line is in the log above)."


def test_short_and_long_option_names_are_both_tried():
    fix = rejected_option_fix("argument -l/--lines: invalid int value: 'x'", {"--lines": "the run's conf key 'n'"})
    assert fix is not None and fix.startswith("--lines takes its value from the run's conf key 'n'")
    assert rejected_option_fix("the following arguments are required: --output", {"--lines": "x"}) is None
