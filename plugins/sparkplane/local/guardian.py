"""A guardian between the task runner and spark-submit: the job's process tree dies with the runner.

``StreamingProcess`` starts spark-submit in a session of its own, so that one ``killpg`` reaches
spark-submit, its JVM and the Python driver and workers the JVM starts. The price: nothing ties
that session to the task runner. Airflow's supervisor signals the runner's process group, not
ours, and when the runner is SIGKILLed (the OOM killer, or the supervisor escalating to SIGKILL
five seconds after SIGTERM while ``on_kill`` still waits) nobody is left to signal the job, which
then runs on beside the task's retry and writes the same output.

So the runner starts this guardian instead (``guarded_command``), in the new session as before,
and the guardian starts spark-submit as its child in the same process group:

- It asks Linux for a parent-death signal: ``prctl(PR_SET_PDEATHSIG, SIGTERM)``. The kernel sends
  it whenever the parent dies, SIGKILL included; no polling, no pipe to watch. The guardian then
  checks ``getppid()`` against the pid the runner passed: a parent that died before ``prctl``
  would never send the signal.
- On SIGTERM, whoever sent it, it sends SIGTERM to its whole group, once (the runner's
  ``terminate`` signals the group too; a second SIGTERM changes nothing for the JVM or Python).
  While the runner lives, the runner owns the escalation: ``terminate`` SIGKILLs the group after
  its grace, and run() reads the job's exit code. When the SIGTERM finds the parent gone, the
  guardian escalates itself: SIGKILL to the group when the grace, counted from the first SIGTERM,
  is over. Nobody reads its exit code then, so killing itself along with the group is fine.
- When spark-submit exits, it SIGKILLs whatever is left in its group (a Python driver whose JVM
  was killed keeps the output pipe open and would keep the runner reading), then exits with
  spark-submit's exit code; a signal death ``-N`` becomes ``128 + N``, as a shell reports it and
  as ``diagnosis.py`` expects (137 for SIGKILL, 143 for SIGTERM).

PySpark's Python worker daemon moves itself into a process group of its own (``setpgid`` in
``pyspark/daemon.py``), out of reach of any ``killpg``, ours or the runner's. It needs none: it
exits, and SIGHUPs its workers, when its stdin, a pipe from the JVM, closes, that is when the JVM
dies.

Which thread's death counts: the parent-death signal fires when the *thread* that forked the
guardian exits, not only the process. Airflow 3.3's task runner calls ``execute`` in its main
thread (``task_runner.py``: ``_execute_task`` calls ``_run_execute_callable`` directly, and it
installs its SIGTERM handler and ``execution_timeout``'s SIGALRM there, which Python allows only
in the main thread), and ``StreamingProcess.run`` blocks in the forking thread until the guardian
has exited; so in practice the signal means the runner process died.

Why a separate interpreter rather than a forked copy of the runner: it costs about 20 ms, and a
fresh ``python -I`` (isolated: no PYTHONPATH, no user site, no script folder on ``sys.path``)
holds none of the runner's threads, sockets or locks. Standard library only, for that reason.
Linux only: ``PR_SET_PDEATHSIG`` has no portable equivalent (``process.py`` runs the command
without a guardian elsewhere).

Not covered: a SIGKILL of the guardian itself (it holds no memory worth an OOM kill); the runner,
while alive, still kills the group.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

#: ``PR_SET_PDEATHSIG`` from ``<linux/prctl.h>``.
PR_SET_PDEATHSIG = 1
#: Signal the kernel sends the guardian when its parent dies; handled like any SIGTERM.
PARENT_DEATH_SIGNAL = signal.SIGTERM
#: Added to a signal's number for the exit code of a command killed by it, as a shell does.
SIGNAL_EXIT_OFFSET = 128
#: Exit code when the guardian did not start the command: its parent was already gone, or Linux
#: refused the parent-death signal.
NOT_STARTED_EXIT_CODE = 1
#: Exit code when the command itself cannot be run (missing, not executable), as a shell reports it.
CANNOT_RUN_EXIT_CODE = 127


def guarded_command(argv: Sequence[str], *, parent_pid: int, grace_seconds: float) -> list[str]:
    """Return the command line that runs ``argv`` under a guardian tied to process ``parent_pid``."""
    guardian = str(Path(__file__).resolve())
    return [sys.executable, "-I", guardian, "--parent-pid", str(parent_pid), "--grace-seconds", repr(grace_seconds),
            "--", *argv]  # fmt: skip


class Guardian:
    """Runs one command as its child and ends the command's whole process group when told to or orphaned.

    :param argv: the command and its arguments.
    :param parent_pid: the process whose death ends the command (the task runner).
    :param grace_seconds: how long the command gets after SIGTERM before the orphaned guardian
        SIGKILLs the group; counted from the first SIGTERM.
    """

    def __init__(self, argv: Sequence[str], *, parent_pid: int, grace_seconds: float) -> None:
        self.argv = list(argv)
        self.parent_pid = parent_pid
        self.grace_seconds = grace_seconds
        self._group = os.getpgrp()
        self._stop_requested_at: float | None = None
        self._orphaned = False

    def run(self) -> int:
        """Run the command to its end; return its exit code, ``128 + N`` for a death by signal N."""
        # Handlers first: the parent-death signal may come as soon as prctl returns.
        signal.signal(signal.SIGTERM, self._on_sigterm)
        signal.signal(signal.SIGALRM, self._on_grace_over)
        try:
            ask_for_parent_death_signal(PARENT_DEATH_SIGNAL)
        except OSError as error:
            report(f"{error}; the command was not started. Linux refused the parent-death signal.")
            return NOT_STARTED_EXIT_CODE
        if os.getppid() != self.parent_pid:
            report(f"its parent process {self.parent_pid} is gone; the command was not started.")
            return NOT_STARTED_EXIT_CODE
        try:
            # Inherits stdin, stdout, stderr, environment, working directory and process group.
            child = subprocess.Popen(self.argv)
        except OSError as error:
            report(f"cannot run {self.argv[0]}: {error.strerror}. Check that it exists and is executable.")
            return CANNOT_RUN_EXIT_CODE
        if self._stop_requested_at is not None:
            # A SIGTERM that reached the child between fork and exec was lost with Python's
            # handler at exec; send it again now that the command runs.
            os.killpg(self._group, signal.SIGTERM)
        exit_code = child.wait()
        kill_rest_of_group(self._group)
        return exit_code if exit_code >= 0 else SIGNAL_EXIT_OFFSET - exit_code

    def _on_sigterm(self, signum: int, frame: object) -> None:
        if self._stop_requested_at is None:
            self._stop_requested_at = time.monotonic()
            # The group includes this process: the SIGTERM it gets back finds the stop recorded.
            os.killpg(self._group, signal.SIGTERM)
        if not self._orphaned and os.getppid() != self.parent_pid:
            self._orphaned = True
            remaining_seconds = self.grace_seconds - (time.monotonic() - self._stop_requested_at)
            if remaining_seconds > 0:
                signal.setitimer(signal.ITIMER_REAL, remaining_seconds)
            else:
                self._on_grace_over(signal.SIGALRM, None)

    def _on_grace_over(self, signum: int, frame: object) -> None:
        os.killpg(self._group, signal.SIGKILL)


def report(message: str) -> None:
    """Write ``message`` to the job's output (the task log), if anyone still reads it."""
    try:
        print(f"sparkplane guardian: {message}", file=sys.stderr, flush=True)
    except OSError:  # the runner, and with it the pipe's reader, is gone
        pass


def ask_for_parent_death_signal(sig: signal.Signals) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies; raise OSError if it refuses."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(errno)}")


def kill_rest_of_group(group: int) -> None:
    """SIGKILL every live process of process group ``group`` except this one, including any forked meanwhile."""
    signalled: set[int] = set()
    while fresh := [pid for pid in live_group_members(group) if pid not in signalled]:
        for pid in fresh:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        signalled.update(fresh)


def live_group_members(group: int) -> list[int]:
    """Return the pids of process group ``group``, except this process and zombies, read from /proc."""
    me = os.getpid()
    members = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            stat = Path("/proc", name, "stat").read_bytes()
        except OSError:  # exited meanwhile
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ')'.
        state, _ppid, pgrp = stat.rpartition(b")")[2].split()[:3]
        if int(pgrp) == group and state not in (b"Z", b"X"):
            members.append(int(name))
    return members


def main(argv: Sequence[str]) -> int:
    """Parse ``--parent-pid P --grace-seconds G -- command...`` and run the command under a guardian."""
    parser = argparse.ArgumentParser(prog="sparkplane guardian", description=__doc__.splitlines()[0])
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--grace-seconds", type=float, required=True)
    argv = list(argv)
    separator = argv.index("--") if "--" in argv else len(argv)
    options = parser.parse_args(argv[:separator])
    command = argv[separator + 1 :]
    if not command:
        parser.error("give the command to run after '--'")
    return Guardian(command, parent_pid=options.parent_pid, grace_seconds=options.grace_seconds).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
