"""Slurm: argv builders, output parsers and :class:`SlurmScheduler`, the adapter the executor drives.

Commands issued (one of each kind per poll at most, every one batched over all jobs)::

    sbatch --parsable --job-name=cfut.KEY --output=LOG SCRIPT          submit
    squeue --noheader --states=all --array --jobs=ID,... --format=%i|%T|%r   status
    sacct --noheader --parsable2 --allocations --jobs=ID,... --format=JobID,State,ExitCode
    scontrol --oneliner show job [ID]                                  fallback without accounting
    scancel ID ...                                                     cancel
    squeue --noheader --name=cfut.KEY --format=%i                      a lost sbatch reply

Facts reproduced here are from the Slurm 22.05 manual pages (sbatch, squeue, sacct, scontrol,
scancel) and were checked on a real cluster by the integration tests.
"""

from __future__ import annotations

import logging
import re
import shlex
import sys
from collections.abc import Sequence
from typing import NamedTuple

from .._commands import SchedulerCommands
from .._errors import (
    InvalidArgumentError,
    JobCancelled,
    JobDied,
    JobHeld,
    JobNodeFailure,
    JobOutOfMemory,
    JobPreempted,
    JobTimeout,
    JobUnschedulable,
    SchedulerError,
    SchedulerOutputError,
)
from .._jobdir import LOG_SUFFIX, PAYLOAD_SUFFIX, JobDir
from .._records import Batch
from .._runner import CommandResult
from .._status import JobStatus, Phase
from .base import SubmitRequest
from .script import wrapper_script

log = logging.getLogger("cfut")

# squeue/sacct state names (squeue --format=%T, sacct State) and where each leaves a job.
# "JOB STATE CODES" in squeue(1).
_PHASES = {
    "PENDING": Phase.QUEUED,
    "CONFIGURING": Phase.QUEUED,  # resources allocated, nodes still booting
    "REQUEUED": Phase.QUEUED,
    "REQUEUE_FED": Phase.QUEUED,
    "REQUEUE_HOLD": Phase.QUEUED,
    "RESV_DEL_HOLD": Phase.QUEUED,
    "POWER_UP_NODE": Phase.QUEUED,
    "RUNNING": Phase.RUNNING,
    "COMPLETING": Phase.RUNNING,  # the batch script ended; epilogs run, the final state follows
    "SUSPENDED": Phase.RUNNING,
    "STOPPED": Phase.RUNNING,
    "SIGNALING": Phase.RUNNING,
    "STAGE_OUT": Phase.RUNNING,
    "RESIZING": Phase.RUNNING,
    "UPDATE_DB": Phase.RUNNING,
    "COMPLETED": Phase.FINISHED,
    "FAILED": Phase.FINISHED,
    "CANCELLED": Phase.FINISHED,
    "TIMEOUT": Phase.FINISHED,
    "OUT_OF_MEMORY": Phase.FINISHED,
    "NODE_FAIL": Phase.FINISHED,
    "PREEMPTED": Phase.FINISHED,  # a requeued job shows PENDING/REQUEUED instead
    "BOOT_FAIL": Phase.FINISHED,
    "DEADLINE": Phase.FINISHED,
    "REVOKED": Phase.FINISHED,
    "SPECIAL_EXIT": Phase.FINISHED,  # held after requeue; it will not run unless released
}

# Reasons a pending job gives that waiting does not cure ("Job Reason Codes" of the Slurm docs): the
# request itself cannot be met by the partition, its constraints, account or QOS, or its dependency
# can no longer be satisfied. ReqNodeNotAvail is left out: nodes come back.
UNSCHEDULABLE_REASONS = frozenset({
    "PartitionConfig", "PartitionNodeLimit", "PartitionTimeLimit", "BadConstraints",
    "DependencyNeverSatisfied", "InvalidAccount", "InvalidQOS", "AccountNotAllowed", "QOSNotAllowed",
})

_ERRORS: dict[str, type[JobDied]] = {
    "TIMEOUT": JobTimeout,
    "DEADLINE": JobTimeout,
    "OUT_OF_MEMORY": JobOutOfMemory,
    "CANCELLED": JobCancelled,
    "NODE_FAIL": JobNodeFailure,
    "BOOT_FAIL": JobNodeFailure,
    "PREEMPTED": JobPreempted,
    "SPECIAL_EXIT": JobHeld,
    "PENDING": JobUnschedulable,  # given up on: pending for a reason that waiting does not cure
}

# Messages of a controller that is busy or unreachable: worth retrying (slurm_errno.c texts).
TRANSIENT = (
    "Socket timed out on send/recv operation",
    "Unable to contact slurm controller",
    "Slurm controller not responding",
    "Connection refused",
    "Connection timed out",
    "Resource temporarily unavailable",
    "Transport endpoint is not connected",
    "temporarily unable to accept job",
    "Zero Bytes were transmitted or received",
)
INVALID_JOB_ID = "Invalid job id specified"
ACCOUNTING_DISABLED = "accounting storage is disabled"

STATUS_FORMAT = "%i|%T|%r|%j"
SACCT_FORMAT = "JobID,State,ExitCode,JobName"
JOB_NAME_PREFIX = "cfut."
#: Longest ``--jobs=...`` argument cfut writes: Linux refuses any single argument over 131,072 bytes
#: (MAX_ARG_STRLEN, 32 pages) with E2BIG, "Argument list too long".
MAX_IDS_TEXT = 100_000


def batch_key_of(name: str) -> str | None:
    """The batch key in a job name cfut gave (``cfut.KEY``); None for any other name."""
    return name[len(JOB_NAME_PREFIX):] if name.startswith(JOB_NAME_PREFIX) else None


def compact_ids(job_ids: Sequence[str]) -> list[str]:
    """Ask for a whole array (``A``, which ``--array`` lists task by task) where several of its tasks
    are wanted, instead of each ``A_i``: 10,000 tasks of one array cost one short argument."""
    tasks: dict[str, list[str]] = {}
    plain: list[str] = []
    for job_id in job_ids:
        array, sep, _ = job_id.partition("_")
        if sep:
            tasks.setdefault(array, []).append(job_id)
        else:
            plain.append(job_id)
    compact = list(dict.fromkeys(plain))
    for array, members in tasks.items():
        compact += [array] if len(members) > 1 else members
    return compact


def id_chunks(job_ids: Sequence[str], limit: int = MAX_IDS_TEXT) -> list[list[str]]:
    """Split ids into lists whose comma-joined text stays within ``limit`` bytes."""
    chunks: list[list[str]] = [[]]
    size = 0
    for job_id in job_ids:
        if chunks[-1] and size + len(job_id) + 1 > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(job_id)
        size += len(job_id) + 1
    return [chunk for chunk in chunks if chunk]


def phase_of(state: str) -> Phase:
    """Phase of a Slurm state; unknown future states count as running rather than finished."""
    return _PHASES.get(state, Phase.RUNNING)


def error_class(state: str) -> type[JobDied]:
    return _ERRORS.get(state, JobDied)


def escape_filename_pattern(path: str) -> str:
    """Quote a path for sbatch's --output, where ``%`` starts a replacement symbol."""
    if "\\" in path:
        # A backslash anywhere switches off all replacement in Slurm's filename patterns, so
        # "%%" would then be taken literally; such paths are refused where the work dir is set.
        raise InvalidArgumentError(f"Slurm cannot name an output file in a path with a backslash: {path!r}")
    return path.replace("%", "%%")


def parse_exit_code(text: str) -> tuple[int | None, int | None]:
    """``"N:S"`` (sacct ExitCode, scontrol ExitCode) → (exit code, signal)."""
    match = re.fullmatch(r"(\d+):(\d+)", text.strip())
    if not match:
        return None, None
    return int(match.group(1)), int(match.group(2))


class ArrayPath(NamedTuple):
    """A payload path of an array job: ``prefix + $SLURM_ARRAY_TASK_ID + suffix``."""

    prefix: str
    suffix: str

    def shell(self) -> str:
        return f'{shlex.quote(self.prefix)}"$SLURM_ARRAY_TASK_ID"{shlex.quote(self.suffix)}'


def batch_script(
    python: str, payload: str | ArrayPath, setup_lines: Sequence[str], import_paths: Sequence[str]
) -> str:
    """The batch script for one job or array: the shared wrapper with the payload's path (quoted),
    or for an array the path built from ``$SLURM_ARRAY_TASK_ID``."""
    word = payload.shell() if isinstance(payload, ArrayPath) else shlex.quote(payload)
    return wrapper_script(python, word, setup_lines, import_paths)


def sbatch_argv(job_name: str, output_pattern: str, script_path: str) -> list[str]:
    """``output_pattern`` is a Slurm filename pattern: escape paths with escape_filename_pattern."""
    return ["sbatch", "--parsable", f"--job-name={job_name}", f"--output={output_pattern}", script_path]


def parse_sbatch(argv: Sequence[str], result: CommandResult) -> str:
    """``--parsable`` prints ``ID`` or ``ID;CLUSTER``; sbatch may print warnings on stderr."""
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if not lines:
        raise SchedulerOutputError(argv, result.stdout, "no job id")
    job_id = lines[-1].strip().split(";", 1)[0]
    if not job_id.isdigit():
        raise SchedulerOutputError(argv, result.stdout, "the job id is not a number")
    return job_id


def squeue_argv(job_ids: Sequence[str] | None) -> list[str]:
    """One status command: for these ids, or (``None``) for every job of this user (``--me``)."""
    which = "--me" if job_ids is None else f"--jobs={','.join(job_ids)}"
    return ["squeue", "--noheader", "--states=all", "--array", which, f"--format={STATUS_FORMAT}"]


def parse_squeue(argv: Sequence[str], output: str) -> dict[str, JobStatus]:
    """``%i|%T|%r|%j`` lines (the name last: a name may hold ``|``; ``%r`` never does)."""
    statuses = {}
    for line in output.splitlines():
        if not line.strip():
            continue
        parts = line.strip().split("|", 3)
        if len(parts) not in (3, 4) or not re.fullmatch(r"\d+(_\d+)?", parts[0]):
            raise SchedulerOutputError(argv, output, f"unexpected line {line!r}")
        job_id, state, reason = parts[:3]
        key = batch_key_of(parts[3]) if len(parts) == 4 else None
        statuses[job_id] = JobStatus(state, phase_of(state), reason, batch_key=key)
    return statuses


def sacct_argv(job_ids: Sequence[str]) -> list[str]:
    return ["sacct", "--noheader", "--parsable2", "--allocations", f"--jobs={','.join(job_ids)}",
            f"--format={SACCT_FORMAT}"]


def parse_sacct(argv: Sequence[str], output: str) -> dict[str, JobStatus]:
    statuses = {}
    for line in output.splitlines():
        if not line.strip():
            continue
        parts = line.strip().split("|", 3)
        if len(parts) not in (3, 4):
            raise SchedulerOutputError(argv, output, f"unexpected line {line!r}")
        job_id, state_text, exit_text = parts[:3]
        if "." in job_id:  # a step (12.batch); --allocations should have left these out
            continue
        words = state_text.split()
        if not words:
            raise SchedulerOutputError(argv, output, f"no state in line {line!r}")
        state = words[0]  # "CANCELLED by 1000"
        exit_code, signal = parse_exit_code(exit_text)
        key = batch_key_of(parts[3]) if len(parts) == 4 else None
        statuses[job_id] = JobStatus(state, phase_of(state), " ".join(words[1:]), exit_code, signal, batch_key=key)
    return statuses


def scontrol_argv(job_ids: Sequence[str]) -> list[str]:
    # scontrol shows one job by id, or all; for several ids one call listing all is cheaper.
    return ["scontrol", "--oneliner", "show", "job"] + ([job_ids[0]] if len(job_ids) == 1 else [])


_SCONTROL_FIELD = re.compile(r"(?:^|\s)(JobId|JobName|ArrayJobId|ArrayTaskId|JobState|Reason|ExitCode)=(\S*)")


def parse_scontrol(argv: Sequence[str], output: str) -> dict[str, JobStatus]:
    statuses = {}
    for line in output.splitlines():
        if not line.strip() or line.startswith("No jobs in the system"):
            continue
        fields: dict[str, str] = {}
        for key, value in _SCONTROL_FIELD.findall(line):
            fields.setdefault(key, value)  # the first occurrence; paths later on the line may lie
        if "JobId" not in fields or "JobState" not in fields:
            raise SchedulerOutputError(argv, output, f"no JobId/JobState in line {line[:200]!r}")
        job_id = fields["JobId"]
        if fields.get("ArrayTaskId", "").isdigit():
            job_id = f"{fields['ArrayJobId']}_{fields['ArrayTaskId']}"
        state = fields["JobState"]
        exit_code, signal = parse_exit_code(fields.get("ExitCode", ""))
        key = batch_key_of(fields["JobName"]) if "JobName" in fields else None
        statuses[job_id] = JobStatus(state, phase_of(state), fields.get("Reason", ""), exit_code, signal,
                                     batch_key=key)
    return statuses


class SlurmScheduler:
    """The Slurm adapter: ``sbatch`` a batch (an array job for several tasks), ``squeue`` for status,
    ``sacct`` then ``scontrol`` for jobs squeue no longer lists, ``scancel`` to cancel."""

    name = "Slurm"
    #: Most tasks in one array job (Slurm's MaxArraySize default of 1001 allows indices 0-1000).
    max_tasks_per_batch = 1000

    def __init__(self, commands: SchedulerCommands, jobdir: JobDir, *, python: str | None = None,
                 unschedulable_timeout: float = 60.0, requeue: bool = True) -> None:
        escape_filename_pattern(jobdir.path)  # refuse an unusable work directory now
        self.unschedulable_timeout = unschedulable_timeout
        self.requeue = requeue
        self.commands = commands
        self.jobdir = jobdir
        self.python = python or sys.executable
        self._accounting = True  # until sacct says otherwise

    @staticmethod
    def task_id(job_id: str, index: int | None) -> str:
        return job_id if index is None else f"{job_id}_{index}"

    @staticmethod
    def is_transient(result: CommandResult) -> bool:
        """Whether a failed command's output says the controller was only busy or unreachable."""
        text = result.stderr + result.stdout
        return any(marker in text for marker in TRANSIENT)

    # -- submission

    def submit(self, request: SubmitRequest) -> str:
        """One ``sbatch``: a plain job for one task, an array job (``--array=0-N``) for several."""
        batch = request.batch
        jobdir = self.jobdir
        payload: str | ArrayPath
        if batch.array:
            payload = ArrayPath(jobdir.file(batch.key + "."), PAYLOAD_SUFFIX)
            log_path = escape_filename_pattern(jobdir.file(batch.key)) + ".%a" + LOG_SUFFIX
        else:
            payload = jobdir.payload(batch.tasks[0].key)
            log_path = escape_filename_pattern(jobdir.log(batch.tasks[0].key))
        batch.script_path = jobdir.script(batch.key)
        jobdir.write_text(batch.script_path, batch_script(self.python, payload, request.setup_lines,
                                                          request.import_paths))
        argv = sbatch_argv(job_name(batch), log_path, batch.script_path)
        # Explicit, whatever the cluster's JobRequeue default: a requeued task runs only the calls
        # that have no result yet, so requeueing (after a node failure, a preemption) is safe.
        argv.insert(-1, "--requeue" if self.requeue else "--no-requeue")
        if batch.array:
            argv.insert(-1, f"--array=0-{len(batch.tasks) - 1}")
        # sbatch hands its umask to the job (SLURM_UMASK): keep the job's log private too. The key
        # travels in sbatch's environment, which Slurm shows to nobody but the job.
        env = {"SLURM_UMASK": "0077", **request.job_env, **request.secret_env}
        return parse_sbatch(argv, self.commands.submit(argv, env=env, transient=self.is_transient))

    def find_lost(self, batch: Batch) -> str | None:
        argv = ["squeue", "--noheader", f"--name={job_name(batch)}", "--format=%i"]
        result = self.commands.run(argv)
        if result.returncode != 0:
            return None
        ids = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        return ids[0].split("_")[0] if ids else None

    # -- monitoring

    def query(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """One ``squeue``: by id (whole arrays where several tasks are asked), or, when even that would
        not fit in one argument, every job of this user (``--me``), filtered here."""
        ids = compact_ids(job_ids)
        argv = squeue_argv(ids if len(",".join(ids)) <= MAX_IDS_TEXT else None)
        # squeue --jobs with a single id it no longer knows fails instead of printing nothing.
        result = self.commands.check(argv, accept=lambda r: INVALID_JOB_ID in r.stderr)
        if result.returncode != 0:
            return {}
        wanted = set(job_ids)
        return {i: s for i, s in parse_squeue(argv, result.stdout).items() if i in wanted}

    def lookup(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """``sacct`` (several commands when the ids would not fit in one argument), then ``scontrol``
        for what accounting does not know. A job neither knows is left out (it is gone)."""
        found: dict[str, JobStatus] = {}
        wanted = set(job_ids)
        if self._accounting:
            for chunk in id_chunks(compact_ids(job_ids)):
                argv = sacct_argv(chunk)
                result = self.commands.run(argv)
                if result.returncode == 0:
                    found.update((i, s) for i, s in parse_sacct(argv, result.stdout).items() if i in wanted)
                elif ACCOUNTING_DISABLED in result.stderr + result.stdout:
                    self._accounting = False
                    break
                # any other failure: try scontrol below
        missing = [i for i in job_ids if i not in found]
        if missing:
            argv = scontrol_argv(missing)
            result = self.commands.run(argv)
            if result.returncode == 0:
                for job_id, status in parse_scontrol(argv, result.stdout).items():
                    if job_id in missing:
                        found[job_id] = status
            elif not _gone(result):
                raise SchedulerError(f"cannot look up jobs {', '.join(missing)}: {result.stderr.strip()}")
        return found

    def cancel(self, job_ids: Sequence[str]) -> bool:
        result = self.commands.run(["scancel", *job_ids])
        if result.returncode != 0 and (result.returncode < 0 or self.is_transient(result)):
            return False
        if result.returncode != 0:  # e.g. already completed: nothing is left to remove
            log.warning("scancel %s: %s", " ".join(job_ids), result.stderr.strip())
        return True

    def error_for(self, status: JobStatus) -> type[JobDied]:
        return error_class(status.state)

    def give_up_after(self, status: JobStatus) -> float | None:
        if status.state == "PENDING" and status.reason in UNSCHEDULABLE_REASONS:
            return self.unschedulable_timeout
        return None

    def free_slots(self) -> int | None:
        """Idle CPUs of the default partition, times the jobs each may hold (``OverSubscribe=FORCE:N``),
        from ``sinfo --format=%P|%C|%h``; all its CPUs when none is idle (one wave as they free up)."""
        argv = ["sinfo", "--noheader", "--responding", "--format=%P|%C|%h"]
        result = self.commands.run(argv)
        if result.returncode != 0:
            return None
        return parse_sinfo_slots(result.stdout)

    def adopt(self, key: str) -> None:
        pass  # squeue and sacct know every job by id

    def close(self, *, keep_logs: bool) -> None:
        pass


def parse_sinfo_slots(output: str) -> int | None:
    """``%P|%C|%h`` lines (partition, allocated/idle/other/total CPUs, oversubscription) → job slots of
    the default partition (the one marked ``*``), or None when it is not listed."""
    for line in output.splitlines():
        parts = line.strip().split("|")
        if len(parts) != 3 or not parts[0].endswith("*"):
            continue
        cpus = parts[1].split("/")
        if len(cpus) != 4 or not all(c.isdigit() for c in cpus):
            return None
        idle, total = int(cpus[1]), int(cpus[3])
        share = parts[2].upper()
        factor = int(share.split(":")[1]) if share.startswith("FORCE:") and share.split(":")[1].isdigit() else 1
        return (idle or total) * factor
    return None


def _gone(result: CommandResult) -> bool:
    """scontrol's ways of saying the controller does not know a job: ``Invalid job id specified`` on
    stderr, or, for a pending array task cancelled by its index (observed on Slurm 22.05.8),
    ``Job A_2 not found`` on *stdout* with exit code 1."""
    return INVALID_JOB_ID in result.stderr or bool(re.search(r"^Job \S+ not found$", result.stdout, re.M))


def job_name(batch: Batch) -> str:
    """The ``--job-name`` of a batch: unique, so a batch whose sbatch reply was lost can be found."""
    return f"{JOB_NAME_PREFIX}{batch.key}"
