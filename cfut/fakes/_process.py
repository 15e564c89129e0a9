"""Job processes of the fakes (``execution="subprocess"``): the one place that starts and kills them.

A job runs in its own session, so that a signal reaches every process its script started, like a
job's cgroup on a real node (slurmstepd, HTCondor's starter). FakeSlurm writes the batch script to a
private spool directory first (as slurmd keeps ``job<ID>/slurm_script``) and runs it with the
interpreter named on its ``#!`` line; FakeCondor runs the job's executable with its arguments.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO, Any, Protocol

from . import _host

_deferral = threading.local()


def deliver(act: Callable[[], object]) -> None:
    """What slurmd/slurmstepd do to a job's processes (a signal, its CANCELLED line): now, or, while
    a command from a process on PATH is answered (:func:`after_the_reply`), once that process has
    gone. A job's own ``scancel``/``scontrol requeue`` returns before its job is signalled, as the
    real one does (slurmctld replies, then slurmd signals): it is never killed before its reply."""
    queue = getattr(_deferral, "queue", None)
    if queue is None:
        act()
    else:
        queue.append(act)


@contextlib.contextmanager
def after_the_reply() -> Iterator[list[Callable[[], object]]]:
    """Within (in this thread): :func:`deliver` queues what it is given in the list this yields."""
    queue: list[Callable[[], object]] = []
    with _host.thread_setting(_deferral, "queue", queue):
        yield queue


class JobHandle(Protocol):
    """A running job as the fakes hold it: a :class:`JobProcess` (``execution="subprocess"``) or a job
    in a warm process (:class:`~cfut.fakes._pool.PooledJob`, ``execution="process"``)."""

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int | None: ...

    def signal_group(self, signum: int) -> None: ...

    def signal_shell(self, signum: int) -> None: ...

    def kill_leftovers(self) -> None: ...

    def kill_and_reap(self) -> int: ...

    def cleanup(self) -> None: ...


def start_process(
    argv: Sequence[str],
    *,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
    new_session: bool = True,
    pass_fds: Sequence[int] = (),
    umask: int = -1,
) -> subprocess.Popen[bytes]:
    """Start a process without waiting for it, by default in its own session; ``pass_fds`` stay
    open in it (under the same numbers); ``umask`` (unless -1) is its umask."""
    return subprocess.Popen(
        list(argv), cwd=cwd, env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL,
        stdout=stdout, stderr=stderr, start_new_session=new_session, pass_fds=tuple(pass_fds), umask=umask,
    )


def start_python(code: str, args: Sequence[str], pass_fds: Sequence[int],
                 env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``python -c CODE ARGS...`` in a session of its own, its standard streams on /dev/null,
    ``pass_fds`` inherited (the fakes' warm job processes)."""
    return start_process([sys.executable, "-c", code, *args], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, pass_fds=pass_fds)


def wait_for(proc: subprocess.Popen[bytes], timeout: float | None) -> int | None:
    """Wait up to ``timeout`` seconds for ``proc`` to exit; its status, or None if it still runs."""
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def interpreter(script: str) -> list[str]:
    """The ``#!`` line split on whitespace, as the kernel would (near enough) run it."""
    first = script.split("\n", 1)[0]
    return first[2:].split()


class JobProcess:
    """One running job: its process group, and the spool file of its script if it has one.

    ``stderr=None`` sends standard error where standard output goes.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: str,
        env: Mapping[str, str],
        stdout: IO[bytes],
        stderr: IO[bytes] | None,
        script_path: str | None = None,
        umask: int = -1,
    ) -> None:
        self.path = script_path
        self.proc = start_process(argv, cwd=cwd, env=env, stdout=stdout,
                                  stderr=stderr if stderr is not None else subprocess.STDOUT, umask=umask)
        self.pid = self.proc.pid

    @classmethod
    def from_script(
        cls,
        *,
        script: str,
        script_args: Sequence[str],
        spool_dir: str,
        name: str,
        cwd: str,
        env: Mapping[str, str],
        stdout: IO[bytes],
        stderr: IO[bytes] | None,
        umask: int = -1,
    ) -> JobProcess:
        """Write ``script`` to ``spool_dir/name`` (mode 0700) and run it by its ``#!`` line, with
        ``umask`` (unless -1)."""
        path = os.path.join(spool_dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700)
        with os.fdopen(fd, "w") as handle:
            handle.write(script)
        return cls([*interpreter(script), path, *script_args], cwd=cwd, env=env, stdout=stdout, stderr=stderr,
                   script_path=path, umask=umask)

    def poll(self) -> int | None:
        """The exit status (negative: killed by that signal), or None while it runs."""
        return self.proc.poll()

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait (really) for the process to exit; None if it still runs after ``timeout`` seconds."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
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
        """Send a signal to the job's first process alone (``scancel --batch``: the batch shell)."""
        if self.proc.returncode is not None:
            return
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def kill_leftovers(self) -> None:
        """SIGKILL what the job left behind (``sleep 100 &``): slurmstepd and HTCondor's starter end
        every process of a job when it exits. The group outlives its leader while it has members,
        so its id cannot have been reused."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def kill_and_reap(self) -> int:
        """SIGKILL the whole job and wait for its first process; its exit status."""
        self.signal_group(signal.SIGKILL)
        return self.proc.wait()

    def cleanup(self) -> None:
        """Remove the spool file of the script, if any."""
        if self.path is None:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
