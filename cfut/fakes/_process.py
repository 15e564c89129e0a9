"""Batch scripts run as real processes (``execution="subprocess"``), the way slurmd would run them.

The script is written to a private spool directory (as slurmd keeps ``job<ID>/slurm_script``) and run
by the interpreter named on its ``#!`` line, in its own session so that a signal reaches every
process the script started, like a job's cgroup or process group on a real node.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from typing import IO, Any


def start_process(
    argv: Sequence[str],
    *,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
    new_session: bool = True,
) -> subprocess.Popen[bytes]:
    """Start a process without waiting for it, in its own session: how the fakes run jobs."""
    return subprocess.Popen(
        list(argv), cwd=cwd, env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL,
        stdout=stdout, stderr=stderr, start_new_session=new_session,
    )


#: For ``stderr=`` of :func:`start_process`: send it where stdout goes.
STDOUT = subprocess.STDOUT

#: Raised by ``Popen.wait(timeout)`` of a process from :func:`start_process`.
WaitTimeout = subprocess.TimeoutExpired


def interpreter(script: str) -> list[str]:
    """The ``#!`` line split on whitespace, as the kernel would (near enough) run it."""
    first = script.split("\n", 1)[0]
    return first[2:].split()


class BatchProcess:
    """One running batch script; owns its process and the spool file of its script."""

    def __init__(
        self,
        *,
        script: str,
        script_args: Sequence[str],
        spool_dir: str,
        name: str,
        cwd: str,
        env: Mapping[str, str],
        stdout: IO[bytes],
        stderr: IO[bytes] | None,
    ) -> None:
        self.path = os.path.join(spool_dir, name)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700)
        with os.fdopen(fd, "w") as handle:
            handle.write(script)
        argv = [*interpreter(script), self.path, *script_args]
        self.proc = start_process(argv, cwd=cwd, env=env, stdout=stdout,
                                  stderr=stderr if stderr is not None else STDOUT)
        self.pid = self.proc.pid

    def poll(self) -> int | None:
        return self.proc.poll()

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the process to exit; None if it is still running after ``timeout`` seconds."""
        try:
            return self.proc.wait(timeout)
        except WaitTimeout:
            return None

    def signal_group(self, signum: int) -> None:
        """Send a signal to every process of the job (its session's process group)."""
        if self.proc.returncode is not None:
            return
        try:
            os.killpg(self.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass  # already gone (a zombie group leader may refuse: nothing left to signal)

    def signal_shell(self, signum: int) -> None:
        """Send a signal to the batch shell alone (``scancel --batch``)."""
        if self.proc.returncode is not None:
            return
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def kill_leftovers(self) -> None:
        """SIGKILL what the script left behind (``sleep 100 &``): slurmstepd ends every process of a
        job when its batch script exits. The group outlives its leader while it has members, so its
        id cannot have been reused."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def kill_and_reap(self) -> int:
        """SIGKILL the whole job and wait for the shell (``end_job``: the node took it away)."""
        self.signal_group(signal.SIGKILL)
        return self.proc.wait()

    def cleanup(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
