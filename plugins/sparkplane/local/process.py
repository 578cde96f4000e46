"""Run a command as its own process group, stream its output line by line, clean up after it.

Airflow's ``SubprocessHook`` streams output too, but returns only the last line; failure diagnosis
needs the last lines, so this keeps a bounded tail. The command runs in a new session so that the
whole tree (spark-submit, its JVM, the Python driver and workers) can be signalled at once, and any
straggler is killed when the command ends, whatever the outcome.

On Linux the command runs under a guardian (``guardian.py``), the leader of that session, which
ends the tree when this process dies, SIGKILL included: a new session is out of reach of whatever
kills this process, so without it the job would outlive its task.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sparkplane import settings
from sparkplane.local.guardian import guarded_command
from sparkplane.log_lines import LineSplitter

#: Lines kept for diagnosis. A Python traceback through Py4J is rarely longer than this.
TAIL_LINES = 200
#: Bytes read from the job's output at a time.
READ_CHUNK_BYTES = 64 * 1024
#: Whether commands run under the guardian. It needs Linux's parent-death signal; elsewhere the
#: command runs as this process's child, and a SIGKILL of this process leaves it running.
GUARDED = sys.platform.startswith("linux")


@dataclass(frozen=True)
class ProcessResult:
    exit_code: int
    tail: tuple[str, ...]


class StreamingProcess:
    """One command, run to completion with its output passed to ``on_line``.

    :param argv: the command and its arguments.
    :param env: the complete environment of the command.
    :param cwd: working directory of the command.
    :param grace_seconds: how long the command gets to exit after SIGTERM before its group is
        SIGKILLed: by ``terminate``, or by the guardian when this process has died.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: str,
        grace_seconds: float = settings.TERMINATE_GRACE_SECONDS,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.grace_seconds = grace_seconds
        self._process: subprocess.Popen[bytes] | None = None

    def run(self, on_line: Callable[[str], None]) -> ProcessResult:
        """Start the command, stream its merged stdout/stderr to ``on_line``, wait for it."""
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        argv = (
            guarded_command(self.argv, parent_pid=os.getpid(), grace_seconds=self.grace_seconds)
            if GUARDED
            else self.argv
        )
        self._process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
        )
        try:
            assert self._process.stdout is not None
            # In chunks, not lines: output without newlines must not grow this process's memory.
            splitter = LineSplitter()
            while chunk := self._process.stdout.read1(READ_CHUNK_BYTES):
                for line in splitter.feed(chunk):
                    tail.append(line)
                    on_line(line)
            for line in splitter.flush():
                tail.append(line)
                on_line(line)
            exit_code = self._process.wait()
        finally:
            # Whatever happened (success, failure, an exception in on_line), nothing of the
            # job may outlive this call.
            self.kill_group(signal.SIGKILL)
            if self._process.stdout is not None:
                self._process.stdout.close()
        return ProcessResult(exit_code=exit_code, tail=tuple(tail))

    def terminate(self) -> None:
        """Ask the process group to stop, and kill it if it is still there after the grace period."""
        if self._process is None:
            return
        self.kill_group(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        while time.monotonic() < deadline and self._group_alive():
            time.sleep(0.1)
        self.kill_group(signal.SIGKILL)

    def kill_group(self, sig: signal.Signals) -> None:
        if self._process is None:
            return
        try:
            os.killpg(self._process.pid, sig)
        except ProcessLookupError:
            pass

    def _group_alive(self) -> bool:
        assert self._process is not None
        try:
            os.killpg(self._process.pid, 0)
        except ProcessLookupError:
            return False
        self._process.poll()  # reap the leader so a zombie does not count as alive
        return True
