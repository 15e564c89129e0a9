"""The scheduler-independent executor: job records, the monitor thread, cancel and shutdown.

Data flow::

    submit(fn, *args) ──► Call (one future) ─┐
                                             ├─► Task (one job / array task) ─► Batch (one submission)
    backend.submit(batch) ── sbatch ─────────┘        payload <task>.in, script <batch>.sh
                                                                │
    monitor thread ── poll: status query (1 command) ───────────┤  squeue --jobs=all outstanding
                           + fallback lookups (batched) ────────┤  sacct, then scontrol
                           + one directory scan ────────────────┘  <call>.out results, <task>.started

A backend (``SlurmExecutor``, ``CondorExecutor``) supplies four things only: how to submit a batch,
how to ask the status of many jobs in one command, how to look up jobs the status command no longer
shows, and how to cancel many jobs in one command. Everything else lives here.

The monitor thread holds only a weak reference to its executor, and runs :meth:`poll_once` steps at
an adaptive interval: fast right after a submission or a change, backing off while nothing changes.
Tests call :meth:`ClusterExecutor.poll_once` directly with ``background_polling=False``.
"""

from __future__ import annotations

import collections
import concurrent.futures
import enum
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _worker as remote
from . import files, serialize
from ._errors import (
    CfutError,
    CommandTimeoutError,
    ExecutorShutdownError,
    InvalidArgumentError,
    JobDied,
    RemoteException,
    RemoteTraceback,
    SchedulerError,
    SerializationError,
    SubmissionError,
)
from ._runner import CommandResult, CommandRunner, default_runner

log = logging.getLogger("cfut")

LOG_TAIL_LINES = 20


class Phase(enum.Enum):
    """Where a job is, whatever the scheduler calls its state."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"


@dataclass(frozen=True)
class JobStatus:
    """What the scheduler said about one job or array task."""

    state: str  # the scheduler's own name: PENDING, RUNNING, COMPLETED, TIMEOUT, HELD, ...
    phase: Phase
    reason: str = ""
    exit_code: int | None = None
    signal: int | None = None
    #: Backend-specific keyword arguments for the error class (e.g. HTCondor's hold_code).
    details: tuple[tuple[str, Any], ...] = ()


UNKNOWN_STATUS = JobStatus("UNKNOWN", Phase.FINISHED, "the scheduler no longer knows this job")


class ClusterFuture(concurrent.futures.Future):  # type: ignore[type-arg]
    """A stdlib future whose ``cancel()`` also removes the job from the scheduler's queue.

    ``job_id`` is the scheduler's id of the job running this call (``None`` until submitted).
    """

    def __init__(self) -> None:
        super().__init__()
        self._cfut_executor: weakref.ref[ClusterExecutor] | None = None
        self._cfut_call: Call | None = None

    @property
    def job_id(self) -> str | None:
        call = self._cfut_call
        return call.task.scheduler_id if call is not None else None

    def cancel(self) -> bool:
        executor = self._cfut_executor() if self._cfut_executor is not None else None
        if executor is None or self._cfut_call is None:
            return super().cancel()
        return executor._cancel_call(self._cfut_call)


@dataclass(eq=False)
class Call:
    """One ``fn(*args, **kwargs)`` and its future."""

    call_id: str
    future: ClusterFuture
    task: Task
    running: bool = False
    resolved: bool = False


@dataclass(eq=False)
class Task:
    """One unit the scheduler runs: a plain job, or one task of an array job."""

    batch: Batch
    index: int | None
    key: str
    calls: list[Call] = field(default_factory=list)
    status: JobStatus | None = None
    finished_at: float | None = None  # executor clock when first seen finished or unknown
    started: bool = False
    cancel_requested: bool = False

    @property
    def scheduler_id(self) -> str | None:
        job = self.batch.job_id
        if job is None:
            return None
        return self.batch.naming(job, self.index)

    @property
    def outstanding(self) -> bool:
        return any(not call.resolved for call in self.calls)


@dataclass(eq=False)
class Batch:
    """One submission to the scheduler; carries one or more tasks."""

    key: str
    tasks: list[Task] = field(default_factory=list)
    job_id: str | None = None
    script_path: str = ""
    #: Tasks of this batch the executor still tracks; at 0 the batch script can go.
    tracked: int = 0
    #: How the scheduler names a task of this batch: Slurm "12" / "12_3", HTCondor "12.0" / "12.3".
    naming: Callable[[str, int | None], str] = field(default=lambda job, index: job if index is None
                                                    else f"{job}_{index}")


@dataclass
class _Counters:
    polls: int = 0
    status_queries: int = 0
    query_failures: int = 0
    commands: collections.Counter[str] = field(default_factory=collections.Counter)
    command_failures: collections.Counter[str] = field(default_factory=collections.Counter)
    submitted_jobs: int = 0
    submitted_tasks: int = 0
    calls_done: int = 0
    calls_failed: int = 0
    calls_cancelled: int = 0
    monitor_errors: int = 0


def _check_setup_lines(lines: object, what: str) -> tuple[str, ...]:
    if isinstance(lines, (str, bytes)) or not isinstance(lines, Iterable):
        raise InvalidArgumentError(f"{what} must be a sequence of strings, got {lines!r}")
    checked = tuple(lines)
    for line in checked:
        if not isinstance(line, str):
            raise InvalidArgumentError(f"{what} must contain only strings, got {line!r}")
    return checked


def _check_paths(paths: object, what: str) -> tuple[str, ...]:
    if isinstance(paths, (str, bytes)) or not isinstance(paths, Iterable):
        raise InvalidArgumentError(f"{what} must be a sequence of paths, got {paths!r}")
    checked = []
    for path in paths:
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidArgumentError(f"{what} must contain only paths, got {path!r}")
        checked.append(os.path.abspath(os.fspath(path)))
    return tuple(checked)


def _positive(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidArgumentError(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)


def _tail(path: str, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read()
    except OSError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


def _decode_outcome(path: str) -> tuple[bool, Any]:
    """Read a result file: (True, value) or (False, exception to raise)."""
    ok, data, tb, type_name = remote.decode_result(serialize.read(path))
    if ok:
        if data is None:
            return False, CfutError(f"result file {path!r} says the call succeeded but holds no value")
        try:
            return True, serialize.loads(data)
        except Exception as exc:
            return False, SerializationError(
                f"the job's result could not be unpickled here: {type(exc).__name__}: {exc}"
            )
    exc_obj: BaseException | None = None
    if data is not None:
        try:
            exc_obj = serialize.loads(data)
        except Exception:
            exc_obj = None
    if isinstance(exc_obj, BaseException):
        exc_obj.__cause__ = RemoteTraceback(tb)
        return False, exc_obj
    return False, RemoteException(tb, type_name)


class ClusterExecutor(concurrent.futures.Executor):
    """Base class of the cluster executors; see the module docstring for the design."""

    #: Name used in log messages and errors, e.g. "Slurm".
    scheduler_name = "cluster"

    def __init__(
        self,
        debug: bool = False,
        keep_logs: bool = False,
        *,
        runner: CommandRunner | None = None,
        workdir: str | os.PathLike[str] | None = None,
        poll_interval: float = 0.5,
        max_poll_interval: float = 10.0,
        result_grace: float = 5.0,
        submit_retries: int = 3,
        background_polling: bool = True,
        clock: Callable[[], float] | None = None,
        additional_setup_lines: Sequence[str] = (),
        additional_import_paths: Sequence[str | os.PathLike[str]] = (),
    ) -> None:
        self.additional_setup_lines = _check_setup_lines(additional_setup_lines, "additional_setup_lines")
        self.additional_import_paths = _check_paths(additional_import_paths, "additional_import_paths")
        if runner is None:
            runner = default_runner(self.scheduler_name)  # SubprocessRunner(), unless a fake stands in
        elif not isinstance(runner, CommandRunner):
            raise InvalidArgumentError(
                f"runner must have a run(argv, *, input, env, cwd, timeout) method, got {runner!r}"
            )
        self._runner: CommandRunner = runner
        self.debug = bool(debug)
        self.keep_logs = bool(keep_logs)
        self.workdir = files.prepare_workdir(workdir)
        self._poll_interval = _positive(poll_interval, "poll_interval")
        self._max_poll_interval = max(self._poll_interval, _positive(max_poll_interval, "max_poll_interval"))
        if isinstance(result_grace, bool) or not isinstance(result_grace, (int, float)) or result_grace < 0:
            raise InvalidArgumentError(f"result_grace must be >= 0 seconds, got {result_grace!r}")
        self._result_grace = float(result_grace)
        if isinstance(submit_retries, bool) or not isinstance(submit_retries, int) or submit_retries < 0:
            raise InvalidArgumentError(f"submit_retries must be a whole number >= 0, got {submit_retries!r}")
        self._submit_retries = submit_retries
        # A fake scheduler supplies its own (virtual) clock and sleep, so that tests never wait.
        self._clock: Callable[[], float] = clock or getattr(runner, "clock", None) or time.monotonic
        self._sleep: Callable[[float], None] = getattr(runner, "sleep", None) or time.sleep
        if self.debug:
            log.setLevel(logging.DEBUG)
            if not logging.getLogger().handlers and not log.handlers:
                logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s")

        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._poll_lock = threading.Lock()
        self._tasks: dict[str, Task] = {}  # outstanding tasks by key
        self._cancel_queue: list[Task] = []  # tasks whose job must still be removed from the queue
        self._inflight = 0  # submissions between the shutdown check and registration
        self._shutdown = False
        self._counters = _Counters()
        self._wakeup = threading.Event()
        self._stop = threading.Event()
        self._background = bool(background_polling)
        self._thread: threading.Thread | None = None
        self._interval = self._poll_interval
        self._last_query = float("-inf")

    # ------------------------------------------------------------------ backend interface

    def _submit_batch(self, batch: Batch, setup_lines: Sequence[str]) -> str:
        """Submit ``batch`` (its payload files exist) and return the scheduler's job id."""
        raise NotImplementedError

    def _query(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """One status command for all ``job_ids``; ids it does not know are left out."""
        raise NotImplementedError

    def _lookup(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """Find jobs the status command no longer shows (history, accounting). Batched."""
        return {}

    def _cancel_jobs(self, job_ids: Sequence[str]) -> bool:
        """Remove these jobs from the queue with one command; True when the scheduler agreed."""
        raise NotImplementedError

    @staticmethod
    def _task_id(job_id: str, index: int | None) -> str:
        """The scheduler's id of a task: Slurm's ``12`` or ``12_3`` by default."""
        return job_id if index is None else f"{job_id}_{index}"

    def _after_death(self, tasks: Sequence[Task]) -> None:
        """Called after tasks were declared dead (e.g. HTCondor removes held jobs here)."""

    def _error_for(self, status: JobStatus) -> type[JobDied]:
        """The JobDied subclass for a job that ended in ``status`` without a result."""
        return JobDied

    #: What a busy or unreachable scheduler says: failures worth retrying. Set by each backend.
    transient_errors: tuple[str, ...] = ()

    @classmethod
    def is_transient(cls, result: CommandResult) -> bool:
        """Whether a failed command's output says the scheduler was only busy or unreachable."""
        text = result.stderr + result.stdout
        return any(marker in text for marker in cls.transient_errors)

    def _log_path(self, task: Task) -> str:
        return files.in_dir(self.workdir, task.key + files.LOG_SUFFIX)

    # ------------------------------------------------------------------ commands

    def _run(self, argv: Sequence[str], *, input: str | None = None,
             env: dict[str, str] | None = None) -> CommandResult | None:
        """Run a scheduler command, counting it. A timeout is a failed command (None)."""
        name = os.path.basename(argv[0])
        with self._lock:
            self._counters.commands[name] += 1
        try:
            result = self._runner.run(argv, input=input, env=env)
        except CommandTimeoutError as exc:
            log.warning("%s", exc)
            with self._lock:
                self._counters.command_failures[name] += 1
            return None
        if result.returncode != 0:
            with self._lock:
                self._counters.command_failures[name] += 1
        log.debug("ran %s -> %d %r %r", list(argv), result.returncode, result.stdout[:200], result.stderr[:200])
        return result

    def _run_checked(self, argv: Sequence[str], *,
                     accept: Callable[[CommandResult], bool] = lambda result: False) -> CommandResult:
        """Run a status command; a timeout or a failure ``accept`` does not excuse is a SchedulerError."""
        name = os.path.basename(argv[0])
        result = self._run(argv)
        if result is None:
            raise SchedulerError(f"{name} timed out")
        if result.returncode != 0 and not accept(result):
            raise SchedulerError(f"{name} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def _run_submission(self, argv: Sequence[str], *, input: str | None = None,
                        env: dict[str, str] | None = None) -> CommandResult:
        """Run a submit command; its failure raises SubmissionError, wrapped for a retry when transient."""
        result = self._run(argv, input=input, env=env)
        if result is None:
            raise _TransientSubmitError(SubmissionError(argv, -1, "timed out"))
        if result.returncode != 0:
            error = SubmissionError(argv, result.returncode, result.stderr, result.stdout)
            raise _TransientSubmitError(error) if self.is_transient(result) else error
        return result

    # ------------------------------------------------------------------ public API

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> ClusterFuture:
        """Run ``fn(*args, **kwargs)`` as a cluster job; returns its future.

        The keyword ``additional_setup_lines`` (as in clusterfutures 0.5) is taken by ``submit``
        itself: extra lines for this job's batch script, after the executor's own.
        """
        setup_lines = _check_setup_lines(kwargs.pop("additional_setup_lines", ()), "additional_setup_lines")
        (future,) = self._submit_calls(fn, [(args, kwargs)], setup_lines, chunksize=1, array=False)
        return future

    def map(  # type: ignore[override]
        self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None, chunksize: int = 1
    ) -> Iterator[Any]:
        """Like :meth:`concurrent.futures.Executor.map`, submitted as few jobs as the scheduler
        allows: one array job (Slurm) or one cluster (HTCondor) whose tasks each run ``chunksize``
        consecutive items. Results come in order; closing the iterator early cancels the rest."""
        if isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1:
            raise InvalidArgumentError(f"chunksize must be a whole number >= 1, got {chunksize!r}")
        items: list[tuple[tuple[Any, ...], dict[str, Any]]] = [(args, {}) for args in zip(*iterables)]
        futures = self._submit_calls(fn, items, (), chunksize=chunksize, array=True) if items else []
        deadline = None if timeout is None else time.monotonic() + timeout

        def results() -> Iterator[Any]:
            pending = list(reversed(futures))
            try:
                while pending:
                    left = None if deadline is None else deadline - time.monotonic()
                    yield pending[-1].result(left)
                    pending.pop()
            finally:
                calls = [f._cfut_call for f in pending if f._cfut_call is not None]
                if calls:
                    self._cancel_calls(calls)

        return results()

    #: Most tasks one submission may carry (Slurm's MaxArraySize); backends may lower it.
    max_tasks_per_batch = 1000

    def _submit_calls(self, fn: Callable[..., Any], items: Sequence[tuple[tuple[Any, ...], dict[str, Any]]],
                      setup_lines: Sequence[str], *, chunksize: int, array: bool) -> list[ClusterFuture]:
        """Pickle every call first (nothing is submitted if one fails), then submit them as batches
        of at most ``max_tasks_per_batch`` tasks of ``chunksize`` calls each."""
        if not callable(fn):
            raise InvalidArgumentError(f"submit() needs a callable, got {fn!r}")
        with self._lock:
            if self._shutdown:
                raise ExecutorShutdownError("cannot submit new jobs after shutdown()")
            self._inflight += 1
        try:
            what = f"function {getattr(fn, '__qualname__', fn)!r} or its arguments"
            pickled = [serialize.dumps((fn, args, kwargs), what) for args, kwargs in items]
            chunks = [pickled[i:i + chunksize] for i in range(0, len(pickled), chunksize)]
            futures: list[ClusterFuture] = []
            for first in range(0, len(chunks), self.max_tasks_per_batch):
                group = chunks[first:first + self.max_tasks_per_batch]
                futures += self._submit_batch_of(group, setup_lines, array=array)
            return futures
        finally:
            with self._lock:
                self._inflight -= 1
                self._idle.notify_all()

    def _submit_batch_of(self, chunks: list[list[bytes]], setup_lines: Sequence[str], *,
                         array: bool) -> list[ClusterFuture]:
        batch = Batch(key=files.new_key(), naming=self._task_id)
        futures: list[ClusterFuture] = []
        for index, chunk in enumerate(chunks):
            task_index = index if array else None
            task = Task(batch=batch, index=task_index, key=files.task_key(batch.key, task_index))
            batch.tasks.append(task)
            for position, _ in enumerate(chunk):
                future = ClusterFuture()
                task.calls.append(Call(call_id=f"{task.key}.{position}", future=future, task=task))
                futures.append(future)
            self._write_payload(task, [(call.call_id, data) for call, data in zip(task.calls, chunk)])
        try:
            batch.job_id = self._submit_with_retries(batch, self.additional_setup_lines + tuple(setup_lines))
        except BaseException:
            self._remove_files(batch, keep_log=False)
            raise
        with self._lock:
            for task in batch.tasks:
                for call in task.calls:
                    call.future._cfut_executor = weakref.ref(self)
                    call.future._cfut_call = call
                self._tasks[task.key] = task
            batch.tracked = len(batch.tasks)
            _BUSY.add(self)
            self._counters.submitted_jobs += 1
            self._counters.submitted_tasks += len(batch.tasks)
            self._interval = self._poll_interval
        log.debug("submitted %d task(s) of %d call(s) as job %s", len(batch.tasks), len(futures), batch.job_id)
        self._ensure_monitor()
        self._wakeup.set()
        return futures

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking work; optionally cancel queued jobs; optionally wait for the rest.

        Idempotent. With ``cancel_futures=True`` every call not yet running is cancelled and its
        job removed from the scheduler's queue (one cancel command for all of them).
        """
        with self._lock:
            self._shutdown = True
            victims = [call for task in self._tasks.values() for call in task.calls
                       if not call.resolved and not call.running] if cancel_futures else []
        if victims:
            self._cancel_calls(victims)
        self._stop.set()
        self._wakeup.set()
        if wait:
            self._wait_idle()
            thread = self._thread
            if thread is not None and thread is not threading.current_thread():
                thread.join()

    def poll_once(self) -> None:
        """One monitoring step: one status query (if any job is outstanding), its fallbacks, and
        one scan of the work directory. The monitor thread calls this; so can tests."""
        self._poll(query=True)

    def statistics(self) -> dict[str, Any]:
        """A snapshot for debugging and benchmarks: jobs by state, calls by outcome, commands run."""
        with self._lock:
            by_state: collections.Counter[str] = collections.Counter()
            for task in self._tasks.values():
                by_state[task.status.state if task.status else "SUBMITTED"] += 1
            c = self._counters
            return {
                "jobs_by_state": dict(by_state),
                "outstanding_jobs": len(self._tasks),
                "submitted_jobs": c.submitted_jobs,  # scheduler submissions (an array counts once)
                "submitted_tasks": c.submitted_tasks,
                "calls": {"done": c.calls_done, "failed": c.calls_failed, "cancelled": c.calls_cancelled},
                "commands": dict(c.commands),
                "command_failures": dict(c.command_failures),
                "polls": c.polls,
                "status_queries": c.status_queries,
                "query_failures": c.query_failures,
                "monitor_errors": c.monitor_errors,
                "poll_interval": self._interval,
            }

    # ------------------------------------------------------------------ submission

    def _write_payload(self, task: Task, calls: list[tuple[str, bytes]]) -> None:
        path = files.in_dir(self.workdir, task.key + files.PAYLOAD_SUFFIX)
        serialize.write_private(path, serialize.dumps(calls, "payload"))

    def _submit_with_retries(self, batch: Batch, setup_lines: Sequence[str]) -> str:
        delay = 1.0
        for attempt in range(self._submit_retries + 1):
            try:
                return self._submit_batch(batch, setup_lines)
            except _TransientSubmitError as exc:
                adopted = self._find_lost_submission(batch)
                if adopted is not None:
                    log.warning("submission reported %r but job %s exists; adopting it", exc.error, adopted)
                    return adopted
                if attempt == self._submit_retries:
                    raise exc.error from None
                log.warning("submission failed (%s); retrying in %g s", exc.error, delay)
                self._sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def _find_lost_submission(self, batch: Batch) -> str | None:
        """After a failed submission, the id of a job the scheduler created anyway, if any."""
        return None

    # ------------------------------------------------------------------ cancellation

    def _cancel_call(self, call: Call) -> bool:
        """``Future.cancel()`` for one call: cancel the future, then the job if it carries no other
        live call. Fails (False) once the job runs."""
        with self._lock:
            future = call.future
            if future.cancelled():
                return True
            if call.resolved or call.running or future.done():
                return False
            started = files.in_dir(self.workdir, call.task.key + files.STARTED_SUFFIX)
            if os.path.exists(started):  # the worker already runs it; the scheduler may not say so yet
                self._mark_running(call.task)
                return False
        return bool(self._cancel_calls([call]))

    def _cancel_calls(self, calls: Sequence[Call]) -> int:
        """Cancel these not-yet-running calls; one cancel command for all jobs left without calls."""
        cancelled = 0
        with self._lock:
            for call in calls:
                if call.resolved or call.running:
                    continue
                if not concurrent.futures.Future.cancel(call.future):
                    continue
                call.future.set_running_or_notify_cancel()  # wakes wait()/as_completed() at once
                call.resolved = True
                cancelled += 1
                self._counters.calls_cancelled += 1
                task = call.task
                if not task.outstanding and not task.cancel_requested:
                    task.cancel_requested = True
                    self._cancel_queue.append(task)
        self._flush_cancels()
        return cancelled

    def _flush_cancels(self) -> None:
        """Remove queued-for-cancel jobs from the scheduler; what fails is retried next poll."""
        with self._lock:
            tasks = [t for t in self._cancel_queue if t.scheduler_id is not None]
            if not tasks:
                return
        ids = sorted({t.scheduler_id for t in tasks if t.scheduler_id})
        if not self._cancel_jobs(ids):
            log.warning("could not cancel jobs %s yet; will retry", ", ".join(ids))
            return
        with self._lock:
            for task in tasks:
                if task in self._cancel_queue:
                    self._cancel_queue.remove(task)
                self._forget(task, keep_log=False)

    # ------------------------------------------------------------------ monitoring

    def _ensure_monitor(self) -> None:
        if not self._background:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=_monitor, args=(weakref.ref(self), self._wakeup, self._stop),
                    name=f"cfut-monitor-{self.scheduler_name}", daemon=True,
                )
                self._thread.start()

    def _has_work(self) -> bool:
        with self._lock:
            return bool(self._tasks) or self._inflight > 0 or bool(self._cancel_queue)

    def _wait_idle(self) -> None:
        if self._background and self._thread is not None:
            with self._lock:
                while self._tasks or self._inflight or self._cancel_queue:
                    self._idle.wait(timeout=1.0)
            return
        while self._has_work():  # nobody else polls: do it here
            self.poll_once()
            if self._has_work():
                self._sleep(self._interval)

    def _monitor_step(self) -> float:
        """One wake-up of the monitor thread; returns how long to sleep."""
        now = time.monotonic()
        due = now - self._last_query >= self._interval
        changed = self._poll(query=due)
        with self._lock:
            if changed:
                self._interval = self._poll_interval
            elif due:
                self._interval = min(self._interval * 1.5, self._max_poll_interval)
        if due:
            self._last_query = now
        remaining = self._interval - (time.monotonic() - self._last_query)
        return max(0.01, min(remaining, 1.0))  # scanning for results is cheap: at least once a second

    def _poll(self, *, query: bool) -> bool:
        """Status query (optional), fallbacks, one directory scan, verdicts. True if anything changed."""
        with self._poll_lock:
            with self._lock:
                self._counters.polls += 1
                tasks = list(self._tasks.values())
            changed = False
            if query and tasks:
                changed |= self._update_statuses(tasks)
            changed |= self._collect_results(tasks)
            changed |= self._declare_dead(tasks)
            if self._cancel_queue:
                self._flush_cancels()
            return changed

    def _update_statuses(self, tasks: list[Task]) -> bool:
        ids = [t.scheduler_id for t in tasks if t.scheduler_id and t.outstanding]
        if not ids:
            return False
        with self._lock:
            self._counters.status_queries += 1
        try:
            statuses = self._query(ids)
        except SchedulerError as exc:
            with self._lock:
                self._counters.query_failures += 1
            log.warning("status query failed, will retry: %s", exc)
            return False
        # Jobs the status command no longer lists go to the fallback, once: a job already seen
        # finished (waiting out result_grace) keeps what we know and costs no more commands.
        settled = {t.scheduler_id for t in tasks if t.status is not None and t.status.phase is Phase.FINISHED}
        missing = [i for i in ids if i not in statuses and i not in settled]
        if missing:
            try:
                statuses.update(self._lookup(missing))
            except SchedulerError as exc:
                log.warning("looking up finished jobs failed, will retry: %s", exc)
                missing = []  # do not declare anything unknown on a failed lookup
        changed = False
        now = self._clock()
        for task in tasks:
            sid = task.scheduler_id
            if sid is None or not task.outstanding:
                continue
            status = statuses.get(sid)
            if status is None:
                if sid not in missing:
                    continue  # unlisted but seen finished: keep what we know
                status = UNKNOWN_STATUS
            if status != task.status:
                changed = True
                log.debug("job %s: %s (%s)", sid, status.state, status.reason)
            task.status = status
            if status.phase is Phase.RUNNING:
                self._mark_running(task)
            elif status.phase is Phase.FINISHED:
                if task.finished_at is None:
                    task.finished_at = now
            else:
                task.finished_at = None  # requeued
        return changed

    def _mark_running(self, task: Task) -> None:
        with self._lock:
            task.started = True
            for call in task.calls:
                if not call.resolved and not call.running:
                    if call.future.set_running_or_notify_cancel():
                        call.running = True
                    else:  # cancelled; _cancel_calls already notified, so this cannot happen
                        call.resolved = True

    def _collect_results(self, tasks: list[Task]) -> bool:
        try:
            names = set(os.listdir(self.workdir))
        except OSError as exc:
            log.warning("cannot scan work directory %s: %s", self.workdir, exc)
            return False
        changed = False
        for task in tasks:
            if not task.outstanding:
                continue
            if not task.started and task.key + files.STARTED_SUFFIX in names:
                self._mark_running(task)
                changed = True
            for call in task.calls:
                if call.resolved or call.call_id + files.RESULT_SUFFIX not in names:
                    continue
                path = files.in_dir(self.workdir, call.call_id + files.RESULT_SUFFIX)
                try:
                    ok, value = _decode_outcome(path)
                except Exception as exc:  # unreadable result file: report it, keep the file
                    ok, value = False, CfutError(f"cannot read result file {path!r}: {exc!r}")
                self._resolve(call, ok, value)
                changed = True
            if not task.outstanding and not task.cancel_requested:
                self._forget(task, keep_log=False)
        return changed

    def _resolve(self, call: Call, ok: bool, value: Any) -> None:
        """Give a call its outcome, exactly once; a cancelled future is left alone."""
        with self._lock:
            if call.resolved:
                return
            call.resolved = True
            future = call.future
            if not call.running:
                if not future.set_running_or_notify_cancel():
                    return
                call.running = True
            try:
                if ok:
                    future.set_result(value)
                    self._counters.calls_done += 1
                else:
                    future.set_exception(value)
                    self._counters.calls_failed += 1
            except concurrent.futures.InvalidStateError:  # pragma: no cover - guarded above
                log.exception("future of call %s was already resolved", call.call_id)

    def _declare_dead(self, tasks: list[Task]) -> bool:
        """Fail the calls of jobs that finished without a result once the grace period is over."""
        now = self._clock()
        dead = [t for t in tasks if t.outstanding and t.finished_at is not None
                and now - t.finished_at >= self._result_grace]
        if not dead:
            return False
        # The status command rarely knows exit codes; ask the fallback once, for all of them.
        need = [t.scheduler_id for t in dead if t.scheduler_id and t.status
                and t.status.exit_code is None and t.status is not UNKNOWN_STATUS]
        details: dict[str, JobStatus] = {}
        if need:
            try:
                details = self._lookup(need)
            except SchedulerError as exc:
                log.warning("could not look up exit codes of %s: %s", ", ".join(need), exc)
        for task in dead:
            status = task.status or UNKNOWN_STATUS
            detail = details.get(task.scheduler_id or "")
            if detail is not None and detail.phase is Phase.FINISHED:
                status = JobStatus(status.state, status.phase, status.reason or detail.reason,
                                   detail.exit_code, detail.signal, status.details or detail.details)
            log_path = self._log_path(task)
            error_type = self._error_for(status)
            for call in task.calls:
                error = error_type(
                    task.scheduler_id or "?", status.state, exit_code=status.exit_code, signal=status.signal,
                    reason=status.reason, log_path=log_path if os.path.exists(log_path) else None,
                    log_tail=_tail(log_path), **dict(status.details),
                )
                self._resolve(call, False, error)
            self._forget(task, keep_log=True)
        self._after_death(dead)
        return True

    def _forget(self, task: Task, *, keep_log: bool) -> None:
        """Stop tracking a task whose calls are all resolved; remove its files."""
        with self._lock:
            if self._tasks.pop(task.key, None) is None:
                if not task.cancel_requested:
                    return
            else:
                task.batch.tracked -= 1
            batch_done = task.batch.tracked == 0
            if not self._tasks and not self._inflight and not self._cancel_queue:
                _BUSY.discard(self)
                self._idle.notify_all()
        self._remove_task_files(task, keep_log=keep_log)
        if batch_done and not self.keep_logs and not keep_log:
            _unlink(task.batch.script_path)

    def _remove_task_files(self, task: Task, *, keep_log: bool) -> None:
        names = [task.key + files.PAYLOAD_SUFFIX, task.key + files.STARTED_SUFFIX]
        names += [call.call_id + files.RESULT_SUFFIX for call in task.calls]
        if not (self.keep_logs or keep_log):
            names.append(task.key + files.LOG_SUFFIX)
        for name in names:
            _unlink(files.in_dir(self.workdir, name))

    def _remove_files(self, batch: Batch, *, keep_log: bool) -> None:
        for task in batch.tasks:
            self._remove_task_files(task, keep_log=keep_log)
        _unlink(batch.script_path)

    # ------------------------------------------------------------------ context manager etc.

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workdir={self.workdir!r}, runner={self._runner!r})"


class _TransientSubmitError(Exception):
    """Raised by a backend's ``_submit_batch`` for a failure worth retrying."""

    def __init__(self, error: CfutError) -> None:
        super().__init__(str(error))
        self.error = error


#: Executors with outstanding jobs: kept alive until their futures resolve (see _monitor).
_BUSY: set[ClusterExecutor] = set()


def _unlink(path: str) -> None:
    if not path:
        return
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("cannot remove %s: %s", path, exc)


def _monitor(ref: weakref.ref[ClusterExecutor], wakeup: threading.Event, stop: threading.Event) -> None:
    """The monitor thread: poll until shut down and idle, or until the executor is collected.

    The thread holds its executor weakly; while jobs are outstanding, ``_BUSY`` holds it, so that
    ``SlurmExecutor().submit(f)`` without a name for the executor still resolves its future. An idle
    executor can be collected, and the thread ends soon after.
    """
    while True:
        executor = ref()
        if executor is None:
            return
        if stop.is_set() and not executor._has_work():
            return
        try:
            delay = executor._monitor_step()
        except Exception:  # never let one bad poll strand every other future
            log.exception("monitor poll failed; continuing")
            with executor._lock:
                executor._counters.monitor_errors += 1
            delay = executor._interval
        del executor
        wakeup.wait(delay)
        wakeup.clear()

