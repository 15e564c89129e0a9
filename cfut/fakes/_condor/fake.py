"""FakeCondor: an in-process HTCondor (schedd, startd and tools) on the shared fake cluster model.

It is a :class:`cfut._runner.CommandRunner`: ``condor_submit``, ``condor_q``, ``condor_history`` and
``condor_rm`` are answered in the formats of the reference (``htcondor-cli.md``), ``condor_status -af``
lists the pool's slots (one partitionable slot per node, see :func:`.tools.condor_status`), and each job writes
its job event log in HTCondor's text framing. Jobs run on a :class:`~cfut.fakes.FakeCluster` (nodes,
CPUs, virtual clock), in processes of their own on virtual time (``execution="process"``, the
default), in this process (``"inline"``) or as real processes in real time (``"subprocess"``): see
:class:`~cfut.fakes.FakeScheduler`.

This class is a façade: the runner protocol, time (see :class:`~cfut.fakes.FakeScheduler` for the
progressions) and fault injection come from the base; the model is the schedd (:mod:`.schedd`),
submit descriptions are :mod:`.submit`, the tools are :mod:`.tools`. Faults beyond a failing
command: :meth:`FakeCondor.hold`, :meth:`~FakeCondor.release`, :meth:`~FakeCondor.evict`,
:meth:`~FakeCondor.remove` (``condor_rm`` by someone else), :meth:`~FakeCondor.kill` (the job dies
of a signal), :meth:`~FakeCondor.set_outcome` (how it ends when it ends), :attr:`silent_log`.
Anything outside the model raises :class:`~cfut.fakes.FakeUnsupported`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ..._runner import CommandResult
from .._base import FakeScheduler, Handler
from .._clock import Progression
from .._cluster import FakeCluster
from .._process import JobHandle
from . import classad, messages, tools
from .schedd import HELD, RUNNING, STATE_NAMES, CondorJob, Schedd

#: What a failing command prints when told to fail without a message (reference sections 1.2, 2.3).
DEFAULT_FAILURES = messages.TRANSIENT_FAILURES


@dataclass(frozen=True)
class CondorJobSnapshot:
    """A read-only view of one HTCondor job for tests: ``fake.job("3.0")``.

    ``job_id`` is ``cluster.proc``; ``status`` the JobStatus code and ``state`` its name (``IDLE``,
    ``RUNNING``, ``REMOVED``, ``COMPLETED``, ``HELD``); ``ad`` a copy of the job's ClassAd.
    """

    job_id: str
    status: int
    state: str
    ad: dict[str, classad.Value] = field(default_factory=dict)


class FakeCondor(FakeScheduler):
    """A fake HTCondor pool behind the CommandRunner seam.

    ``FakeCondor(progression="immediate", execution="process", cluster=None, nodes=1, cpus_per_node=4,
    job_duration=1.0, schedd_name=None)``: ``job_duration`` is how long a job runs on the virtual clock (virtual
    seconds, plus its script's ``sleep``); pass ``cluster=`` to share nodes and clock with another
    fake scheduler. Raises ``ValueError`` naming a bad value.
    """

    COMMANDS = ("condor_submit", "condor_q", "condor_history", "condor_rm", "condor_status")
    STATUS_COMMANDS = frozenset({"condor_q", "condor_history", "condor_status"})
    SUBMIT_COMMAND = "condor_submit"

    def __init__(
        self,
        *,
        progression: Progression = "immediate",
        execution: str = "process",
        cluster: FakeCluster | None = None,
        nodes: int = 1,
        cpus_per_node: int = 4,
        job_duration: float = 1.0,
        schedd_name: str | None = None,
    ) -> None:
        if job_duration < 0:
            raise ValueError(f"job_duration must not be negative, got {job_duration!r}")
        cluster = cluster or FakeCluster(nodes=nodes, cpus_per_node=cpus_per_node, progression=progression,
                                         node_prefix="slot", name="condor")
        self._schedd = Schedd(cluster, execution=execution, job_duration=float(job_duration),
                              name=schedd_name or cluster.submit_host)
        super().__init__(cluster=cluster, execution=execution)
        self.lock = self._lock
        #: Every submit description condor_submit accepted, verbatim.
        self.descriptions: list[str] = []

    # ------------------------------------------------------------------ FakeScheduler's hooks

    def _command_table(self) -> Mapping[str, Handler]:
        schedd = self._schedd

        def status(tool: Callable[[Schedd, tuple[str, ...]], tools.Reply]) -> Handler:
            def handler(argv: tuple[str, ...], *, input: str | None, env: Mapping[str, str] | None,
                        cwd: str | None) -> CommandResult:
                self._status_refresh()
                return CommandResult(argv, *tool(schedd, argv))
            return handler

        def submit(argv: tuple[str, ...], *, input: str | None, env: Mapping[str, str] | None,
                   cwd: str | None) -> CommandResult:
            return CommandResult(argv, *tools.condor_submit(schedd, argv, input, env, cwd, self.descriptions))

        def remove(argv: tuple[str, ...], *, input: str | None, env: Mapping[str, str] | None,
                   cwd: str | None) -> CommandResult:
            return CommandResult(argv, *tools.condor_rm(schedd, argv))

        return {"condor_submit": submit, "condor_q": status(tools.condor_q),
                "condor_history": status(tools.condor_history), "condor_rm": remove,
                "condor_status": status(tools.condor_status)}

    def _settle(self, target: float) -> int:
        return self._schedd.settle(target)

    def _jump_target(self) -> float | None:
        return self._schedd.jump_target(self._horizon())

    def _live_processes(self) -> Sequence[JobHandle]:
        return self._schedd.live_processes()

    def _quiet(self) -> bool:
        return not self._schedd.queue

    def _default_failure(self, command: str) -> tuple[str, str]:
        return DEFAULT_FAILURES[command]

    def _shutdown(self) -> None:
        self._schedd.shutdown()

    # ------------------------------------------------------------------ configuration and records

    @property
    def job_duration(self) -> float:
        """How long a job runs under ``"process"`` and ``"inline"`` (besides its script's ``sleep``),
        in virtual seconds."""
        return self._schedd.job_duration

    @property
    def schedd_name(self) -> str:
        return self._schedd.name

    @property
    def event_logs(self) -> set[str]:
        """Every job event log file written to."""
        return self._schedd.event_logs

    @property
    def written_events(self) -> dict[str, str]:
        """Everything written to each event log, kept even after the file is removed (for checks)."""
        return self._schedd.written_events

    @property
    def silent_log(self) -> bool:
        """Fault: while True, jobs write nothing to their event logs (a log that is silent or lost)."""
        return self._schedd.silent_log

    @silent_log.setter
    def silent_log(self, value: bool) -> None:
        self._schedd.silent_log = bool(value)

    # ------------------------------------------------------------------ fault injection

    def hold(self, job_id: str, reason: str | None = None, code: int = 1, subcode: int = 0) -> None:
        """Put a job on hold (``condor_hold``, or a policy with HoldReasonCode ``code``); a running
        job stops. Raises ``KeyError`` if the job is not in the queue."""
        with self._lock:
            text = reason if reason is not None else messages.HOLD_REASON.format(user=self.cluster.user)
            self._schedd.hold(self._schedd.get(job_id), text, code, subcode)

    def release(self, job_id: str) -> None:
        """``condor_release``: a held job goes back to idle. Raises ``ValueError`` if it is not held."""
        with self._lock:
            job = self._schedd.get(job_id)
            if job.status != HELD:
                raise ValueError(f"job {job_id} is not held")
            self._schedd.release(job)

    def evict(self, job_id: str) -> None:
        """The running job is vacated and goes back to idle (it will run again)."""
        with self._lock:
            job = self._running(job_id)
            self._schedd.evict(job)

    def remove(self, job_id: str, reason: str | None = None) -> None:
        """``condor_rm`` by someone else (RemoveReason ``reason``)."""
        with self._lock:
            self._schedd.remove(self._schedd.get(job_id),
                                reason or messages.REMOVE_REASON.format(user=self.cluster.user))

    def kill(self, job_id: str, signal: int = 9) -> None:
        """The running job dies of ``signal`` now, without a result."""
        with self._lock:
            job = self._running(job_id)
            self._schedd.stop_process(job)
            self._schedd.finish(job, None, signal)

    def set_outcome(self, job_id: str, *, exit_code: int | None = None, signal: int | None = None) -> None:
        """When the job ends, it ends like this (exit code, or killed by ``signal``) instead of running
        its executable."""
        with self._lock:
            self._schedd.get(job_id).outcome = (None if signal is not None else (exit_code or 0), signal)

    def _running(self, job_id: str) -> CondorJob:
        job = self._schedd.get(job_id)
        if job.status != RUNNING:
            raise ValueError(f"job {job_id} is not running")
        return job

    # ------------------------------------------------------------------ inspection

    def queue(self) -> list[str]:
        """Ids of the jobs in the queue as condor_q lists them (idle, running, held, and removed ones
        whose shadow is still stopping them), in (cluster, proc) order. On an immediate clock, jobs
        whose processes are ending are let end first (at most half a second)."""
        self._settle_for_inspection()
        with self._lock:
            return [j.job_id for j in self._schedd.sorted_queue()]

    def job(self, job_id: str | int) -> CondorJobSnapshot:
        """A job in the queue or the history; ``KeyError`` if unknown."""
        with self._lock:
            job = self._schedd.find(str(job_id))
            if job is None:
                raise KeyError(job_id)
            return _snapshot(job)

    def jobs(self) -> list[CondorJobSnapshot]:
        """Snapshots of every job the fake knows (in the queue or the history), by id."""
        with self._lock:
            every = sorted([*self._schedd.queue.values(), *self._schedd.history], key=lambda j: j.key)
            return [_snapshot(j) for j in every]

    def history(self) -> list[str]:
        """Ids of the jobs that left the queue, in the order they left."""
        with self._lock:
            return [j.job_id for j in self._schedd.history]

    def __repr__(self) -> str:
        return f"FakeCondor(progression={self.progression!r}, execution={self.execution!r})"


def _snapshot(job: CondorJob) -> CondorJobSnapshot:
    return CondorJobSnapshot(job.job_id, job.status, STATE_NAMES.get(job.status, str(job.status)), dict(job.ad))
