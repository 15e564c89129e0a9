"""What the executor needs from a scheduler adapter, and what it hands one to submit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .._errors import JobDied
from .._records import Batch
from .._resources import JobOptions
from .._status import JobStatus


@dataclass(frozen=True)
class SubmitRequest:
    """One batch to submit, with everything the adapter writes into its script or description.

    The batch's payload and function files already exist in the work directory.
    """

    batch: Batch
    setup_lines: tuple[str, ...] = ()  # shell lines run before the worker (and #SBATCH directives)
    import_paths: tuple[str, ...] = ()  # --import-path arguments of the worker
    #: Variables the job needs that nobody else may see: passed in the submit command's
    #: environment where the scheduler keeps that private (Slurm), never in argv.
    secret_env: Mapping[str, str] = field(default_factory=dict)
    #: Variables the job needs that may be seen (the key file's path).
    job_env: Mapping[str, str] = field(default_factory=dict)
    #: The batch's scheduler options (resources, job name), rendered by the adapter; None: none.
    options: JobOptions | None = None


class Scheduler(Protocol):
    """A scheduler adapter. Every method that runs a command runs at most one (batched) command."""

    #: The scheduler's name in messages: "Slurm", "HTCondor".
    name: str
    #: Whether the scheduler holds a job until others succeed (``batch.dependencies``); without it
    #: the executor holds dependent calls back itself.
    supports_dependencies: bool
    @property
    def max_tasks_per_batch(self) -> int:
        """Most tasks one submission may carry (Slurm's MaxArraySize, ...)."""
        ...

    def task_id(self, job_id: str, index: int | None) -> str:
        """The scheduler's id of a task: Slurm ``12`` / ``12_3``, HTCondor ``12.0`` / ``12.3``."""
        ...

    def submit(self, request: SubmitRequest) -> str:
        """Submit the batch; return the scheduler's job id. Raises SubmissionError (``transient`` when
        worth retrying) or SchedulerOutputError (an answer that cannot be read)."""
        ...

    def find_lost(self, batch: Batch) -> str | None:
        """After a submission whose answer was lost, the id of the job the scheduler made anyway."""
        ...

    def query(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """Statuses of these jobs in one command; ids it does not show are left out. Raises SchedulerError."""
        ...

    def lookup(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """Final statuses of jobs the status command no longer shows (accounting, history)."""
        ...

    def cancel(self, job_ids: Sequence[str]) -> bool:
        """Remove these jobs from the queue in one command; True when none of them is left there."""
        ...

    def error_for(self, status: JobStatus) -> type[JobDied]:
        """The JobDied subclass for a job that ended in ``status`` without a result."""
        ...

    def give_up_after(self, status: JobStatus) -> float | None:
        """For a queued job: seconds it may stay in ``status`` before its calls fail with
        :meth:`error_for` and the job is removed (a reason waiting cannot resolve, such as Slurm's
        ``PartitionConfig``, or an HTCondor hold); None when waiting may help."""
        ...

    def free_slots(self) -> int | None:
        """How many one-CPU jobs could start now (for ``chunksize="auto"``), from one command; None
        when the scheduler does not say."""
        ...

    def adopt(self, key: str) -> None:
        """Also follow what the executor with this key left behind (reattach: HTCondor's event log)."""
        ...

    def close(self, *, keep_logs: bool) -> None:
        """The executor is done with every job: remove what the adapter kept (unless ``keep_logs``)."""
        ...
