# The two set-up commands are `make demo` and `make test`; everything else is for development.
.PHONY: demo test test-long faults env lock up up-cluster down bench bench-operator bench-triggerer bench-prepull bench-quality bench-object-store clean cluster-up cluster-down cluster-smoke cluster-demo image bootstrap lint-rbac

## Run the example pipeline on the embedded default (local Spark, SQLite Airflow).
demo:
	scripts/demo

## Start the Airflow stack of docker-compose.yaml (UI on http://localhost:8080); jobs run locally.
up: env
	scripts/stack up

## Start the Airflow stack with jobs on the local Kubernetes cluster (started if needed), data in its object store.
up-cluster: env
	scripts/stack up --cluster

## Stop the Airflow stack: its containers, network, volumes and secrets go; the images stay.
down:
	scripts/stack down

## Install everything the tests need and run the suite: each feature proved once, the fault suites left to test-long.
test: env
	scripts/run-tests

## Run the tests too long for make test: the fault suites, a build with no layer cache, second proofs of a path.
test-long: env
	scripts/run-tests -m long

## Run each fault FAULT_RUNS times (default 5; FAULTS=a,b for some) and print the table, then the
## fault tests that run real Spark jobs (too long for make test).
faults: env
	PYTHONPATH=plugins:cluster:tests .venv/bin/python benchmarks/faults.py
	scripts/run-tests -m long tests/kubernetes

## Create the Python environment from requirements.lock (cached by the lock's hash).
env:
	scripts/ensure-env

## Re-resolve requirements.lock and image/requirements.lock from pyproject.toml.
lock:
	scripts/lock

## Print DAG parse times (and other measurements) without asserting on them.
bench: env
	.venv/bin/python benchmarks/dag_parse_times.py

## Measure the Spark operator on the local cluster beside a plain spark-submit (figures, not assertions).
bench-operator: env
	PYTHONPATH=plugins:cluster:tests .venv/bin/python benchmarks/spark_operator.py

## Measure one process following 100 and 500 drivers and their logs on simulated nodes (figures, not assertions).
bench-triggerer: env
	PYTHONPATH=plugins:cluster:tests .venv/bin/python benchmarks/triggerer_scale.py

## Measure the image pre-pull on 10, 50 and 200 simulated nodes, and a job's start cold vs pre-pulled (figures).
bench-prepull: env
	PYTHONPATH=plugins:cluster:tests .venv/bin/python benchmarks/prepull.py

## Measure the data-quality gate's share of the example report job on 300,000 and 3,000,000 orders (figures).
bench-quality: env
	PYTHONPATH=jobs:plugins .venv/bin/python benchmarks/quality_gate.py

## Measure revenue_by_region locally, locally on the object store and on Kubernetes on the store, and the image with and without S3A (figures).
bench-object-store: env
	PYTHONPATH=plugins:cluster:tests .venv/bin/python benchmarks/object_store.py

## Start the local Kubernetes cluster (real control plane, real node, KWOK nodes, registry).
cluster-up:
	cluster/up

## Stop everything cluster-up started.
cluster-down:
	cluster/down

## Run the spark_smoke_test DAG on the local cluster: image built and pushed, bootstrap applied.
cluster-smoke: env
	scripts/cluster-smoke

## Run the example pipeline on the local cluster, data in its object store, a History Server for its jobs.
cluster-demo: env
	scripts/cluster-demo

## Build the Spark image and push it to the local registry (prints size, build time, digest).
image: env
	.venv/bin/python image/build --registry 127.0.0.1:5000

## Apply spark-bootstrap/ (namespace, spark-sa, RBAC) to the local cluster, idempotently.
bootstrap: env
	PYTHONPATH=plugins .venv/bin/python -m sparkplane.bootstrap apply --kubeconfig $(HOME)/.cache/sparkplane/cluster/admin.kubeconfig

## Lint the RBAC manifests (invalid verbs, needless ClusterRoleBindings, ...).
lint-rbac: env
	PYTHONPATH=plugins .venv/bin/python -m sparkplane.rbac.lint spark-bootstrap

## Remove the local Airflow home and demo data (the cached environment stays).
clean:
	rm -rf .local
