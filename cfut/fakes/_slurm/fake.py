"""FakeSlurm: an in-process Slurm 22.05 for tests, behind cfut's command-runner seam.

It answers ``sbatch``, ``squeue``, ``sacct``, ``scontrol`` and ``scancel`` with the bytes the real
commands print, from a model of a small cluster: FIFO scheduling of CPUs on nodes, job arrays, time
limits, purging of finished jobs from the controller after MinJobAge, and accounting. Batch scripts
run either in this process (``execution="inline"``: a tiny shell interpreter that runs the cfut
worker in-process) or as real processes (``execution="subprocess"``).

Time is virtual unless asked otherwise (see :mod:`cfut.fakes.clock`), so tests never sleep. Only the
status commands (squeue, sacct, scontrol), :meth:`FakeSlurm.advance`, :meth:`FakeSlurm.sleep` and
:meth:`FakeSlurm.join` move the model forward; ``sbatch`` and ``scancel`` act on the state as it is,
as a submission or cancellation does not wait for the scheduler. A status command shows everything
that happened strictly *before* the moment it runs: a job submitted at virtual time 0 is still
pending for a squeue at time 0, and starts once time has moved on, as a real job waits for the
scheduler's next pass.

Anything the fake does not model raises :class:`~cfut.fakes.FakeUnsupported` instead of guessing.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import itertools
import math
import os
import shutil
import signal as signal_module
import sys
import tempfile
import time
import traceback
import weakref
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TextIO

from ..._runner import CommandResult
from .._cluster import FakeCluster
from .._errors import FakeUnsupported
from .._getopt import GetoptError, Option, OptionTable, Parsed
from .._inline import InlineScript, parse_inline, run_inline
from .._process import BatchProcess
from . import messages
from .model import (
    END_DEFAULTS,
    SQUEUE_STATE_ORDER,
    STATE_CODES,
    JobSnapshot,
    Outcome,
    StepRecord,
    Submission,
    Task,
)
from .options import MODELLED, SBATCH_OPTIONS, directive_words, last_values
from .render import (
    SACCT_ALL_FIELDS,
    SACCT_DEFAULT_FORMAT,
    SACCT_FIELDS,
    SQUEUE_DEFAULT_FORMAT,
    Context,
    SacctField,
    SacctLine,
    parse_squeue_format,
    rows,
    sacct_text,
    scontrol_record,
    scontrol_text,
    squeue_lines,
    squeue_sort_key,
    std_paths,
)
from .values import (
    ArraySpec,
    JobRef,
    compress_hostlist,
    expand_filename,
    parse_array,
    parse_job_ref,
    parse_memory_mb,
    parse_signal,
    parse_slurm_date,
    parse_time_limit,
    slurm_date,
)

COMMANDS = ("sbatch", "squeue", "sacct", "scancel", "scontrol")

# Slurm's own words for the transient failures a busy or restarting controller causes.
DEFAULT_FAILURES: Mapping[str, str] = MappingProxyType({
    "sbatch": "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation\n",
    "squeue": "slurm_load_jobs error: Socket timed out on send/recv operation\n",
    "scontrol": "slurm_load_jobs error: Socket timed out on send/recv operation\n",
    "sacct": "sacct: error: Problem talking to the database: Connection refused\n",
    "scancel": "scancel: error: Kill job error on job id {id}: Socket timed out on send/recv operation\n",
})

NOT_A_BATCH_SCRIPT = messages.NOT_A_BATCH_SCRIPT
INVALID_JOB_ID = f"slurm_load_jobs error: {messages.INVALID_JOB_ID}\n"
LAUNCH_FAILED = 53  # the signal field of ExitCode when slurmstepd cannot set a job up (0:53)

# squeue shows these without --states (squeue(1): "pending, running and completing by default").
_DEFAULT_SQUEUE_STATES = frozenset({"PENDING", "RUNNING", "COMPLETING", "SUSPENDED", "CONFIGURING"})
# Signals whose default action is to do nothing: a shell that receives one goes on.
_IGNORED_SIGNALS = frozenset({signal_module.SIGCHLD, signal_module.SIGURG, signal_module.SIGWINCH,
                              signal_module.SIGCONT})
_STOPPING_SIGNALS = frozenset({signal_module.SIGSTOP, signal_module.SIGTSTP, signal_module.SIGTTIN,
                               signal_module.SIGTTOU})


def _options(*specs: tuple[str, str | None, str]) -> OptionTable:
    return OptionTable(Option(long, short, arity) for long, short, arity in specs)  # type: ignore[arg-type]


# The options of the other commands: those modelled, then real ones refused as not modelled.
SQUEUE_OPTIONS = _options(
    ("noheader", "h", "none"), ("states", "t", "required"), ("jobs", "j", "required"),
    ("format", "o", "required"), ("name", "n", "required"), ("user", "u", "required"),
    ("array", "r", "none"), ("me", None, "none"), ("all", "a", "none"), ("partition", "p", "required"),
    ("hide", None, "none"),
    ("Format", "O", "required"), ("long", "l", "none"), ("sort", "S", "required"),
    ("iterate", "i", "required"), ("clusters", "M", "required"), ("steps", "s", "optional"),
    ("verbose", "v", "none"), ("nodelist", "w", "required"), ("account", "A", "required"),
    ("qos", "q", "required"), ("reservation", "R", "required"), ("licenses", "L", "required"),
    ("priority", "P", "none"), ("start", None, "none"), ("version", "V", "none"), ("help", None, "none"),
    ("usage", None, "none"), ("array-unique", None, "none"), ("federation", None, "none"),
    ("local", None, "none"), ("sibling", None, "none"), ("json", None, "none"), ("yaml", None, "none"),
    ("noconvert", None, "none"), ("only-job-state", None, "none"),
)
SQUEUE_MODELLED = frozenset({"noheader", "states", "jobs", "format", "name", "user", "array", "me", "all",
                             "partition", "hide"})
SACCT_OPTIONS = _options(
    ("noheader", "n", "none"), ("parsable2", "P", "none"), ("parsable", "p", "none"),
    ("allocations", "X", "none"), ("jobs", "j", "required"), ("format", "o", "required"),
    ("starttime", "S", "required"), ("endtime", "E", "required"), ("user", "u", "required"),
    ("allusers", "a", "none"), ("state", "s", "required"), ("brief", "b", "none"),
    ("name", None, "required"), ("delimiter", None, "required"),
    ("batch-script", "B", "none"), ("long", "l", "none"), ("allclusters", "L", "none"),
    ("duplicates", "D", "none"), ("clusters", "M", "required"), ("helpformat", "e", "none"),
    ("truncate", "T", "none"), ("array", None, "none"), ("accounts", "A", "required"),
    ("nodelist", "N", "required"), ("verbose", "v", "none"), ("units", None, "required"),
    ("json", None, "none"), ("yaml", None, "none"), ("help", "h", "none"), ("usage", None, "none"),
    ("version", "V", "none"), ("env-vars", None, "none"), ("qos", "q", "required"),
    ("partition", "r", "required"), ("timelimit-min", "k", "required"), ("timelimit-max", "K", "required"),
    ("completion", "c", "none"), ("whole-hetjob", None, "optional"), ("local", None, "none"),
    ("federation", None, "none"), ("gid", "g", "required"), ("group", None, "required"),
    ("wckeys", "W", "required"), ("reason", "R", "required"), ("cpus", None, "required"),
    ("nnodes", "i", "required"), ("constraints", "C", "required"), ("flags", "F", "required"),
    ("noconvert", None, "none"), ("starttime-only", None, "none"), ("x", "x", "required"),
)
SACCT_MODELLED = frozenset({"noheader", "parsable2", "parsable", "allocations", "jobs", "format", "starttime",
                            "endtime", "user", "allusers", "state", "brief", "name", "delimiter"})
SCANCEL_OPTIONS = _options(
    ("signal", "s", "required"), ("name", "n", "required"), ("user", "u", "required"),
    ("state", "t", "required"), ("partition", "p", "required"), ("batch", "b", "none"),
    ("full", "f", "none"), ("quiet", "Q", "none"), ("me", None, "none"), ("hurry", "H", "none"),
    ("verbose", "v", "none"), ("interactive", "i", "none"), ("clusters", "M", "required"),
    ("nodelist", "w", "required"), ("account", "A", "required"), ("qos", "q", "required"),
    ("reservation", "R", "required"), ("sibling", None, "required"), ("wckey", None, "required"),
    ("ctld", None, "none"), ("version", "V", "none"), ("help", "h", "none"), ("usage", None, "none"),
)
SCANCEL_MODELLED = frozenset({"signal", "name", "user", "state", "partition", "batch", "full", "quiet", "me",
                              "hurry"})
SCONTROL_OPTIONS = _options(
    ("oneliner", "o", "none"), ("all", "a", "none"), ("quiet", "Q", "none"),
    ("details", "d", "none"), ("verbose", "v", "none"), ("clusters", "M", "required"),
    ("help", "h", "none"), ("usage", None, "none"), ("version", "V", "none"), ("json", None, "none"),
    ("yaml", None, "none"), ("uid", "u", "required"), ("future", "F", "none"), ("hide", None, "none"),
    ("local", None, "none"), ("sibling", None, "none"), ("federation", None, "none"),
)
SCONTROL_MODELLED = frozenset({"oneliner", "all", "quiet", "hide"})


def _refuse_unmodelled(command: str, parsed: Iterable[Parsed], modelled: frozenset[str]) -> None:
    for item in parsed:
        if item.option.long not in modelled:
            raise FakeUnsupported(f"{command} option {item.spelled!r} is not modelled by FakeSlurm")


@dataclass(frozen=True)
class _Failure:
    stderr: str | None
    returncode: int
    submitted: bool


@dataclass
class _Hidden:
    due: float
    hidden: str
    original: str


class _SbatchError(Exception):
    """sbatch refuses the submission: print ``stderr`` and exit with ``returncode``."""

    def __init__(self, returncode: int, stderr: str) -> None:
        super().__init__(stderr)
        self.returncode = returncode
        self.stderr = stderr


def _cleanup(processes: list[BatchProcess], spool: list[str]) -> None:
    """Kill what is still running and remove the spool directory (at close() or garbage collection)."""
    for process in processes:
        process.kill_and_reap()
        process.cleanup()
    processes.clear()
    for path in spool:
        shutil.rmtree(path, ignore_errors=True)
    spool.clear()


def _queue_order(task: Task) -> int:
    return task.order


class FakeSlurm:
    """A Slurm cluster in a box; pass it as an executor's ``runner=``.

    See the module docstring, and the project's docs, for what is modelled. Every public method is
    thread-safe: one lock guards the model (re-entrant, since inline jobs run user code under it).
    """

    def __init__(
        self,
        *,
        nodes: int = 1,
        cpus_per_node: int = 4,
        progression: str = "immediate",
        execution: str = "inline",
        min_job_age: float = 300.0,
        kill_wait: float = 30.0,
        time_limit_check: float = 30.0,
        job_duration: float = 1.0,
        idle_tick: float = 5.0,
        accounting: bool = True,
        max_array_size: int = 1001,
        cluster_name: str = "cluster",
        partition: str = "debug",
        node_prefix: str = "node",
        first_job_id: int = 1,
        start_delay: float = 0.0,
        extern_step: bool = True,
        oversubscribe: str = "OK",
        cluster: FakeCluster | None = None,
    ) -> None:
        if execution not in ("inline", "subprocess"):
            raise ValueError(f"execution must be 'inline' or 'subprocess', not {execution!r}")
        for name, value in (("min_job_age", min_job_age), ("kill_wait", kill_wait),
                            ("time_limit_check", time_limit_check),
                            ("job_duration", job_duration), ("start_delay", start_delay)):
            if value < 0:
                raise ValueError(f"{name} must not be negative, got {value!r}")
        if idle_tick <= 0 or max_array_size < 1 or first_job_id < 1:
            raise ValueError("idle_tick must be positive, max_array_size and first_job_id at least 1")
        self.cluster = cluster or FakeCluster(
            nodes=nodes, cpus_per_node=cpus_per_node, node_prefix=node_prefix,
            progression=progression,  # type: ignore[arg-type]
            name=cluster_name,
        )
        self._clock = self.cluster.clock
        self._lock = self.cluster.lock
        self.execution = execution
        self.min_job_age = float(min_job_age)
        self.kill_wait = float(kill_wait)
        self.time_limit_check = float(time_limit_check)
        self.job_duration = float(job_duration)
        self.idle_tick = float(idle_tick)
        self.max_array_size = max_array_size
        self.partition = partition
        self.start_delay = float(start_delay)
        self.extern_step = extern_step
        self.oversubscribe = oversubscribe
        self._accounting = accounting
        self._next_id = first_job_id
        self._seq = 0
        self._sim_time = -math.inf  # everything due at or before this has been processed
        self._tasks: list[Task] = []  # every task the controller or accounting still knows
        # The tasks the event loop must look at (queued, running, or with a process, kill or limit
        # pending); finished ones leave it, so passes cost what is live, not the whole history.
        self._active: list[Task] = []
        self._ready: list[Task] = []  # woken pending tasks in queue order: what _schedule considers
        self._known: list[Task] = []  # tasks slurmctld may still hold (not yet purged after MinJobAge)
        # Every task's next events, so a pass costs what is due, not what is known:
        # (time, seq, kind, task); entries go stale when the task changes and are dropped lazily.
        self._jumps: list[tuple[float, int, str, Task]] = []  # "wake" (eligible), "end" (inline end)
        self._timers: list[tuple[float, int, str, Task]] = []  # "term" (time limit), "kill" (KillWait)
        self._event_seq = itertools.count()
        self._task_order = itertools.count()
        self._failures: dict[str, deque[_Failure]] = {name: deque() for name in COMMANDS}
        self._hidden: list[_Hidden] = []
        self._sched_requests: list[float] = []
        self.calls: list[tuple[str, ...]] = []
        self.command_counts: Counter[str] = Counter()
        self._processes: list[BatchProcess] = []
        self._spool: list[str] = []
        self._finalizer = weakref.finalize(self, _cleanup, self._processes, self._spool)

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
        """Run one Slurm command against the model. ``timeout`` is accepted and unused: the fake
        answers at once (a test wanting a timeout injects ``fail_next``)."""
        argv = tuple(argv)
        if not argv:
            raise FakeUnsupported("FakeSlurm cannot run an empty command")
        name = os.path.basename(argv[0])
        handlers: dict[str, Callable[..., CommandResult]] = {
            "sbatch": self._sbatch, "squeue": self._squeue, "sacct": self._sacct,
            "scancel": self._scancel, "scontrol": self._scontrol,
        }
        if name not in handlers:
            raise FakeUnsupported(f"FakeSlurm models {', '.join(COMMANDS)}, not {argv[0]!r}")
        with self._lock:
            self.calls.append(argv)
            self.command_counts[name] += 1
            queued = self._failures[name]
            if queued:
                failure = queued.popleft()
                if failure.submitted:
                    self._sbatch(argv, input=input, env=env, cwd=cwd)  # the reply is lost, the job is not
                return self._failure_result(argv, name, failure)
            return handlers[name](argv, input=input, env=env, cwd=cwd)

    def _failure_result(self, argv: tuple[str, ...], name: str, failure: _Failure) -> CommandResult:
        stderr = failure.stderr if failure.stderr is not None else DEFAULT_FAILURES[name]
        if "{id}" in stderr:
            first = next((a for a in argv[1:] if not a.startswith("-")), "0")
            stderr = stderr.replace("{id}", first)
        return CommandResult(argv, failure.returncode, "", stderr)

    # ------------------------------------------------------------------ time

    def clock(self) -> float:
        """The fake's time in seconds (virtual unless ``progression="realtime"``)."""
        return self._clock.now()

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass: instantly on a virtual clock (processing what falls due), really in
        realtime. The executor uses this for retry back-off, so tests never wait."""
        if seconds <= 0:
            return
        if not self._clock.virtual:
            time.sleep(seconds)
            return
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move a virtual clock forward, processing every event up to the new time in order."""
        if seconds < 0:
            raise ValueError(f"time does not go backwards (asked to advance {seconds} s)")
        if not self._clock.virtual:
            raise RuntimeError('advance() needs a virtual clock (progression="manual" or "immediate")')
        with self._lock:
            self._clock.jump(seconds)
            self._settle(self._clock.now())

    def join(self, timeout: float | None = None) -> bool:
        """Wait (without polling) until no subprocess job is running, then update the model.

        Jobs that start because others ended are waited for too. Returns False if ``timeout``
        seconds passed first. Nothing moves a manual clock meanwhile, so a job that only ends at its
        time limit needs ``advance()`` instead.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                self._settle(self._status_time())
                processes = [t.proc for t in self._active if t.proc is not None]
            if not processes:
                return True
            for process in processes:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                if process.wait(left) is None:
                    return False

    def _status_time(self) -> float:
        """What a status command may see: everything strictly before now."""
        return math.nextafter(self._clock.now(), -math.inf)

    def _refresh(self) -> None:
        """What every status command does first (see the module docstring)."""
        now = self._clock.now()
        changes = self._settle(math.nextafter(now, -math.inf))
        if self._clock.progression != "immediate" or changes or self._live_processes():
            return
        target = self._jump_target()
        if target is None:
            self._clock.jump(self.idle_tick)
        else:
            self._clock.jump(max(0.0, target - now))
        self._settle(self._clock.now())

    def _live_processes(self) -> bool:
        return any(t.proc is not None for t in self._active)

    def _plan(self, task: Task) -> None:
        """Index the task's next events (called by the task whenever one of their fields changes)."""
        seq = self._event_seq
        if task.pending and not task.woken and not task.held:
            heapq.heappush(self._jumps, (task.eligible, next(seq), "wake", task))
        if task.running and task.due_end is not None:
            heapq.heappush(self._jumps, (task.due_end, next(seq), "end", task))
        if task.term_at is not None:
            heapq.heappush(self._timers, (task.term_at, next(seq), "term", task))
        if task.kill_at is not None:
            heapq.heappush(self._timers, (task.kill_at, next(seq), "kill", task))

    @staticmethod
    def _still_due(entry: tuple[float, int, str, Task]) -> bool:
        at, _, kind, task = entry
        if kind == "wake":
            return task.pending and not task.woken and not task.held and task.eligible == at
        if kind == "end":
            return task.running and task.due_end == at
        if kind == "term":
            return task.term_at == at
        return task.kill_at == at

    def _first(self, heap: list[tuple[float, int, str, Task]]) -> float | None:
        while heap and not self._still_due(heap[0]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def _jump_target(self) -> float | None:
        """The next thing an immediate-mode poll may skip ahead to: a start or an inline end."""
        times = [x for x in (self._first(self._jumps), *self._sched_requests) if x is not None]
        return min(times, default=None)

    def _next_due(self) -> float | None:
        times = [self._jump_target(), self._first(self._timers), *(h.due for h in self._hidden)]
        return min([x for x in times if x is not None], default=None)

    def _settle(self, target: float) -> int:
        """Process, in time order, everything due at or before ``target``; count what happened."""
        self._active = [t for t in self._active if t.pending or t.running or t.completing or t.proc is not None
                        or t.kill_at is not None or t.term_at is not None or t.due_end is not None]
        changes = self._reap()
        while True:
            due = self._next_due()
            if due is None or due > target:
                break
            t = max(due, self._sim_time)
            changes += self._fire(t)
            changes += self._schedule(t)
        self._sim_time = max(self._sim_time, target)
        return changes + self._reap()

    def _fire(self, t: float) -> int:
        changes = 0
        self._sched_requests = [r for r in self._sched_requests if r > t]
        due: dict[int, Task] = {}
        for heap in (self._jumps, self._timers):
            while heap and heap[0][0] <= t:
                entry = heapq.heappop(heap)
                if self._still_due(entry):
                    due[id(entry[3])] = entry[3]
        for task in sorted(due.values(), key=lambda task: task.order):
            if task.pending and not task.woken and not task.held and task.eligible <= t:
                task.woken = True
                bisect.insort(self._ready, task, key=_queue_order)
                changes += 1
            elif task.running and task.due_end is not None and task.due_end <= t:
                self._end_by_itself(task, t)
                changes += 1
            if task.term_at is not None and task.term_at <= t:
                task.term_at = None
                self._stepd_message(task, t, " DUE TO TIME LIMIT")
                self._finish(task, t, "TIMEOUT", 0, 0, "TimeLimit", ("CANCELLED", 0, 15), kill=True)
                changes += 1
            if task.kill_at is not None and task.kill_at <= t:
                task.kill_at = None
                if task.proc is not None:
                    task.proc.signal_group(signal_module.SIGKILL)
        for hidden in [h for h in self._hidden if h.due <= t]:
            self._hidden.remove(hidden)
            with contextlib.suppress(FileNotFoundError):
                os.replace(hidden.hidden, hidden.original)
            changes += 1
        return changes

    # ------------------------------------------------------------------ scheduling

    def _schedule(self, t: float) -> int:
        """One pass of sched/builtin: strict FIFO; the first job that does not fit blocks the rest."""
        started = 0
        blocked = False
        # The queue the scheduler looks at: woken pending tasks, in queue order (kept, not rebuilt).
        self._ready = [task for task in self._ready if task.pending and task.woken]
        running: Counter[int] | None = None  # array tasks running per array, counted when a throttle asks
        for task in self._ready:
            if not task.pending:  # started earlier in this pass (a task re-woken may be listed twice)
                continue
            task.last_sched = t
            array = task.sub.array
            if array is not None and array.throttle:
                if running is None:
                    running = Counter(x.sub.job_id for x in self._active
                                      if x.index is not None and (x.running or x.completing))
                if running[task.sub.job_id] >= array.throttle:
                    task.reason = "JobArrayTaskLimit"
                    continue
            if blocked:
                task.reason = "Priority"
                continue
            nodes = self.cluster.allocate(task.sub.cpus_per_node, task.sub.node_count)
            if nodes is None:
                task.reason = "Resources"
                blocked = True
                continue
            self._start(task, t, nodes)
            started += 1
            if task.index is not None and running is not None:
                running[task.sub.job_id] += 1
        # The tasks still pending share the array's one job record, and so its one reason.
        shared: dict[int, str] = {}
        for task in self._ready:
            if task.pending and task.woken and task.index is not None:
                task.reason = shared.setdefault(task.sub.job_id, task.reason)
        return started

    def _assign_id(self, task: Task) -> None:
        """An array task leaving the array's pending record gets its own id; the last takes the array's."""
        if task.job_id is not None:
            return
        task.sub.unassigned -= 1  # a count, not a scan of every task: starts stay O(1)
        if task.sub.unassigned > 0:
            task.job_id = self._next_id
            self._next_id += 1
        else:
            task.job_id = task.sub.job_id

    def _start(self, task: Task, t: float, nodes: tuple[str, ...]) -> None:
        sub = task.sub
        self._assign_id(task)
        task.state, task.reason, task.start, task.nodes = "RUNNING", "None", t, nodes
        task.output_path, task.error_path = self._paths(task)
        task.env = self._job_env(task)
        if not os.path.isdir(sub.workdir) or not self._create_outputs(task):
            # slurmstepd cannot chdir or open the output: the job fails at launch (ExitCode 0:53).
            self._finish(task, t, "FAILED", 0, LAUNCH_FAILED, "JobLaunchFailure", ("CANCELLED", 0, LAUNCH_FAILED))
            return
        limit_end = None if sub.time_limit is None else self._limit_enforced_at(t + sub.time_limit * 60)
        if task.outcome is not None or sub.inline is not None:
            end = t + self.job_duration + (sub.inline.sleep_seconds if sub.inline is not None else 0.0)
            task.times_out = limit_end is not None and limit_end < end
            task.due_end = limit_end if task.times_out and limit_end is not None else end
            return
        task.term_at = limit_end
        self._launch(task)

    def _limit_enforced_at(self, limit_end: float) -> float:
        """slurmctld checks time limits on a periodic pass (about every 30 s in 22.05), so a job
        outlives its limit until the next pass; ``time_limit_check=0`` enforces it exactly."""
        step = self.time_limit_check
        return limit_end if step <= 0 else math.ceil(limit_end / step) * step

    def _paths(self, task: Task) -> tuple[str, str | None]:
        sub = task.sub
        assert task.job_id is not None

        def expand(pattern: str) -> str:
            path = expand_filename(pattern, job_id=task.job_id or 0,
                                   array_job_id=sub.job_id if sub.array is not None else None,
                                   task_id=task.index, name=sub.name, user=self.cluster.user,
                                   node=task.nodes[0] if task.nodes else None)
            return os.path.join(sub.workdir, path)

        default = "slurm-%A_%a.out" if sub.array is not None else "slurm-%j.out"
        return expand(sub.output or default), expand(sub.error) if sub.error else None

    def _create_outputs(self, task: Task) -> bool:
        """Create (truncate or append to) the output and error files, as slurmstepd does at launch."""
        mode = "a" if task.sub.open_mode == "append" else "w"
        try:
            for path in (task.output_path, task.error_path):
                if path is not None:
                    with open(path, mode):
                        pass
        except OSError:
            return False
        return True

    def _job_env(self, task: Task) -> dict[str, str]:
        """The environment of the batch script: what sbatch exported plus the SLURM_* variables."""
        sub = task.sub
        cluster = self.cluster
        per_node = sub.cpus_per_node
        cpus_per_node = str(per_node) if sub.node_count == 1 else f"{per_node}(x{sub.node_count})"
        slurm = {
            "SLURM_JOB_ID": str(task.job_id), "SLURM_JOBID": str(task.job_id),
            "SLURM_JOB_NAME": sub.name, "SLURM_SUBMIT_DIR": sub.submit_dir,
            "SLURM_SUBMIT_HOST": cluster.submit_host,
            "SLURM_JOB_NODELIST": compress_hostlist(task.nodes), "SLURM_NODELIST": compress_hostlist(task.nodes),
            "SLURMD_NODENAME": task.nodes[0], "SLURM_CPUS_ON_NODE": str(per_node),
            "SLURM_JOB_CPUS_PER_NODE": cpus_per_node, "SLURM_JOB_PARTITION": sub.partition,
            "SLURM_CLUSTER_NAME": cluster.name, "SLURM_JOB_NUM_NODES": str(sub.node_count),
            "SLURM_NNODES": str(sub.node_count), "SLURM_JOB_USER": cluster.user,
            "SLURM_JOB_UID": str(cluster.uid), "SLURM_JOB_GID": str(cluster.gid),
            "SLURM_JOB_ACCOUNT": cluster.user, "SLURM_JOB_QOS": "normal",
            "SLURM_GTIDS": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_PROCID": "0",
            "SLURM_TASK_PID": "0", "ENVIRONMENT": "BATCH",
        }
        if sub.ntasks is not None:
            slurm["SLURM_NTASKS"] = slurm["SLURM_NPROCS"] = str(sub.ntasks)
        if sub.cpus_per_task is not None:
            slurm["SLURM_CPUS_PER_TASK"] = str(sub.cpus_per_task)
        if sub.array is not None and task.index is not None:
            indices = sub.array.indices
            slurm.update({
                "SLURM_ARRAY_JOB_ID": str(sub.job_id), "SLURM_ARRAY_TASK_ID": str(task.index),
                "SLURM_ARRAY_TASK_COUNT": str(len(indices)), "SLURM_ARRAY_TASK_MIN": str(min(indices)),
                "SLURM_ARRAY_TASK_MAX": str(max(indices)),
            })
            # the step of a single "first-last:step" range; 1 for lists (observed: --array=2,4 gives 1)
            steps = {b - a for a, b in zip(indices, indices[1:])}
            ranged = "," not in sub.array.text and ":" in sub.array.text
            slurm["SLURM_ARRAY_TASK_STEP"] = str(steps.pop() if ranged and len(steps) == 1 else 1)
        return {**sub.env, **slurm}

    def _launch(self, task: Task) -> None:
        """Start a subprocess job: the script from a private spool directory, as slurmd does."""
        if not self._spool:
            self._spool.append(tempfile.mkdtemp(prefix="cfut-fake-slurm-"))  # mode 0700
        assert task.output_path is not None and task.env is not None
        with contextlib.ExitStack() as stack:
            out = stack.enter_context(open(task.output_path, "ab"))
            err = stack.enter_context(open(task.error_path, "ab")) if task.error_path else None
            task.proc = BatchProcess(
                script=task.sub.script, script_args=task.sub.script_args, spool_dir=self._spool[0],
                name=f"job{task.job_id}.sh", cwd=task.sub.workdir, env=task.env, stdout=out, stderr=err,
            )
        self._processes.append(task.proc)

    # ------------------------------------------------------------------ how jobs end

    def _end_by_itself(self, task: Task, t: float) -> None:
        """An inline (or outcome) job reaches its end time: time limit, outcome, or its script's status."""
        if task.times_out:
            self._stepd_message(task, t, " DUE TO TIME LIMIT")
            self._finish(task, t, "TIMEOUT", 0, 0, "TimeLimit", ("CANCELLED", 0, 15))
        elif task.outcome is not None:
            o = task.outcome
            self._finish(task, t, o.state, o.exit_code, o.signal, o.reason,
                         _batch_step(o.state, o.exit_code, o.signal))
        else:
            status = self._run_inline(task)
            state = "COMPLETED" if status == 0 else "FAILED"
            self._finish(task, t, state, status, 0, "None" if status == 0 else "NonZeroExitCode",
                         (state, status, 0))

    def _run_inline(self, task: Task) -> int:
        script = task.sub.inline
        assert script is not None and task.output_path is not None and task.env is not None
        with contextlib.ExitStack() as stack:
            out = stack.enter_context(open(task.output_path, "a"))
            err = stack.enter_context(open(task.error_path, "a")) if task.error_path else out
            return run_inline(script, env=task.env, out=out, err=err,
                              run_worker=lambda args: _run_worker(args, out, err),
                              script_name=f"/var/spool/slurmd/job{task.job_id}/slurm_script")

    def _finish(self, task: Task, t: float, state: str, exit_code: int, sig: int, reason: str,
                batch: tuple[str, int, int] | None, *, kill: bool = False) -> None:
        """The job's final state is known. A subprocess job being killed stays COMPLETING (and keeps
        its CPUs) until its processes are gone; anything else frees its CPUs now."""
        task.state, task.exit_code, task.signal, task.reason = state, exit_code, sig, reason
        task.end = t
        task.due_end = None
        task.term_at = None
        task.batch_step = batch if task.start is not None else None
        if task.start is None and task.index is None:
            self._assign_id(task)  # array tasks that never ran stay in the array's record (its id)
        if kill and task.proc is not None:
            task.completing = True
            task.proc.signal_group(signal_module.SIGCONT)
            task.proc.signal_group(signal_module.SIGTERM)
            task.kill_at = t + self.kill_wait
            return
        self._release(task)

    def _release(self, task: Task) -> None:
        if task.nodes:
            self.cluster.release(task.nodes, task.sub.cpus_per_node)
        if task.proc is not None:
            task.proc.cleanup()
            if task.proc in self._processes:
                self._processes.remove(task.proc)
            task.proc = None
        task.completing = False
        task.kill_at = None
        if task.hide_for is not None and task.start is not None:
            self._hide_results(task, task.end if task.end is not None else self._sim_time)

    def _reap(self) -> int:
        """Notice subprocess jobs whose processes have exited; start what their CPUs allow."""
        reaped = 0
        for task in self._active:
            if task.proc is None:
                continue
            status = task.proc.poll()
            if status is None:
                continue
            reaped += 1
            task.proc.kill_leftovers()
            t = max(self._sim_time, task.start or 0.0)
            if task.completing:
                if status < 0 and task.batch_step is not None:
                    # the batch step ends by the signal that finally killed it: 0:9 after KillWait
                    task.batch_step = (task.batch_step[0], 0, -status)
                self._release(task)
            elif status >= 0:
                state = "COMPLETED" if status == 0 else "FAILED"
                self._finish(task, t, state, status, 0, "None" if status == 0 else "NonZeroExitCode",
                             (state, status, 0))
            else:
                # Slurm 22.05 reports a batch script killed by a signal as FAILED 0:S, JobLaunchFailure.
                self._finish(task, t, "FAILED", 0, -status, "JobLaunchFailure", ("CANCELLED", 0, -status))
        if reaped and self._sim_time > -math.inf:
            self._schedule(self._sim_time)
        return reaped

    def _stepd_message(self, task: Task, t: float, why: str) -> None:
        """slurmstepd's line in the job's error file when it kills a running job."""
        path = task.error_path or task.output_path
        if path is None or not task.nodes:
            return
        when = slurm_date(self._clock.wall(t))
        with contextlib.suppress(OSError), open(path, "a") as handle:
            node = task.nodes[0]
            handle.write(f"slurmstepd-{node}: error: *** JOB {task.job_id} ON {node} CANCELLED AT {when}{why} ***\n")

    def _hide_results(self, task: Task, t: float) -> None:
        """Rename the results the worker says it wrote, to be put back ``hide_for`` seconds later."""
        seconds = task.hide_for
        task.hide_for = None
        if seconds is None or task.output_path is None:
            return
        prefix = "cfut worker: wrote result "
        try:
            with open(task.output_path) as handle:
                paths = [line[len(prefix):].rstrip("\n") for line in handle if line.startswith(prefix)]
        except OSError:
            return
        for path in paths:
            directory, name = os.path.split(path)
            hidden = os.path.join(directory, f".{name}.hidden-by-fake-slurm")
            try:
                os.replace(path, hidden)
            except OSError:
                continue
            self._hidden.append(_Hidden(t + seconds, hidden, path))

    def _cancel(self, task: Task, t: float) -> None:
        """scancel of one task: pending jobs end CANCELLED 0:0, running ones CANCELLED 0:15."""
        task.cancelled_by = self.cluster.uid
        if task.pending:
            # it keeps the reason it was pending for (scontrol shows Reason=Priority on it)
            self._finish(task, t, "CANCELLED", 0, 0, task.reason, None)
        else:
            self._stepd_message(task, t, "")
            self._finish(task, t, "CANCELLED", 0, 15, "None", ("CANCELLED", 0, 15), kill=True)
            # slurmdbd records the job as it is cancelled, before the script's SIGTERM status comes
            # back: sacct shows 0:0 where scontrol shows 0:15 (observed on Slurm 22.05).
            task.accounted_exit = (0, 0)
        self._sched_requests.append(t)  # what it held or blocked may start

    # ------------------------------------------------------------------ sbatch

    def _sbatch(self, argv: tuple[str, ...], *, input: str | None, env: Mapping[str, str] | None,
                cwd: str | None) -> CommandResult:
        try:
            job_id, quiet, parsable, cluster = self._submit(argv[1:], input, env, cwd)
        except _SbatchError as exc:
            return CommandResult(argv, exc.returncode, "", exc.stderr)
        if quiet:
            return CommandResult(argv, 0, "", "")  # observed: --quiet silences --parsable too
        if parsable and cluster is not None:
            return CommandResult(argv, 0, f"{job_id};{cluster}\n", "")  # --parsable with --clusters
        return CommandResult(argv, 0, f"{job_id}\n" if parsable else f"Submitted batch job {job_id}\n", "")

    def _submit(self, args: Sequence[str], stdin: str | None, env: Mapping[str, str] | None,
                cwd: str | None) -> tuple[int, bool, bool, str | None]:
        try:
            parsed, positionals = SBATCH_OPTIONS.parse(args, permute=False)
        except GetoptError as exc:
            raise _SbatchError(255, f"sbatch: {exc.message}\nTry \"sbatch --help\" for more information\n") from None
        here = cwd or os.getcwd()
        merged_env = {**os.environ, **(env or {})}
        for name in merged_env:
            if name.startswith("SBATCH_"):
                raise FakeUnsupported(f"sbatch input environment variable {name} is not modelled by FakeSlurm")
        cli = last_values(parsed)
        script, command, script_args, default_name = self._script(cli, positionals, stdin, here)
        try:
            directives, _ = SBATCH_OPTIONS.parse(directive_words(script), permute=False)
        except GetoptError as exc:
            raise _SbatchError(255, f"sbatch: {exc.message}\nTry \"sbatch --help\" for more information\n") from None
        _refuse_unmodelled("sbatch", [*directives, *parsed], MODELLED)
        opts = {name: p.value for name, p in last_values([*directives, *parsed]).items()}
        if "clusters" in opts and opts["clusters"] != self.cluster.name:
            raise FakeUnsupported(f"sbatch --clusters={opts['clusters']}: only this cluster "
                                  f"({self.cluster.name}) is modelled")
        sub, eligible = self._submission(opts, script, command, script_args, default_name, here, merged_env,
                                         ("sbatch", *args))
        self._add_submission(sub, eligible)
        return sub.job_id, "quiet" in opts, "parsable" in opts, opts.get("clusters")

    def _script(self, cli: Mapping[str, Parsed], positionals: Sequence[str], stdin: str | None,
                here: str) -> tuple[str, str | None, tuple[str, ...], str]:
        """The batch script: from --wrap, a file, or standard input; checked as sbatch checks it."""
        wrap = cli.get("wrap")
        args: tuple[str, ...] = ()
        if wrap is not None:
            if positionals:
                raise _SbatchError(1, "sbatch: error: Script arguments not permitted with --wrap option\n")
            script = f"#!/bin/sh\n# This script was created by sbatch --wrap.\n\n{wrap.value}\n"
            command, name = None, "wrap"
        elif positionals:
            path = os.path.join(here, positionals[0])
            try:
                with open(path, encoding="utf-8", errors="surrogateescape") as handle:
                    script = handle.read()
            except OSError:
                raise _SbatchError(1, f"sbatch: error: Unable to open file {positionals[0]}\n") from None
            command, args, name = os.path.abspath(path), tuple(positionals[1:]), os.path.basename(path)
        else:
            script, command, name = stdin or "", None, "sbatch"
        if not script:
            raise _SbatchError(1, "sbatch: error: Batch script is empty!\n")
        if not script.startswith("#!"):
            raise _SbatchError(1, NOT_A_BATCH_SCRIPT)
        if "\r\n" in script:
            raise _SbatchError(1, "sbatch: error: Batch script contains DOS line breaks (\\r\\n)\n"
                                  "sbatch: error: instead of expected UNIX line breaks (\\n).\n")
        return script, command, args, name

    def _submission(self, opts: Mapping[str, str | None], script: str, command: str | None,
                    script_args: tuple[str, ...], default_name: str, here: str,
                    merged_env: Mapping[str, str], argv: tuple[str, ...]) -> tuple[Submission, float]:
        """Validate the options in sbatch's order of complaints; the submission and when it may start."""
        time_limit = None
        if opts.get("time") is not None:
            try:
                time_limit = parse_time_limit(opts["time"] or "")
            except ValueError:
                raise _SbatchError(255, messages.INVALID_TIME) from None
        open_mode = opts.get("open-mode") or "truncate"
        if open_mode not in ("append", "truncate"):
            raise _SbatchError(255, "sbatch: error: Invalid --open-mode specification\n")
        cpus_per_task = _positive(opts, "cpus-per-task")
        ntasks = _positive(opts, "ntasks")
        node_count = 1
        if opts.get("nodes") is not None:
            text = opts["nodes"] or ""
            if "-" in text or "," in text:
                raise FakeUnsupported(f"sbatch --nodes={text}: node count ranges are not modelled")
            if not text.isdigit() or int(text) < 1:
                raise _SbatchError(255, f'sbatch: error: "{text}" is not a valid node count\n')
            node_count = int(text)
        if ntasks is not None and ntasks < node_count:
            raise FakeUnsupported("sbatch with fewer --ntasks than --nodes is not modelled")
        mem_mb = None
        if opts.get("mem") is not None:
            try:
                mem_mb = parse_memory_mb(opts["mem"] or "")
            except ValueError:
                raise _SbatchError(255, "sbatch: error: Invalid --mem specification\n") from None
        now = self._clock.now()
        eligible = now + self.start_delay
        if opts.get("begin") is not None:
            begin = self._clock.from_wall(parse_slurm_date(opts["begin"] or "", self._clock.wall(now)))
            eligible = max(eligible, begin)
        array: ArraySpec | None = None
        if opts.get("array") is not None:
            try:
                array = parse_array(opts["array"] or "", self.max_array_size)
            except ValueError:
                raise _SbatchError(1, messages.INVALID_ARRAY) from None
        partition = opts.get("partition") or self.partition
        if partition != self.partition:
            raise _SbatchError(1, f"sbatch: error: invalid partition specified: {partition}\n"
                                  "sbatch: error: Batch job submission failed: Invalid partition name specified\n")
        cpus_per_node = -(-(ntasks or 1) // node_count) * (cpus_per_task or 1)
        if not self.cluster.can_ever_fit(cpus_per_node, node_count):
            raise _SbatchError(1, "sbatch: error: Batch job submission failed: "
                                  "Requested node configuration is not available\n")
        inline = self._check_inline(script) if self.execution == "inline" else None
        workdir = os.path.normpath(os.path.join(here, opts["chdir"] or "")) if opts.get("chdir") else here
        job_id = self._next_id
        self._next_id += 1
        self._seq += 1
        sub = Submission(
            seq=self._seq, job_id=job_id, script=script, script_args=script_args, command=command,
            name=opts.get("job-name") or default_name, workdir=workdir, submit_dir=here,
            output=opts.get("output"), error=opts.get("error"), open_mode=open_mode, time_limit=time_limit,
            explicit_time=opts.get("time") is not None, cpus_per_task=cpus_per_task, ntasks=ntasks,
            node_count=node_count, partition=partition, mem_mb=mem_mb, comment=opts.get("comment"),
            mail_type=opts.get("mail-type"), mail_user=opts.get("mail-user"),
            env=_exported(opts.get("export"), merged_env, "export" in opts), array=array, submit_time=now,
            argv=argv, inline=inline, held="hold" in opts,
        )
        return sub, eligible

    def _check_inline(self, script: str) -> InlineScript:
        return parse_inline(script)

    def _add_submission(self, sub: Submission, eligible: float) -> None:
        reason = "JobHeldUser" if sub.held else "BeginTime" if eligible > sub.submit_time else "Priority"
        if sub.array is None:
            new = [Task(sub, None, sub.job_id, eligible, reason=reason, held=sub.held)]
        else:
            new = [Task(sub, i, None, eligible, reason=reason, held=sub.held) for i in sub.array.indices]
            sub.unassigned = len(new)
        for task in new:
            task.order = next(self._task_order)
            task.watcher = self._plan
            self._plan(task)
        self._tasks.extend(new)
        self._active.extend(new)
        self._known.extend(new)

    # ------------------------------------------------------------------ squeue

    def _squeue(self, argv: tuple[str, ...], **unused: object) -> CommandResult:
        try:
            parsed, positionals = SQUEUE_OPTIONS.parse(argv[1:], permute=True)
        except GetoptError as exc:
            return CommandResult(argv, 1, "", f"squeue: {exc.message}\nTry \"squeue --help\" for more information\n")
        _refuse_unmodelled("squeue", parsed, SQUEUE_MODELLED)
        if positionals:
            raise FakeUnsupported(f"squeue arguments {positionals!r} are not modelled")
        opts = {p.option.long: p.value for p in parsed}
        fmt = parse_squeue_format(opts.get("format") or SQUEUE_DEFAULT_FORMAT)
        states: frozenset[str] | None = _DEFAULT_SQUEUE_STATES
        if opts.get("states") is not None:
            states = _parse_states(opts["states"] or "")
            if states is not None and not states:
                bad = next(s for s in (opts["states"] or "").split(",") if _state_name(s) is None)
                return CommandResult(argv, 1, "", f"squeue: error: Invalid job state specified: {bad}\n"
                                                  f"squeue: error: Valid job states include: {SQUEUE_STATE_ORDER}\n\n")
        refs: list[JobRef] | None = None
        if opts.get("jobs") is not None:
            refs = []
            for text in _split_ids(opts["jobs"] or ""):
                try:
                    refs.append(parse_job_ref(text))
                except ValueError:
                    return CommandResult(argv, 1, "", f"squeue: error: Invalid job id: {text}\n")
        self._refresh()
        visible = self._controller_tasks()
        if refs is not None:
            if len(refs) == 1 and "[" not in refs[0].text and not self._match(visible, refs):
                # squeue with one job id asks slurmctld for that job alone, which fails when unknown
                return CommandResult(argv, 1, "", INVALID_JOB_ID)
            visible = self._match(visible, refs)
        if states is not None:
            visible = [t for t in visible if t.shown_state in states or t.state in states]
        if opts.get("name") is not None:
            names = set((opts["name"] or "").split(","))
            visible = [t for t in visible if t.sub.name in names]
        users = self._user_filter(opts.get("user"), "me" in opts)
        if users is not None and not users:
            visible = []
        if opts.get("partition") is not None:
            visible = [t for t in visible if t.sub.partition in (opts["partition"] or "").split(",")]
        table = sorted(rows(visible, expand_pending="array" in opts), key=squeue_sort_key)
        return CommandResult(argv, 0, squeue_lines(fmt, table, self._context(), "noheader" not in opts), "")

    def _user_filter(self, users: str | None, me: bool) -> set[str] | None:
        """None: no filter; an empty set: a filter no job of ours passes (all jobs are ours)."""
        if users is None and not me:
            return None
        wanted = set((users or "").split(",")) if users is not None else set()
        if me:
            wanted.add(self.cluster.user)
        if {self.cluster.user, str(self.cluster.uid)} & wanted:
            return {self.cluster.user}
        return set()

    def _controller_tasks(self) -> list[Task]:
        """The tasks slurmctld still holds; purged ones leave for good (time only moves on)."""
        self._known = [t for t in self._known if self._in_controller(t)]
        return list(self._known)

    def _in_controller(self, task: Task) -> bool:
        """Finished jobs stay in slurmctld's memory for MinJobAge seconds, then are purged."""
        return task.end is None or task.completing or self._clock.now() < task.end + self.min_job_age

    def _match(self, tasks: Sequence[Task], refs: Sequence[JobRef]) -> list[Task]:
        """Tasks named by job ids: ``A`` is every task of array A (or the job/task with id A).

        The same as ``[t for t in tasks if any(_matches(t, ref) for ref in refs)]``, in one pass
        over ``tasks`` (the executor asks about thousands of ids at once)."""
        whole = {ref.job_id for ref in refs if ref.tasks is None}
        some: dict[int, set[int]] = {}
        for ref in refs:
            if ref.tasks is not None:
                some.setdefault(ref.job_id, set()).update(ref.tasks)
        found = []
        for t in tasks:
            if t.job_id in whole:
                found.append(t)
            elif t.sub.array is not None and (t.sub.job_id in whole or t.index in some.get(t.sub.job_id, ())):
                found.append(t)
        return found

    def _context(self) -> Context:
        cluster = self.cluster
        return Context(
            now=self._clock.now(), wall=self._clock.wall, user=cluster.user, uid=cluster.uid,
            group=cluster.group, gid=cluster.gid, account=cluster.user, cluster=cluster.name,
            alloc_node=f"{cluster.submit_host}:{os.getpid()}", oversubscribe=self.oversubscribe,
        )

    # ------------------------------------------------------------------ sacct

    def _sacct(self, argv: tuple[str, ...], **unused: object) -> CommandResult:
        try:
            parsed, positionals = SACCT_OPTIONS.parse(argv[1:], permute=True)
        except GetoptError as exc:
            return CommandResult(argv, 1, "", f"sacct: {exc.message}\n")
        _refuse_unmodelled("sacct", parsed, SACCT_MODELLED)
        if positionals:
            raise FakeUnsupported(f"sacct arguments {positionals!r} are not modelled")
        opts = {p.option.long: p.value for p in parsed}
        fmt = opts.get("format") or ("JobID,State,ExitCode" if "brief" in opts else SACCT_DEFAULT_FORMAT)
        fields: list[tuple[SacctField, int | None]] = []
        for spec in fmt.split(","):
            name, _, width = spec.partition("%")
            if name.lower() not in SACCT_ALL_FIELDS:
                return CommandResult(argv, 1, "", f'sacct: error: Invalid field requested: "{name}"\n')
            if name.lower() not in SACCT_FIELDS:
                raise FakeUnsupported(f"sacct field {name!r} is not modelled by FakeSlurm")
            fields.append((SACCT_FIELDS[name.lower()], int(width) if width else None))
        refs: list[JobRef] | None = None
        if opts.get("jobs") is not None:
            refs = []
            for text in _split_ids(opts["jobs"] or ""):
                if "." in text and text.split(".")[0].replace("_", "").isdigit():
                    raise FakeUnsupported(f"sacct --jobs with a step id ({text!r}) is not modelled")
                try:
                    refs.append(parse_job_ref(text))
                except ValueError:
                    return CommandResult(argv, 1, "", f"sacct: fatal: Bad job/step specified: {text}\n")
        states = None
        if opts.get("state") is not None:
            states = _parse_states(opts["state"] or "")
            if not states:
                raise FakeUnsupported(f"sacct --state={opts['state']} is not modelled")
        if not self._accounting:
            return CommandResult(argv, 1, "", messages.ACCOUNTING_DISABLED)
        self._refresh()
        now_wall = self._clock.wall(self._clock.now())
        start = end = None
        if opts.get("starttime") is not None:
            start = self._clock.from_wall(parse_slurm_date(opts["starttime"] or "", now_wall))
        if opts.get("endtime") is not None:
            end = self._clock.from_wall(parse_slurm_date(opts["endtime"] or "", now_wall))
        if refs is None and start is None:
            # without --jobs, sacct starts at 00:00 today
            midnight = time.mktime(time.localtime(now_wall)[:3] + (0, 0, 0, 0, 0, -1))
            start = self._clock.from_wall(midnight)
        tasks = self._tasks if refs is None else self._match(self._tasks, refs)
        tasks = [t for t in tasks if _in_window(t, start, end)]
        if states is not None:
            tasks = [t for t in tasks if t.state in states]
        if opts.get("name") is not None:
            tasks = [t for t in tasks if t.sub.name in (opts["name"] or "").split(",")]
        users = self._user_filter(opts.get("user"), False)
        if users is not None and not users:
            tasks = []
        lines: list[SacctLine] = []
        for row in rows(tasks, expand_pending=False, collapse_unstarted=True):
            lines.append(SacctLine(row))
            if "allocations" not in opts and not row.collapsed and row.task.start is not None:
                lines.append(SacctLine(row, "batch"))
                if self.extern_step:
                    lines.append(SacctLine(row, "extern"))
                lines += [SacctLine(row, str(step.step_id), step) for step in row.task.steps]
        parsable = "parsable" in opts or "parsable2" in opts
        delimiter = (opts.get("delimiter") or "|") if parsable else None
        text = sacct_text(fields, lines, self._context(), header="noheader" not in opts, delimiter=delimiter,
                          trailing="parsable" in opts and "parsable2" not in opts)
        return CommandResult(argv, 0, text, "")

    # ------------------------------------------------------------------ scontrol

    def _scontrol(self, argv: tuple[str, ...], **unused: object) -> CommandResult:
        try:
            parsed, words = SCONTROL_OPTIONS.parse(argv[1:], permute=True)
        except GetoptError as exc:
            return CommandResult(argv, 1, "",
                                 f"scontrol: {exc.message}\nTry \"scontrol --help\" for more information\n")
        _refuse_unmodelled("scontrol", parsed, SCONTROL_MODELLED)
        oneliner = any(p.option.long == "oneliner" for p in parsed)
        if words and words[0] in ("hold", "release"):
            return self._hold_or_release(argv, words[0], words[1:])
        if len(words) < 2 or words[0] != "show" or words[1] not in ("job", "jobs") or len(words) > 3:
            raise FakeUnsupported(f"scontrol {' '.join(words)!r}: only `scontrol show job [ID]`, `hold` and "
                                  "`release` are modelled")
        ref = None
        if len(words) == 3:
            try:
                ref = parse_job_ref(words[2])
            except ValueError:
                return CommandResult(argv, 1, "", "scontrol_print_job error: Invalid job id specified\n")
        self._refresh()
        visible = self._controller_tasks()
        if ref is not None:
            visible = self._match(visible, [ref])
            if not visible:
                return CommandResult(argv, 1, "", INVALID_JOB_ID)
        elif not visible:
            return CommandResult(argv, 0, "No jobs in the system\n", "")
        ctx = self._context()
        records = [scontrol_record(row, ctx) for row in rows(visible, expand_pending=False)]
        return CommandResult(argv, 0, scontrol_text(records, oneliner), "")

    def _hold_or_release(self, argv: tuple[str, ...], verb: str, words: list[str]) -> CommandResult:
        """``scontrol hold|release ID[,ID...] ...``: silent on success; each unknown or finished id
        adds Slurm's two-line complaint and makes the exit code 1. Running jobs are left alone."""
        if not words:
            return CommandResult(argv, 1, "", f"too few arguments for keyword:{verb}\n")
        self._refresh()
        errors = []
        for text in (part for word in words for part in word.split(",") if part):
            try:
                tasks = self._match(self._controller_tasks(), [parse_job_ref(text)])
            except ValueError:
                tasks = []
            one_task = "_" in text  # real scontrol words its complaints about array tasks differently
            if not tasks:
                errors.append((messages.SUSPEND_INVALID_TASK if one_task else messages.SUSPEND_INVALID_JOB)
                              .format(job=text))
                continue
            if all(task.finished for task in tasks):
                errors.append((messages.SUSPEND_FINISHED_TASK if one_task else messages.SUSPEND_FINISHED_JOB)
                              .format(job=text))
                continue
            for task in tasks:
                if not task.pending:
                    continue
                if verb == "hold":
                    # root's holds are an administrator's (observed: JobHeldAdmin when run as root)
                    task.held, task.woken = True, False
                    task.reason = "JobHeldAdmin" if self.cluster.uid == 0 else "JobHeldUser"
                elif task.held:
                    task.held = False
                    task.reason = "None"  # until the next scheduling pass says more
                    self._sched_requests.append(self._clock.now())
        return CommandResult(argv, 1 if errors else 0, "", "".join(errors))

    # ------------------------------------------------------------------ scancel

    def _scancel(self, argv: tuple[str, ...], **unused: object) -> CommandResult:
        try:
            parsed, positionals = SCANCEL_OPTIONS.parse(argv[1:], permute=True)
        except GetoptError as exc:
            return CommandResult(argv, 1, "", f"scancel: {exc.message}\nTry \"scancel --help\" for more information\n")
        _refuse_unmodelled("scancel", parsed, SCANCEL_MODELLED)
        opts = {p.option.long: p.value for p in parsed}
        signum = None
        if opts.get("signal") is not None:
            signum = parse_signal(opts["signal"] or "")
            if signum is None:
                return CommandResult(argv, 1, "", f"Unknown job signal: {opts['signal']}\n")
        refs = []
        for text in (t for word in positionals for t in _split_ids(word)):
            try:
                refs.append(parse_job_ref(text))
            except ValueError:
                return CommandResult(argv, 1, "", f"scancel: error: Invalid job id {text}\n")
        filters = any(k in opts for k in ("name", "user", "state", "partition", "me"))
        if not refs and not filters:
            return CommandResult(argv, 1, "", "scancel: error: No job identification provided\n")
        live = [t for t in self._tasks if t.pending or (t.running and not t.completing)]
        if "name" in opts:
            live = [t for t in live if t.sub.name in (opts["name"] or "").split(",")]
        users = self._user_filter(opts.get("user"), "me" in opts)
        if users is not None and not users:
            live = []
        if opts.get("state") is not None:
            wanted = _parse_states(opts["state"] or "") or frozenset()
            live = [t for t in live if t.state in wanted]
        if opts.get("partition") is not None:
            live = [t for t in live if t.sub.partition in (opts["partition"] or "").split(",")]
        now = self._clock.now()
        if signum is not None and signum != signal_module.SIGKILL:
            return self._signal(argv, refs, live, signum, batch="batch" in opts, full="full" in opts)
        if signum is not None:
            # scancel --signal=KILL cancels, but like any --signal names each id to slurmctld and
            # reports the ones it does not know (or that already ended)
            missing = [ref.text for ref in refs if not any(_matches(t, ref) for t in live)]
            if missing:
                targets = [t for t in live if any(_matches(t, ref) for ref in refs)]
                for task in targets:
                    self._cancel(task, now)
                return CommandResult(argv, 1, "", "".join(
                    f"scancel: error: Kill job error on job id {text}: {messages.INVALID_JOB_ID}\n"
                    for text in missing))
        targets = live if not refs else [t for t in live if any(_matches(t, ref) for ref in refs)]
        named = [t for t in targets if t.pending and t.index is not None
                 and any(ref.tasks is not None and _matches(t, ref) for ref in refs)]
        for task in targets:
            self._cancel(task, now)
        for task in named:
            # a pending task cancelled by its index leaves the array's record without trace (observed:
            # squeue --states=all and sacct no longer list it), unless it was the last one pending
            if any(t.pending and t.sub is task.sub for t in self._tasks):
                self._tasks.remove(task)
                if task in self._known:
                    self._known.remove(task)
                task.sub.unassigned -= 1  # it never takes an id of its own
        return CommandResult(argv, 0, "", "")

    def _signal(self, argv: tuple[str, ...], refs: Sequence[JobRef], live: Sequence[Task], signum: int, *,
                batch: bool, full: bool) -> CommandResult:
        """scancel --signal: without --batch or --full, signals reach job steps only, and a batch job
        of these scripts has none, so nothing happens (scancel(1))."""
        errors = []
        groups = [(ref.text, [t for t in live if _matches(t, ref)]) for ref in refs] or [("", list(live))]
        for text, tasks in groups:
            if not tasks:
                errors.append(f"scancel: error: Kill job error on job id {text}: {messages.INVALID_JOB_ID}\n")
                continue
            for task in tasks:
                if task.pending:
                    raise FakeUnsupported(f"scancel --signal for pending job {task.display_id} is not modelled")
                if not (batch or full):
                    continue
                if signum in _STOPPING_SIGNALS:
                    raise FakeUnsupported(f"scancel --signal={signum} (stopping a job) is not modelled")
                if task.proc is not None:
                    if full:
                        task.proc.signal_group(signum)
                    else:
                        task.proc.signal_shell(signum)
                elif signum not in _IGNORED_SIGNALS:
                    # an inline script's shell dies of the signal's default action
                    self._finish(task, self._clock.now(), "FAILED", 0, signum, "JobLaunchFailure",
                                 ("CANCELLED", 0, signum))
                    self._sched_requests.append(self._clock.now())
        return CommandResult(argv, 1 if errors else 0, "", "".join(errors))

    # ------------------------------------------------------------------ fault injection

    def fail_next(self, command: str, times: int = 1, *, stderr: str | None = None, returncode: int = 1,
                  submitted: bool = False) -> None:
        """The next ``times`` calls of ``command`` fail with Slurm's transient-error text.

        With ``submitted=True`` (sbatch only) the job is created anyway: the reply was lost.
        """
        if command not in COMMANDS:
            raise ValueError(f"command must be one of {', '.join(COMMANDS)}, not {command!r}")
        if submitted and command != "sbatch":
            raise ValueError("submitted=True applies to sbatch only")
        if times < 0:
            raise ValueError("times must not be negative")
        with self._lock:
            self._failures[command].extend(_Failure(stderr, returncode, submitted) for _ in range(times))

    def end_job(self, job_id: str | int, state: str, *, exit_code: int | None = None, signal: int | None = None,
                reason: str | None = None) -> None:
        """A pending or running job ends now in ``state``, without running (the rest of) its script."""
        with self._lock:
            outcome = _outcome(state, exit_code, signal, reason)
            now = self._clock.now()
            for task in self._live_tasks(job_id):
                if task.proc is not None:
                    task.proc.kill_and_reap()
                if outcome.state == "CANCELLED":
                    task.cancelled_by = self.cluster.uid
                    if task.running and exit_code is None and signal is None:
                        task.accounted_exit = (0, 0)  # as scancel's (see _cancel)
                self._finish(task, now, outcome.state, outcome.exit_code, outcome.signal, outcome.reason,
                             _batch_step(outcome.state, outcome.exit_code, outcome.signal))
            self._sched_requests.append(now)

    def set_outcome(self, job_id: str | int, state: str, *, exit_code: int | None = None,
                    signal: int | None = None, reason: str | None = None) -> None:
        """The job ends in ``state`` when it would have ended (after ``job_duration`` running), without
        running its script. A subprocess job that already runs is stopped quietly and its end planned."""
        with self._lock:
            outcome = _outcome(state, exit_code, signal, reason)
            for task in self._live_tasks(job_id):
                task.outcome = outcome
                if task.running and task.proc is not None:
                    task.proc.kill_and_reap()
                    task.proc.cleanup()
                    self._processes.remove(task.proc)
                    task.proc = None
                    task.term_at = None
                    task.due_end = max((task.start or 0.0) + self.job_duration, self._clock.now())

    def start_step(self, job_id: str | int, name: str) -> int:
        """A job step (``srun`` in the batch script) starts in a running job; its number (0, 1, ...).

        The fake commands on PATH call this; sacct then lists the step as ``ID.N``."""
        with self._lock:
            task = self._by_own_id(job_id)
            if not task.running:
                raise ValueError(f"job {job_id} is {task.state}, not RUNNING")
            step = StepRecord(len(task.steps), name, self._clock.now())
            task.steps.append(step)
            return step.step_id

    def end_step(self, job_id: str | int, step_id: int, exit_code: int, signal: int = 0) -> None:
        """The step ended: COMPLETED for exit 0, FAILED otherwise (sacct ``N:0``; ``0:S`` if killed)."""
        with self._lock:
            for task in [self._by_own_id(job_id)]:
                for step in task.steps:
                    if step.step_id == step_id and step.end is None:
                        step.end = self._clock.now()
                        step.exit_code, step.signal = exit_code, signal
                        step.state = "COMPLETED" if exit_code == 0 and signal == 0 else "FAILED"
                        if signal and task.state == "CANCELLED":
                            step.state = "CANCELLED"

    def delay_start(self, job_id: str | int, seconds: float) -> None:
        """The job cannot start before its submission time + ``seconds`` (reason ``BeginTime``)."""
        with self._lock:
            for task in self._live_tasks(job_id):
                if not task.pending:
                    raise ValueError(f"job {task.display_id} is {task.state}, not pending")
                task.eligible = task.sub.submit_time + seconds
                task.woken = False
                task.reason = "BeginTime" if seconds > 0 else "Priority"

    def hide_results(self, job_id: str | int, seconds: float) -> None:
        """When the job ends, hide the result files its worker wrote for ``seconds`` (a slow NFS)."""
        with self._lock:
            for task in self._tasks_for(job_id):
                task.hide_for = seconds
                if task.finished and not task.completing and task.start is not None:
                    self._hide_results(task, self._clock.now())

    def set_accounting(self, enabled: bool) -> None:
        """Switch slurmdbd on or off: sacct then answers, or says accounting is disabled."""
        with self._lock:
            self._accounting = bool(enabled)

    # ------------------------------------------------------------------ inspection

    def queue(self) -> list[str]:
        """Ids of pending and running jobs as ``squeue --array`` lists them (``12``, ``12_3``)."""
        with self._lock:
            tasks = [t for t in self._tasks if t.shown_state in _DEFAULT_SQUEUE_STATES]
            return [r.job_id() for r in sorted(rows(tasks, expand_pending=True), key=squeue_sort_key)]

    def job(self, job_id: str | int) -> JobSnapshot:
        """A snapshot of one job or array task; ``KeyError`` if unknown, ``ValueError`` if it names a
        whole array of several tasks (say ``"12_3"``)."""
        with self._lock:
            tasks = self._tasks_for(job_id)
            if len(tasks) != 1:
                raise ValueError(f"{job_id!r} names {len(tasks)} array tasks; name one, e.g. "
                                 f"{tasks[0].display_id!r}")
            return self._snapshot(tasks[0])

    def jobs(self) -> list[JobSnapshot]:
        """Snapshots of every job the fake knows, purged or not, in submission order."""
        with self._lock:
            return [self._snapshot(t) for t in self._tasks]

    def _snapshot(self, task: Task) -> JobSnapshot:
        out, err = std_paths(task, self.cluster.user)
        sub = task.sub
        return JobSnapshot(
            job_id=task.display_id, raw_job_id=task.raw_id, array_job_id=task.array_job_id,
            array_task_id=task.index, state=task.shown_state, reason=task.reason, exit_code=task.exit_code,
            signal=task.signal, name=sub.name, script=sub.script, output_path=out, error_path=err,
            workdir=sub.workdir, submit_time=sub.submit_time, eligible_time=task.eligible,
            start_time=task.start, end_time=task.end, time_limit=sub.time_limit, nodes=task.nodes,
            cpus=task.cpus, partition=sub.partition, comment=sub.comment, argv=sub.argv,
            env=MappingProxyType(dict(task.env)) if task.env is not None and sub.inline is None else None,
        )

    def _tasks_for(self, job_id: str | int) -> list[Task]:
        try:
            ref = parse_job_ref(str(job_id))
        except ValueError:
            raise KeyError(f"not a job id: {job_id!r}") from None
        tasks = self._match(self._tasks, [ref])
        if not tasks:
            raise KeyError(f"no job {job_id!r}")
        return tasks

    def _by_own_id(self, job_id: str | int) -> Task:
        """The task a job's own id names (SLURM_JOB_ID inside the job: an array task's own id)."""
        wanted = int(job_id)
        for task in self._known:
            if task.job_id == wanted:
                return task
        raise KeyError(f"no running job {job_id!r}")

    def _live_tasks(self, job_id: str | int) -> list[Task]:
        tasks = [t for t in self._tasks_for(job_id) if t.pending or t.running]
        if not tasks:
            raise ValueError(f"job {job_id!r} has already ended")
        return tasks

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Kill subprocess jobs still running and remove the spool directory."""
        with self._lock:
            self._finalizer()

    def __enter__(self) -> FakeSlurm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"FakeSlurm(progression={self._clock.progression!r}, execution={self.execution!r},"
                f" nodes={len(self.cluster.nodes)}, cpus_per_node={self.cluster.cpus_per_node},"
                f" jobs={len(self._tasks)})")


def _positive(opts: Mapping[str, str | None], name: str) -> int | None:
    text = opts.get(name)
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise _SbatchError(1, f'sbatch: error: Invalid numeric value "{text}" for --{name}.\n')
    return int(text)


def _exported(spec: str | None, env: Mapping[str, str], given: bool) -> dict[str, str]:
    """sbatch --export: ALL (the default), NONE, or a list of names and NAME=value, with or without ALL."""
    if not given or spec is None or spec == "ALL":
        return dict(env)
    items = spec.split(",")
    result = dict(env) if "ALL" in items else {}
    for item in items:
        if item in ("ALL", "NONE"):
            continue
        name, eq, value = item.partition("=")
        if eq:
            result[name] = value
        elif name in env:
            result[name] = env[name]
    return result


def _split_ids(word: str) -> list[str]:
    """``12,13_[1,2]`` → ``12``, ``13_[1,2]``: commas outside brackets separate job ids."""
    ids, depth, current = [], 0, ""
    for char in word:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            ids.append(current)
            current = ""
        else:
            current += char
    return [*ids, current]


def _state_name(text: str) -> str | None:
    upper = text.strip().upper()
    if upper in STATE_CODES:
        return upper
    for name, code in STATE_CODES.items():
        if code == upper:
            return name
    return None


def _parse_states(text: str) -> frozenset[str] | None:
    """``all`` → None (no filter); else the named states, or an empty set if one is invalid."""
    if text.strip().lower() == "all":
        return None
    names = [_state_name(s) for s in text.split(",")]
    if any(n is None for n in names):
        return frozenset()
    return frozenset(n for n in names if n is not None)


def _matches(task: Task, ref: JobRef) -> bool:
    if ref.tasks is not None:
        return task.sub.array is not None and task.sub.job_id == ref.job_id and task.index in ref.tasks
    if task.sub.array is not None and task.sub.job_id == ref.job_id:
        return True
    return task.job_id == ref.job_id


def _in_window(task: Task, start: float | None, end: float | None) -> bool:
    if end is not None and task.sub.submit_time > end:
        return False
    if start is not None and task.end is not None and task.end < start:
        return False
    return True


def _outcome(state: str, exit_code: int | None, sig: int | None, reason: str | None) -> Outcome:
    if state not in END_DEFAULTS:
        raise ValueError(f"state must be one of {', '.join(END_DEFAULTS)}, not {state!r}")
    default_exit, default_signal, default_reason = END_DEFAULTS[state]
    return Outcome(state, default_exit if exit_code is None else exit_code,
                   default_signal if sig is None else sig, reason or default_reason)


def _batch_step(state: str, exit_code: int, sig: int) -> tuple[str, int, int]:
    """The ``.batch`` step sacct lists for a job that ended in ``state``."""
    if state == "TIMEOUT":
        return ("CANCELLED", 0, 15)
    if state == "FAILED" and sig:
        return ("CANCELLED", 0, sig)
    return (state, exit_code, sig)


def _run_worker(args: list[str], out: TextIO, err: TextIO) -> int:
    """``python -m cfut.remote ARGS`` in this process, its output going to the job's files.

    The worker sets a umask and extends sys.path for the process it owns; here the process is the
    test's, so both are put back afterwards. While it runs, this process's stdout and stderr go to
    the job's files too, so that what the user's function prints lands in the job's log.
    """
    from ... import _worker as remote

    saved_path = list(sys.path)
    saved_umask = os.umask(0o077)
    os.umask(saved_umask)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return remote.main(args, log=out)
    except SystemExit as exc:  # argparse's usage errors, or the user's code calling sys.exit
        code = exc.code
        if code is None or isinstance(code, int):
            return code or 0
        err.write(f"{code}\n")
        return 1
    except Exception:
        out.write(traceback.format_exc())
        return 1
    finally:
        sys.path[:] = saved_path
        os.umask(saved_umask)
