"""Machine-wide changes made by ``up`` and undone by ``down``.

Everything changed is recorded in ``host-state.json`` the first time, so that
``down`` restores the values found before ``up`` (not some default), and a
second ``up`` does not record the cluster's own values as the originals.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from pathlib import Path

from .procs import run
from .settings import Settings

# Kernel settings the cluster needs: forwarding for Service traffic that is
# DNATed back onto the bridge, and bridged pod-to-pod replies passing
# through iptables so that kube-proxy's NAT is undone on the way back.
SYSCTLS = {
    "net/ipv4/ip_forward": "1",
    "net/bridge/bridge-nf-call-iptables": "1",
    "net/bridge/bridge-nf-call-ip6tables": "1",
    # Every followed log (kubelet's or KWOK's) holds one inotify instance; the default 128 per
    # user is fewer than the streams KWOK serves when hundreds of simulated pods are followed.
    "fs/inotify/max_user_instances": "8192",
}
FORWARD_CHAIN = "SPARKPLANE-FORWARD"


def _state_file(s: Settings) -> Path:
    return s.state_dir / "host-state.json"


def _read_state(s: Settings) -> dict:
    path = _state_file(s)
    return json.loads(path.read_text()) if path.exists() else {}


def _write_state(s: Settings, state: dict) -> None:
    _state_file(s).write_text(json.dumps(state, indent=2))


def record_once(s: Settings, key: str, value: object) -> None:
    """Remember ``value`` under ``key`` unless an earlier ``up`` already did."""
    state = _read_state(s)
    state.setdefault(key, value)
    _write_state(s, state)


def recorded(s: Settings, key: str, default: object = None) -> object:
    return _read_state(s).get(key, default)


def forget_state(s: Settings) -> None:
    _state_file(s).unlink(missing_ok=True)


def _sysctl_path(key: str) -> Path:
    return Path("/proc/sys") / key


def apply_sysctls(s: Settings) -> None:
    """Set the kernel settings the cluster needs, remembering the originals."""
    record_once(s, "sysctls_recorded_at", time.time())
    originals = dict(recorded(s, "sysctls") or {})
    for key in SYSCTLS.keys() - originals.keys():  # a setting added since an earlier up recorded the rest
        originals[key] = _sysctl_path(key).read_text().strip()
    state = _read_state(s)
    state["sysctls"] = originals
    _write_state(s, state)
    for key, value in SYSCTLS.items():
        _sysctl_path(key).write_text(value)


def restore_sysctls(s: Settings) -> None:
    """Put back the values ``up`` found; ip_forward stays on while docker-up's dockerd runs."""
    originals = dict(recorded(s, "sysctls") or {})
    docker_before = s.cache_dir / "docker" / "ip_forward.before"
    if "net/ipv4/ip_forward" in originals and docker_before.exists() and dockerd_of_docker_up_runs(s):
        original = originals.pop("net/ipv4/ip_forward")
        if recorded(s, "sysctls_recorded_at", 0) < docker_before.stat().st_mtime:
            # The cluster came first, so its record is the machine's original:
            # docker-down restores it when it stops dockerd.
            docker_before.write_text(original + "\n")
    for key, value in originals.items():
        try:
            _sysctl_path(key).write_text(value)
        except OSError as e:
            print(f"down: could not restore {key}={value}: {e}")


def dockerd_of_docker_up_runs(s: Settings) -> bool:
    """Return whether a dockerd started by cluster/docker-up is alive (its pid file may be stale)."""
    pid_file = s.cache_dir / "docker" / "dockerd.pid"
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"network: `ip {' '.join(args)}` failed: {proc.stderr.strip()}")
    return proc


def _link_exists(name: str) -> bool:
    return _ip("link", "show", name, check=False).returncode == 0


def setup_network(s: Settings) -> None:
    """Create the pod bridge and the blackhole link, and confine pod traffic to this machine."""
    if not _link_exists(s.bridge):
        # Created here rather than by the CNI plugin so that the API server,
        # kubelet and CoreDNS can bind the node address before any pod exists.
        _ip("link", "add", s.bridge, "type", "bridge")
    if s.node_ip not in _ip("-4", "addr", "show", "dev", s.bridge).stdout:
        _ip("addr", "add", f"{s.node_ip}/{s.node_pod_subnet.split('/')[1]}", "dev", s.bridge)
    _ip("link", "set", s.bridge, "up")
    if not _link_exists(s.blackhole_link):
        # A bridge with no ports drops what it is given (this kernel has no
        # dummy links). Unlike a blackhole route it still lets the host's own
        # connections to Service IPs be DNATed in OUTPUT before they fail.
        _ip("link", "add", s.blackhole_link, "type", "bridge")
    _ip("link", "set", s.blackhole_link, "up")
    if s.kwok_node_ip not in _ip("-4", "addr", "show", "dev", s.blackhole_link).stdout:
        # The simulated nodes' shared address, local to this host, so the API server reaches
        # KWOK's server there for their container logs; a /32 routes nothing else.
        _ip("addr", "add", f"{s.kwok_node_ip}/32", "dev", s.blackhole_link)
    for cidr in (s.pod_cidr, s.service_cidr):
        # Less specific than the bridge's own /24, so only addresses nothing
        # here answers for end up on the dummy link, where they are dropped.
        _ip("route", "replace", cidr, "dev", s.blackhole_link)
    _ensure_forward_rules(s)


def _iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["iptables", "-w", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"network: `iptables {' '.join(args)}` failed: {proc.stderr.strip()}")
    return proc


def _ensure_forward_rules(s: Settings) -> None:
    # Docker sets the FORWARD policy to DROP; pods need pod-to-pod forwarding,
    # and must not reach anything but pods and this host (host traffic is
    # INPUT, not FORWARD, so it is unaffected).
    if _iptables("-n", "-L", FORWARD_CHAIN, check=False).returncode != 0:
        _iptables("-N", FORWARD_CHAIN)
    _iptables("-F", FORWARD_CHAIN)
    _iptables("-A", FORWARD_CHAIN, "-s", s.pod_cidr, "-d", s.pod_cidr, "-j", "ACCEPT")
    _iptables("-A", FORWARD_CHAIN, "-s", s.pod_cidr, "-j", "REJECT")
    _iptables("-A", FORWARD_CHAIN, "-d", s.pod_cidr, "-j", "REJECT")
    if _iptables("-C", "FORWARD", "-j", FORWARD_CHAIN, check=False).returncode != 0:
        _iptables("-I", "FORWARD", "1", "-j", FORWARD_CHAIN)


def teardown_network(s: Settings) -> None:
    """Remove the links, routes and iptables chain that ``setup_network`` created."""
    while _iptables("-C", "FORWARD", "-j", FORWARD_CHAIN, check=False).returncode == 0:
        _iptables("-D", "FORWARD", "-j", FORWARD_CHAIN)
    if _iptables("-n", "-L", FORWARD_CHAIN, check=False).returncode == 0:
        _iptables("-F", FORWARD_CHAIN)
        _iptables("-X", FORWARD_CHAIN)
    for link in (s.bridge, s.blackhole_link):
        if _link_exists(link):
            _ip("link", "delete", link)  # its routes go with it


def mounts_under(*roots: Path) -> list[str]:
    """Return mount points below any of ``roots``, deepest first."""
    prefixes = [str(r.resolve()) + "/" for r in roots]
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if any(point.startswith(p) for p in prefixes):
                points.append(point)
    return sorted(set(points), key=lambda p: p.count("/"), reverse=True)


def unmount_all(*roots: Path) -> list[str]:
    """Unmount everything below ``roots``; return what could not be unmounted."""
    stuck = []
    for point in mounts_under(*roots):
        if subprocess.run(["umount", point], capture_output=True).returncode != 0:
            if subprocess.run(["umount", "-l", point], capture_output=True).returncode != 0:
                stuck.append(point)
    return stuck


def cgroup_dirs(name: str) -> list[Path]:
    """Return ``name`` (e.g. ``kubepods``) in every mounted cgroup hierarchy."""
    dirs = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            fstype = fields[fields.index("-") + 1]
            if fstype in ("cgroup", "cgroup2") and (Path(fields[4]) / name).is_dir():
                dirs.append(Path(fields[4]) / name)
    return dirs


def pids_in_cgroups(roots: list[Path]) -> set[int]:
    pids: set[int] = set()
    for root in roots:
        for procs in root.rglob("cgroup.procs"):
            try:
                pids.update(int(p) for p in procs.read_text().split())
            except OSError:
                pass
    return pids


def remove_cgroups(roots: list[Path]) -> list[Path]:
    """Remove cgroup trees bottom-up; return those still busy."""
    busy = []
    for root in roots:
        for d in sorted((p for p in [root, *root.rglob("*")] if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            try:
                os.rmdir(d)
            except OSError:
                busy.append(d)
    return busy


def netns_names() -> set[str]:
    """Return the named network namespaces (containerd creates its own under /run/netns)."""
    path = Path("/run/netns")
    return {p.name for p in path.iterdir()} if path.exists() else set()


def delete_netns(name: str) -> None:
    run(["ip", "netns", "delete", name], what=f"network namespace {name}")


IPTABLES_COMMANDS = ("iptables", "ip6tables")
IPTABLES_TABLES = ("filter", "nat", "mangle")


def kube_chains() -> list[str]:
    """Return ``command/table/chain`` for every KUBE-* chain (kubelet and kube-proxy create them)."""
    found = []
    for command in IPTABLES_COMMANDS:
        for table in IPTABLES_TABLES:
            proc = subprocess.run([command, "-w", "-t", table, "-S"], capture_output=True, text=True)
            found += [
                f"{command}/{table}/{line.split()[1]}"
                for line in proc.stdout.splitlines()
                if line.startswith("-N KUBE-")
            ]
    return found


def remove_kube_chains(s: Settings) -> None:
    """Delete the KUBE-* chains that appeared after ``up`` (kube-proxy --cleanup leaves the kubelet's)."""
    before = set(recorded(s, "kube_chains_before", []) or [])
    ours = [c.split("/") for c in kube_chains() if c not in before]
    for command, table, chain in ours:
        rules = subprocess.run([command, "-w", "-t", table, "-S"], capture_output=True, text=True).stdout
        for rule in rules.splitlines():
            words = shlex.split(rule)
            if words[:1] == ["-A"] and words[1] != chain and ["-j", chain] == words[-2:]:
                subprocess.run([command, "-w", "-t", table, "-D", *words[1:]], capture_output=True)
    for command, table, chain in ours:
        subprocess.run([command, "-w", "-t", table, "-F", chain], capture_output=True)
    for command, table, chain in ours:
        subprocess.run([command, "-w", "-t", table, "-X", chain], capture_output=True)
