"""A warm job process of the fakes' default execution (``execution="process"``); see :mod:`._pool`.

The process is started once (``python -c ...``, cfut imported) and then runs jobs one after the
other, each as a real node would run it in a process of its own: in the job's working directory,
with its umask, environment and ``sys.path``, its standard output and error in the job's files,
Python's signal dispositions, and its own exit status. Between jobs everything a job could change
in the process state is put back (directory, umask, environment, ``sys.path``, ``sys.argv``,
standard streams, signal handlers, ``atexit`` handlers); a job that leaves a thread or a child
process behind *retires* the process: it kills its own process group (the job's leftovers with
it), as slurmstepd ends what a job left behind. A job that ends the process (``os._exit``, a
signal, a segmentation fault) ends it for real, and its status is the job's; the pool starts
another process.

The protocol (over the socket inherited as the one argument): the test process sends a pickled
:class:`JobSpec`, length-prefixed; the process answers ``(status, clean)``: ``status`` as
``Popen.returncode`` has it (``-N``: killed by signal N), ``clean`` whether it can take another job.
Only the test process that started it talks to it, so pickle is safe here.
"""

from __future__ import annotations

import atexit
import importlib
import io
import os
import pickle
import signal
import socket
import struct
import sys
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ._inline import InlineScript, run_inline

_HEADER = struct.Struct("!I")
# The C module under signal: its getsignal/signal convert no enums (every signal is checked after each job).
_signal: Any = importlib.import_module("_signal")


@dataclass(frozen=True)
class JobSpec:
    """One job for a warm process: the batch shell's commands (or the worker's arguments alone) and
    the process state it runs in (its environment travels beside it, as a difference from the
    process's). ``stderr`` None sends standard error where standard output goes."""

    script: InlineScript | None  # None: the job *is* ``python -m cfut.remote ARGS`` (HTCondor's executable)
    worker_args: tuple[str, ...]
    cwd: str
    umask: int
    stdout: str
    stderr: str | None
    sys_path: tuple[str, ...]
    script_name: str


class Stream(Protocol):
    """Either end of the socket, as a buffered binary file."""

    def read(self, size: int, /) -> bytes: ...

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def send(stream: Stream, message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def receive(stream: Stream) -> Any:
    """The next message, or None when the other end has closed."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)  # noqa: S301 - only our own test process writes to this socket


# ---------------------------------------------------------------------- one job


def _stream(fd: int, *, buffered: bool) -> io.TextIOWrapper:
    """A text stream on ``fd`` as Python sets up standard output (block-buffered, to a file) or
    standard error (line-buffered, ``backslashreplace``); the shell's own writes go straight through."""
    raw = io.FileIO(fd, "w", closefd=False)
    if buffered:
        return io.TextIOWrapper(io.BufferedWriter(raw), encoding="utf-8", errors="strict")
    return io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace", write_through=True)


def _flush(*streams: Any) -> None:
    for stream in streams:
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a stream the job broke or closed: what it wrote is lost
            pass


def _as_python(args: Sequence[str]) -> int:
    """``python -m cfut.remote ARGS`` as the interpreter runs it, in this process: its exit status.

    As in CPython: ``SystemExit`` gives its code (a message is printed, status 1), an uncaught
    ``KeyboardInterrupt`` prints its traceback and kills the process by SIGINT (``-2``), any other
    exception prints its traceback and exits 1; ``atexit`` handlers run and the standard streams are
    flushed at the end. ``os._exit`` and fatal signals end this process for real.
    """
    from .. import _worker

    # block-buffered as Python's stdout to a file is, unless the job's environment says otherwise
    sys.stdout = _stream(1, buffered=not os.environ.get("PYTHONUNBUFFERED"))
    sys.stderr = _stream(2, buffered=False)
    sys.argv = [os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "remote.py"), *args]
    status: int
    try:
        status = _worker.main(list(args)) & 0xFF
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            status = (code or 0) & 0xFF
        else:
            print(code, file=sys.stderr)
            status = 1
    except KeyboardInterrupt:
        traceback.print_exc()
        status = -signal.SIGINT
    except BaseException:  # noqa: BLE001 - the interpreter prints any other exception and exits 1
        traceback.print_exc()
        status = 1
    try:
        atexit._run_exitfuncs()
    finally:
        atexit._clear()
        _flush(sys.stdout, sys.stderr)
    return status


def _python_in_child(args: Sequence[str]) -> int:
    """A python command the shell waits for (no ``exec``): a child process of its own."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child ends with os._exit or a signal
        status = 1
        try:
            status = _as_python(args)
            if status < 0:  # die of it, as the interpreter does of SIGINT
                signal.signal(-status, signal.SIG_DFL)
                os.kill(os.getpid(), -status)
        finally:
            os._exit(status if status >= 0 else 1)
    _, wait_status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(wait_status)


def set_environ(env: dict[str, str]) -> None:
    """Make ``os.environ`` exactly ``env``, changing only the variables that differ (a job's
    environment is mostly the worker's: each putenv counts, thousands of jobs over)."""
    current = os.environ
    for name in [name for name in current if name not in env]:
        del current[name]
    for name, value in env.items():
        if current.get(name) != value:
            current[name] = value


def run_job(spec: JobSpec, env: dict[str, str]) -> int:
    """Set the process up as the job's (``env``: its environment) and run it; its status (``-N``:
    killed by signal N)."""
    os.umask(spec.umask)
    set_environ(env)
    sys.path[:] = spec.sys_path
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    out = os.open(spec.stdout, flags, 0o666)
    err = os.open(spec.stderr, flags, 0o666) if spec.stderr is not None else out
    os.dup2(out, 1)
    os.dup2(err, 2)
    for fd in {out, err}:
        os.close(fd)
    shell_out, shell_err = _stream(1, buffered=False), _stream(2, buffered=False)
    sys.stdout, sys.stderr = shell_out, shell_err
    try:
        os.chdir(spec.cwd)
    except OSError as exc:
        shell_err.write(f"{spec.script_name}: cannot change to {spec.cwd}: {exc.strerror}\n")
        return 1
    if spec.script is None:
        return _as_python(spec.worker_args)
    return run_inline(spec.script, env=env, out=shell_out, err=shell_err, run_worker=_python_in_child,
                      exec_worker=_as_python, script_name=spec.script_name)


# ---------------------------------------------------------------------- the process


class _Baseline:
    """What the process looked like before its first job, to put back after each."""

    def __init__(self) -> None:
        self.path = list(sys.path)
        self.argv = list(sys.argv)
        self.environ = dict(os.environ)
        self.umask = os.umask(0o022)
        os.umask(self.umask)
        self.signals: dict[int, Any] = {}
        for signum in signal.valid_signals():
            if signum in (signal.SIGKILL, signal.SIGSTOP):
                continue
            try:
                self.signals[int(signum)] = _signal.getsignal(signum)
            except (OSError, ValueError):
                continue
        self.streams = sys.stdout, sys.stderr

    def restore(self, devnull: int) -> None:
        for signum, handler in self.signals.items():
            if _signal.getsignal(signum) is handler:
                continue
            try:
                _signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
            except (OSError, ValueError, TypeError):
                continue
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        sys.stdout, sys.stderr = self.streams
        os.chdir("/")
        os.umask(self.umask)
        sys.path[:] = self.path
        sys.argv[:] = self.argv
        atexit._clear()


def _clean() -> bool:
    """Whether the job left nothing running: no thread but this one, no child process."""
    if threading.active_count() > 1:
        return False
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if pid == 0:
            return False  # a child still runs


def main(fd: int) -> None:
    """Serve jobs on the inherited socket ``fd`` until the test process closes it."""
    if os.getpgid(0) != os.getpid():
        os.setsid()  # a process group of its own: a job's signal reaches what it started, and only that
    devnull = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(devnull, target)
    sys.stdout = sys.stderr = _stream(1, buffered=False)
    from .. import _worker  # noqa: F401 - warm: every job runs it

    baseline = _Baseline()
    with socket.socket(fileno=fd) as sock, sock.makefile("rwb") as stream:
        while True:
            message = receive(stream)
            if message is None:
                return
            spec, changed, removed = message  # the environment as a difference from this process's
            env = dict(baseline.environ)
            for name in removed:
                del env[name]
            env.update(changed)
            try:
                status = run_job(spec, env)
            except BaseException:  # noqa: BLE001 - a failure of the set-up itself: the job's status 1
                with open(2, "w", closefd=False) as err:
                    err.write(traceback.format_exc())
                status = 1
            _flush(sys.stdout, sys.stderr)
            clean = _clean()
            baseline.restore(devnull)
            send(stream, (status, clean))
            if not clean:
                os.killpg(0, signal.SIGKILL)  # the job's leftovers, and this process with them


if __name__ == "__main__":  # pragma: no cover - started by the pool
    main(int(sys.argv[1]))
