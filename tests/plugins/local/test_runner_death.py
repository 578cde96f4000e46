"""Nothing of a job outlives the process that started it, however that process dies: real processes,
a stand-in for Airflow's task runner (``task_runner_stand_in.py``) killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import psutil
import pytest

from harness.waits import wait_for
from sparkplane.local import guardian
from sparkplane.local.process import StreamingProcess

STAND_IN = Path(__file__).with_name("task_runner_stand_in.py")
PLUGINS = Path(__file__).parents[3] / "plugins"
TEST_JOBS = Path(__file__).parents[2] / "data" / "jobs"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the guardian is Linux only")


def _processes_with(marker: str) -> list[str]:
    """Return the command lines of live processes that carry ``marker``."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        command_line = " ".join(process.info["cmdline"] or ())
        if marker in command_line and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(command_line)
    return found


def _kill_processes_with(marker: str) -> None:
    """Leave nothing behind when a test fails."""
    for process in psutil.process_iter(["cmdline"]):
        if marker in " ".join(process.info["cmdline"] or ()):
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass


def _live(processes: list[psutil.Process]) -> list[str]:
    """Return the command lines of those ``processes`` that still run (not the same pid reused)."""
    live = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                live.append(" ".join(process.cmdline()))
        except psutil.NoSuchProcess:
            pass
    return live


def _start_stand_in(arguments: list[str], output: Path) -> subprocess.Popen[bytes]:
    python_path = [str(PLUGINS), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(python_path)}
    with output.open("wb") as sink:
        return subprocess.Popen([sys.executable, str(STAND_IN), *arguments], stdout=sink, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=str(output.parent))  # fmt: skip


def _wait_for_output(output: Path, words: str, *, timeout_seconds: float) -> None:
    wait_for(output.read_text, lambda text: words in text, timeout_seconds=timeout_seconds,
             what=f"{words!r} in {output}")  # fmt: skip


def _python(code: str, *arguments: str) -> list[str]:
    return [sys.executable, "-c", code, *arguments]


def _run(argv: list[str], tmp_path: Path) -> tuple[int, list[str]]:
    lines: list[str] = []
    result = StreamingProcess(argv, env=dict(os.environ), cwd=str(tmp_path)).run(lines.append)
    return result.exit_code, lines


def test_the_command_exit_code_is_passed_through(tmp_path):
    assert _run(_python("print('done'); raise SystemExit(7)"), tmp_path) == (7, ["done"])


def test_a_command_killed_by_a_signal_exits_with_128_plus_the_signal(tmp_path):
    exit_code, _ = _run(_python("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"), tmp_path)
    assert exit_code == 128 + signal.SIGKILL


def test_sigterm_to_the_guardian_reaches_the_command(tmp_path):
    output = tmp_path / "output"
    command = _python(
        "import signal, sys, time\n"
        "def stop(signum, frame): print('got SIGTERM', flush=True); sys.exit(3)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "print('ready', flush=True)\n"
        "time.sleep(300)\n"
    )
    with output.open("wb") as sink:
        process = subprocess.Popen(guardian.guarded_command(command, parent_pid=os.getpid(), grace_seconds=30),
                                   stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        _wait_for_output(output, "ready", timeout_seconds=30)
        os.kill(process.pid, signal.SIGTERM)  # the guardian alone, not its group
        assert process.wait(timeout=30) == 3
        assert output.read_text().splitlines() == ["ready", "got SIGTERM"]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_a_guardian_whose_parent_is_already_gone_starts_nothing(tmp_path):
    started = tmp_path / "started"
    command = _python("import pathlib, sys; pathlib.Path(sys.argv[1]).touch()", str(started))
    # Pid 1 is not this test: to the guardian, the parent it was told of has died before it ran.
    finished = subprocess.run(guardian.guarded_command(command, parent_pid=1, grace_seconds=30),
                              capture_output=True, text=True, timeout=30)  # fmt: skip
    assert finished.returncode == guardian.NOT_STARTED_EXIT_CODE
    assert "its parent process 1 is gone" in finished.stderr
    assert not started.exists()


def test_processes_left_behind_by_the_command_are_gone_when_run_returns(tmp_path):
    marker = f"marker-{uuid.uuid4()}"
    # The grandchild keeps the output pipe open and would keep run() reading for five minutes.
    command = _python("import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', "
                      "sys.argv[1]]); print('started', flush=True)", marker)  # fmt: skip
    outcome: list[tuple[int, list[str]]] = []
    runner = threading.Thread(target=lambda: outcome.append(_run(command, tmp_path)), daemon=True)
    runner.start()
    runner.join(timeout=60)  # a bound: the command itself ends at once
    try:
        assert not runner.is_alive(), "run() still reads the output the grandchild holds open"
    finally:
        _kill_processes_with(marker)
    assert outcome == [(0, ["started"])]
    assert wait_for(lambda: _processes_with(marker), lambda left: not left, timeout_seconds=10,
                    what=f"no process with {marker}") == []  # fmt: skip


def test_sigkilled_runner_takes_the_command_and_its_children_with_it(tmp_path):
    marker = f"marker-{uuid.uuid4()}"
    output = tmp_path / "output"
    # A child, and a grandchild that ignores SIGTERM: only a SIGKILL of the guardian's ends it.
    grandchild = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"
    child = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', sys.argv[1], sys.argv[2]]); "
             "print('ready', flush=True); time.sleep(300)")  # fmt: skip
    runner = _start_stand_in(["command", "1", "--", *_python(child, grandchild, marker)], output)
    try:
        _wait_for_output(output, "ready", timeout_seconds=30)
        grandchild_line = f"{sys.executable} -c {grandchild} {marker}"
        wait_for(lambda: _processes_with(marker), lambda seen: grandchild_line in seen, timeout_seconds=30,
                 what="the grandchild")  # fmt: skip
        runner.kill()
        runner.wait()
        left = wait_for(lambda: _processes_with(marker), lambda seen: not seen, timeout_seconds=30,
                        what=f"no process with {marker} after the runner was killed")  # fmt: skip
        assert left == []
    finally:
        runner.kill()
        runner.wait()
        _kill_processes_with(marker)


def test_runner_killed_while_stopping_the_job_still_takes_it_down(tmp_path):
    """Airflow's supervisor: SIGTERM (the runner's on_kill starts waiting), SIGKILL five seconds later."""
    marker = f"marker-{uuid.uuid4()}"
    output = tmp_path / "output"
    ignores_sigterm = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                       "print('ready', flush=True); time.sleep(300)")  # fmt: skip
    runner = _start_stand_in(["command", "3", "--", *_python(ignores_sigterm, marker)], output)
    try:
        _wait_for_output(output, "ready", timeout_seconds=30)
        runner.terminate()
        _wait_for_output(output, "stopping the job", timeout_seconds=30)
        runner.kill()  # before its own grace is over, so the SIGKILL after the grace is the guardian's
        runner.wait()
        left = wait_for(lambda: _processes_with(marker), lambda seen: not seen, timeout_seconds=30,
                        what=f"no process with {marker} after the runner was killed while stopping it")  # fmt: skip
        assert left == []
    finally:
        runner.kill()
        runner.wait()
        _kill_processes_with(marker)


def test_sigkilled_runner_leaves_no_spark_process(tmp_path):
    marker = f"marker-{uuid.uuid4()}"
    output = tmp_path / "output"
    runner = _start_stand_in(["spark", str(TEST_JOBS / "waits_with_python_workers.py"), marker], output)
    try:
        _wait_for_output(output, "python workers are up", timeout_seconds=180)
        # Every process of the job, the Python worker daemon included: it puts itself in a process
        # group of its own, so no killpg reaches it, and it carries no job argument to find it by.
        job = psutil.Process(runner.pid).children(recursive=True)
        running = _live(job)
        assert any("guardian.py" in line for line in running), running
        assert any("java" in line and "SparkSubmit" in line for line in running), running
        assert any("pyspark.daemon" in line for line in running), running
        runner.kill()  # as the OOM killer or the supervisor's escalation would
        runner.wait()
        left = wait_for(lambda: _live(job) + _processes_with(marker), lambda seen: not seen, timeout_seconds=60,
                        what="no process of the Spark job after the task runner was killed")  # fmt: skip
        assert left == []
    finally:
        runner.kill()
        runner.wait()
        _kill_processes_with(marker)
