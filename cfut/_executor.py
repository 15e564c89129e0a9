"""The scheduler-independent executor, composed of its parts.

Data flow::

    submit(fn, *args) / map ──► Submitter ── pickles, writes <batch>.fn and <task>.in, submits ──┐
                                    │                                                          │
                                    ▼                                                          ▼
                                 JobStore (Batch → Task → Call, their states)        Scheduler adapter
                                    ▲                                               (sbatch / condor_submit,
                                    │                                                squeue / event log, ...)
    monitor thread ── Poller.poll_once: query → reconcile → collect → declare_dead → flush_cancels
                                            (scheduler)            (JobDir: results, started markers)

:class:`ClusterExecutor` *has* a scheduler adapter (:mod:`cfut._schedulers`), a job directory
(:mod:`cfut._jobdir`), a job store (:mod:`cfut._records`), a submitter (:mod:`cfut._submitter`) and a
poller (:mod:`cfut._poller`); :class:`~cfut.SlurmExecutor` and :class:`~cfut.CondorExecutor` are thin
façades that choose the adapter. Nothing here knows a scheduler's commands or formats.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from . import _keys, _lifecycle, _progress, _wire
from ._coalesce import Coalescer
from ._commands import SchedulerCommands
from ._deps import find_futures, substitute
from ._errors import (
    CfutError,
    DependencyFailed,
    ExecutorShutdownError,
    IntegrityError,
    InvalidArgumentError,
    JobCancelled,
    SchedulerError,
)
from ._future import ClusterFuture
from ._jobdir import JobDir, new_key
from ._journal import SUFFIX as JOURNAL_SUFFIX
from ._journal import Journal, JournalBatch, journals
from ._journal import read as read_journal
from ._poller import Monitor, Poller
from ._records import PINS, Batch, Call, CallState, JobStore, Task, TaskState
from ._resources import JobOptions
from ._runner import CommandRunner, default_runner
from ._schedulers.base import Scheduler
from ._stats import Statistics
from ._status import Phase
from ._submitter import Item, Pending, Submitter, qualified_name
from ._wire import DependencyRef

log = logging.getLogger("cfut")


class BrokenClusterExecutor(CfutError, concurrent.futures.BrokenExecutor):
    """The executor's monitor could not go on polling (an error that is not the scheduler's, repeated).

    Every future outstanding at that moment fails with this error (the cause chained), the jobs
    behind them are cancelled, and ``submit``/``map`` raise it from then on, as
    :class:`concurrent.futures.process.BrokenProcessPool` does.
    """

#: Executors with outstanding jobs, kept alive until their futures resolve (see :mod:`cfut._poller`):
#: ``SlurmExecutor().submit(f)`` without a name for the executor must still resolve its future.
_BUSY: set[ClusterExecutor] = set()

#: Calls that ran this long (seconds) or more go one per task with chunksize="auto".
LONG_CALL = 5.0
#: How long an answer about free job slots is reused (seconds); no answer (a failed sinfo or
#: condor_status) is asked again sooner.
SLOTS_TTL = 60.0
SLOTS_RETRY = 5.0
#: Longest (scheduler seconds) an executor cancelling its jobs at exit waits for them to leave the
#: queue before their logs go (Slurm: KillWait, then slurmstepd's cleanup).
CANCEL_SETTLE = 10.0

SchedulerFactory = Callable[[SchedulerCommands, JobDir, Callable[[], float], str], Scheduler]


def check_setup_lines(lines: object, what: str) -> tuple[str, ...]:
    """A sequence of strings (not one string); raises InvalidArgumentError naming the bad value."""
    if isinstance(lines, (str, bytes)) or not isinstance(lines, Iterable):
        raise InvalidArgumentError(f"{what} must be a sequence of strings, got {lines!r}")
    checked = tuple(lines)
    for line in checked:
        if not isinstance(line, str):
            raise InvalidArgumentError(f"{what} must contain only strings, got {line!r}")
    return checked


def check_paths(paths: object, what: str) -> tuple[str, ...]:
    if isinstance(paths, (str, bytes)) or not isinstance(paths, Iterable):
        raise InvalidArgumentError(f"{what} must be a sequence of paths, got {paths!r}")
    checked = []
    for path in paths:
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidArgumentError(f"{what} must contain only paths, got {path!r}")
        checked.append(os.path.abspath(os.fspath(path)))
    return tuple(checked)


def check_seconds(value: object, what: str, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (
        value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "a positive number of"
        raise InvalidArgumentError(f"{what} must be {bound} seconds, got {value!r}")
    assert isinstance(value, (int, float))
    return float(value)


def check_count(value: object, what: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgumentError(f"{what} must be a whole number >= {minimum}, got {value!r}")
    return value


class After:
    """An executor whose calls also wait for some futures to succeed: see :meth:`ClusterExecutor.after`."""

    def __init__(self, executor: ClusterExecutor, futures: Sequence[ClusterFuture]) -> None:
        self.executor = executor
        self.futures = tuple(futures)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> ClusterFuture:
        """``executor.submit(fn, *args, **kwargs)``, started only after the futures succeeded."""
        return self.executor._submit_one(_after_call, (fn, list(self.futures), args, kwargs), {}, (), None)

    def map_futures(self, fn: Callable[..., Any], *iterables: Iterable[Any]) -> list[ClusterFuture]:
        """``executor.map_futures(fn, *iterables)``, every call started only after the futures succeeded."""
        items: list[Item] = [((fn, list(self.futures), args, {}), {}) for args in zip(*iterables)]
        return self.executor._map_dependent(_after_call, items, (), None) if items else []

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None) -> Iterator[Any]:
        """``executor.map(fn, *iterables)``, every call started only after the futures succeeded."""
        return self.executor._results(self.map_futures(fn, *iterables), timeout, False)


def _after_call(fn: Callable[..., Any], waited_for: list[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """What an :class:`After` call runs on the node: ``fn(*args, **kwargs)``; the values of the
    futures it waited for are not passed on."""
    return fn(*args, **kwargs)


@dataclass(eq=False)
class _Deferred:
    """A call held back by the executor until its dependencies have their values (HTCondor)."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    setup: tuple[str, ...]
    options: JobOptions | None
    future: ClusterFuture
    pending: list[ClusterFuture]


def _call_ids(futures: Sequence[ClusterFuture]) -> tuple[str, ...]:
    return tuple(f.call_id for f in futures if f.call_id is not None)


def _corresponding_array(items: Sequence[Item], dependencies: Sequence[ClusterFuture]) -> tuple[str, int] | None:
    """``(array job id, chunksize)`` when item i is exactly the future of call i of one array whose
    tasks run ``chunksize`` consecutive calls each (``map`` over a ``map``'s futures): the new map,
    chunked alike, then depends task by task (``aftercorr``). Else None."""
    if not items or len(items) != len(dependencies):
        return None
    first = items[0][0][0]._cfut_call if items[0][0] and isinstance(items[0][0][0], ClusterFuture) else None
    if first is None or first.task.batch.job_id is None:
        return None
    batch = first.task.batch
    chunksize = len(batch.tasks[0].calls)
    if sum(len(task.calls) for task in batch.tasks) != len(items):
        return None
    for index, (args, kwargs) in enumerate(items):
        if kwargs or len(args) != 1 or not isinstance(args[0], ClusterFuture):
            return None
        call = args[0]._cfut_call
        if (call is None or call.task.batch is not batch or call.task.index != index // chunksize
                or call.task.calls[index % chunksize] is not call):
            return None
    assert batch.job_id is not None
    return batch.job_id, chunksize


class Reattached(list[ClusterFuture]):
    """What :meth:`ClusterExecutor.reattach` returns: the futures, in submission order, and the
    ``executor`` that took them over."""

    def __init__(self, futures: Iterable[ClusterFuture], executor: ClusterExecutor) -> None:
        super().__init__(futures)
        self.executor = executor


class ClusterExecutor(concurrent.futures.Executor):
    """The executor behind :class:`~cfut.SlurmExecutor` and :class:`~cfut.CondorExecutor`: build those.

    Its public methods are those of :class:`concurrent.futures.Executor` (``submit``, ``map``,
    ``shutdown``, the context manager) plus :meth:`poll_once` and :meth:`statistics`.
    """

    def __init__(
        self,
        make_scheduler: SchedulerFactory,
        *,
        debug: bool,
        keep_logs: bool,
        additional_setup_lines: Sequence[str],
        additional_import_paths: Sequence[str | os.PathLike[str]],
        runner: CommandRunner | None,
        scheduler_name: str,
        workdir: str | os.PathLike[str] | None,
        poll_interval: float,
        max_poll_interval: float,
        result_grace: float,
        completed_result_grace: float,
        submit_retries: int,
        background_polling: bool,
        cancel_on_exit: bool,
        submit_linger: float,
        job_options: JobOptions | None = None,
    ) -> None:
        #: The scheduler options every batch gets unless :meth:`options` says otherwise.
        self._job_options = job_options
        self.additional_setup_lines = check_setup_lines(additional_setup_lines, "additional_setup_lines")
        self.additional_import_paths = check_paths(additional_import_paths, "additional_import_paths")
        if runner is None:
            runner = default_runner(scheduler_name)  # SubprocessRunner(), unless a fake stands in
        elif not isinstance(runner, CommandRunner):
            raise InvalidArgumentError(
                f"runner must have a run(argv, *, input, env, cwd, timeout) method, got {runner!r}")
        self.debug = bool(debug)
        self.keep_logs = bool(keep_logs)
        self._poll_interval = check_seconds(poll_interval, "poll_interval")
        self._max_poll_interval = check_seconds(max_poll_interval, "max_poll_interval")
        if self._max_poll_interval < self._poll_interval:
            raise InvalidArgumentError(f"max_poll_interval={max_poll_interval!r} is less than "
                                       f"poll_interval={poll_interval!r} (seconds)")
        result_grace = check_seconds(result_grace, "result_grace", allow_zero=True)
        completed_result_grace = check_seconds(completed_result_grace, "completed_result_grace", allow_zero=True)
        retries = check_count(submit_retries, "submit_retries")
        if self.debug:
            log.setLevel(logging.DEBUG)  # the user's logging configuration decides where it goes
        # A fake scheduler brings its own (virtual) time, so that tests never wait.
        self._clock: Callable[[], float] = getattr(runner, "clock", None) or time.monotonic
        self._sleep: Callable[[float], None] = getattr(runner, "sleep", None) or time.sleep
        self._wait: Callable[[threading.Event, float], bool] = (
            getattr(runner, "wait", None) or (lambda event, seconds: event.wait(seconds)))

        key = _keys.load_key()
        self._signing_key = key
        self._jobdir = JobDir(workdir, key)
        self.workdir = self._jobdir.path
        self._commands = SchedulerCommands(runner)
        self._runner = runner
        #: This executor's key: its journal is ``<key>.journal`` in the work directory.
        self._key = new_key()
        self._scheduler = make_scheduler(self._commands, self._jobdir, self._clock, self._key)
        self._journal = Journal(self._jobdir.file(self._key + JOURNAL_SUFFIX), key,
                                {"scheduler": self._scheduler.name, "key": self._key})
        self._store = JobStore()
        self._poller = Poller(self._store, self._scheduler, self._jobdir, self._clock,
                              result_grace=result_grace, completed_result_grace=completed_result_grace,
                              keep_logs=self.keep_logs, journal=self._journal)
        self._submitter = Submitter(
            self._store, self._scheduler, self._jobdir, sleep=self._sleep, retries=retries,
            import_paths=self.additional_import_paths, secret_env={_keys.KEY_ENV: key.hex()},
            job_env={_keys.KEY_FILE_ENV: _keys.key_file()}, owner=weakref.ref(self), journal=self._journal)
        linger = check_seconds(submit_linger, "submit_linger", allow_zero=True)
        self._coalescer = Coalescer(self._submitter, self._store, weakref.ref(self), linger=linger,
                                    timed=bool(background_polling), spread=self._weak_auto_tasks()) if linger else None
        self._shutdown = False
        self._broken: BaseException | None = None
        self._background = bool(background_polling)
        self._monitor: Monitor | None = None
        self._interval = self._poll_interval
        self._last_query = float("-inf")
        self._slots: tuple[float, int | None] | None = None  # (when asked, free job slots)
        self._deferred: list[_Deferred] = []  # calls held back for their dependencies (HTCondor)
        self._poller.on_settled = self._weak_release()
        self._closed = False
        self._terminated = False
        #: Whether the jobs are cancelled when the process is interrupted or exits (see cfut._lifecycle).
        self.cancel_on_exit = bool(cancel_on_exit)
        if self.cancel_on_exit:
            _lifecycle.register(self)
        # Logs of successful jobs stay (for future.log()) until shutdown, or the executor's end.
        self._remove_kept_logs = weakref.finalize(self, self._jobdir.remove, self._poller.kept_logs)
        if self.keep_logs:
            self._remove_kept_logs.detach()

    # ------------------------------------------------------------------ public API

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> ClusterFuture:
        """Run ``fn(*args, **kwargs)`` as a cluster job; returns its future at once.

        The keyword ``additional_setup_lines`` (as in clusterfutures 0.5) is taken by ``submit``
        itself: extra lines for this job's batch script, after the executor's own. This is kept for
        0.5's code: it takes the keyword from ``fn``'s own keyword arguments. The clean way, which
        leaves them alone, is ``executor.options(additional_setup_lines=[...]).submit(fn, ...)``.

        Raises InvalidArgumentError (``fn`` not callable), SerializationError (cannot be pickled),
        ExecutorShutdownError (after :meth:`shutdown`), BrokenClusterExecutor, SubmissionError (the
        scheduler refused), CommandNotFoundError (no ``sbatch``/``condor_submit`` on ``PATH``).
        """
        setup = check_setup_lines(kwargs.pop("additional_setup_lines", ()), "additional_setup_lines")
        return self._submit_one(fn, args, kwargs, setup, None)

    def _submit_one(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                    setup: Sequence[str], options: JobOptions | None) -> ClusterFuture:
        if find_futures((args, kwargs), ClusterFuture):
            return self._submit_dependent(fn, args, kwargs, setup, options)
        if self._coalescer is None:
            (future,) = self._submit_calls(fn, [(args, kwargs)], setup, chunksize=1, array=False, options=options)
            return future
        if not callable(fn):
            raise InvalidArgumentError(f"submit() needs a callable, got {fn!r}")
        self._check_open()
        setup_lines = self.additional_setup_lines + tuple(setup)
        resolved = self._resolve_options(options, setup_lines)
        future = self._coalescer.add(fn, args, kwargs, setup_lines, resolved)
        with self._store.lock:
            _BUSY.add(self)
        self._ensure_monitor()
        return future

    def map(
        self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None,
        chunksize: int | Literal["auto"] = "auto", progress: bool = False,
    ) -> Iterator[Any]:
        """Like :meth:`concurrent.futures.Executor.map`, submitted as few jobs as the scheduler allows:
        one array job (Slurm) or one cluster (HTCondor) whose tasks each run ``chunksize`` consecutive
        items (``"auto"``: see :meth:`map_futures`). Everything is submitted before this returns;
        results come in order (``timeout`` in seconds for the whole map); closing the iterator early
        cancels the calls not yet running. ``progress=True`` draws a progress bar
        (:func:`cfut.progress`) while the results are taken.

        Raises what :meth:`submit` raises, at the call (and InvalidArgumentError for ``progress=True``
        without tqdm: ``pip install 'clusterfutures[progress]'``); the function's own exceptions when
        iterating.
        """
        if progress:
            _progress.require_tqdm()  # before anything is submitted
        return self._results(self.map_futures(fn, *iterables, chunksize=chunksize), timeout, progress)

    def _results(self, futures: list[ClusterFuture], timeout: float | None, progress: bool) -> Iterator[Any]:
        """The results of a map's futures in order; the calls not taken are cancelled on close."""
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = _progress.ProgressBar(futures) if progress else None

        def results() -> Iterator[Any]:
            pending = list(reversed(futures))
            try:
                while pending:
                    left = None if deadline is None else deadline - time.monotonic()
                    yield pending[-1].result(left)
                    pending.pop()
            finally:
                if bar is not None:
                    bar.close()
                calls = [f._cfut_call for f in pending if f._cfut_call is not None]
                if calls:
                    self._cancel_calls(calls)

        return results()

    def map_futures(self, fn: Callable[..., Any], *iterables: Iterable[Any],
                    chunksize: int | Literal["auto"] = "auto") -> list[ClusterFuture]:
        """The futures of a :meth:`map`, in order: one per item, submitted as one array job (Slurm) or
        one cluster (HTCondor) of tasks of ``chunksize`` items each. Use it with
        :func:`concurrent.futures.as_completed` to take results as they come.

        ``chunksize="auto"`` (the default): calls of a function known to run for seconds or more
        (measured on its earlier calls) go one per task, so that the scheduler balances them;
        otherwise items are spread over the job slots the cluster reports free (Slurm: ``sinfo``;
        HTCondor: ``condor_status``; asked at most once a minute; a scheduler that does not answer
        gets one call per task) so that
        one wave of tasks runs them all, without paying the per-job cost for every tiny call. An int
        ``chunksize`` (>= 1) puts that many consecutive items in each task. Raises what
        :meth:`submit` raises (InvalidArgumentError naming a bad ``chunksize``)."""
        return self._map_futures(fn, iterables, chunksize, (), None)

    def _map_futures(self, fn: Callable[..., Any], iterables: Sequence[Iterable[Any]],
                     chunksize: int | Literal["auto"], setup: Sequence[str],
                     options: JobOptions | None) -> list[ClusterFuture]:
        items: list[Item] = [(args, {}) for args in zip(*iterables)]
        if items and find_futures(items, ClusterFuture):
            return self._map_dependent(fn, items, setup, options)
        if chunksize == "auto":
            chunksize = self._auto_chunksize(fn, len(items))
        chunksize = check_count(chunksize, "chunksize", minimum=1)
        return self._submit_calls(fn, items, setup, chunksize=chunksize, array=True, options=options) if items else []

    # ------------------------------------------------------------------ futures as arguments

    def _dependencies(self, obj: Any, *, refs: bool = True) -> tuple[Any, list[ClusterFuture], BaseException | None]:
        """``obj`` with the futures in it replaced: resolved ones by their values, outstanding ones by
        references to their calls (``refs``; else left in place, for calls the executor holds back);
        the outstanding futures, their result files pinned; the cause of failure when one failed."""
        futures = list({id(f): f for f in find_futures(obj, ClusterFuture)}.values())
        for future in futures:
            owner = future._executor()
            if owner is not None and (owner.workdir != self.workdir or owner._scheduler.name != self._scheduler.name):
                raise InvalidArgumentError(
                    f"a future of {owner!r} cannot be an argument here: dependencies need the same scheduler "
                    f"({self._scheduler.name}) and work directory ({self.workdir})")
            if owner is None and not future.done() and future._cfut_call is None:
                raise InvalidArgumentError(f"{future!r} belongs to no executor: it cannot be an argument")
            if refs and not future.done() and future._cfut_call is None and owner is not None:
                owner._flush_queued()  # it needs a job before anything can wait for it
        pinned: list[str] = []
        if refs:  # pin before looking: a result collected from now on stays for the dependant
            for future in futures:
                if not future.done() and future.call_id is not None:
                    pinned.append(self._jobdir.result(future.call_id))
                    PINS.pin(pinned[-1])
        pending = [f for f in futures if not f.done()]
        for path in pinned:  # dependencies that ended meanwhile pass their values: no pin needed
            if not any(f.call_id is not None and self._jobdir.result(f.call_id) == path for f in pending):
                PINS.unpin(path)
        for future in futures:
            cause = (concurrent.futures.CancelledError() if future.cancelled()
                     else future.exception(timeout=0) if future.done() else None)
            if cause is not None:
                for path in pinned:
                    if PINS.unpin(path):
                        self._jobdir.remove([path])
                return obj, [], cause

        def replace(future: ClusterFuture) -> Any:
            if future.done():
                return future.result(timeout=0)
            if not refs:
                return future
            assert future.call_id is not None, "an outstanding dependency has been submitted"
            return DependencyRef(future.call_id)

        return substitute(obj, replace, lambda value: isinstance(value, ClusterFuture)), pending, None

    def _failed_dependency(self, futures: Sequence[ClusterFuture], cause: BaseException) -> ClusterFuture:
        """The future of a call not run because a dependency had already failed (or was cancelled)."""
        future = ClusterFuture()
        if isinstance(cause, concurrent.futures.CancelledError):
            future.cancel()
            return future
        failed = next((f for f in futures if f.done() and not f.cancelled() and f.exception(timeout=0) is cause),
                      None)
        error = DependencyFailed(failed.call_id if failed is not None and failed.call_id else "?",
                                 f"raised {type(cause).__name__}: {cause}")
        error.__cause__ = cause
        future.set_exception(error)
        return future

    def after(self, *futures: ClusterFuture) -> After:
        """This executor, with every call submitted through the result waiting for ``futures`` to
        succeed without taking their values: ``ex.after(a, b).submit(fn, x)``, ``.map(fn, items)``.
        A failure or cancellation among them fails (or cancels) the calls as for any dependency.

        Raises InvalidArgumentError for anything that is not a future of this scheduler and work
        directory (when a call is submitted)."""
        for future in futures:
            if not isinstance(future, ClusterFuture):
                raise InvalidArgumentError(f"after() takes futures of cfut executors, got {future!r}")
        return After(self, futures)

    def _submit_dependent(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                          setup: Sequence[str], options: JobOptions | None) -> ClusterFuture:
        if not self._scheduler.supports_dependencies:
            _, pending, cause = self._dependencies((args, kwargs), refs=False)
            if cause is None and pending:
                return self._defer(fn, args, kwargs, setup, options, pending)
        (args, kwargs), pending, cause = self._dependencies((args, kwargs))
        if cause is not None:
            return self._failed_dependency(find_futures((args, kwargs), ClusterFuture), cause)
        if not pending:
            (future,) = self._submit_calls(fn, [(args, kwargs)], setup, chunksize=1, array=False, options=options)
            return future
        ids = tuple(dict.fromkeys(f.job_id for f in pending if f.job_id))
        (future,) = self._submit_calls(fn, [(args, kwargs)], setup, chunksize=1, array=False, options=options,
                                       dependencies=ids, after=[_call_ids(pending)])
        self._depend(future, pending)
        return future

    def _depend(self, future: ClusterFuture, on: Sequence[ClusterFuture]) -> None:
        call = future._cfut_call
        assert call is not None
        pairs = []
        for dependency in on:
            owner, dep_call = dependency._executor(), dependency._cfut_call
            if owner is not None and dep_call is not None:
                pairs.append((dep_call, owner._jobdir.result(dep_call.call_id)))
        self._store.depend(call, pairs)

    def _map_dependent(self, fn: Callable[..., Any], items: list[Item], setup: Sequence[str],
                       options: JobOptions | None) -> list[ClusterFuture]:
        """A map over futures: element-wise (``aftercorr``) when item i is exactly the future of task i
        of one earlier array (one call a task), else every task waits for every dependency."""
        resolved: list[Item] = []
        pending_per_item: list[list[ClusterFuture]] = []
        if not self._scheduler.supports_dependencies or any(
                self._dependencies(item, refs=False)[2] is not None for item in items):
            # item by item: each fails at once, runs, or waits (held back here) on its own
            return [self._submit_one(fn, args, kwargs, setup, options) for args, kwargs in items]
        for item in items:
            value, pending, _ = self._dependencies(item)
            resolved.append(value)
            pending_per_item.append(pending)
        everything = list({id(f): f for p in pending_per_item for f in p}.values())
        if not everything:
            return self._submit_calls(fn, resolved, setup, chunksize=1, array=True, options=options)
        corresponding = _corresponding_array(items, everything)
        if corresponding is not None:
            array, chunksize = corresponding
            futures = self._submit_calls(fn, resolved, setup, chunksize=chunksize, array=True, options=options,
                                         dependencies=(array,), dependency_kind="aftercorr",
                                         after=[_call_ids(p) for p in pending_per_item])
        else:
            ids = tuple(dict.fromkeys(f.job_id for f in everything if f.job_id))
            futures = self._submit_calls(fn, resolved, setup, chunksize=1, array=True, options=options,
                                         dependencies=ids, after=[_call_ids(p) for p in pending_per_item])
        for future, pending in zip(futures, pending_per_item):
            if pending:
                self._depend(future, pending)
        return futures

    def _defer(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
               setup: Sequence[str], options: JobOptions | None, pending: list[ClusterFuture]) -> ClusterFuture:
        """A scheduler without dependencies (HTCondor): hold the call here until its dependencies have
        their values, then submit it with them (see :meth:`_release_deferred`)."""
        self._check_open()
        future = ClusterFuture()
        future._queue(self)
        with self._store.lock:
            self._deferred.append(_Deferred(fn, args, kwargs, tuple(setup), options, future, pending))
            self._store.deferred += 1
            _BUSY.add(self)
        for dependency in pending:
            dependency.add_done_callback(lambda _f: self._wake())
        self._ensure_monitor()
        return future

    def _wake(self) -> None:
        monitor = self._monitor
        if monitor is not None:
            monitor.wakeup.set()

    def _release_deferred(self) -> bool:
        """Submit (or fail, or cancel) held-back calls whose dependencies have all settled."""
        with self._store.lock:
            ready = [d for d in self._deferred if all(f.done() for f in d.pending)]
            self._deferred = [d for d in self._deferred if d not in ready]
        for held in ready:
            try:
                if held.future.done():  # cancelled while held
                    continue
                (args, kwargs), pending, cause = self._dependencies((held.args, held.kwargs))
                if cause is not None:
                    failed = self._failed_dependency(held.pending, cause)
                    if failed.cancelled():
                        self._store.cancel_queued(held.future)
                    else:
                        self._store.fail_queued(held.future, failed.exception(timeout=0) or cause)
                    continue
                self._submit_held(held, args, kwargs)
            except Exception as exc:  # noqa: BLE001 - the future carries it
                self._store.fail_queued(held.future, exc)
            finally:
                with self._store.lock:
                    self._store.deferred -= 1
        return bool(ready)

    def _cancel_deferred(self) -> None:
        """Cancel every call held back for its dependencies (never submitted: nothing to remove)."""
        with self._store.lock:
            held, self._deferred = self._deferred, []
            self._store.deferred -= len(held)
        for call in held:
            self._store.cancel_queued(call.future)

    def _submit_held(self, held: _Deferred, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        what = f"function {getattr(held.fn, '__qualname__', held.fn)!r}"
        pending = Pending(0, _wire.dumps((args, kwargs), f"arguments of {what}"), held.future,
                          qualified_name(held.fn))
        setup = self.additional_setup_lines + held.setup
        self._submitter.submit_chunks([_wire.dumps(held.fn, what)], [[pending]], setup, array=False,
                                      options=self._resolve_options(held.options, setup))
        self._wake()

    def _resolve_options(self, options: JobOptions | None, setup_lines: Sequence[str]) -> JobOptions | None:
        """The options a batch is submitted with: ``options`` over the executor's, checked against the
        setup lines (the façades check what their scheduler needs)."""
        return options if options is not None else self._job_options

    def _auto_chunksize(self, fn: Callable[..., Any], count: int) -> int:
        if count <= 1:
            return 1
        return max(1, -(-count // max(1, self._auto_tasks({qualified_name(fn)}, count))))

    def _weak_release(self) -> Callable[[], bool]:
        ref = weakref.ref(self)

        def release() -> bool:
            executor = ref()
            return executor._release_deferred() if executor is not None else False

        return release

    def _weak_auto_tasks(self) -> Callable[[set[str], int], int]:
        ref = weakref.ref(self)

        def spread(functions: set[str], count: int) -> int:
            executor = ref()
            return executor._auto_tasks(functions, count) if executor is not None else count

        return spread

    def _auto_tasks(self, functions: set[str], count: int) -> int:
        """How many tasks ``count`` calls of these functions should be spread over: one each when one
        of the functions is known to run long (or the scheduler says nothing of its slots), else one
        wave over the free job slots."""
        durations = [self._poller.durations.get(name) for name in functions]
        if count <= 1 or any(d is not None and d >= LONG_CALL for d in durations):
            return count
        now = time.monotonic()
        if self._slots is None or now - self._slots[0] > (SLOTS_TTL if self._slots[1] else SLOTS_RETRY):
            try:
                self._slots = (now, self._scheduler.free_slots())
            except (SchedulerError, NotImplementedError) as exc:  # (a fake that does not model sinfo)
                log.debug("cannot ask for free job slots: %s", exc)
                self._slots = (now, None)
        slots = self._slots[1]
        return min(count, slots) if slots else count

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking work; optionally cancel queued calls; optionally wait for the rest.

        Idempotent. With ``cancel_futures=True`` every call not yet running is cancelled and its job
        removed from the scheduler's queue (one cancel command for all of them). With ``wait=True``
        it returns once every future has resolved and every job to remove has been removed.
        """
        with self._store.lock:
            self._shutdown = True
        if cancel_futures:
            self._cancel_deferred()
        if self._coalescer is not None:
            if cancel_futures:
                self._coalescer.cancel_all()
            self._coalescer.flush()
        with self._store.lock:
            victims = [call for task in self._store.outstanding() for call in task.calls
                       if call.state is CallState.PENDING] if cancel_futures else []
        if victims:
            self._cancel_calls(victims)
        monitor = self._monitor
        if monitor is not None:
            monitor.halt()
        if wait:
            self._wait_idle()
            if monitor is not None:
                monitor.join()
        self._close_scheduler()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        """Leaving a ``with`` block: normally, wait for every job (as :meth:`shutdown`). Leaving it by
        ``KeyboardInterrupt`` or ``SystemExit``: with ``cancel_on_exit`` cancel every job, queued or
        running, at once; in any case do not wait for them. Leaving it by another exception: cancel
        what has not started, wait for the rest."""
        if exc_type is None:
            self.shutdown(wait=True)
        elif not issubclass(exc_type, Exception):
            if self.cancel_on_exit:
                self._terminate(f"{exc_type.__name__} left the executor's with block")
            self.shutdown(wait=False)
        else:
            self.shutdown(wait=True, cancel_futures=True)

    def _terminate(self, reason: str) -> None:
        """Cancel every job of this executor now, queued or running, once; their files go once they
        are gone. Futures of calls not yet running are cancelled; running ones fail with JobCancelled."""
        with self._store.lock:
            if self._terminated:
                return
            self._terminated = True
            self._shutdown = True
        self._cancel_deferred()
        if self._coalescer is not None:
            self._coalescer.cancel_all()
        with self._store.lock:
            tasks = self._store.live()
        if not tasks:
            return
        log.warning("cancelling %d job(s) of %r: %s", len(tasks), self, reason)
        in_queue = [t.scheduler_id for t in tasks
                    if t.scheduler_id and t.state in (TaskState.QUEUED, TaskState.RUNNING)]
        for task in tasks:
            self._store.cancel(task.calls)
            for call in task.calls:
                error = JobCancelled(task.scheduler_id or "?", "CANCELLED", reason=f"cancelled by cfut: {reason}")
                self._store.resolve(call, False, error)
            self._poller.finish(task, remove_job=task.state in (TaskState.QUEUED, TaskState.RUNNING))
        for attempt in range(3):
            self._poller.flush_cancels()
            if not self._store.cancelling():
                break
            self._sleep(0.5 * (attempt + 1))
        if self._store.cancelling():
            log.error("could not cancel every job of %r; what is left: %s", self,
                      ", ".join(t.scheduler_id or "?" for t in self._store.cancelling()))
        else:
            self._await_gone(in_queue)
            self._close_scheduler()
        with self._store.lock:
            _BUSY.discard(self)

    def _await_gone(self, job_ids: Sequence[str]) -> None:
        """After cancelling jobs that were queued or running: wait until the scheduler shows none of
        them queued or running any more (polling every 0.5 s, at most :data:`CANCEL_SETTLE` seconds),
        before their logs go. A job cancelled as it was being launched gets its output file created
        by slurmstepd after that, its CANCELLED line in it (observed on Slurm 22.05): removed before,
        the log would come back and outlive the executor."""
        for _ in range(int(CANCEL_SETTLE / 0.5)):
            if not job_ids:
                return
            try:
                statuses = self._scheduler.query(list(job_ids))
            except SchedulerError as exc:
                log.warning("could not see whether the cancelled jobs have gone: %s", exc)
                return
            job_ids = [job_id for job_id, status in statuses.items() if status.phase is not Phase.FINISHED]
            if job_ids:
                self._sleep(0.5)

    def poll_once(self) -> None:
        """One monitoring step (see :mod:`cfut._poller`): one status query if any job is outstanding,
        its fallbacks, one scan of the work directory, verdicts, cancels. The monitor thread calls
        this; so can tests (with ``background_polling=False``). Calls still lingering in a coalescing
        bucket are submitted first."""
        self._flush_queued()
        self._poller.poll_once(query=True)
        self._close_scheduler()

    @classmethod
    def reattach(cls, workdir: str | os.PathLike[str] | None = None, **options: Any) -> Reattached:
        """Futures for every call that processes now gone submitted from ``workdir`` and did not collect.

        Use it in a new process after the submitting one died, or ended with ``cancel_on_exit=False``:
        the jobs of every journal in the work directory whose process no longer runs are taken over
        by a new executor of this class (made with ``options``, the same keywords as the class), which
        resolves the futures from the result files and the scheduler, as if it had submitted them.
        Futures come in submission order; ``future.call_id`` names each call as the first process
        knew it. A batch whose submit command was interrupted before its answer is found by its
        unique job name. Nothing is cancelled that the journals do not own.

        Returns a list of the futures whose ``executor`` attribute is the executor that took them
        over (``futures.executor.shutdown()``, ``statistics()``, ...). Raises what the class's
        constructor raises. Journals of a running process (on this host) are left alone, with a warning.
        """
        options.setdefault("cancel_on_exit", True)
        executor = cls(workdir=workdir, **options)
        return Reattached(executor._adopt(), executor)

    def _adopt(self) -> list[ClusterFuture]:
        futures: list[ClusterFuture] = []
        followed: list[str] = []
        for path in journals(self.workdir):
            if path == self._journal.path:
                continue
            try:
                state = read_journal(path, self._signing_key)
            except (OSError, IntegrityError) as exc:
                log.warning("cannot take over %s: %s", path, exc)
                continue
            if state.scheduler != self._scheduler.name:
                continue
            if state.owner_alive():
                log.warning("%s belongs to a running process (pid %d on %s); not taking it over", path, state.pid,
                            state.host)
                continue
            for key in [state.key, *state.extra.get("follows", [])]:
                self._scheduler.adopt(key)
                followed.append(key)
            self._journal.follow(followed)
            for entry in state.batches.values():
                futures += self._adopt_batch(entry, state.done)
            os.unlink(path)  # its batches live on in this executor's journal
            log.info("took over %s", path)
        self._relink([call for future in futures if (call := future._cfut_call) is not None])
        if futures:
            with self._store.lock:
                _BUSY.add(self)
            self._ensure_monitor()
        return futures

    def _relink(self, calls: list[Call]) -> None:
        """Restore, from the journal, which adopted calls take which calls' results: their result
        files stay until the dependants ran, and a failure or cancellation reaches the dependants.
        A dependency that had finished before the takeover counts by its result file, if still there."""
        by_id = {call.call_id: call for call in calls}
        for call in calls:
            pairs: list[tuple[Call, str]] = []
            for dependency_id in call.after:
                path = self._jobdir.result(dependency_id)
                dependency = by_id.get(dependency_id)
                if dependency is None:
                    dependency = self._finished_call(dependency_id)
                    if dependency is None:
                        continue
                    by_id[dependency_id] = dependency
                    PINS.pin(path)
                    PINS.keep(path)  # no task of this executor owns it: it goes after the last dependant
                else:
                    PINS.pin(path)
                pairs.append((dependency, path))
            if pairs:
                self._store.depend(call, pairs)

    def _finished_call(self, call_id: str) -> Call | None:
        """A call the first process had collected, as its result file tells; None without the file."""
        try:
            ok, value, _ = self._jobdir.read_outcome(call_id)
        except OSError:
            return None
        future = ClusterFuture()
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
        batch = Batch(key="")
        return Call(call_id=call_id, future=future, task=Task(batch=batch, index=None, key=""), state=CallState.DONE)

    def _adopt_batch(self, entry: JournalBatch, done: set[str]) -> list[ClusterFuture]:
        jobdir = self._jobdir
        tasks = [(key, index, calls) for key, index, calls in entry.tasks if key not in done and (
            os.path.exists(jobdir.payload(key)) or any(os.path.exists(jobdir.result(c)) for c in calls))]
        if not tasks:
            return []
        job_id = entry.job_id
        if job_id is None:  # the submit command's answer never reached the journal: find the job by name
            try:
                job_id = self._scheduler.find_lost(Batch(key=entry.key))
            except SchedulerError as exc:
                log.warning("cannot tell whether batch %s made a job (%s); leaving it", entry.key, exc)
                return []
            if job_id is None:
                self._submitter.remove_files(Batch(key=entry.key, tasks=[
                    Task(batch=Batch(key=entry.key), index=index, key=key) for key, index, _ in entry.tasks]))
                return []
        batch = self._submitter.adopt(entry, job_id, tasks)
        return [call.future for task in batch.tasks for call in task.calls]

    def statistics(self) -> Statistics:
        """A snapshot for debugging and benchmarks (see :class:`~cfut.Statistics`)."""
        store, poller = self._store, self._poller
        with store.lock:
            return Statistics(
                jobs_by_state=dict(store.by_state()),
                outstanding_jobs=len(store.live()),
                submitted_jobs=store.submitted_jobs,
                submitted_tasks=store.submitted_tasks,
                calls_done=store.calls.done,
                calls_failed=store.calls.failed,
                calls_cancelled=store.calls.cancelled,
                commands=dict(self._commands.counts),
                command_failures=dict(self._commands.failures),
                polls=poller.polls,
                status_queries=poller.status_queries,
                query_failures=poller.query_failures,
                monitor_errors=self._monitor.errors if self._monitor is not None else 0,
                poll_interval=self._interval,
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workdir={self.workdir!r}, runner={self._runner!r})"

    # ------------------------------------------------------------------ submission

    def _submit_calls(self, fn: Callable[..., Any], items: Sequence[Item], setup_lines: Sequence[str], *,
                      chunksize: int, array: bool, options: JobOptions | None = None,
                      dependencies: tuple[str, ...] = (), dependency_kind: str = "afterok",
                      after: Sequence[tuple[str, ...]] = ()) -> list[ClusterFuture]:
        if not callable(fn):
            raise InvalidArgumentError(f"submit() needs a callable, got {fn!r}")
        setup = self.additional_setup_lines + tuple(setup_lines)
        options = self._resolve_options(options, setup)
        with self._store.lock:
            self._check_open()
            self._store.begin_submission()
        try:
            futures = self._submitter.submit(fn, items, setup, chunksize=chunksize, array=array, options=options,
                                             dependencies=dependencies, dependency_kind=dependency_kind,
                                             after=after)
        finally:
            self._store.end_submission()
        if futures:
            with self._store.lock:
                _BUSY.add(self)
                self._interval = self._poll_interval
            self._ensure_monitor()
            if self._monitor is not None:
                self._monitor.wakeup.set()
                self._monitor.watch.wake()
        return futures

    def _check_open(self) -> None:
        if self._broken is not None:
            raise BrokenClusterExecutor("the executor is broken; no new jobs are taken") from self._broken
        if self._shutdown:
            raise ExecutorShutdownError("cannot submit new jobs after shutdown()")

    def _flush_queued(self) -> None:
        """Send the calls still lingering in coalescing buckets (someone waits for one)."""
        if self._coalescer is not None:
            self._coalescer.flush()

    def _cancel_queued(self, future: ClusterFuture) -> bool:
        return self._coalescer is not None and self._coalescer.cancel(future)

    def _abandon(self, batches: Sequence[Batch]) -> None:
        """Cancel every call of these accepted batches and remove their jobs (a map that failed half-way)."""
        self._cancel_calls([call for batch in batches for task in batch.tasks for call in task.calls])

    # ------------------------------------------------------------------ cancellation

    def _cancel_call(self, call: Call) -> bool:
        """``Future.cancel()`` for one call: cancel the future, then the job if it carries no other
        live call. Fails (False) once the job runs."""
        with self._store.lock:
            future = call.future
            if future.cancelled():
                return True
            if call.state is not CallState.PENDING:
                return False
            if os.path.exists(self._jobdir.started(call.task.key)):
                # the worker already runs it; the scheduler may not say so yet
                self._store.mark_running(call.task)
                return False
        return bool(self._cancel_calls([call]))

    def _cancel_calls(self, calls: Sequence[Call]) -> int:
        """Cancel these not-yet-running calls; one cancel command for all jobs left without calls."""
        cancelled = self._store.cancel(calls)
        for task in {id(call.task): call.task for call in cancelled}.values():
            self._poller.finish(task, remove_job=task.state in (TaskState.QUEUED, TaskState.RUNNING))
        self._poller.propagate()  # their dependants not yet started are cancelled too
        self._poller.flush_cancels()
        return len(cancelled)

    # ------------------------------------------------------------------ monitoring

    def _ensure_monitor(self) -> None:
        """Whenever work is outstanding, a monitor thread is alive to do it (started, or restarted)."""
        if not self._background or self._broken is not None:
            return
        with self._store.lock:
            if self._monitor is None or not self._monitor.alive():
                if self._monitor is not None:
                    log.error("the monitor thread had ended with work outstanding; starting a new one")
                self._monitor = Monitor(self, self._wait)
                if self._shutdown:
                    self._monitor.halt()
                self._monitor.start()

    def _status_step(self) -> float:
        """One wake-up of the status thread; returns how long to wait before the next (seconds)."""
        now = self._clock()
        due = now - self._last_query >= self._interval
        changed = self._poller.status_step(query=due)
        with self._store.lock:
            if changed:
                self._interval = self._poll_interval
            elif due:
                self._interval = min(self._interval * 1.5, self._max_poll_interval)
            if due:
                self._last_query = now
            if not self._store.has_work():
                _BUSY.discard(self)
        self._close_scheduler()
        remaining = self._interval - (self._clock() - self._last_query)
        return max(0.01, min(remaining, self._max_poll_interval))

    def _wait_idle(self) -> None:
        if self._background and self._monitor is not None:
            while not self._store.wait_idle(1.0):
                if self._broken is not None:
                    return
                self._ensure_monitor()
            return
        while self._store.has_work() and self._broken is None:  # nobody else polls: do it here
            self._poller.poll_once(query=True)
            if self._store.has_work():
                self._sleep(self._interval)

    def _break(self, error: BaseException) -> None:
        """The monitor cannot go on: fail every outstanding future, cancel their jobs, take no more work."""
        log.error("the executor is broken: %r; failing every outstanding future and cancelling its jobs", error)
        broken = BrokenClusterExecutor(f"the monitor failed {type(error).__name__}: {error}")
        broken.__cause__ = error
        with self._store.lock:
            self._broken = broken
            tasks = self._store.outstanding()
        for task in tasks:
            for call in task.calls:
                self._store.resolve(call, False, broken)
            self._poller.finish(task, remove_job=task.state in (TaskState.QUEUED, TaskState.RUNNING))
        for _ in range(3):
            try:
                self._poller.flush_cancels()
            except BaseException as exc:  # noqa: BLE001 - best effort; logged
                log.warning("cancelling the jobs of a broken executor failed: %s", exc)
            if not self._store.cancelling():
                break
        with self._store.lock:
            _BUSY.discard(self)
            self._store.idle.notify_all()

    def _close_scheduler(self) -> None:
        """Shut down and every job done with: the adapter's files and the journal go, and nothing is
        left to cancel at exit."""
        with self._store.lock:
            if self._closed or not self._shutdown or self._store.has_work():
                return
            self._closed = True
        self._scheduler.close(keep_logs=self.keep_logs or self._poller.deaths > 0)
        if not self.keep_logs:
            self._jobdir.remove(self._poller.kept_logs)
            self._poller.kept_logs.clear()
        self._journal.close(remove=True)
        _lifecycle.unregister(self)
