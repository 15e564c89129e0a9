"""FakeScheduler: what FakeSlurm and FakeCondor share, defined once.

A fake scheduler is a :class:`cfut._runner.CommandRunner` over a model of a cluster. This base
class holds everything that is not Slurm or HTCondor: the command dispatch table, the record of
calls and refusals, fault injection, the clock and how the model moves along it, waiting for job
processes, and the lifetime. A subclass supplies its commands (argv in, :class:`CommandResult`
out) and its model (what happens up to a given time, and when the next thing will).

Where jobs run: the executions
------------------------------
Every fake runs its jobs in one of three ways, with one meaning on every fake:

``"process"`` (the default)
    Each job runs in a process of its own, never in the test process: its exit status, the signal
    that killed it, its output files, umask, working directory, environment and ``sys.path`` are
    its own, as on a real node (``os._exit``, a segmentation fault or ``KeyboardInterrupt`` in a job
    make an ordinary failed job). Time stays virtual: a job runs for ``job_duration`` (plus its
    script's ``sleep``) on the fake's clock, and its script runs when that end comes, in a process
    forked for it from a warm server (each job starts from the server's pristine interpreter, and
    what it leaves running is killed when it ends); the fake waits for it there (until
    ``cfut.fakes._pool.PATIENCE`` real seconds pass with no job ending, after which a job still
    running goes on as a live process; the submit command, which shows no job's state, waits only
    ``cfut.fakes._pool.SUBMIT_PATIENCE``). Scripts run with the tiny shell of :mod:`._inline`; one
    that it does not model runs as a real process, as under ``"subprocess"``.
``"inline"``
    The same virtual time, with the script run *in the test process* when its end comes (an
    explicit opt-in for property tests: fastest, no process at all). A job's ``KeyboardInterrupt``,
    ``SystemExit`` and ``os._exit`` still end the job as they would end a real one, and its prints
    (from the thread running it) go to its files; scripts outside the tiny shell are refused.
``"subprocess"``
    Every batch script (HTCondor executable) runs for real, as a fresh process, in real time.

Time: the progressions
----------------------
Every fake runs on a :class:`~cfut.fakes.FakeClock` of one of three progressions, with one meaning
on every fake:

``"manual"``
    Virtual time that moves only when the test says so (:meth:`FakeScheduler.advance`,
    :meth:`~FakeScheduler.sleep`).
``"immediate"``
    Virtual time that follows the real clock plus every jump the fake made. Every command first
    lets every due thing happen; then a *status* command (squeue, sacct, scontrol show;
    condor_q, condor_history), when nothing was due and no job process is alive, jumps the clock to
    the next event (a job that may start, an inline job's end), so that polling makes jobs progress
    without anyone waiting. Live job processes (``execution="subprocess"``, or a ``"process"`` job that
    outlived its patience) still take real time: the clock does not jump while one runs.
``"realtime"``
    The real clock; nothing jumps, and a ticker thread lets the model progress on its own.

A client that learns of jobs without asking (cfut reads HTCondor's job event log, and runs no
status command for jobs it hears from) still waits through the fake: the executor's monitor waits
with :meth:`FakeScheduler.wait`, which moves an immediate clock. (Until the executor waited so,
FakeCondor's ticker moved its clock by itself; it no longer does: both fakes' time means the same.)

In every progression a command sees what happened strictly *before* the moment it runs (a job
submitted at time 0 still pends for a status command at time 0: the scheduler's pass comes after),
and :meth:`~FakeScheduler.advance`, :meth:`~FakeScheduler.sleep` and :meth:`~FakeScheduler.wait`
process everything up to and including their end.

The time protocol
-----------------
The executor's monitor thread asks the runner for time when the runner offers it, so that tests
never wait for a virtual clock: ``runner.clock()`` (the time, in seconds), ``runner.sleep(s)`` (let
``s`` seconds pass) and ``runner.wait(event, s)`` (let ``s`` seconds pass, or less if ``event`` is
set; returns ``event.is_set()``). See those methods for what each progression does.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from .._runner import CommandResult
from ._clock import FakeClock, Progression
from ._cluster import FakeCluster
from ._errors import FakeUnsupported
from ._pool import SUBMIT_PATIENCE, patience
from ._shims.ticker import Ticker

#: How often (real seconds) a waiting fake looks whether a job process has ended.
_PROCESS_POLL = 0.01
#: How long (real seconds) ``wait`` on an immediate clock lets pass when the fake is quiet (no job
#: pending, running or ending: nothing happens without a new command) before it moves the clock:
#: a poller that has nothing to learn then polls 50 times a second at most, not as fast as it can.
_QUIET_WAIT = 0.02
#: How long (real seconds) :meth:`FakeScheduler.queue` on an immediate clock waits for job processes
#: that are ending before it answers.
_INSPECT_GRACE = 0.5
EXECUTIONS = ("process", "inline", "subprocess")


_Fake = TypeVar("_Fake", bound="FakeScheduler")


class Handler(Protocol):
    """One command of a fake: its argv (argv[0] is the command's name) in, its result out."""

    def __call__(self, argv: tuple[str, ...], *, input: str | None, env: Mapping[str, str] | None,
                 cwd: str | None) -> CommandResult: ...


class Snapshot(Protocol):
    """What every fake's ``job()`` returns at least: the id in the scheduler's naming, and the state
    by the scheduler's name for it (Slurm's ``PENDING``, HTCondor's ``IDLE``, ...)."""

    @property
    def job_id(self) -> str: ...

    @property
    def state(self) -> str: ...


class _Waitable(Protocol):
    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int | None: ...


@dataclass(frozen=True)
class _Failure:
    stdout: str | None
    stderr: str | None
    returncode: int
    lose_reply: bool


class FakeScheduler:
    """The base of the fake schedulers (see the module docstring for time and the time protocol).

    Subclasses set :attr:`COMMANDS`, :attr:`STATUS_COMMANDS` and :attr:`SUBMIT_COMMAND`, return
    their dispatch table from :meth:`_command_table` and implement the model hooks
    (:meth:`_settle`, :meth:`_jump_target`, :meth:`_live_processes`, :meth:`_default_failure`,
    :meth:`_shutdown`) and the inspection methods (:meth:`queue`, :meth:`jobs`, :meth:`job`).
    Every public method is thread-safe: the cluster's one re-entrant lock guards the model.
    """

    #: The commands this fake answers, by name.
    COMMANDS: tuple[str, ...] = ()
    #: The commands that report state (these may jump an immediate clock).
    STATUS_COMMANDS: frozenset[str] = frozenset()
    #: The command that queues jobs (the one whose reply ``fail_next(lose_reply=True)`` loses).
    SUBMIT_COMMAND: str = ""

    def __init__(self, *, cluster: FakeCluster, execution: str) -> None:
        if execution not in EXECUTIONS:
            raise ValueError(f"execution must be 'process', 'inline' or 'subprocess', not {execution!r}")
        self.cluster = cluster
        self.execution = execution
        self._clock: FakeClock = cluster.clock
        self._lock = cluster.lock
        #: Every command run, as argv tuples, in order.
        self.calls: list[tuple[str, ...]] = []
        #: How many times each command ran.
        self.command_counts: Counter[str] = Counter()
        #: (argv, message) of every command the fake refused (:class:`FakeUnsupported`), in order.
        self.refused: list[tuple[tuple[str, ...], str]] = []
        self._failures: dict[str, deque[_Failure]] = {name: deque() for name in self.COMMANDS}
        self._commands: Mapping[str, Handler] = self._command_table()
        self._settled_changes = 0  # what the settling before the current command changed
        self._ticker: Ticker | None = None
        self._closed = False

    # ------------------------------------------------------------------ for subclasses

    def _command_table(self) -> Mapping[str, Handler]:
        """The dispatch table: command name -> handler."""
        raise NotImplementedError

    def _settle(self, target: float) -> int:
        """Let everything due at or before clock time ``target`` happen, in order; count the changes."""
        raise NotImplementedError

    def _jump_target(self) -> float | None:
        """Where an immediate clock may jump when nothing is due: the next start or inline end."""
        raise NotImplementedError

    def _live_processes(self) -> Sequence[_Waitable]:
        """The job processes still alive (or not yet reaped)."""
        raise NotImplementedError

    def _quiet(self) -> bool:
        """Whether nothing would happen without a new command: no job pending, running or ending."""
        raise NotImplementedError

    def _default_failure(self, command: str) -> tuple[str, str]:
        """(stdout, stderr) of ``command`` failing as a busy or unreachable scheduler makes it fail."""
        raise NotImplementedError

    def _shutdown(self) -> None:
        """Kill job processes still running and remove what the fake keeps on disk."""
        raise NotImplementedError

    def queue(self) -> list[str]:
        """Ids of the jobs pending, running or held, in the scheduler's own naming and order."""
        raise NotImplementedError

    def jobs(self) -> Sequence[Snapshot]:
        """Snapshots of every job the fake knows, in submission order."""
        raise NotImplementedError

    def job(self, job_id: str | int) -> Snapshot:
        """A snapshot of one job; ``KeyError`` if the fake does not know it."""
        raise NotImplementedError

    # ------------------------------------------------------------------ the runner protocol

    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        """Run one command against the model and return what the real command would.

        ``timeout`` is accepted and unused: the fake answers at once (a test wanting a failure
        injects one with :meth:`fail_next`). Raises :class:`FakeUnsupported` (recorded in
        :attr:`refused`) for a command, option or input the fake does not model.
        """
        argv = tuple(argv)
        handler = self._commands.get(os.path.basename(argv[0])) if argv else None
        if handler is None:
            message = (f"{type(self).__name__} models {', '.join(self.COMMANDS)}, "
                       f"not {argv[0] if argv else 'an empty command'!r}")
            self.refused.append((argv, f"FakeUnsupported: {message}"))
            raise FakeUnsupported(message)
        name = os.path.basename(argv[0])
        with self._lock:
            self._ensure_ticker()
            self.calls.append(argv)
            self.command_counts[name] += 1
            # the submit command shows no job's state: it hardly waits for other jobs' scripts
            with patience(SUBMIT_PATIENCE) if name == self.SUBMIT_COMMAND else contextlib.nullcontext():
                self._settled_changes = self._settle(self._horizon())
            queued = self._failures[name]
            try:
                if queued:
                    failure = queued.popleft()
                    if failure.lose_reply:
                        handler(argv, input=input, env=env, cwd=cwd)  # the jobs are queued, the reply is lost
                    return self._failure_result(argv, name, failure)
                return handler(argv, input=input, env=env, cwd=cwd)
            except FakeUnsupported as exc:
                self.refused.append((argv, f"FakeUnsupported: {exc}"))
                raise

    def _failure_result(self, argv: tuple[str, ...], name: str, failure: _Failure) -> CommandResult:
        stdout, stderr = self._default_failure(name)
        stdout = failure.stdout if failure.stdout is not None else stdout
        stderr = failure.stderr if failure.stderr is not None else stderr
        if "{id}" in stderr:
            first = next((a for a in argv[1:] if not a.startswith("-")), "0")
            stderr = stderr.replace("{id}", first)
        return CommandResult(argv, failure.returncode, stdout, stderr)

    def _status_refresh(self) -> None:
        """What a status command does before it reads the model (see the module docstring): in
        immediate progression, when nothing was due and no job process is alive, jump the clock
        to the next event and let it happen."""
        changes = self._settled_changes + self._settle(self._horizon())
        self._settled_changes = 0
        self._catch_up(changes)

    def _settle_for_inspection(self) -> None:
        """Before :meth:`queue` answers on an immediate clock: job processes that are ending (their
        results written) are waited for, up to :data:`_INSPECT_GRACE` real seconds, then the model
        is brought up to date as a status command would (which may move the clock to the next
        event), so that a job whose script has ended is not reported running only because nothing
        polled since. Call it without the lock."""
        if self._clock.progression != "immediate":
            return
        deadline = time.monotonic() + _INSPECT_GRACE
        while True:
            with self._lock:
                alive = list(self._live_processes())
            left = deadline - time.monotonic()
            if not alive or left <= 0:
                break
            alive[0].wait(min(left, _PROCESS_POLL))
        with self._lock:
            self._status_refresh()

    def _catch_up(self, changes: int) -> None:
        """In immediate progression, when nothing was due (``changes == 0``) and no job process is
        alive, jump the clock to the next event and let it happen."""
        if self._clock.progression != "immediate" or changes or self._live_processes():
            return
        target = self._jump_target()
        if target is None:
            return
        self._clock.jump(max(0.0, target - self._clock.now()))
        self._settle(self._clock.now())

    def _horizon(self) -> float:
        """What a command may see: everything strictly before now."""
        return math.nextafter(self._clock.now(), -math.inf)

    # ------------------------------------------------------------------ fault injection

    def fail_next(self, command: str, times: int = 1, *, stderr: str | None = None, returncode: int = 1,
                  lose_reply: bool = False, stdout: str | None = None) -> None:
        """The next ``times`` runs of ``command`` fail with exit status ``returncode``.

        ``stderr`` and ``stdout`` default to what the real command prints when the scheduler is busy
        or unreachable (a ``{id}`` in ``stderr`` becomes the command's first job id). With
        ``lose_reply=True`` (the submit command only) the jobs are queued anyway: the reply was
        lost. Raises ``ValueError`` for another command, a negative ``times`` or ``lose_reply``
        on a command that submits nothing.
        """
        if command not in self.COMMANDS:
            raise ValueError(f"command must be one of {', '.join(self.COMMANDS)}, not {command!r}")
        if lose_reply and command != self.SUBMIT_COMMAND:
            raise ValueError(f"lose_reply=True applies to {self.SUBMIT_COMMAND} only, not {command}")
        if times < 0:
            raise ValueError(f"times must not be negative, got {times!r}")
        with self._lock:
            self._failures[command].extend(_Failure(stdout, stderr, returncode, lose_reply) for _ in range(times))

    # ------------------------------------------------------------------ time

    @property
    def progression(self) -> Progression:
        """``"immediate"``, ``"manual"`` or ``"realtime"`` (see the module docstring)."""
        return self._clock.progression

    def clock(self) -> float:
        """The fake's time in seconds (virtual unless ``progression="realtime"``)."""
        return self._clock.now()

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` (virtual seconds) pass: at once on a virtual clock, processing what falls
        due (:meth:`advance`); really on the realtime clock. Raises ``ValueError`` if negative."""
        if seconds < 0:
            raise ValueError(f"time does not go backwards (asked to sleep {seconds} s)")
        if not self._clock.virtual:
            time.sleep(seconds)
            return
        self.advance(seconds)

    def advance(self, seconds: float = 0.0) -> None:
        """Move a virtual clock ``seconds`` forward, processing every event up to and including the
        new time, in order; ``advance(0)`` processes what is due now. Raises ``ValueError`` if
        ``seconds`` is negative, ``RuntimeError`` for a positive move of the realtime clock."""
        if seconds < 0:
            raise ValueError(f"time does not go backwards (asked to advance {seconds} s)")
        if seconds and not self._clock.virtual:
            raise RuntimeError('advance() needs a virtual clock (progression="manual" or "immediate")')
        with self._lock:
            if seconds:
                self._clock.jump(seconds)
            self._settle(self._clock.now())

    def tick(self) -> None:
        """Let everything due by now happen (what a controller does on its own: reap ended job
        processes, start what their CPUs allow, end jobs due). It never moves the clock."""
        with self._lock:
            self._settle(self._horizon())

    def join(self, timeout: float | None = None) -> bool:
        """Wait really (without polling) until no job process is alive, and account for their ends.

        Jobs that start because others ended are waited for too. Returns False if ``timeout`` real
        seconds passed first, True otherwise. Nothing moves a manual clock meanwhile: a job that
        only ends at its time limit needs :meth:`advance` instead.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                self._settle(self._horizon())
                processes = list(self._live_processes())
            if not processes:
                return True
            for process in processes:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                if process.wait(left) is None:
                    return False

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Let ``seconds`` pass on this fake's clock, or less if ``event`` is set; ``event.is_set()``.

        Realtime and manual: ``event.wait(seconds)`` in real time (a manual clock moves only when the
        test says). Immediate: when no job process is alive, jump the clock by ``seconds``
        (processing what falls due) and return at once, except that a quiet fake (nothing pending,
        running or ending) first waits a few real milliseconds for ``event``, so that an idle poller
        does not spin; when a job process is alive, wait really, up to ``seconds``, returning early
        when ``event`` is set or a job process ends (accounted for).
        """
        if seconds < 0:
            raise ValueError(f"time does not go backwards (asked to wait {seconds} s)")
        if event.is_set():
            return True
        if self._clock.progression != "immediate":
            return event.wait(seconds)
        with self._lock:
            alive = list(self._live_processes())
            quiet = not alive and self._quiet()
        if quiet and event.wait(min(seconds, _QUIET_WAIT)):
            return True
        if not alive:
            self.advance(seconds)
            return event.is_set()
        deadline = time.monotonic() + seconds
        while not event.is_set() and not any(p.poll() is not None for p in alive):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            event.wait(min(left, _PROCESS_POLL))
        self.tick()
        return event.is_set()

    def _ensure_ticker(self) -> None:
        """On the realtime clock the model progresses on its own: start the ticker once."""
        if self._ticker is not None or self._closed:
            return
        if self._clock.progression == "realtime":
            self._ticker = Ticker(self).start()

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Stop the ticker, kill job processes still running and remove what the fake keeps on disk."""
        self._closed = True
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.close()
        with self._lock:
            self._shutdown()

    def __enter__(self: _Fake) -> _Fake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

