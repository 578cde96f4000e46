"""Start, find and stop the cluster's processes.

Each process started by ``up`` gets a pid file in the run directory; ``down``
stops exactly those pids (after checking the pid still runs the same binary),
never processes found by name.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

MAX_LOG_BYTES = 50 * 1024**2


class ComponentError(RuntimeError):
    """A component failed to start or become ready; the message names its log."""

    def __init__(self, component: str, problem: str, log: Path | None) -> None:
        where = f"\n  log: {log}{_tail(log)}" if log else ""
        super().__init__(f"{component}: {problem}{where}")
        self.component = component
        self.log = log


def _tail(log: Path | None, lines: int = 12) -> str:
    if not log or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return "\n" + "\n".join("    " + line for line in text)


class Processes:
    """Pid-file bookkeeping for one cluster.

    :param run_dir: where pid files live.
    :param log_dir: where each component's combined stdout/stderr goes.
    """

    def __init__(self, run_dir: Path, log_dir: Path) -> None:
        self.run_dir = run_dir
        self.log_dir = log_dir

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def _pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def running_pid(self, name: str) -> int | None:
        """Return the pid recorded for ``name`` if it still runs the recorded binary."""
        pid_file = self._pid_file(name)
        if not pid_file.exists():
            return None
        pid_text, exe = pid_file.read_text().splitlines()[:2]
        pid = int(pid_text)
        try:
            # A recycled pid would run another program: compare the binary.
            if os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)") != exe.strip():
                return None
        except OSError:
            return None
        return pid

    def _recorded_fingerprint(self, name: str) -> str:
        lines = self._pid_file(name).read_text().splitlines()
        return lines[2] if len(lines) > 2 else ""

    def start(self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None, config: str = "") -> int:
        """Start ``argv`` in its own session unless it already runs; return its pid.

        A running process whose command line, extra ``env`` or ``config`` (the
        text of its config files) differs from this call is restarted, so that a second
        ``up`` with other settings takes effect.
        """
        extra_env = sorted((env or {}).items())
        fingerprint = hashlib.sha256("\0".join([*argv, config, repr(extra_env)]).encode()).hexdigest()
        pid = self.running_pid(name)
        if pid and self._recorded_fingerprint(name) == fingerprint:
            return pid
        if pid:
            print(f"up: restarting {name}: its command line or configuration changed", flush=True)
            self.stop(name)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path(name)
        if log.exists() and log.stat().st_size > MAX_LOG_BYTES:
            log.replace(log.with_suffix(".log.1"))  # keep one older log, so state does not grow forever
        with log.open("ab") as out:
            out.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(argv)}\n".encode())
            out.flush()
            try:
                proc = subprocess.Popen(
                    list(argv),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env={**os.environ, **(env or {})},
                )
            except OSError as e:
                raise ComponentError(name, f"could not execute {argv[0]}: {e}", log) from e
        exe = os.path.realpath(argv[0]) if os.sep in argv[0] else _which(argv[0])
        self._pid_file(name).write_text(f"{proc.pid}\n{exe}\n{fingerprint}\n")
        return proc.pid

    def wait_ready(
        self, name: str, is_ready: Callable[[], bool], *, timeout_seconds: float, what: str = "ready"
    ) -> None:
        """Poll ``is_ready`` until true; fail naming the log if the process dies or time runs out."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self._pid_file(name).exists() and not self.running_pid(name):
                raise ComponentError(name, "exited during start-up", self.log_path(name))
            try:
                if is_ready():
                    return
            except Exception:  # noqa: BLE001 - any failure of a probe means "not yet"
                pass
            time.sleep(0.5)
        raise ComponentError(name, f"not {what} after {timeout_seconds:.0f}s", self.log_path(name))

    def stop(self, name: str, *, timeout_seconds: float = 20) -> bool:
        """Stop the recorded process (TERM, then KILL); return whether one was running."""
        pid = self.running_pid(name)
        if not pid:
            self._pid_file(name).unlink(missing_ok=True)
            return False
        stop_pid(pid, timeout_seconds=timeout_seconds)
        self._pid_file(name).unlink(missing_ok=True)
        return True

    def recorded(self) -> list[str]:
        return sorted(p.stem for p in self.run_dir.glob("*.pid")) if self.run_dir.exists() else []


def stop_pid(pid: int, *, timeout_seconds: float = 20) -> None:
    """Send SIGTERM, wait, then SIGKILL if the process is still there."""
    for sig, wait in ((signal.SIGTERM, timeout_seconds), (signal.SIGKILL, 5)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        # Reap it if it is our child; a zombie still answers kill(0).
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _which(program: str) -> str:
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(directory) / program
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate.resolve())
    return program


def run(argv: Sequence[str], *, what: str, log: Path | None = None, input: str | None = None) -> str:
    """Run a short command; on failure raise a ComponentError with its output."""
    proc = subprocess.run(list(argv), input=input, capture_output=True, text=True)
    if proc.returncode != 0:
        if log:
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("a") as f:
                f.write(f"$ {' '.join(argv)}\n{proc.stdout}{proc.stderr}")
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise ComponentError(what, f"`{' '.join(argv)}` failed ({proc.returncode}): " + " | ".join(detail), log)
    return proc.stdout


@contextlib.contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock, so concurrent `up`/`down` runs take turns instead of racing."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
