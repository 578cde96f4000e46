"""Bring up and tear down a real single-machine Kubernetes cluster.

Only the Python standard library is used, so the scripts run before any
project environment exists. Each module has one job:

- ``settings``: every knob (paths, addresses, counts), read once from the environment.
- ``procs``: start, find and stop the cluster's processes through pid files.
- ``pki``: certificates and keys, generated once with openssl.
- ``kubeconfigs``: admin/component kubeconfigs and ServiceAccount kubeconfigs.
- ``configs``: pure renderers of every component's configuration file.
- ``host``: the machine-wide changes (sysctls, links, routes, iptables, mounts).
- ``components``: how each component is started and when it counts as ready.
- ``kwok``: simulated nodes and the stages their pods go through.
- ``up`` / ``down``: the two entry points.
"""
