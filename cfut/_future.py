"""The future cfut returns: a stdlib future whose ``cancel()`` also removes the job from the queue."""

from __future__ import annotations

import concurrent.futures
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._executor import ClusterExecutor
    from ._records import Call


class ClusterFuture(concurrent.futures.Future[Any]):
    """A :class:`concurrent.futures.Future` for one call run as (part of) a cluster job.

    It works with :func:`concurrent.futures.wait`, :func:`~concurrent.futures.as_completed` and
    :func:`asyncio.wrap_future` like any future. ``cancel()`` succeeds while the job has not started
    and also removes the job from the scheduler's queue (when no other call needs it).
    """

    def __init__(self) -> None:
        super().__init__()
        self._cfut_executor: weakref.ref[ClusterExecutor] | None = None
        self._cfut_call: Call | None = None
        self._cfut_log: str | None = None

    def _bind(self, executor: ClusterExecutor, call: Call) -> None:
        self._cfut_executor = weakref.ref(executor)
        self._cfut_call = call
        self._cfut_log = executor._jobdir.log(call.task.key)

    @property
    def log_path(self) -> str | None:
        """The path of the job's log: its standard output and standard error as the scheduler wrote
        them (Slurm's ``--output``; HTCondor's ``output`` and ``error``), in the work directory.

        An array task has its own file; calls run together by a ``chunksize`` > 1 task share it. The
        file exists once the job starts. The log of a failed job is kept; that of a successful one
        until the executor shuts down (:meth:`~cfut.ClusterExecutor.shutdown`, or the end of its
        ``with`` block), or for ever with ``keep_logs=True``. Asking sends a call still lingering in
        a coalescing bucket at once; ``None`` when the scheduler did not accept a submission of it.
        """
        self._leave_bucket()
        return self._cfut_log

    def log(self) -> str:
        """The job's output so far: standard output and standard error as the scheduler wrote them
        (read from :attr:`log_path`; undecodable bytes replaced). ``""`` before the job has written
        anything.

        Raises:
            FileNotFoundError: the call is done and its log was removed (a successful job's log goes
                when the executor shuts down, unless ``keep_logs=True``), or the call was never
                submitted.
        """
        path = self.log_path
        if path is None:
            if not self.done():
                return ""  # held back here until its dependencies finish (HTCondor)
            raise FileNotFoundError("this call has no log: it was never submitted")
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except FileNotFoundError:
            if not self.done():
                return ""  # the job has not started (or not written) yet
            if self.cancelled():
                return ""  # it never ran
            raise FileNotFoundError(
                f"the log of this call ({path}) is gone: a successful job's log is removed when its executor "
                "shuts down; pass keep_logs=True to keep it") from None

    def _queue(self, executor: ClusterExecutor) -> None:
        """The call waits in its executor's coalescing bucket (see cfut._coalesce); no job yet."""
        self._cfut_executor = weakref.ref(executor)

    @property
    def call_id(self) -> str | None:
        """A name for this call that stays the same in every process (``<batch key>.<task>.<n>``): the
        stem of its result file, and how :meth:`ClusterExecutor.reattach` futures say which call they
        are. Asking sends a call still lingering in a coalescing bucket at once; ``None`` for a call
        that was never submitted (cancelled before, or refused)."""
        self._leave_bucket()
        call = self._cfut_call
        return call.call_id if call is not None else None

    @property
    def job_id(self) -> str | None:
        """The scheduler's id of the job (or array task) running this call: Slurm ``"12"`` or
        ``"12_3"`` (the job id ``sbatch --parsable`` answered, and the task's index), HTCondor
        ``"12.3"`` (the cluster ``condor_submit -terse`` answered, and the process). Asking sends a
        call still lingering in a coalescing bucket at once; ``None`` when the scheduler did not accept
        a submission of it (yet: a dependant held back on HTCondor; or ever: cancelled, refused)."""
        self._leave_bucket()
        call = self._cfut_call
        return call.task.scheduler_id if call is not None else None

    def _leave_bucket(self) -> None:
        """Whoever asks which job runs the call gets it submitted (see cfut._coalesce)."""
        if self._cfut_call is None and not self.done():
            executor = self._executor()
            if executor is not None:
                executor._flush_queued()

    def _executor(self) -> ClusterExecutor | None:
        return self._cfut_executor() if self._cfut_executor is not None else None

    def cancel(self) -> bool:
        """Cancel the call if its job has not started (the job leaves the queue); False once it runs."""
        executor = self._executor()
        if executor is None:
            return super().cancel()
        if self._cfut_call is None:
            return executor._cancel_queued(self) or super().cancel()
        return executor._cancel_call(self._cfut_call)

    def result(self, timeout: float | None = None) -> Any:
        """The call's value, or its exception raised here (see :class:`concurrent.futures.Future`)."""
        self._ensure_monitored()
        return super().result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._ensure_monitored()
        return super().exception(timeout)

    def _ensure_monitored(self) -> None:
        """Whoever waits for an outstanding future has its call submitted and a monitor alive to resolve it."""
        if not self.done():
            executor = self._executor()
            if executor is not None:
                if self._cfut_call is None:
                    executor._flush_queued()
                executor._ensure_monitor()
