# The two set-up commands are `make demo` and `make test`; everything else is for development.
.PHONY: demo test env lock bench clean

## Run the example pipeline on the embedded default (local Spark, SQLite Airflow).
demo:
	scripts/demo

## Install everything the tests need and run the whole suite.
test: env
	scripts/run-tests

## Create the Python environment from requirements.lock (cached by the lock's hash).
env:
	scripts/ensure-env

## Re-resolve requirements.lock and image/requirements.lock from pyproject.toml.
lock:
	scripts/lock

## Print DAG parse times (and other measurements) without asserting on them.
bench: env
	.venv/bin/python benchmarks/dag_parse_times.py

## Remove the local Airflow home and demo data (the cached environment stays).
clean:
	rm -rf .local
