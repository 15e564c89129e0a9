"""What a scheduler says about a job, in the scheduler's words and in cfut's three phases."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Phase(enum.Enum):
    """Where a job is, whatever the scheduler calls its state."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"


@dataclass(frozen=True)
class JobStatus:
    """What the scheduler said about one job or array task.

    ``state`` is the scheduler's own name (Slurm's ``PENDING``, ``RUNNING``, ``COMPLETED``,
    ``TIMEOUT``, ...; HTCondor's ``IDLE``, ``RUNNING``, ``HELD``, ...), ``reason`` its reason text
    (squeue ``%r``, HoldReason, ...), ``exit_code``/``signal`` how the job ended when known.
    """

    state: str
    phase: Phase
    reason: str = ""
    exit_code: int | None = None
    signal: int | None = None
    #: Backend-specific keyword arguments for the error class (e.g. HTCondor's hold_code).
    details: tuple[tuple[str, Any], ...] = ()
    #: The batch key the scheduler's record of the job carries (Slurm: its comment ``cfut.KEY``, squeue
    #: ``%k`` / scontrol ``Comment=``, or its name ``cfut.KEY``, squeue ``%j`` / sacct ``JobName``), when
    #: it says; None when the record does not tell. A job id the scheduler gave again to a stranger's
    #: job shows another key, or :data:`NOT_CFUT` where the record shows it is no job of cfut's.
    batch_key: str | None = None


#: ``JobStatus.batch_key`` of a job whose record shows it is not cfut's (a comment that is not
#: ``cfut.KEY``, where every job cfut submits carries one).
NOT_CFUT = ""


UNKNOWN_STATUS = JobStatus("UNKNOWN", Phase.FINISHED, "the scheduler no longer knows this job")
