"""Kubernetes mode: a driver pod per task try, followed from the triggerer, cleaned up after.

``hook`` makes one API call per method; ``driver_pod`` and ``pod_templates`` build the pod (pure),
with ``secret_refs`` (Secrets by reference) and ``spark_auth`` (Spark's own authentication);
``task_policy`` refuses what a task may not set; ``identity`` names every label and annotation;
``driver_signature`` proves which drivers the platform made; ``pod_status`` reads every status
field; ``launcher`` finds, creates, reports on and deletes drivers for the operator; ``trigger``,
``follower`` (paced by ``follower_timing``) and ``driver_log`` wait for the driver and stream its
log; ``preflight`` checks before submitting; ``sweep`` deletes what was left behind.
"""
