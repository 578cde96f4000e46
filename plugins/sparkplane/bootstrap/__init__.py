"""The cluster bootstrap (``spark-bootstrap/``): applying it to a cluster, and the Spark settings
that make a hand-submitted job fit it.

``python -m sparkplane.bootstrap apply --kubeconfig PATH`` applies it (see ``apply``).
"""
