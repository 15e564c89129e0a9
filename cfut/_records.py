"""Job records and their state machine: the only code that changes a call's or a task's state.

A *call* is one ``fn(*args, **kwargs)`` with its future; a *task* is what the scheduler runs (a plain
job or one array task) and carries one or more calls; a *batch* is one submission of one or more
tasks. Their states, and every legal transition (each is one function of :class:`JobStore`)::

    Call:   PENDING ──mark_running──► RUNNING ──resolve──► DONE
               │                                              ▲
               ├───────────────────resolve────────────────────┘   (result, error, broken executor)
               └──cancel──► CANCELLED

    Task:   SUBMITTING ──accept──► QUEUED ◄──observe(queued: requeued)── RUNNING / ENDED
                                     │  ──observe(running) / started marker──► RUNNING
                                     │  ──observe(finished or unknown)──────► ENDED
            any live state ──settle(job gone or ending by itself)──► DONE
            QUEUED / RUNNING ──settle(job still needs removing)──► CANCELLING ──removed──► DONE

A task is *settled* once none of its calls is PENDING or RUNNING; its files go when it reaches DONE
(never while its job may still run: a CANCELLING task keeps them until the cancel command succeeded).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import enum
import functools
import logging
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._status import JobStatus, Phase

if TYPE_CHECKING:
    from ._future import ClusterFuture
    from ._resources import JobOptions

log = logging.getLogger("cfut")


class CallState(enum.Enum):
    PENDING = "pending"  # its job is being submitted or waits in the queue; the future is PENDING
    RUNNING = "running"  # its job runs; the future is RUNNING and can no longer be cancelled
    DONE = "done"  # the future holds a result or an exception
    CANCELLED = "cancelled"  # the future was cancelled before its job ran


class TaskState(enum.Enum):
    SUBMITTING = "submitting"  # files written, the submission not yet accepted
    QUEUED = "queued"  # accepted; pending in the scheduler, or nothing heard yet
    RUNNING = "running"  # the scheduler, or the worker's started marker, says it runs
    ENDED = "ended"  # the scheduler says it ended (or no longer knows it); results may still appear
    CANCELLING = "cancelling"  # no call needs it any more, but its job may still be queued or running
    DONE = "done"  # forgotten: nothing outstanding, nothing of it left in the queue

    @property
    def live(self) -> bool:
        return self is not TaskState.DONE


_IN_QUEUE = (TaskState.QUEUED, TaskState.RUNNING)


@dataclass(eq=False)
class Call:
    """One ``fn(*args, **kwargs)`` and its future."""

    call_id: str
    future: ClusterFuture
    task: Task
    state: CallState = CallState.PENDING
    function: str = ""  # the function's qualified name (for statistics of how long calls run)
    #: Result files of the calls whose results this one takes (futures passed as arguments, see cfut._deps).
    depends_on: tuple[str, ...] = ()
    #: The ids of those calls (written to the journal, so that reattach restores the links).
    after: tuple[str, ...] = ()

    @property
    def settled(self) -> bool:
        return self.state in (CallState.DONE, CallState.CANCELLED)


@dataclass(eq=False)
class Task:
    """One unit the scheduler runs: a plain job, or one task of an array job."""

    batch: Batch
    index: int | None
    key: str
    calls: list[Call] = field(default_factory=list)
    state: TaskState = TaskState.SUBMITTING
    scheduler_id: str | None = None  # "12", "12_3" (Slurm), "12.3" (HTCondor), once accepted
    status: JobStatus | None = None  # what the scheduler said last
    ended_at: float | None = None  # executor clock when first seen ended (or unknown)
    keep_log: bool = False  # its job died: its log stays after it is forgotten
    stuck_since: float | None = None  # executor clock when it entered a status the adapter gives up on
    looked_up: bool = False  # the fallback was asked how its job ended (Poller._look_up)

    def waited_for(self) -> bool:
        """Some call still waits for this task's job."""
        return any(not call.settled for call in self.calls)


@dataclass(eq=False)
class Batch:
    """One submission to the scheduler; carries one or more tasks."""

    key: str
    tasks: list[Task] = field(default_factory=list)
    job_id: str | None = None
    script_path: str = ""
    #: Tasks of this batch not yet DONE; at 0 the batch's own files (script, functions) can go.
    live: int = 0
    #: Scheduler ids this batch must wait for (``afterok``), or the array it follows task by task
    #: (``aftercorr``); see cfut._deps.
    dependencies: tuple[str, ...] = ()
    dependency_kind: str = "afterok"
    #: The scheduler options this batch is submitted with (resources, job name; the adapter renders
    #: them); None: the executor's defaults. Calls with different options never share a batch.
    options: JobOptions | None = None

    @property
    def array(self) -> bool:
        return bool(self.tasks) and self.tasks[0].index is not None


@dataclass
class CallCounts:
    done: int = 0
    failed: int = 0
    cancelled: int = 0


class ResultPins:
    """Result files (by path) that calls not yet run will read, process-wide: a result a dependant
    needs outlives its own task, whichever executor made it, until the last dependant has run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count: Counter[str] = Counter()
        self._kept: set[str] = set()

    def pin(self, path: str) -> None:
        with self._lock:
            self._count[path] += 1

    def keep(self, path: str) -> bool:
        """The file's owner would remove it now: False when it is pinned (it is kept until unpinned)."""
        with self._lock:
            if self._count[path] > 0:
                self._kept.add(path)
                return False
            del self._count[path]
            return True

    def unpin(self, path: str) -> bool:
        """A dependant ran: True when the file was kept only for it and may go now."""
        with self._lock:
            self._count[path] -= 1
            if self._count[path] > 0:
                return False
            del self._count[path]
            if path in self._kept:
                self._kept.discard(path)
                return True
            return False


#: The process's pinned result files.
PINS = ResultPins()


class JobStore:
    """Every live task of one executor, under one lock, with the transitions of the module docstring.

    ``on_done(task)`` is called (outside no lock guarantees: under the store's lock) when a task
    reaches DONE, so that its files can be removed.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.idle = threading.Condition(self.lock)
        self._live: dict[str, Task] = {}  # tasks not DONE (SUBMITTING excluded), by key
        self.inflight = 0  # submissions under way (between the shutdown check and accept/abandon)
        self.calls = CallCounts()
        self.submitted_jobs = 0
        self.submitted_tasks = 0
        #: Calls that take another call's result, by the id of the call they wait for.
        self.dependants: dict[str, list[Call]] = {}
        #: Dependencies that settled since the last propagation (see Poller.propagate).
        self.settled: list[Call] = []
        self._settled_lock = threading.Lock()
        #: Calls waiting in the executor for their dependencies (schedulers without dependencies).
        self.deferred = 0

    # -- queries

    def has_work(self) -> bool:
        """Anything left to do: a submission under way, a call outstanding or held back for its
        dependencies, or a job to remove."""
        with self.lock:
            return self.inflight > 0 or bool(self._live) or self.deferred > 0

    def live(self) -> list[Task]:
        with self.lock:
            return list(self._live.values())

    def outstanding(self) -> list[Task]:
        """Tasks some call still waits for (QUEUED, RUNNING, ENDED)."""
        with self.lock:
            return [t for t in self._live.values() if t.state is not TaskState.CANCELLING]

    def cancelling(self) -> list[Task]:
        with self.lock:
            return [t for t in self._live.values() if t.state is TaskState.CANCELLING]

    def by_state(self) -> Counter[str]:
        """Live tasks by the scheduler's own state name (``SUBMITTED`` before it said anything)."""
        with self.lock:
            return Counter(t.status.state if t.status else "SUBMITTED" for t in self._live.values())

    # -- submission

    def begin_submission(self) -> None:
        with self.lock:
            self.inflight += 1

    def end_submission(self) -> None:
        with self.lock:
            self.inflight -= 1
            self.idle.notify_all()

    def accept(self, batch: Batch, job_id: str, task_ids: Sequence[str]) -> None:
        """SUBMITTING → QUEUED: the scheduler accepted ``batch`` as ``job_id``."""
        with self.lock:
            batch.job_id = job_id
            for task, sid in zip(batch.tasks, task_ids, strict=True):
                task.scheduler_id = sid
                task.state = TaskState.QUEUED
                self._live[task.key] = task
            batch.live = len(batch.tasks)
            self.submitted_jobs += 1
            self.submitted_tasks += len(batch.tasks)

    # -- what the scheduler and the work directory say

    def observe(self, task: Task, status: JobStatus, now: float) -> bool:
        """Take in the scheduler's status for a task; True if it changed anything."""
        with self.lock:
            if task.state not in (TaskState.QUEUED, TaskState.RUNNING, TaskState.ENDED):
                return False
            known = task.status
            if (known is not None and known.state == status.state and status.exit_code is None
                    and status.signal is None):
                # squeue says the state, an earlier lookup said how it ended: keep what we know
                status = dataclasses.replace(status, exit_code=known.exit_code, signal=known.signal)
            changed = status != known
            task.status = status
            if changed:
                task.stuck_since = None
            if status.phase is not Phase.FINISHED:
                task.looked_up = False  # requeued: how it ends next time is asked again
            if status.phase is Phase.RUNNING:
                self._mark_running(task)
                task.ended_at = None
            elif status.phase is Phase.FINISHED:
                if task.state is not TaskState.ENDED:
                    task.state = TaskState.ENDED
                    task.ended_at = now
            else:  # queued: new, or requeued after running or after a premature end
                task.state = TaskState.QUEUED
                task.ended_at = None
            return changed

    def mark_running(self, task: Task) -> None:
        """The worker's started marker: the job runs whatever the scheduler said last."""
        with self.lock:
            if task.state in (TaskState.QUEUED, TaskState.ENDED):
                self._mark_running(task)

    def _mark_running(self, task: Task) -> None:
        if task.state is TaskState.QUEUED:
            task.state = TaskState.RUNNING
        for call in task.calls:
            if call.state is CallState.PENDING:
                if call.future.set_running_or_notify_cancel():
                    call.state = CallState.RUNNING
                else:  # pragma: no cover - cancel() goes through cancel(), which marks the call
                    call.state = CallState.CANCELLED

    def resolve(self, call: Call, ok: bool, value: Any) -> bool:
        """PENDING/RUNNING → DONE: give a call its outcome, exactly once. False if it was settled."""
        with self.lock:
            if call.settled:
                return False
            future = call.future
            if call.state is CallState.PENDING and not future.set_running_or_notify_cancel():
                call.state = CallState.CANCELLED  # pragma: no cover - see _mark_running
                return False
            call.state = CallState.DONE
            if ok:
                future.set_result(value)
                self.calls.done += 1
            else:
                future.set_exception(value)
                self.calls.failed += 1
            return True

    def cancel(self, calls: Iterable[Call]) -> list[Call]:
        """PENDING → CANCELLED for these calls' futures; the calls actually cancelled."""
        done = []
        with self.lock:
            for call in calls:
                if call.state is not CallState.PENDING:
                    continue
                if not concurrent.futures.Future.cancel(call.future):
                    continue
                call.future.set_running_or_notify_cancel()  # wakes wait()/as_completed() at once
                call.state = CallState.CANCELLED
                self.calls.cancelled += 1
                done.append(call)
        return done

    def cancel_queued(self, future: ClusterFuture) -> None:
        """Cancel the future of a call that never left its coalescing bucket."""
        with self.lock:
            if concurrent.futures.Future.cancel(future):
                future.set_running_or_notify_cancel()
                self.calls.cancelled += 1

    def fail_queued(self, future: ClusterFuture, error: BaseException) -> None:
        """A coalesced call whose submission failed: its future carries the error."""
        with self.lock:
            if not future.done():
                future.set_exception(error)
                self.calls.failed += 1

    def settle(self, task: Task, *, remove_job: bool) -> TaskState:
        """A task none of whose calls is outstanding leaves the live set: DONE, or CANCELLING when its
        job may still be queued or running and ``remove_job`` says it must go. Returns the new state."""
        with self.lock:
            if task.waited_for() or not task.state.live or task.state is TaskState.CANCELLING:
                return task.state
            if remove_job and task.scheduler_id is not None:
                task.state = TaskState.CANCELLING
                return task.state
            self._done(task)
            return task.state

    def removed(self, task: Task) -> None:
        """CANCELLING → DONE: the scheduler no longer has the job."""
        with self.lock:
            if task.state is TaskState.CANCELLING:
                self._done(task)

    def depend(self, call: Call, on: Sequence[tuple[Call, str]]) -> None:
        """``call`` takes the results of ``on`` (each a dependency's call and its result file, already
        pinned in :data:`PINS` until it has run): let their failure or cancellation reach it,
        whichever executor they belong to."""
        with self.lock:
            call.depends_on = tuple(path for _, path in on)
            for dependency, _ in on:
                self.dependants.setdefault(dependency.call_id, []).append(call)
        for dependency, _ in on:
            dependency.future.add_done_callback(functools.partial(self._note_settled, dependency))

    def _note_settled(self, dependency: Call, _future: object = None) -> None:
        with self._settled_lock:
            self.settled.append(dependency)

    def take_settled(self) -> list[Call]:
        with self._settled_lock:
            settled, self.settled = self.settled, []
            return settled

    def _done(self, task: Task) -> None:
        task.state = TaskState.DONE
        if self._live.pop(task.key, None) is not None:
            task.batch.live -= 1
        if not self._live and not self.inflight:
            self.idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait (really) until nothing is left to do, at most ``timeout`` seconds; True when idle."""
        with self.lock:
            if self.inflight or self._live:
                self.idle.wait(timeout)
            return not (self.inflight or self._live)
