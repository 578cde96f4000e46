"""Stands in for Airflow's task runner process in kill tests: runs one command or one Spark job in
its main thread, as the task runner runs ``execute``, and on SIGTERM stops it from the signal
handler, as the task runner calls ``on_kill``.

``python task_runner_stand_in.py command <grace seconds> -- <argv>`` runs ``StreamingProcess``;
``python task_runner_stand_in.py spark <job file> <argument>`` runs ``LocalLauncher``. Output goes
to this process's stdout, which the tests point at a file they read.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable


def main(argv: list[str]) -> int:
    mode, *rest = argv
    if mode == "command":
        from sparkplane.local.process import StreamingProcess

        grace_seconds, separator, *command = rest
        assert separator == "--", "usage: command <grace seconds> -- <argv>"
        process = StreamingProcess(command, env=dict(os.environ), cwd=os.getcwd(), grace_seconds=float(grace_seconds))
        _on_sigterm(process.terminate)
        return process.run(on_line=lambda line: print(line, flush=True)).exit_code
    if mode == "spark":
        from sparkplane.job_spec import SparkJobSpec
        from sparkplane.local.launcher import LocalLauncher

        application, argument = rest
        logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
        spec = SparkJobSpec(application=application, name="sparkplane-test", arguments=(argument,))
        launcher = LocalLauncher(log=logging.getLogger("task"))
        _on_sigterm(launcher.stop)
        launcher.run(spec)
        return 0
    raise SystemExit(f"unknown mode {mode!r}: use 'command' or 'spark'")


def _on_sigterm(stop: Callable[[], None]) -> None:
    def handle(signum: int, frame: object) -> None:
        print("stopping the job", flush=True)
        stop()

    signal.signal(signal.SIGTERM, handle)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
