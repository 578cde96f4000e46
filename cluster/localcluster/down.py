"""Stop everything ``up`` started and undo its changes to the machine.

Pods on the real node are removed through the kubelet first (it tears down
their network namespaces and mounts the proper way); whatever is left after
that is killed and unmounted by path, cgroup and recorded pid, never by name.
The cluster's data (etcd, kubelet, containerd, CNI state) is wiped; the
certificates, kubeconfigs, binaries and the registry's images are kept.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import components, host
from .kubeconfigs import kubectl
from .procs import Processes, exclusive, stop_pid
from .settings import CLUSTER_DIR, Settings, load_settings, running_settings_file

# Stopped first so nothing recreates the pods being drained from the node.
CONTROLLERS = ["kwok", "kube-controller-manager", "kube-scheduler"]
# Then, in this order, after the node is drained.
THE_REST = ["kubelet", "kube-proxy", "coredns", "containerd", "registry-node", "registry", "object-store", "kube-apiserver", "etcd"]


def _sandbox_tasks(s: Settings) -> list[str]:
    proc = subprocess.run(
        ["ctr", "--address", str(s.containerd_socket), "-n", "k8s.io", "tasks", "ls", "-q"],
        capture_output=True, text=True,
    )  # fmt: skip
    return proc.stdout.split() if proc.returncode == 0 else []


def drain_real_node(s: Settings, procs: Processes, *, timeout_seconds: float = 60) -> None:
    """Delete the real node's pods and wait until the kubelet has stopped their containers."""
    if not (procs.running_pid("kube-apiserver") and procs.running_pid("kubelet")):
        return
    kubectl(s, "delete", "pods", "--all-namespaces", "--field-selector", f"spec.nodeName={s.node_name}",
            "--grace-period=0", "--force", "--wait=false", what="draining the real node")  # fmt: skip
    deadline = time.monotonic() + timeout_seconds
    while _sandbox_tasks(s) and time.monotonic() < deadline:
        time.sleep(1)
    if left := _sandbox_tasks(s):
        print(f"down: {len(left)} containers still running after {timeout_seconds:.0f}s; killing them")


def kill_leftovers(s: Settings) -> None:
    """Kill containers and shims that outlived containerd, found by cgroup and socket path."""
    roots = host.cgroup_dirs("kubepods")
    for pid in host.pids_in_cgroups(roots):
        stop_pid(pid, timeout_seconds=2)
    # Shims name our containerd's socket on their command line.
    socket = str(s.containerd_socket)
    for proc_dir in Path("/proc").iterdir():
        if not proc_dir.name.isdigit():
            continue
        try:
            cmdline = (proc_dir / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if socket.encode() in cmdline and b"containerd-shim-runc-v2" in os.path.basename(cmdline[0]):
            stop_pid(int(proc_dir.name), timeout_seconds=5)
    if busy := host.remove_cgroups(roots):
        print(f"down: cgroups still busy: {', '.join(map(str, busy[:5]))}")


def remove_netns(s: Settings) -> None:
    # containerd names pod network namespaces cni-<uuid> under /run/netns;
    # only those that appeared after `up` recorded the list are ours.
    before = set(host.recorded(s, "netns_before", []) or [])
    for name in sorted(host.netns_names() - before):
        if re.fullmatch(r"cni-[0-9a-f-]{36}", name):
            subprocess.run(["umount", f"/run/netns/{name}"], capture_output=True)
            Path(f"/run/netns/{name}").unlink(missing_ok=True)


def down(s: Settings) -> bool:
    """Stop and clean up; return whether every step succeeded (each runs even if one before failed)."""
    t0 = time.monotonic()
    procs = Processes(s.run_dir, s.log_dir)
    failures: list[str] = []

    def attempt(what: str, step, *args) -> None:
        try:
            step(*args)
        except (RuntimeError, OSError) as e:
            failures.append(f"{what}: {e}")

    for name in CONTROLLERS:
        if procs.stop(name):
            print(f"down: stopped {name}")
    try:
        drain_real_node(s, procs)
    except RuntimeError as e:  # not fatal: leftover containers are killed below
        print(f"down: {e}")
    for name in THE_REST:
        if procs.stop(name):
            print(f"down: stopped {name}")
    for name in procs.recorded():  # anything a newer `up` added
        procs.stop(name)
    attempt("killing leftover containers", kill_leftovers, s)
    attempt("kube-proxy --cleanup", components.cleanup_kube_proxy_rules, s)
    attempt("removing KUBE-* iptables chains", host.remove_kube_chains, s)
    attempt("removing pod network namespaces", remove_netns, s)
    if stuck := host.unmount_all(s.state_dir):
        failures.append(f"could not unmount {', '.join(stuck)}; {s.data_dir} is kept")
    attempt("removing links, routes and SPARKPLANE-FORWARD", host.teardown_network, s)
    if host.recorded(s, "docker_started_by_up"):
        # Before the sysctls, which stay on while a dockerd of docker-up runs.
        attempt("stopping dockerd", subprocess.run, [str(CLUSTER_DIR / "docker-down")])
    attempt("restoring sysctls", host.restore_sysctls, s)
    if not failures:
        host.forget_state(s)
        running_settings_file(s.cache_dir).unlink(missing_ok=True)
        shutil.rmtree(s.data_dir, ignore_errors=True)
        print(f"down: done in {time.monotonic() - t0:.1f}s (kept: {s.pki_dir}, {s.admin_kubeconfig}, {s.registry_dir})")
        return True
    print("down: finished with problems (run it again once fixed; logs: " + str(s.log_dir) + "):", file=sys.stderr)
    for failure in failures:
        print(f"  - {failure}", file=sys.stderr)
    return False


def main() -> int:
    if os.geteuid() != 0:
        print("down: must run as root", file=sys.stderr)
        return 1
    s = load_settings()
    with exclusive(s.cache_dir / "cluster.lock"):
        return 0 if down(s) else 1
