"""The submission path: pickling, splitting into batches, retries, and jobs whose submission went wrong.

A call to ``submit``/``map`` becomes batches of at most ``scheduler.max_tasks_per_batch`` tasks of
``chunksize`` calls each. The function is pickled once per batch (``<batch>.fn``) and the arguments
once per call (in each task's payload), so a map over a function that holds a large object writes
that object once, not once per item.

What happens to a job when its submission does not end in a clean answer:

==========================================  ===================================================
the submit command...                        then
==========================================  ===================================================
answered with the job id                     the batch is tracked (futures returned)
failed, the output says busy/unreachable     the job is looked up by its unique name: adopted if
                                             it exists, else retried (``submit_retries`` times)
was refused (any other failure)              no job exists: its files go, the error is raised
answered something unreadable                looked up by name: adopted if it exists
was interrupted (Ctrl-C), or anything else   looked up by name: cancelled if it exists; files
                                             go only once it is known not to exist
==========================================  ===================================================

When a later batch of a long map fails, the batches the same call already submitted are cancelled
before the error is raised: a map either returns every future or leaves nothing behind.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import _wire
from ._errors import (
    CommandNotFoundError,
    InvalidArgumentError,
    RealCommandRefused,
    SchedulerOutputError,
    SubmissionError,
)
from ._future import ClusterFuture
from ._jobdir import JobDir, new_key, task_key
from ._journal import Journal, JournalBatch
from ._records import Batch, Call, JobStore, Task
from ._resources import JobOptions
from ._schedulers.base import Scheduler, SubmitRequest

if TYPE_CHECKING:
    from ._executor import ClusterExecutor

log = logging.getLogger("cfut")

Item = tuple[tuple[Any, ...], dict[str, Any]]

#: Seconds between attempts to find a job by name after an interrupted submission.
_FIND_DELAYS = (0.0, 1.0, 2.0)


def qualified_name(fn: object) -> str:
    """``module.qualname`` of a function: the key under which its calls' durations are kept."""
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__qualname__)}"


@dataclass
class Pending:
    """A call pickled and waiting to be put in a batch: which of the batch's functions, its arguments,
    and its future when the caller already holds it (a coalesced ``submit``)."""

    function: int
    arguments: bytes
    future: ClusterFuture | None = None
    name: str = ""  # the function's qualified name
    after: tuple[str, ...] = ()  # call ids whose results the arguments refer to (futures as arguments)


class Submitter:
    """Turns calls into batches on disk and submits them through the scheduler adapter."""

    def __init__(self, store: JobStore, scheduler: Scheduler, jobdir: JobDir, *, sleep: Callable[[float], None],
                 retries: int, import_paths: tuple[str, ...], secret_env: dict[str, str],
                 job_env: dict[str, str], owner: weakref.ref[ClusterExecutor], journal: Journal) -> None:
        self.store = store
        self.scheduler = scheduler
        self.jobdir = jobdir
        self._sleep = sleep
        self._retries = retries
        self._import_paths = import_paths
        self._secret_env = secret_env
        self._job_env = job_env
        self._owner = owner  # weakly: the executor owns this submitter
        self.journal = journal

    def submit(self, fn: Callable[..., Any], items: Sequence[Item], setup_lines: tuple[str, ...], *,
               chunksize: int, array: bool, options: JobOptions | None = None,
               dependencies: tuple[str, ...] = (), dependency_kind: str = "afterok",
               after: Sequence[tuple[str, ...]] = ()) -> list[ClusterFuture]:
        """Pickle everything first (nothing is submitted if one item fails), then submit the batches.
        ``after[i]``: the call ids item ``i`` takes results of (journalled for reattach).
        Raises SerializationError, SubmissionError, SchedulerOutputError, CommandNotFoundError."""
        what = f"function {getattr(fn, '__qualname__', fn)!r}"
        function = _wire.dumps(fn, what)
        arguments = [_wire.dumps((args, kwargs), f"arguments of {what}") for args, kwargs in items]
        name = qualified_name(fn)
        afters = list(after) + [()] * (len(arguments) - len(after))
        pendings = [Pending(0, data, name=name, after=ids) for data, ids in zip(arguments, afters)]
        chunks = [pendings[i:i + chunksize] for i in range(0, len(pendings), chunksize)]
        return self.submit_chunks([function], chunks, setup_lines, array=array, options=options,
                                  dependencies=dependencies, dependency_kind=dependency_kind)

    def submit_chunks(self, functions: list[bytes], chunks: list[list[Pending]], setup_lines: tuple[str, ...], *,
                      array: bool, options: JobOptions | None = None, dependencies: tuple[str, ...] = (),
                      dependency_kind: str = "afterok") -> list[ClusterFuture]:
        """Submit already pickled calls as batches of at most ``max_tasks_per_batch`` tasks, one chunk a task;
        if one batch fails, cancel the batches this call already submitted and raise."""
        # Only a batch of several tasks needs the limit (which Slurm's adapter asks the cluster for).
        size = self.scheduler.max_tasks_per_batch if len(chunks) > 1 else 1
        if size < 1:
            raise InvalidArgumentError(f"the {self.scheduler.name} adapter accepts no tasks per batch ({size})")
        accepted: list[Batch] = []
        futures: list[ClusterFuture] = []
        try:
            for first in range(0, len(chunks), size):
                batch = self._prepare(functions, chunks[first:first + size], array)
                batch.options = options
                batch.dependencies, batch.dependency_kind = dependencies, dependency_kind
                self._submit(batch, setup_lines)
                accepted.append(batch)
                futures += [call.future for task in batch.tasks for call in task.calls]
        except BaseException:
            if accepted:
                log.warning("cancelling the %d batch(es) this call already submitted, since a later one failed",
                            len(accepted))
                self._abandon(accepted)
            raise
        return futures

    def _prepare(self, functions: list[bytes], chunks: list[list[Pending]], array: bool) -> Batch:
        """The batch's records and its files (each function once, a payload per task)."""
        batch = Batch(key=new_key())
        try:
            self.jobdir.write_functions(batch.key, functions)
            for index, chunk in enumerate(chunks):
                task_index = index if array else None
                task = Task(batch=batch, index=task_index, key=task_key(batch.key, task_index))
                batch.tasks.append(task)
                specs = []
                for position, pending in enumerate(chunk):
                    future = pending.future or ClusterFuture()
                    call = Call(call_id=f"{task.key}.{position}", future=future, task=task, function=pending.name,
                                after=pending.after)
                    task.calls.append(call)
                    specs.append(_wire.CallSpec(call.call_id, pending.function, pending.arguments))
                self.jobdir.write_payload(task.key, batch.key, specs)
        except BaseException:
            self._remove_files(batch)
            raise
        return batch

    def _submit(self, batch: Batch, setup_lines: tuple[str, ...]) -> None:
        request = SubmitRequest(batch, setup_lines, self._import_paths, self._secret_env, self._job_env,
                                batch.options)
        try:
            # Before the command: a crash between it and the answer is recovered by the batch's name.
            self.journal.batch(batch.key, batch.array,
                               [(t.key, t.index, [c.call_id for c in t.calls]) for t in batch.tasks],
                               after=_afters(batch))
        except BaseException:
            self._remove_files(batch)
            raise
        try:
            job_id = self._submit_with_retries(request)
        except (SubmissionError, CommandNotFoundError, RealCommandRefused):
            # refused, still failing after the retries, or never run: no job exists
            self._remove_files(batch)
            raise
        except SchedulerOutputError as exc:  # accepted, most likely, but the answer is unreadable
            found = self._find(batch)
            if found is None:
                self._remove_files(batch)
                raise
            log.warning("%s; but the job exists as %s: adopting it", exc, found)
            job_id = found
        except BaseException:  # interrupted: the job may exist, and nobody would collect it
            self._recover_interrupted(batch)
            raise
        self._accept(batch, job_id)

    def _submit_with_retries(self, request: SubmitRequest) -> str:
        delay = 1.0
        for attempt in range(self._retries + 1):
            try:
                return self.scheduler.submit(request)
            except SubmissionError as exc:
                if not exc.transient:
                    raise
                adopted = self.scheduler.find_lost(request.batch)
                if adopted is not None:
                    log.warning("submission reported %r but job %s exists; adopting it", exc, adopted)
                    return adopted
                if attempt == self._retries:
                    raise
                log.warning("submission failed (%s); retrying in %g s", exc, delay)
                self._sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def _find(self, batch: Batch) -> str | None:
        try:
            return self.scheduler.find_lost(batch)
        except Exception as exc:  # noqa: BLE001 - a failed look-up is "unknown", reported below
            log.warning("could not look for the job of batch %s: %s", batch.key, exc)
            return None

    def _recover_interrupted(self, batch: Batch) -> None:
        """The submission was interrupted: if the scheduler made the job anyway, track it only to cancel
        it (its files stay until it is gone); if it surely does not exist, remove its files."""
        for delay in _FIND_DELAYS:
            if delay:
                self._sleep(delay)
            try:
                job_id = self.scheduler.find_lost(batch)
            except BaseException as exc:  # noqa: BLE001 - try again, then give up below
                log.warning("looking for the job of interrupted batch %s failed: %s", batch.key, exc)
                continue
            if job_id is None:
                self._remove_files(batch)
                return
            log.warning("the interrupted submission of batch %s made job %s: cancelling it", batch.key, job_id)
            self._accept(batch, job_id)
            self._abandon([batch])
            return
        log.error("could not tell whether the interrupted submission of batch %s made a job; its files stay "
                  "in %s (python -m cfut clean removes them)", batch.key, self.jobdir.path)

    def _accept(self, batch: Batch, job_id: str) -> None:
        self.journal.accepted(batch.key, job_id)
        self.store.accept(batch, job_id, [self.scheduler.task_id(job_id, t.index) for t in batch.tasks])
        owner = self._owner()
        assert owner is not None, "an executor that is submitting is alive"
        for task in batch.tasks:
            for call in task.calls:
                call.future._bind(owner, call)
        log.debug("submitted %d task(s) as job %s", len(batch.tasks), job_id)

    def _abandon(self, batches: Sequence[Batch]) -> None:
        owner = self._owner()
        if owner is not None:
            owner._abandon(batches)

    def adopt(self, entry: JournalBatch, job_id: str, tasks: Sequence[tuple[str, int | None, list[str]]]) -> Batch:
        """Records and futures for a batch another process submitted (from its journal); its files exist."""
        batch = Batch(key=entry.key)
        for key, index, call_ids in tasks:
            task = Task(batch=batch, index=index, key=key)
            batch.tasks.append(task)
            task.calls = [Call(call_id=call_id, future=ClusterFuture(), task=task,
                               after=tuple(entry.after.get(call_id, ()))) for call_id in call_ids]
        batch.script_path = self.jobdir.script(batch.key) if os.path.exists(self.jobdir.script(batch.key)) else ""
        self.journal.batch(batch.key, entry.array, [(t.key, t.index, [c.call_id for c in t.calls])
                                                    for t in batch.tasks], after=_afters(batch))
        self._accept(batch, job_id)
        return batch

    def remove_files(self, batch: Batch) -> None:
        """Remove a batch's files after its submission made no job (and say so in the journal)."""
        self._remove_files(batch)

    def _remove_files(self, batch: Batch) -> None:
        self.journal.abandoned(batch.key)
        jobdir = self.jobdir
        paths = [jobdir.functions(batch.key), batch.script_path]
        for task in batch.tasks:
            paths += [jobdir.payload(task.key), jobdir.log(task.key), jobdir.started(task.key)]
        jobdir.remove(paths)


def _afters(batch: Batch) -> dict[str, list[str]]:
    """The journal's record of which calls of ``batch`` take which other calls' results."""
    return {call.call_id: list(call.after) for task in batch.tasks for call in task.calls if call.after}
