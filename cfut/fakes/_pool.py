"""The fakes' default execution (``execution="process"``): jobs run in warm processes of their own.

A job's batch script (or HTCondor executable) runs in a separate process, never in the test process:
its exit status, the signal that killed it, what it prints, its umask, working directory,
environment and ``sys.path`` are its own, as on a real node; a job that calls ``os._exit``, dies of
a segmentation fault or raises ``KeyboardInterrupt`` is an ordinary failed job, and the test process
goes on. Time stays virtual: the job runs when its virtual end comes (as ``"inline"`` jobs do), and
the fake waits (really) for it to finish before it goes on, up to :data:`PATIENCE` real seconds
without any job ending; a job still running after that keeps running as a live process (as
``"subprocess"`` jobs do).

Speed: starting a Python process per job is what costs (tens of milliseconds to import cfut), so
the pool keeps *warm servers* (:mod:`._jobworker`): each is started once with cfut imported and
forks a child per job from its pristine state. Each job is a fresh process, as on a real node:
nothing one job does to its interpreter (a module-level global, a monkeypatch, an edited module,
``setrlimit``, ``tzset``) reaches another, and what a job leaves running is killed when it ends. A
fork of the small server and its teardown cost about a millisecond of CPU per job
(``bench/bench_fakes.py``). ``execution="subprocess"`` runs each job's batch script as a new process
instead, the closest to a node, and slower.

The pool is shared by every fake of the test process, started on first use and stopped at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import os
import select
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from . import _host
from ._jobworker import JobSpec, Stream, receive, send
from ._process import start_python, wait_for

#: One job for the pool: what to run, and the job's environment.
Job = tuple[JobSpec, dict[str, str]]

#: How long (real seconds) a fake waits for a job's process at the job's virtual end before it lets
#: the job go on running as a live process.
PATIENCE = 2.0

#: How long (real seconds) a server may take to report a job it has killed before it is killed too.
_ANSWER = 10.0

_BOOT = ("import sys, json; sys.path[:] = json.loads(sys.argv[1]); "
         "from cfut.fakes._jobworker import main; main(int(sys.argv[2]))")


#: How long (real seconds) the submit command waits for other jobs' scripts at their virtual end
#: when none ends: it shows no job's state, so a long script must not hold it up (the real one
#: returns at once), while a stream of short ones still ends on time, width at a time.
SUBMIT_PATIENCE = 0.1

_override = threading.local()


def patience(seconds: float) -> contextlib.AbstractContextManager[None]:
    """Within (in this thread): :meth:`WorkerPool.run` waits ``seconds`` instead of :data:`PATIENCE`."""
    return _host.thread_setting(_override, "seconds", seconds)


class _SocketStream:
    """Our end of a server's socket as a :class:`Stream`, unbuffered: what ``select`` says is
    readable is all there is (a buffered reader could hold a second message ``select`` cannot see)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def read(self, size: int, /) -> bytes:
        chunks: list[bytes] = []
        while size > 0:
            chunk = self.sock.recv(size, socket.MSG_WAITALL)
            if not chunk:
                break
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def write(self, data: bytes, /) -> int:
        self.sock.sendall(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.sock.close()


class _Worker:
    """One warm job server and our end of its socket."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        path = [package_root, *(p for p in sys.path if p != package_root)]
        #: The environment it starts with: a job's is sent as the difference from it (a few variables
        #: rather than all of them, thousands of jobs over).
        self.environ = _host.environ()
        try:
            self.proc = start_python(_BOOT, [json.dumps(path), str(theirs.fileno())], (theirs.fileno(),),
                                     env=self.environ)
        finally:
            theirs.close()
        self.sock = ours
        self.stream: Stream = _SocketStream(ours)
        self.pid = self.proc.pid
        #: The process of the job it runs, once it has said so (also that job's process group).
        self.job_pid: int | None = None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def kill(self) -> int:
        """SIGKILL it and the job it runs, with everything in the job's process group; reap it; its
        exit status."""
        for group in (self.job_pid, self.pid):
            if group is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(group, signal.SIGKILL)
        status = self.proc.wait()
        self.close()
        return status


class PooledJob:
    """One job running in a process forked by a warm server: what the fakes hold as a job's process
    (see :class:`~cfut.fakes._process.JobProcess` for the protocol)."""

    def __init__(self, pool: WorkerPool, worker: _Worker) -> None:
        self._pool = pool
        self._worker: _Worker | None = worker
        self._pid: int | None = None
        self.status: int | None = None

    @property
    def pid(self) -> int:
        """The job's process (and process group), as the server tells it when it has forked it."""
        while self._pid is None and self._worker is not None:
            self._read()
        return self._pid if self._pid is not None else -1

    def fileno(self) -> int:
        assert self._worker is not None
        return self._worker.sock.fileno()

    def _read(self) -> None:
        """Take the server's next message (waiting for it): the job's process, or its status."""
        worker = self._worker
        assert worker is not None
        try:
            reply = receive(worker.stream)
        except OSError:
            reply = None
        if reply is None:  # the server is gone (killed with the job): the job's status is its
            self.status = worker.kill()
            self._worker = None
            return
        kind, value = reply
        if kind == "started":
            self._pid = worker.job_pid = value
            return
        self.status = value
        worker.job_pid = None
        self._worker = None
        self._pool.give_back(worker)

    def poll(self) -> int | None:
        """The exit status (negative: killed by that signal), or None while it runs."""
        return self.wait(0)

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait (really) up to ``timeout`` seconds for the job to end; its status, or None."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.status is None and self._worker is not None:
            if self._worker.sock.fileno() < 0:
                # the pool was closed under it (interpreter exit): the server killed the job
                status = self._worker.proc.poll()
                self.status = -signal.SIGKILL if status is None else status
                self._worker = None
                break
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            readable, _, _ = select.select([self._worker.sock], [], [], left)
            if not readable:
                break
            self._read()
        return self.status

    def _group(self) -> int | None:
        """The job's process group while it runs, else None."""
        if self.status is not None or self._worker is None:
            return None
        pid = self.pid
        return pid if pid > 0 and self.status is None else None

    def signal_group(self, signum: int) -> None:
        """Send a signal to every process of the job (its process group)."""
        group = self._group()
        if group is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signum)

    def signal_shell(self, signum: int) -> None:
        """Send a signal to the job's first process alone (``scancel --batch``: the batch shell)."""
        group = self._group()
        if group is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(group, signum)

    def kill_leftovers(self) -> None:
        """Nothing to do: the server kills what a job left in its process group when it ends."""

    def kill_and_reap(self) -> int:
        """End the job now (SIGKILL, its whole process group), whatever it does; its status. The
        server reaps it and stays warm; one that does not answer is killed with it."""
        self.signal_group(signal.SIGKILL)
        if self.wait(_ANSWER) is None and self._worker is not None:
            self.status = self._worker.kill()
            self._worker = None
        return self.status if self.status is not None else -signal.SIGKILL

    def cleanup(self) -> None:
        """Nothing is left on disk for a pooled job."""


class WorkerPool:
    """Warm job processes, started on demand and reused (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: deque[_Worker] = deque()
        self._all: list[_Worker] = []
        self._closed = False
        self.started = 0  # processes started, for the benchmark

    @property
    def width(self) -> int:
        """How many processes the pool keeps, and so how many jobs run at once (more wait for one to
        free up, unless their patience runs out)."""
        return (os.cpu_count() or 2) + 2

    def _take(self, *, only_free: bool = False) -> _Worker | None:
        """An idle process, else a new one (None with ``only_free`` when the pool is full)."""
        with self._lock:
            while self._idle:
                worker = self._idle.pop()  # the last given back: sequential jobs share one server
                if worker.proc.poll() is None:
                    return worker
                worker.close()
            self._all = [w for w in self._all if w.proc.returncode is None]
            if only_free and len(self._all) >= self.width:
                return None
            worker = _Worker()
            self._all.append(worker)
            self.started += 1
            return worker

    def give_back(self, worker: _Worker) -> None:
        """A server whose job ended: kept idle, or stopped when :attr:`width` are idle already (a burst
        of jobs that ran at once, beyond their patience, does not keep its servers)."""
        with self._lock:
            keep = not self._closed and len(self._idle) < self.width
            if keep:
                self._idle.append(worker)
            else:
                self._all = [w for w in self._all if w is not worker]
        if not keep:
            worker.close()  # an idle server ends when its socket closes
            if wait_for(worker.proc, 1.0) is None:
                worker.kill()

    def start(self, job: Job, *, only_free: bool = False) -> PooledJob | None:
        """Run one job (its spec and environment) in a warm process; returns at once. With
        ``only_free``, only if a process is free (or the pool may grow): None otherwise."""
        worker = self._take(only_free=only_free)
        if worker is None:
            return None
        try:
            send(worker.stream, _message(job, worker.environ))
        except OSError:  # it died while idle: another one
            worker.kill()
            worker = self._take()
            assert worker is not None
            send(worker.stream, _message(job, worker.environ))
        return PooledJob(self, worker)

    def _start(self, job: Job) -> PooledJob:
        started = self.start(job)
        assert started is not None
        return started

    def run(self, items: Sequence[Job | PooledJob], patience: float | None = None) -> list[PooledJob]:
        """Run these jobs (a spec is started here, a job already started is waited for), at most
        :attr:`width` at a time, waiting (really) until every one has ended or ``patience`` seconds
        (default :data:`PATIENCE`, or what :func:`patience` says) have passed without one ending;
        then those not begun yet start without waiting. The jobs, in order."""
        if patience is None:
            override = getattr(_override, "seconds", None)
            patience = PATIENCE if override is None else override
        jobs: list[PooledJob | None] = [item if isinstance(item, PooledJob) else None for item in items]
        running: list[PooledJob] = [job for job in jobs if job is not None and job.status is None]
        waiting = deque(i for i, job in enumerate(jobs) if job is None)
        deadline = time.monotonic() + patience
        while waiting or running:
            while waiting and len(running) < self.width:
                index = waiting.popleft()
                item = items[index]
                assert not isinstance(item, PooledJob)
                job = jobs[index] = self._start(item)
                running.append(job)
            left = deadline - time.monotonic()
            if left <= 0:
                break
            readable, _, _ = select.select(running, [], [], left)
            for job in readable:
                job.poll()
            if any(job.status is not None for job in running):
                # patience runs out only when nothing ends: a long queue of short jobs that keeps
                # moving is run width at a time, not all at once in new processes
                deadline = time.monotonic() + patience
            running = [job for job in running if job.status is None]
        for index in waiting:
            item = items[index]
            assert not isinstance(item, PooledJob)
            jobs[index] = self._start(item)
        return [job for job in jobs if job is not None]

    def close(self) -> None:
        """Stop every process (at exit)."""
        with self._lock:
            self._closed = True
            workers, self._all = self._all, []
            self._idle.clear()
        for worker in workers:
            worker.close()  # an idle process ends when its socket closes
        for worker in workers:
            if wait_for(worker.proc, 1.0) is None:
                worker.kill()


def _message(job: Job, base: dict[str, str]) -> tuple[JobSpec, dict[str, str], tuple[str, ...]]:
    """The job as sent: its environment as the variables that differ from the process's, and those
    it has not (set operations on the dictionaries' views: no Python loop over every variable)."""
    spec, env = job
    return spec, dict(env.items() - base.items()), tuple(base.keys() - env.keys())


_pool: WorkerPool | None = None
_pool_lock = threading.Lock()


def pool() -> WorkerPool:
    """The process-wide pool, started on first use."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = WorkerPool()
        return _pool


def _close_at_exit() -> None:
    if _pool is not None:
        _pool.close()


def _forget_in_child() -> None:
    """A forked child of the test process does not own the pool: its exit must not stop the servers
    (it shares their sockets and would shut them down), and fakes it makes get a pool of their own."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_in_child)


# Registered when the fakes are imported, before any executor installs its exit hook (cfut._lifecycle):
# atexit runs hooks last-in first-out, so executors cancel their jobs before the processes go.
atexit.register(_close_at_exit)


def run_cut_short(job: Job, until: float, worker_seconds: float, *, in_process: bool,
                  here: Callable[[], object]) -> None:
    """A job killed ``until`` seconds after it started, whose script (``job``'s, in the tiny shell) was
    to run at its end: run what the script had reached by then (``JobSpec.until``). A worker it had
    finished runs in a warm process unless ``in_process``; builtins alone run ``here()`` (the caller
    runs the script in this process, up to ``until``)."""
    spec, env = job
    assert spec.script is not None
    if in_process or not spec.script.reaches_worker(until, worker_seconds):
        here()
    else:
        pool().run([(dataclasses.replace(spec, until=until, worker_seconds=worker_seconds), env)])
