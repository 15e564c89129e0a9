"""The poller: what one monitoring step does, and the monitor thread that repeats it.

:meth:`Poller.poll_once` is five named steps, each batched over every outstanding task::

    query          one status command for every outstanding job (squeue / the HTCondor event log)
    reconcile      the adapter's fallback (sacct, scontrol / condor_history), once, for jobs the
                   status command no longer shows; then the store takes in what was learnt
    collect        one scan of the work directory: started markers and results
    declare_dead   calls of jobs that ended without a result, once result_grace has passed
    flush_cancels  one cancel command for every job no call needs any more

The monitor thread (one per executor, started by the first submission) holds its executor only
weakly and runs these steps at an adaptive interval: fast right after a submission or a change,
backing off while nothing changes. It never dies silently: it catches every exception of a step;
scheduler failures are retried at the next step, anything else counts, and after
:data:`MAX_CONSECUTIVE_FAILURES` failed steps in a row the executor is broken
(:class:`~cfut.BrokenClusterExecutor`).
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import _jobdir
from ._errors import DependencyFailed, SchedulerError
from ._jobdir import JobDir
from ._journal import Journal
from ._records import PINS, CallState, JobStore, Task, TaskState
from ._schedulers.base import Scheduler
from ._status import UNKNOWN_STATUS, JobStatus, Phase
from ._watch import DirectoryWatch

if TYPE_CHECKING:
    from ._executor import ClusterExecutor

log = logging.getLogger("cfut")

#: Monitoring steps that may fail in a row (with errors that are not the scheduler's) before the
#: executor is declared broken.
MAX_CONSECUTIVE_FAILURES = 5
#: After a scan of the work directory taking S seconds, the results thread scans again no sooner than
#: SCAN_DUTY * S later: scans take at most 1 / (1 + SCAN_DUTY) of its time, however many files there are.
SCAN_DUTY = 4.0


class Poller:
    """One executor's monitoring steps over its store, scheduler adapter and work directory."""

    def __init__(self, store: JobStore, scheduler: Scheduler, jobdir: JobDir, clock: Callable[[], float], *,
                 result_grace: float, completed_result_grace: float, keep_logs: bool, journal: Journal) -> None:
        self.store = store
        self.scheduler = scheduler
        self.jobdir = jobdir
        self.clock = clock
        self.result_grace = result_grace
        self.completed_result_grace = max(result_grace, completed_result_grace)
        self.keep_logs = keep_logs
        self.journal = journal
        #: Called at each propagation: submits calls held back for their dependencies (the executor's).
        self.on_settled: Callable[[], bool] | None = None
        #: How long each function's calls have run (for chunksize="auto").
        self.durations = Durations()
        self.polls = 0
        self.status_queries = 0
        self.query_failures = 0
        self.deaths = 0
        #: Logs of tasks that are done with and succeeded: kept for future.log() until the executor
        #: shuts down (then removed unless keep_logs).
        self.kept_logs: list[str] = []
        self._status_lock = threading.Lock()  # one status step at a time
        self._collect_lock = threading.Lock()  # one scan at a time
        self._cancel_lock = threading.Lock()  # one cancel command at a time for the same jobs

    def poll_once(self, *, query: bool = True) -> bool:
        """One monitoring step (the five steps of the module docstring); True if anything changed."""
        return self.status_step(query=query, scan=True)

    def status_step(self, *, query: bool = True, scan: bool = False) -> bool:
        """What the status thread does: query, reconcile, (collect,) declare_dead, flush_cancels."""
        with self._status_lock:
            with self.store.lock:
                self.polls += 1
            tasks = self.store.outstanding()
            changed = False
            if query and tasks:
                statuses = self.query(tasks)
                if statuses is not None:
                    changed |= self.reconcile(tasks, statuses)
            if scan:
                changed |= self.collect(self.store.outstanding())
            changed |= self.declare_dead(self.store.outstanding())
            changed |= self.propagate()
            self.flush_cancels()
            return changed

    def results_step(self) -> bool:
        """What the results thread does: one scan of the work directory (no scheduler command)."""
        changed = self.collect(self.store.outstanding())
        if self.store.settled:
            changed |= self.propagate()
            self.flush_cancels()
        return changed

    def propagate(self) -> bool:
        """Calls whose dependency failed or was cancelled fail with DependencyFailed (or are cancelled)
        without running, and their jobs leave the queue; held-back calls whose dependencies all have
        their values are submitted (``on_settled``). True if anything changed."""
        changed = False
        for dependency in self.store.take_settled():
            ok = dependency.state is CallState.DONE and dependency.future.exception(timeout=0) is None
            cause: BaseException | None = None
            if not ok:
                cause = (concurrent.futures.CancelledError() if dependency.state is CallState.CANCELLED
                         else dependency.future.exception(timeout=0))
            for call in list(self.store.dependants.get(dependency.call_id, ())):
                if ok or call.state is not CallState.PENDING:
                    continue
                if dependency.state is CallState.CANCELLED:
                    self.store.cancel([call])
                else:
                    error = DependencyFailed(dependency.call_id, f"raised {type(cause).__name__}: {cause}")
                    error.__cause__ = cause
                    self.store.resolve(call, False, error)
                changed = True
                if not call.task.waited_for():
                    self.finish(call.task, remove_job=call.task.state in (TaskState.QUEUED, TaskState.RUNNING))
        if self.on_settled is not None:
            changed |= self.on_settled()
        return changed

    # -- 1. query

    def query(self, tasks: list[Task]) -> dict[str, JobStatus] | None:
        """One status command for every outstanding job; None when it failed (tried again next step)."""
        ids = [t.scheduler_id for t in tasks if t.scheduler_id and t.waited_for()]
        if not ids:
            return None
        with self.store.lock:
            self.status_queries += 1
        try:
            return self.scheduler.query(ids)
        except SchedulerError as exc:
            with self.store.lock:
                self.query_failures += 1
            log.warning("status query failed, will retry: %s", exc)
            return None

    # -- 2. reconcile

    def reconcile(self, tasks: list[Task], statuses: dict[str, JobStatus]) -> bool:
        """Look up, once, the jobs the status command no longer lists (a job already seen ended keeps
        what we know and costs no more commands), then tell the store what each task's job is doing."""
        settled = {t.scheduler_id for t in tasks if t.state is TaskState.ENDED}
        missing = [t.scheduler_id for t in tasks if t.scheduler_id and t.waited_for()
                   and t.scheduler_id not in statuses and t.scheduler_id not in settled]
        if missing:
            try:
                statuses = {**statuses, **self.scheduler.lookup(missing)}
            except SchedulerError as exc:
                log.warning("looking up finished jobs failed, will retry: %s", exc)
                missing = []  # do not declare anything unknown on a failed lookup
        gone = set(missing)
        changed = False
        now = self.clock()
        for task in tasks:
            sid = task.scheduler_id
            if sid is None or not task.waited_for():
                continue
            status = statuses.get(sid)
            if status is not None and status.batch_key is not None and status.batch_key != task.batch.key:
                # the scheduler gave our job's id to another job (its state was lost, ids start again)
                log.warning("job id %s now names another job (batch %s); ours is gone", sid, status.batch_key)
                status = UNKNOWN_STATUS
            if status is None:
                if sid not in gone:
                    continue  # unlisted but seen ended: keep what we know
                status = UNKNOWN_STATUS
            if self.store.observe(task, status, now):
                changed = True
                log.debug("job %s: %s (%s)", sid, status.state, status.reason)
            if task.stuck_since is None and status.phase is Phase.QUEUED and (
                    self.scheduler.give_up_after(status) is not None):
                task.stuck_since = now
                log.warning("job %s is %s (%s): waiting may not help; giving up after %g s", sid, status.state,
                            status.reason, self.scheduler.give_up_after(status))
        return changed

    # -- 3. collect

    def collect(self, tasks: list[Task]) -> bool:
        """One scan of the work directory: mark started tasks running, resolve calls with results."""
        with self._collect_lock:
            return self._collect(tasks)

    def _collect(self, tasks: list[Task]) -> bool:
        if not tasks:
            return False
        try:
            names = self.jobdir.scan()
        except OSError as exc:
            log.warning("cannot scan work directory %s: %s", self.jobdir.path, exc)
            return False
        changed = False
        for task in tasks:
            if not task.waited_for():
                continue
            if task.state is TaskState.QUEUED and task.key + _jobdir.STARTED_SUFFIX in names:
                self.store.mark_running(task)
                changed = True
            ended = task.state is TaskState.ENDED
            for call in task.calls:
                if call.settled:
                    continue
                # A job that ended wrote its results, or never will: open them by name too, since a
                # directory listing on NFS can miss a new file for half a minute (acdirmin).
                if call.call_id + _jobdir.RESULT_SUFFIX not in names and not ended:
                    continue
                try:
                    ok, value, seconds = self.jobdir.read_outcome(call.call_id)
                except OSError:
                    continue  # listed but not readable yet: look again next step
                if self.store.resolve(call, ok, value) and call.function:
                    self.durations.record(call.function, seconds)
                changed = True
            if not task.waited_for():
                self.finish(task, remove_job=False)
        return changed

    # -- 4. declare_dead

    def declare_dead(self, tasks: list[Task]) -> bool:
        """Fail the calls of jobs that ended without a result once the grace period is over, and of
        jobs stuck in a status the adapter gives up on (removing those from the queue)."""
        now = self.clock()
        changed = self._give_up(tasks, now)
        # A job that ended badly: how (exit code, signal) is asked at once, before the scheduler
        # forgets the job (MinJobAge after its end; without accounting nothing remembers it).
        self._look_up([t for t in tasks if t.waited_for() and t.state is TaskState.ENDED and not t.looked_up
                       and t.status is not None and t.status.state != "COMPLETED"])
        dead = [t for t in tasks if t.waited_for() and t.state is TaskState.ENDED and t.ended_at is not None
                and now - t.ended_at >= self.result_grace]
        if dead:  # a result written since the last scan wins over a verdict
            self.collect(dead)
            dead = [t for t in dead if t.waited_for()]
        if not dead:
            return changed
        self._look_up([t for t in dead if not t.looked_up])
        for task in dead:
            status = task.status or UNKNOWN_STATUS
            if _succeeded(status) and task.ended_at is not None and (
                    now - task.ended_at < self.completed_result_grace):
                continue  # a job that ended with exit code 0 wrote every result: they will show
            self.fail(task, status)
            self.finish(task, remove_job=False)
            changed = True
        return changed

    def _look_up(self, tasks: list[Task]) -> None:
        """Ask the fallback (``lookup``: Slurm's sacct, then scontrol) once, in one command for all of
        ``tasks``, for the exit codes their status command did not say; merged into ``task.status``."""
        need = {t.scheduler_id: t for t in tasks if t.scheduler_id and t.status is not None
                and t.status.exit_code is None and t.status is not UNKNOWN_STATUS}
        if not need:
            return
        try:
            details = self.scheduler.lookup(list(need))
        except SchedulerError as exc:
            log.warning("could not look up exit codes of %s: %s", ", ".join(need), exc)
            return  # asked again at the next step
        for sid, task in need.items():
            detail = details.get(sid)
            if detail is not None and detail.batch_key not in (None, task.batch.key):
                continue  # a stranger's record under our job's old id
            if detail is None or detail.phase is not Phase.FINISHED:
                continue  # not (yet: accounting lags the queue by seconds) known there: asked again
            with self.store.lock:
                task.looked_up = True
                status = task.status or UNKNOWN_STATUS
                # looked up once: what the fallback knew stays known
                task.status = JobStatus(status.state, status.phase, status.reason or detail.reason,
                                        detail.exit_code, detail.signal, status.details or detail.details,
                                        status.batch_key)

    def _give_up(self, tasks: list[Task], now: float) -> bool:
        stuck = []
        for task in tasks:
            status = task.status
            if task.stuck_since is None or status is None or not task.waited_for():
                continue
            limit = self.scheduler.give_up_after(status)
            if limit is not None and now - task.stuck_since >= limit and task.state is TaskState.QUEUED:
                stuck.append((task, status))
        for task, status in stuck:
            log.warning("giving up on job %s: %s (%s) for %g s", task.scheduler_id, status.state, status.reason,
                        now - (task.stuck_since or now))
            self.fail(task, status)
            self.finish(task, remove_job=True)
        return bool(stuck)

    def fail(self, task: Task, status: JobStatus) -> None:
        """Fail every outstanding call of ``task`` with the error its job's ``status`` calls for."""
        log_path = self.jobdir.log(task.key)
        error_type = self.scheduler.error_for(status)
        claimed = self.jobdir.claimed_results(task.key)
        starts = self.jobdir.starts(task.key)
        # The calls of a task run in order in one process: the first without a result was running
        # when it ended, if the log says it began; the ones after it that never began never ran.
        begun = set(self.jobdir.begun_calls(task.key)) if len(task.calls) > 1 else set()
        outstanding = [call for call in task.calls if not call.settled]
        running = outstanding[0].call_id if outstanding and outstanding[0].call_id in begun else None
        task.keep_log = True
        for call in task.calls:
            reason = status.reason
            if running is not None and call.call_id == running:
                reason = "this call was running when the job ended" + (
                    f" ({status.reason})" if status.reason and status.reason not in ("None", "(null)") else "")
            elif running is not None and call.call_id not in begun:
                reason = f"this call never ran: call {running}, before it in the same task, ended the job"
            if self.jobdir.result(call.call_id) in claimed:
                # never "without a result" next to a log that says it was written
                reason = (f"its log says it wrote {self.jobdir.result(call.call_id)!r}, which cannot be read "
                          "here: is the shared filesystem showing it late? (completed_result_grace)")
            error = error_type(
                task.scheduler_id or "?", status.state, exit_code=status.exit_code, signal=status.signal,
                reason=reason, log_path=log_path if os.path.exists(log_path) else None,
                log_tail=_jobdir.tail(log_path), starts=starts, **dict(status.details),
            )
            self.store.resolve(call, False, error)
        with self.store.lock:
            self.deaths += 1

    # -- 5. flush_cancels

    def flush_cancels(self) -> None:
        """Remove every job no call needs any more with one cancel command; a failure is retried next step."""
        with self._cancel_lock:
            tasks = [t for t in self.store.cancelling() if t.scheduler_id]
            if not tasks:
                return
            ids = sorted({t.scheduler_id for t in tasks if t.scheduler_id})
            if not self.scheduler.cancel(ids):
                log.warning("could not cancel jobs %s yet; will retry", ", ".join(ids))
                return
            for task in tasks:
                self.store.removed(task)
                self._remove_files(task)

    # -- forgetting

    def finish(self, task: Task, *, remove_job: bool) -> None:
        """A task none of whose calls is outstanding: forget it (and its files), or queue its job for
        removal first when it may still be in the scheduler's queue."""
        if self.store.settle(task, remove_job=remove_job) is TaskState.DONE:
            self._remove_files(task)

    def _remove_files(self, task: Task) -> None:
        jobdir = self.jobdir
        paths = [jobdir.payload(task.key), jobdir.started(task.key)]
        # a result a call not yet run needs stays (PINS) until that call has run
        paths += [path for call in task.calls if PINS.keep(path := jobdir.result(call.call_id))]
        for call in task.calls:  # this task's calls ran (or never will): their dependencies may go
            paths += [path for path in call.depends_on if PINS.unpin(path)]
        if not (self.keep_logs or task.keep_log):
            self.kept_logs.append(jobdir.log(task.key))
        with self.store.lock:
            batch_done = task.batch.live == 0
        if batch_done:
            paths.append(jobdir.functions(task.batch.key))
            if not (self.keep_logs or any(t.keep_log for t in task.batch.tasks)):
                paths.append(task.batch.script_path)
        jobdir.remove(paths)
        self.journal.done(task.key, task.batch.key, batch_done)


class Durations:
    """The running mean of how long each function's calls ran, by qualified name (seconds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mean: dict[str, float] = {}

    def record(self, function: str, seconds: float) -> None:
        with self._lock:
            previous = self._mean.get(function)
            self._mean[function] = seconds if previous is None else 0.8 * previous + 0.2 * seconds

    def get(self, function: str) -> float | None:
        with self._lock:
            return self._mean.get(function)


def _succeeded(status: JobStatus) -> bool:
    """The job ended by itself with exit code 0: the worker exits 0 only after writing every result."""
    return status.state == "COMPLETED" and status.exit_code == 0 and not status.signal


class Monitor:
    """The monitor threads of one executor (see the module docstring).

    * the **status thread** runs :meth:`Poller.status_step` at the executor's adaptive interval,
      waiting with ``wait(event, seconds)``: really, or on a fake scheduler's virtual clock;
    * the **results thread** runs :meth:`Poller.results_step` whenever the work directory changes
      (:class:`~cfut._watch.DirectoryWatch`: inotify, or a cheap stat loop), so a result is seen
      within tens of milliseconds of its appearance, and never waits behind a slow scheduler.

    Both hold the executor only weakly and end when it is shut down and idle, or collected.
    """

    def __init__(self, executor: ClusterExecutor, wait: Callable[[threading.Event, float], bool]) -> None:
        self.wakeup = threading.Event()
        self.stop = threading.Event()
        self._wait = wait
        self.watch = DirectoryWatch(executor._jobdir.path)
        ref = weakref.ref(executor, lambda _: self._wake_all())
        name = executor._scheduler.name
        self.threads = [
            threading.Thread(target=self._guard, args=(ref, self._status_loop), name=f"cfut-monitor-{name}",
                             daemon=True),
            threading.Thread(target=self._guard, args=(ref, self._results_loop), name=f"cfut-results-{name}",
                             daemon=True),
        ]
        self.errors = 0
        self._ended = 0
        self._lock = threading.Lock()

    @property
    def thread(self) -> threading.Thread:
        return self.threads[0]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def alive(self) -> bool:
        return all(thread.is_alive() for thread in self.threads)

    def join(self) -> None:
        for thread in self.threads:
            if thread is not threading.current_thread():
                thread.join()

    def _wake_all(self) -> None:
        self.wakeup.set()
        self.watch.wake()

    def halt(self) -> None:
        self.stop.set()
        self._wake_all()

    def _guard(self, ref: weakref.ref[ClusterExecutor], loop: Callable[[weakref.ref[ClusterExecutor]], None]) -> None:
        failures = 0
        try:
            while True:
                try:
                    loop(ref)
                    return
                except BaseException as exc:  # never die silently: count, log, and break if it persists
                    executor = ref()
                    if executor is None:
                        return
                    failures += 1
                    with self._lock:
                        self.errors += 1
                    log.exception("monitor step failed (%d in a row)", failures)
                    if failures >= MAX_CONSECUTIVE_FAILURES:
                        executor._break(exc)
                        return
                    del executor
                    time.sleep(min(1.0, 0.01 * 2 ** failures))
        finally:
            executor = ref()
            if executor is not None and executor._store.has_work() and executor._broken is None \
                    and not self.stop.is_set():
                log.error("a monitor thread of %r ended with work outstanding", executor)
            del executor
            with self._lock:
                self._ended += 1
                if self._ended == len(self.threads):
                    self.watch.close()

    def _status_loop(self, ref: weakref.ref[ClusterExecutor]) -> None:
        while True:
            executor = ref()
            if executor is None or (self.stop.is_set() and not executor._store.has_work()):
                return
            delay = executor._status_step()
            del executor
            self._wait(self.wakeup, delay)
            self.wakeup.clear()

    def _results_loop(self, ref: weakref.ref[ClusterExecutor]) -> None:
        while True:
            executor = ref()
            if executor is None or (self.stop.is_set() and not executor._store.has_work()):
                return
            began = time.monotonic()
            executor._poller.results_step()
            del executor
            # a scan lists the whole work directory: with many files and a stream of new ones, the
            # next waits until SCAN_DUTY times as long has passed (results stay prompt, scans cheap)
            self.watch.hold_off((time.monotonic() - began) * SCAN_DUTY)
            self.watch.wait(0.5)
