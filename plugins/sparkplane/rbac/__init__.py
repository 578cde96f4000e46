"""Kubernetes RBAC: linting the manifests that grant it, and the permissions Spark's driver needs,
which the preflight checks before a job is submitted."""
