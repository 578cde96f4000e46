"""Kubernetes mode: a driver pod per task try, followed from the triggerer, cleaned up after.

``hook`` makes one API call per method; ``driver_pod`` and ``pod_templates`` build the pod (pure);
``identity`` names every label and annotation; ``pod_status`` reads every status field;
``launcher`` finds, creates, reports on and deletes drivers for the operator; ``trigger`` and
``follower`` wait for the driver and stream its log; ``preflight`` checks before submitting;
``sweep`` deletes what was left behind.
"""
