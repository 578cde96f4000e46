"""Image pre-pull: put the Spark image on every node a Spark pod may land on, before a job needs it.

The Spark image is about 1.5 GB; a driver or executor landing on a node without it sits in
ContainerCreating for the whole pull. The pre-pull DAG pulls it ahead, node by node.

How it is done: per node, one bare "puller" pod in ``sparkplane-system``, pinned to its node by a
required node affinity on the node's name, ``restartPolicy: Never``, running the image with
``command: ["true"]``. At most ``concurrency`` pullers are outstanding at once. Every puller is
owned by a per-run ConfigMap, so deleting that one object garbage-collects the run's pods even if
the runner died; the runner deletes them itself as well.

Why not a DaemonSet, the usual pre-puller:

* It creates its pods on every node at once: nothing bounds how many nodes pull at the same time,
  and a registry serving 200 nodes at once is the next outage.
* It creates a pod even on nodes that already hold the image.
* It has no per-node deadline: a node whose pull hangs holds the rollout forever.
* Waiting for it to be "ready" hangs on a pod that cannot be scheduled (the Zero-to-JupyterHub
  image-puller's known failure), and tells nothing about which node and why.

What this follows instead: kube-fledged (one Job per node, pinned by hostname, with an active
deadline) and OpenKruise's ImagePullJob (parallelism, per-node status, a timeout). Bare pods rather
than Jobs, because the pull's status (container state, the kubelet's Pulling/Pulled events) lives
on the pod anyway, a Job controller adds retries that the runner decides on itself, and Jobs need
more rights.

The modules are pure: ``constraints`` (where Spark's pods may land), ``eligibility`` (which nodes
need the image, and why not the others), ``images`` (what a node's status lists), ``labels``
(names and labels of the run's objects), ``puller_pod`` (the manifests), ``progress`` (where each
puller is) and ``report`` (coverage, the task log's report, the XCom).
"""
