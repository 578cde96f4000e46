"""What the cluster tests and the benchmarks share, so each is written once.

``waits`` polls until done or fails with the last observation; ``cluster`` is the local cluster
(``cluster/``); ``pods`` builds, runs, reads and watches pods; ``simulated`` places and ends pods on
the simulated (KWOK) nodes; ``platform`` installs the platform there (image, bootstrap, identity);
``airflow`` runs real Airflow; ``tcp_proxy`` stands between a client and the API server and
pauses, blackholes, cuts or slows the connections (a real fault, not a fake API); ``fixtures`` holds the pytest fixtures (tests/conftest.py registers
them). Only ``fixtures`` imports pytest: benchmarks import the rest.
"""
