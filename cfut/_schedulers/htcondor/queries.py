"""condor_q, condor_history and condor_rm: argv builders and parsers of their ``-af:j`` and per-id output."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..._errors import JobCancelled, JobDied, JobHeld, SchedulerOutputError
from ..._runner import CommandResult
from ..._status import JobStatus, Phase

# JobStatus codes (proc.h) under the names cfut reports, and where each leaves a job.
STATUS_NAMES = {
    1: "IDLE",
    2: "RUNNING",
    3: "REMOVED",
    4: "COMPLETED",
    5: "HELD",
    6: "TRANSFERRING_OUTPUT",
    7: "SUSPENDED",
}
PHASES = {
    "SUBMITTED": Phase.QUEUED,  # cfut's own: submitted, nothing heard yet
    "IDLE": Phase.QUEUED,
    "RUNNING": Phase.RUNNING,
    "REMOVED": Phase.FINISHED,
    "COMPLETED": Phase.FINISHED,
    # A held job waits in the queue until someone (or the pool's periodic_release policy) releases
    # it; the adapter gives up on it after hold_timeout (see HTCondorScheduler.give_up_after).
    "HELD": Phase.QUEUED,
    "TRANSFERRING_OUTPUT": Phase.RUNNING,
    "SUSPENDED": Phase.RUNNING,
}

#: Attributes asked of condor_q / condor_history, in this order; the free text comes last.
Q_ATTRIBUTES = ("JobStatus", "ExitBySignal", "ExitCode", "ExitSignal", "HoldReasonCode", "HoldReasonSubCode",
                "HoldReason")
HISTORY_ATTRIBUTES = Q_ATTRIBUTES[:-1] + ("RemoveReason",)

def phase_of(state: str) -> Phase:
    return PHASES.get(state, Phase.RUNNING)


def error_class(state: str) -> type[JobDied]:
    if state == "HELD":
        return JobHeld
    if state == "REMOVED":
        return JobCancelled
    return JobDied

def q_argv(job_ids: Sequence[str]) -> list[str]:
    return ["condor_q", *job_ids, "-af:j", *Q_ATTRIBUTES]


def history_argv(job_ids: Sequence[str]) -> list[str]:
    # Each id names at most one ad; -limit stops the backwards scan of the history once all are found.
    return ["condor_history", *job_ids, "-limit", str(len(job_ids)), "-af:j", *HISTORY_ATTRIBUTES]


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def parse_af_status(argv: Sequence[str], output: str) -> dict[str, JobStatus]:
    """``-af:j`` lines of :data:`Q_ATTRIBUTES` (or :data:`HISTORY_ATTRIBUTES`): the job id, then
    each value separated by one space, strings unquoted, ``undefined`` for a missing attribute; the
    free-text reason comes last and keeps its spaces."""
    statuses = {}
    width = len(Q_ATTRIBUTES)
    for line in output.splitlines():
        if not line.strip():
            continue
        parts = line.split(" ", width)
        if len(parts) < width or not re.fullmatch(r"\d+\.\d+", parts[0]):
            raise SchedulerOutputError(argv, output, f"unexpected line {line!r}")
        job_id, status_text, by_signal, exit_code, exit_signal, hold_code, hold_subcode = parts[:width]
        reason = parts[width] if len(parts) > width else ""
        reason = "" if reason == "undefined" else reason
        code = _int(status_text)
        if code is None:
            raise SchedulerOutputError(argv, output, f"JobStatus is not a number in {line!r}")
        state = STATUS_NAMES.get(code, f"STATUS_{code}")
        if state == "HELD":
            statuses[job_id] = JobStatus(state, phase_of(state), reason,
                                         details=(("hold_code", _int(hold_code)),
                                                  ("hold_subcode", _int(hold_subcode))))
        elif by_signal == "true":
            statuses[job_id] = JobStatus(state, phase_of(state), reason, signal=_int(exit_signal))
        else:
            statuses[job_id] = JobStatus(state, phase_of(state), reason, exit_code=_int(exit_code))
    return statuses


def rm_argv(job_ids: Sequence[str]) -> list[str]:
    return ["condor_rm", *job_ids]


_RM_DONE = re.compile(r"Job (\d+\.\d+) (marked for removal|not found|already marked for removal)")
_RM_REFUSED = re.compile(r"(?:Permission denied to remove job|No result found for job) (\d+\.\d+)")


def parse_rm(result: CommandResult) -> tuple[set[str], set[str]]:
    """condor_rm's per-id lines (successes on stdout, failures on stderr) → (settled ids, refused ids).

    "Settled" means nothing of the job is left to remove: marked now, already marked, or not found.
    """
    settled, refused = set(), set()
    for line in (result.stdout + "\n" + result.stderr).splitlines():
        match = _RM_DONE.fullmatch(line.strip())
        if match:
            settled.add(match.group(1))
            continue
        match = _RM_REFUSED.fullmatch(line.strip())
        if match:
            refused.add(match.group(1))
    return settled, refused


def lost_submission_argv(batch_key: str) -> list[str]:
    return ["condor_q", "-constraint", f'CfutBatch == "{batch_key}"', "-af", "ClusterId"]


#: What ``free_slots`` asks the collector: every slot's state and CPUs, one slot a line.
SLOTS_ARGV = ("condor_status", "-af", "State", "Cpus")


def parse_slots(output: str) -> int | None:
    """``State Cpus`` lines (``condor_status -af State Cpus``) → the CPUs of Unclaimed slots (a
    partitionable slot shows the CPUs it has left; a claimed dynamic or static slot, its job's), or
    every slot's CPUs when none is free (one wave as they free up). A line that does not read (a
    slot without ``Cpus`` prints ``undefined``) is left out; None when no line reads."""
    free = total = 0
    for line in output.splitlines():
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            continue
        total += int(parts[1])
        if parts[0] == "Unclaimed":
            free += int(parts[1])
    return (free or total) or None
