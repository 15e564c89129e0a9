"""A warm job server of the fakes' default execution (``execution="process"``); see :mod:`._pool`.

The server is started once (``python -c ...``, cfut imported) and never runs a job itself: for each
job it forks a child, which runs the job as a real node would, in a process of its own: in the
job's working directory, with its umask, environment and ``sys.path``, its standard output and error
in the job's files, Python's signal dispositions, its own process group and its own exit status.
Each child starts from the server's pristine state, so nothing a job does (a module global, a
monkeypatch, an edited module it imported, ``setrlimit``, ``tzset``) reaches the next job. When the
child ends, what it left running in its process group is killed, as slurmstepd ends a job's
leftovers; the server adopts and reaps them (a child subreaper).

The protocol (over the socket inherited as the one argument): the test process sends a pickled
:class:`JobSpec` with the job's environment, length-prefixed; the server answers
``("started", pid)`` at once (the job's process, also its process group: where the test process
sends the job's signals), then ``("ended", status)``, ``status`` as ``Popen.returncode`` has it
(``-N``: killed by signal N). If the test process closes the socket while a job runs, the server
kills the job and exits. Only the test process that started it talks to it, so pickle is safe here.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import pickle
import select
import signal
import socket
import struct
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from . import _host
from ._inline import InlineScript, run_inline, uncaught_traceback

_HEADER = struct.Struct("!I")


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
    #: The job was killed this long (seconds) after it started: run what its script had reached by
    #: then, a worker taking ``worker_seconds`` (see :func:`~cfut.fakes._inline.run_inline`).
    until: float | None = None
    worker_seconds: float = 0.0


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


#: Variables the interpreter reads once, at start-up: a job whose environment sets one to another value
#: than the warm server started with gets a fresh interpreter (a server's children share its state;
#: a job that leaves them unset runs as the server started, with its str hash seed).
STARTUP_VARIABLES = (
    "PYTHONHASHSEED", "PYTHONOPTIMIZE", "PYTHONWARNINGS", "PYTHONDONTWRITEBYTECODE", "PYTHONIOENCODING",
    "PYTHONUTF8", "PYTHONDEVMODE", "PYTHONFAULTHANDLER", "PYTHONMALLOC", "PYTHONSAFEPATH", "PYTHONNOUSERSITE",
    "PYTHONHOME", "PYTHONPLATLIBDIR", "PYTHONINTMAXSTRDIGITS", "PYTHONTRACEMALLOC", "PYTHONPYCACHEPREFIX",
    "PYTHONNODEBUGRANGES", "PYTHONPROFILEIMPORTTIME", "PYTHONVERBOSE", "PYTHONINSPECT",
)
_SERVER_STARTUP: dict[str, str | None] = {}  # the server's values of STARTUP_VARIABLES (set by main)


def _as_python(args: Sequence[str]) -> int:
    """``python -m cfut.remote ARGS`` as the interpreter runs it, in this process: its exit status.

    As in CPython: ``SystemExit`` gives its code (a message is printed, status 1), an uncaught
    ``KeyboardInterrupt`` prints its traceback and kills the process by SIGINT (``-2``), any other
    exception prints its traceback and exits 1; ``atexit`` handlers run and the standard streams are
    flushed at the end. ``os._exit`` and fatal signals end this process for real. A job whose
    environment sets a :data:`STARTUP_VARIABLES` value the server has not (``PYTHONHASHSEED=0``, ...)
    execs a fresh interpreter instead, which reads them as a node's would.
    """
    command = [sys.executable, "-m", "cfut.remote", *args]
    if _SERVER_STARTUP and any(os.environ.get(name) not in (None, _SERVER_STARTUP.get(name))
                               for name in STARTUP_VARIABLES):
        _flush(sys.stdout, sys.stderr)
        os.execv(sys.executable, command)
    from .. import _worker

    sys.orig_argv = command  # what `ps` and the job would see of the command line

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
    except KeyboardInterrupt as exc:
        sys.stderr.write(uncaught_traceback(exc))
        status = -signal.SIGINT
    except BaseException as exc:  # noqa: BLE001 - the interpreter prints any other exception and exits 1
        sys.stderr.write(uncaught_traceback(exc))
        status = 1
    threading = sys.modules.get("threading")
    if threading is not None:  # as the interpreter ends: it waits for the job's non-daemon threads first
        try:
            threading._shutdown()
        except BaseException as exc:  # noqa: BLE001 - a thread's own failure was printed by the thread
            sys.stderr.write(uncaught_traceback(exc))
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
                      exec_worker=_as_python, script_name=spec.script_name, until=spec.until,
                      worker_seconds=spec.worker_seconds)


# ---------------------------------------------------------------------- the process


def _become_subreaper() -> None:
    """Adopt the job's orphans (``PR_SET_CHILD_SUBREAPER``, Linux): what a job leaves running when it
    ends becomes this process's child, so that it is reaped here, not left a zombie under init.
    Elsewhere nothing: the orphans are killed all the same (by process group), and init reaps them."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _child(spec: JobSpec, env: dict[str, str], fd: int) -> None:  # pragma: no cover - ends with os._exit
    """The job's process, forked from the pristine server: run the job, end with its status."""
    status = 1
    try:
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)  # a process group of its own: a job's signal reaches what it started, and only that
        os.close(fd)  # the server's socket is not the job's
        status = run_job(spec, env)
        _flush(sys.stdout, sys.stderr)
        if status < 0:  # die of it, as the interpreter does of SIGINT
            signal.signal(-status, signal.SIG_DFL)
            os.kill(os.getpid(), -status)
    except BaseException:  # noqa: BLE001 - a failure of the set-up itself: the job's status 1
        with contextlib.suppress(Exception):
            os.write(2, traceback.format_exc().encode())
        status = 1
    finally:
        os._exit(status if status >= 0 else 1)


def _ended(pid: int) -> bool:
    """Whether the job's process has ended, leaving it unreaped (a zombie keeps its process group's
    id from being reused while its leftovers are killed)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _wait_for(pid: int, sock: socket.socket) -> bool:
    """Wait for the job's process to end (True), or for the test process to close the socket (False)."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # no pidfd (Linux before 5.3): look at it every few milliseconds
        while not _ended(pid):
            readable, _, _ = select.select([sock], [], [], 0.005)
            if readable:
                return False
        return True
    try:
        while True:
            ready, _, _ = select.select([pidfd, sock.fileno()], [], [])
            if sock.fileno() in ready:  # nothing comes while a job runs: the test process has gone
                return False
            if _ended(pid):
                return True
    finally:
        os.close(pidfd)


def _end_job(pid: int) -> int:
    """The job's process has ended (or must): kill everything it left behind, as slurmstepd ends a
    job's processes (its cgroup): what is left in its process group, and what left the group (a new
    session, a double fork), which this process adopted as the job's subreaper; reap them all. The
    job's exit status (``-N``: killed by signal N)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    _, wait_status = os.waitpid(pid, 0)
    while True:  # this process runs one job at a time: every child it has now is that job's
        children = _host.children(os.getpid())
        for child in children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child, signal.SIGKILL)
        for child in children:  # (what a killed one had started is adopted now: listed next time)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child, 0)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:  # zombies of any that ended by themselves
                pass
        if not children:
            return os.waitstatus_to_exitcode(wait_status)


def main(fd: int) -> None:
    """Serve jobs on the inherited socket ``fd`` until the test process closes it."""
    if os.getpgid(0) != os.getpid():
        os.setsid()  # a session of its own: no terminal's signals
    devnull = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(devnull, target)
    os.close(devnull)
    sys.stdout = sys.stderr = _stream(1, buffered=False)
    import cloudpickle  # noqa: F401 - warm: a job whose function came by value (from __main__) loads it

    from .. import _worker  # noqa: F401 - warm: every job runs it

    _become_subreaper()
    _SERVER_STARTUP.update({name: os.environ.get(name) for name in STARTUP_VARIABLES})
    with socket.socket(fileno=fd) as sock, sock.makefile("rwb") as stream:
        while True:
            message = receive(stream)
            if message is None:
                return
            spec, changed, removed = message  # the environment as a difference from this process's
            env = dict(os.environ)
            for name in removed:
                del env[name]
            env.update(changed)
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the job
                _child(spec, env, fd)
            with contextlib.suppress(OSError):
                os.setpgid(pid, pid)  # as the child does: whichever comes first, the group exists now
            send(stream, ("started", pid))
            ended = _wait_for(pid, sock)
            status = _end_job(pid)
            if not ended:
                return
            send(stream, ("ended", status))


if __name__ == "__main__":  # pragma: no cover - started by the pool
    main(int(sys.argv[1]))
