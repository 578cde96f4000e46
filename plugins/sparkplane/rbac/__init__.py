"""Kubernetes RBAC: linting the manifests that grant it, the one table of what each identity needs,
and the checks the operator's preflight and the RBAC-check DAG share (what is missing and why,
what is granted too much)."""
