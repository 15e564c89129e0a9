"""Every exception cfut raises, under one root so callers can catch precisely.

::

    CfutError
    ├── ExecutorShutdownError (also RuntimeError)   submit() after shutdown(): closed by you
    ├── BrokenClusterExecutor (also concurrent.futures.BrokenExecutor; defined in cfut._executor)
    │                                               the monitor could not go on: broken, every
    │                                               outstanding future failed, its jobs cancelled
    ├── InvalidArgumentError (also ValueError)      bad input, rejected before anything is submitted
    ├── SerializationError (also TypeError)         cloudpickle cannot serialise the function/arguments
    ├── SchedulerError                              the scheduler failed or lied: broken from outside
    │   ├── CommandNotFoundError (also FileNotFoundError)   sbatch/squeue/... not on PATH
    │   ├── CommandTimeoutError                     a scheduler command did not answer in time
    │   ├── SchedulerOutputError                    an answer we cannot parse (quotes command and output)
    │   └── CommandFailedError                      a command failed (argv, returncode, stdout, stderr)
    │       └── SubmissionError                     the scheduler rejected or failed a submission
    ├── DependencyFailed                            a call whose result this one needs failed or was
    │                                               cancelled (its error is the __cause__): not run
    ├── IntegrityError                              a file in the work directory failed its signature
    │                                               check: refused before anything was unpickled
    ├── RealCommandRefused                          a real scheduler command while a fake stands in
    ├── RemoteException                             the function raised, and the exception could not be
    │                                               rebuilt here (carries the remote traceback text)
    └── JobDied                                     the job ended without a result
        ├── JobTimeout                              killed at its time limit (TIMEOUT)
        ├── JobOutOfMemory                          killed for memory (OUT_OF_MEMORY)
        ├── JobCancelled                            cancelled by someone else (CANCELLED)
        ├── JobNodeFailure                          its node failed (NODE_FAIL, BOOT_FAIL)
        ├── JobPreempted                            preempted and not requeued (PREEMPTED)
        ├── JobHeld                                 held by the scheduler (HTCondor hold, Slurm SPECIAL_EXIT)
        └── JobUnschedulable                        pending for a reason waiting cannot cure; cancelled

An exception raised by the user's function is re-raised as itself when it can be unpickled, with the
remote traceback chained as ``__cause__`` (a :class:`RemoteTraceback`); only when it cannot be rebuilt
does :class:`RemoteException` stand in for it.
"""

from __future__ import annotations

# A job's worker imports this module: nothing here may cost it more than the classes themselves
# (no typing or concurrent.futures at run time; BrokenClusterExecutor lives in cfut._executor).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


class CfutError(Exception):
    """Root of every error cfut raises."""


class ExecutorShutdownError(CfutError, RuntimeError):
    """The executor was shut down; it takes no new work."""


class InvalidArgumentError(CfutError, ValueError):
    """An argument was rejected before anything reached the scheduler."""


class SerializationError(CfutError, TypeError):
    """The function or its arguments cannot be serialised; no job was submitted."""


class SchedulerError(CfutError):
    """The scheduler or one of its commands failed."""


class CommandNotFoundError(SchedulerError, FileNotFoundError):
    """A scheduler command is not installed or not on ``PATH``."""

    def __init__(self, command: str) -> None:
        super().__init__(f"scheduler command {command!r} was not found on PATH")
        self.command = command


class CommandTimeoutError(SchedulerError):
    """A scheduler command did not finish within its timeout."""

    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        super().__init__(f"{' '.join(argv)!r} did not finish within {timeout:g} s")
        self.argv = tuple(argv)
        self.timeout = timeout


class SchedulerOutputError(SchedulerError):
    """A scheduler command answered something we cannot parse."""

    def __init__(self, argv: Sequence[str], output: str, problem: str) -> None:
        super().__init__(
            f"cannot parse the output of {' '.join(argv)!r} ({problem}); it printed: {output!r}"
        )
        self.argv = tuple(argv)
        self.output = output


class CommandFailedError(SchedulerError):
    """A scheduler command exited with an error (``argv``, ``returncode``, ``stdout``, ``stderr``)."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str, stdout: str = "", *,
                 transient: bool = False) -> None:
        detail = (stderr.strip() or stdout.strip() or "no output")
        super().__init__(f"{' '.join(argv[:1])} failed with exit code {returncode}: {detail}")
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stderr = stderr
        self.stdout = stdout
        #: Whether the output says the scheduler was only busy or unreachable (worth retrying).
        self.transient = transient


class SubmissionError(CommandFailedError):
    """The scheduler rejected a submission (or failed it after our retries).

    ``hint`` says which limit or setting the refusal is about and what to change, when the
    scheduler's message names one (``""`` otherwise); the message ends with it.
    """

    hint: str = ""


class DependencyFailed(CfutError):
    """A call this one takes the result of (a future passed as an argument) failed or was cancelled,
    so this one was not run; the dependency's error is ``__cause__``. ``dependency`` is its call id."""

    def __init__(self, dependency: str, problem: str = "") -> None:
        super().__init__(f"call {dependency}, which this call waits for, {problem or 'failed'}")
        self.dependency = dependency
        self.problem = problem

    def __reduce__(self) -> tuple[type[DependencyFailed], tuple[str, str]]:
        return (type(self), (self.dependency, self.problem))


class IntegrityError(CfutError):
    """A payload, function or result file failed its signature check, or is not in cfut's format.

    Nothing in it was unpickled. ``path`` names the file, ``problem`` says what is wrong with it.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"refusing {path!r}: {problem}")
        self.path = path
        self.problem = problem

    def __reduce__(self) -> tuple[type[IntegrityError], tuple[str, str]]:
        return (type(self), (self.path, self.problem))


class RemoteTraceback(Exception):
    """The traceback of an exception raised on the compute node, chained as ``__cause__``."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return f'\n"""\n{self.tb.rstrip()}\n"""'


class RemoteException(CfutError):
    """The function raised an exception that could not be rebuilt here.

    ``error`` holds the formatted remote traceback (0.5 kept its text in the same attribute).
    """

    def __init__(self, error: str, type_name: str = "") -> None:
        super().__init__(error)
        self.error = error
        self.type_name = type_name

    def __str__(self) -> str:
        return "\n" + self.error.strip()


class JobDied(CfutError):
    """The job ended without writing a result.

    Attributes: ``job_id`` (the scheduler's id), ``state`` (its final state, e.g. ``FAILED``),
    ``exit_code`` and ``signal`` (``None`` when unknown), ``reason`` (the scheduler's reason text),
    ``log_path`` (kept on disk), ``log_tail`` (its last lines) and ``starts`` (how many times the
    job's worker started: more than 1 after a requeue, 0 when it never ran; ``None`` when unknown).
    """

    def __init__(
        self,
        job_id: str,
        state: str,
        *,
        exit_code: int | None = None,
        signal: int | None = None,
        reason: str = "",
        log_path: str | None = None,
        log_tail: str = "",
        starts: int | None = None,
    ) -> None:
        self.job_id = job_id
        self.starts = starts
        self.state = state
        self.exit_code = exit_code
        self.signal = signal
        self.reason = reason
        self.log_path = log_path
        self.log_tail = log_tail
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [f"job {self.job_id} ended in state {self.state} without a result"]
        if self.exit_code is not None:
            parts.append(f"exit code {self.exit_code}")
        if self.signal:
            parts.append(f"signal {self.signal}")
        if self.reason and self.reason not in ("None", "(null)"):
            parts.append(f"reason: {self.reason}")
        if self.starts is not None and self.starts != 1:
            parts.append(f"started {self.starts} times" if self.starts else "never started")
        if self.log_path:
            parts.append(f"log: {self.log_path}")
        message = "; ".join(parts)
        if self.log_tail:
            message += "\n--- last lines of the job's log ---\n" + self.log_tail.rstrip()
        return message

    def _fields(self) -> dict[str, Any]:
        return {"exit_code": self.exit_code, "signal": self.signal, "reason": self.reason,
                "log_path": self.log_path, "log_tail": self.log_tail, "starts": self.starts}

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_job_died, (type(self), self.job_id, self.state, self._fields()))


def _rebuild_job_died(cls: type[JobDied], job_id: str, state: str, fields: dict[str, Any]) -> JobDied:
    return cls(job_id, state, **fields)


class JobTimeout(JobDied):
    """The job was killed at its time limit."""


class JobOutOfMemory(JobDied):
    """The job was killed for using more memory than it asked for."""


class JobCancelled(JobDied):
    """The job was cancelled outside this executor (``scancel``, ``condor_rm``, an admin)."""


class JobNodeFailure(JobDied):
    """The node running the job failed."""


class JobPreempted(JobDied):
    """The job was preempted and not requeued."""


class JobHeld(JobDied):
    """The scheduler put the job on hold; ``reason`` says why."""

    def __init__(self, job_id: str, state: str = "HELD", *, hold_code: int | None = None,
                 hold_subcode: int | None = None, **fields: Any) -> None:
        self.hold_code = hold_code
        self.hold_subcode = hold_subcode
        super().__init__(job_id, state, **fields)

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "hold_code": self.hold_code, "hold_subcode": self.hold_subcode}


class JobUnschedulable(JobDied):
    """The job stayed pending for a reason waiting does not cure (Slurm's ``PartitionConfig``,
    ``BadConstraints``, ``DependencyNeverSatisfied``, ...; ``reason`` says which), so cfut cancelled it
    after the executor's ``unschedulable_timeout``."""

    def _message(self) -> str:
        text = f"job {self.job_id} could never start: it stayed pending ({self.reason}), so cfut cancelled it"
        return text + (f"; log: {self.log_path}" if self.log_path else "")


class RealCommandRefused(CfutError):
    """A real scheduler command was about to run while a fake scheduler stands in for it
    (inside a ``fake_slurm`` or ``fake_condor`` test, or any :func:`refuse_real_commands` block)."""

    def __init__(self, argv: Sequence[str], reason: str) -> None:
        self.argv = tuple(argv)
        self.reason = reason
        super().__init__(f"refusing to run the real {self.argv[0]!r} ({reason})")
