"""Slurm: argv builders, output parsers and :class:`SlurmScheduler`, the adapter the executor drives.

Commands issued (one of each kind per poll at most, every one batched over all jobs)::

    sbatch --parsable [--job-name=cfut.KEY] --comment=cfut.KEY --output=LOG [OPTIONS] SCRIPT   submit
    squeue --noheader --states=all --array --jobs=ID,... --format=%i|%T|%r|%k|%j             status
    sacct --noheader --parsable2 --allocations --jobs=ID,... --format=JobID,State,ExitCode,Comment,JobName
    scontrol --oneliner show job [ID]                                  fallback without accounting
    scancel ID ...                                                     cancel
    squeue --noheader --me --format=%i|%k|%j                           a lost sbatch reply
    scontrol show config                                               MaxArraySize, MaxJobCount (once)
    sacctmgr --noheader --parsable2 show assoc where user=U format=...  MaxSubmit (once, when enforced)

cfut finds its jobs by their comment ``cfut.KEY`` (squeue ``%k``, scontrol ``Comment=``), and by
their name ``cfut.KEY`` when the user gives none (squeue ``%j``, sacct ``JobName``: Slurm 22.05
stores comments in accounting only with ``AccountingStoreFlags=job_comment``, so sacct's ``Comment``
is usually empty).

Facts reproduced here are from the Slurm 22.05 manual pages (sbatch, squeue, sacct, scontrol,
scancel) and were checked on a real cluster by the integration tests.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import shlex
import sys
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
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
    SubmissionError,
)
from .._jobdir import LOG_SUFFIX, PAYLOAD_SUFFIX, JobDir
from .._records import Batch
from .._resources import SlurmOptions, check_directives
from .._runner import CommandResult, SubprocessRunner
from .._status import NOT_CFUT, JobStatus, Phase
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

STATUS_FORMAT = "%i|%T|%r|%k|%j"
SACCT_FORMAT = "JobID,State,ExitCode,Comment,JobName"
JOB_NAME_PREFIX = "cfut."
#: Longest ``--jobs=...`` argument cfut writes: Linux refuses any single argument over 131,072 bytes
#: (MAX_ARG_STRLEN, 32 pages) with E2BIG, "Argument list too long".
MAX_IDS_TEXT = 100_000


def batch_key_of(name: str) -> str | None:
    """The batch key in a job name or comment cfut gave (``cfut.KEY``); None for any other text."""
    return name[len(JOB_NAME_PREFIX):] if name.startswith(JOB_NAME_PREFIX) else None


def key_of_comment_and_name(text: str) -> str | None:
    """The batch key in ``COMMENT|NAME`` (squeue ``%k|%j``, sacct ``Comment|JobName``): from the
    comment ``cfut.KEY`` (which holds no ``|``), else from the name ``cfut.KEY``; either may hold
    ``|`` when it is not cfut's, which the key never does."""
    comment, sep, _ = text.partition("|")
    if sep and comment.startswith(JOB_NAME_PREFIX):
        return batch_key_of(comment)
    _, sep, name = text.rpartition("|")
    return batch_key_of(name) if sep else None


def _format_has(argv: Sequence[str], token: str) -> bool:
    """Whether the command's --format asks for ``token`` (parsers read older formats too)."""
    return any(arg.startswith("--format=") and token in arg for arg in argv)


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


def sbatch_argv(key: str, output_pattern: str, script_path: str, *, named: bool = False) -> list[str]:
    """``output_pattern`` is a Slurm filename pattern: escape paths with escape_filename_pattern.
    ``named``: the user names the job (an option or an ``#SBATCH --job-name`` line), so cfut's own
    ``--job-name`` stays off; its comment identifies the job either way."""
    name = [] if named else [f"--job-name={JOB_NAME_PREFIX}{key}"]
    return ["sbatch", "--parsable", *name, f"--comment={JOB_NAME_PREFIX}{key}", f"--output={output_pattern}",
            script_path]


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
    """``%i|%T|%r|%k|%j`` lines (comment and name last: either may hold ``|``; ``%r`` never does);
    ``%i|%T|%r|%j`` when the command did not ask for ``%k``."""
    statuses = {}
    with_comment = _format_has(argv, "%k")
    for line in output.splitlines():
        if not line.strip():
            continue
        parts = line.strip().split("|", 3)
        if len(parts) not in (3, 4) or not re.fullmatch(r"\d+(_\d+)?", parts[0]):
            raise SchedulerOutputError(argv, output, f"unexpected line {line!r}")
        job_id, state, reason = parts[:3]
        rest = parts[3] if len(parts) == 4 else None
        key = None if rest is None else key_of_comment_and_name(rest) if with_comment else batch_key_of(rest)
        if key is None and with_comment:
            key = NOT_CFUT  # squeue shows every job's comment, and cfut gives each of its jobs one
        statuses[job_id] = JobStatus(state, phase_of(state), reason, batch_key=key)
    return statuses


def sacct_argv(job_ids: Sequence[str]) -> list[str]:
    return ["sacct", "--noheader", "--parsable2", "--allocations", f"--jobs={','.join(job_ids)}",
            f"--format={SACCT_FORMAT}"]


def parse_sacct(argv: Sequence[str], output: str) -> dict[str, JobStatus]:
    """``JobID|State|ExitCode|Comment|JobName`` lines (``...|JobName`` when Comment was not asked for)."""
    statuses = {}
    with_comment = _format_has(argv, "Comment")
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
        rest = parts[3] if len(parts) == 4 else None
        key = None if rest is None else key_of_comment_and_name(rest) if with_comment else batch_key_of(rest)
        statuses[job_id] = JobStatus(state, phase_of(state), " ".join(words[1:]), exit_code, signal, batch_key=key)
    return statuses


def scontrol_argv(job_ids: Sequence[str]) -> list[str]:
    # scontrol shows one job by id, or all; for several ids one call listing all is cheaper.
    return ["scontrol", "--oneliner", "show", "job"] + ([job_ids[0]] if len(job_ids) == 1 else [])


_SCONTROL_FIELD = re.compile(r"(?:^|\s)(JobId|JobName|ArrayJobId|ArrayTaskId|JobState|Reason|ExitCode|Comment)=(\S*)")


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
        key = batch_key_of(fields.get("Comment", "")) or (
            batch_key_of(fields["JobName"]) if "JobName" in fields else None)
        if key is None and "JobName" in fields:
            key = NOT_CFUT  # scontrol shows the comment cfut gives every job of its (Comment=)
        statuses[job_id] = JobStatus(state, phase_of(state), fields.get("Reason", ""), exit_code, signal,
                                     batch_key=key)
    return statuses


# ---------------------------------------------------------------- the cluster's limits

#: Slurm's default MaxArraySize (slurm.conf(5)): array indices 0 to 1000.
DEFAULT_MAX_ARRAY_SIZE = 1001


@dataclass(frozen=True)
class SlurmLimits:
    """The limits of a Slurm cluster that decide how cfut splits a map, as the cluster reports them.

    Attributes:
        max_array_size: ``MaxArraySize`` from ``scontrol show config``: an array's indices go from 0
            to ``max_array_size - 1``, so one array carries at most this many tasks. None when unknown.
        max_job_count: ``MaxJobCount`` from ``scontrol show config``: the most jobs slurmctld holds
            at once, for every user (sbatch waits and retries when it is reached). None when unknown.
        max_submit_jobs: the smallest of the user's association limits ``MaxSubmit`` and
            ``GrpSubmit`` (``sacctmgr show assoc``), read only when the cluster enforces limits
            (``AccountingStorageEnforce`` includes ``limits``); every array task counts. None: none.
        source: the commands these came from, for messages.
    """

    max_array_size: int | None = None
    max_job_count: int | None = None
    max_submit_jobs: int | None = None
    source: str = ""

    def tasks_per_array(self) -> int:
        """Most tasks one array job may carry under these limits."""
        size = self.max_array_size or DEFAULT_MAX_ARRAY_SIZE
        return min(size, self.max_submit_jobs) if self.max_submit_jobs else size


def parse_config(text: str) -> dict[str, str]:
    """``scontrol show config`` → ``{"MaxArraySize": "1001", ...}`` (``Name   = value`` lines)."""
    config = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() and " " not in name.strip():
            config[name.strip()] = value.strip()
    return config


def _whole(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def parse_assoc_limits(text: str) -> int | None:
    """``sacctmgr --noheader --parsable2 show assoc ... format=MaxSubmit,GrpSubmit`` → the smallest
    limit set on any of the user's associations (None when none is set)."""
    limits = [int(v) for line in text.splitlines() for v in line.strip().split("|") if v.strip().isdigit()]
    return min(limits) if limits else None


CONFIG_ARGV = ("scontrol", "show", "config")

# Limits are asked once per cluster and process: per SLURM_CONF for real commands, per runner otherwise.
_limits_lock = threading.Lock()
_limits_by_conf: dict[str, SlurmLimits] = {}
_limits_by_runner: weakref.WeakKeyDictionary[object, SlurmLimits] = weakref.WeakKeyDictionary()


def read_limits(commands: SchedulerCommands) -> SlurmLimits:
    """The cluster's limits, asked once per cluster and process (``scontrol show config``, and
    ``sacctmgr`` when limits are enforced) and cached; a command that fails leaves a limit unknown."""
    runner = commands.runner
    real = isinstance(runner, SubprocessRunner)
    conf = os.environ.get("SLURM_CONF", "")
    with _limits_lock:
        cached = _limits_by_conf.get(conf) if real else _limits_by_runner.get(runner)
        if cached is not None:
            return cached
        limits = _ask_limits(commands)
        if real:
            _limits_by_conf[conf] = limits
        else:
            try:
                _limits_by_runner[runner] = limits
            except TypeError:  # a runner that cannot be weakly referenced: ask again next time
                pass
        return limits


def _ask_limits(commands: SchedulerCommands) -> SlurmLimits:
    result = commands.run(list(CONFIG_ARGV))
    if result.returncode != 0:
        log.warning("cannot read the cluster's limits (%s: %s); assuming MaxArraySize=%d", " ".join(CONFIG_ARGV),
                    result.stderr.strip(), DEFAULT_MAX_ARRAY_SIZE)
        return SlurmLimits(source="Slurm's defaults (scontrol show config failed)")
    config = parse_config(result.stdout)
    submit = None
    source = "scontrol show config"
    enforce = config.get("AccountingStorageEnforce", "none").lower()
    if "limits" in enforce or "safe" in enforce:
        argv = ["sacctmgr", "--noheader", "--parsable2", "show", "assoc", f"where user={getpass.getuser()}",
                "format=MaxSubmit,GrpSubmit"]
        answer = commands.run(argv)
        if answer.returncode == 0:
            submit = parse_assoc_limits(answer.stdout)
            source += " and sacctmgr show assoc"
    return SlurmLimits(_whole(config.get("MaxArraySize")), _whole(config.get("MaxJobCount")), submit, source)


# sbatch refusals that name a limit or a resource, and what to change (slurm_errno.c texts).
_REFUSALS = (
    ("Invalid job array specification",
     "an array of {tasks} tasks is more than the cluster allows: MaxArraySize is {max_array_size} "
     "({source}); cfut split the map at {per_array} tasks per array. If the limit is lower than "
     "reported, set SlurmExecutor(max_array_size=N)"),
    ("Job violates accounting/QOS policy",
     "a limit of your association or QOS refused the job (MaxSubmitJobs counts every array task: this "
     "array has {tasks}; known MaxSubmit: {max_submit_jobs}); see `sacctmgr show assoc user=$USER "
     "format=MaxSubmit,GrpSubmit,MaxWall` and set SlurmExecutor(max_array_size=N) below it"),
    ("Requested node configuration is not available",
     "no node has what the job asks for (cpus_per_task, mem, gpus, constraint, nodes): see "
     "`sinfo -o '%P %c %m %G %f'`"),
    ("Requested time limit is invalid",
     "time= is longer than the partition allows: see `sinfo -o '%P %l'`"),
    ("Invalid partition name specified", "partition= names no partition of this cluster: see `sinfo -s`"),
    ("Invalid account", "account= is not one of your accounts: see `sacctmgr show assoc user=$USER`"),
    ("Invalid qos specification", "qos= is not a QOS you may use: see `sacctmgr show assoc user=$USER format=QOS`"),
    ("Invalid generic resource (gres) specification",
     "gpus=/gres= asks for a generic resource the cluster does not have: see `sinfo -o '%P %G'`"),
    ("Invalid feature specification", "constraint= names a feature no node has: see `sinfo -o '%P %f'`"),
    ("Memory required by task is not available", "mem=/mem_per_cpu= is more than a node has: see `sinfo -o '%P %m'`"),
)


class SlurmScheduler:
    """The Slurm adapter: ``sbatch`` a batch (an array job for several tasks), ``squeue`` for status,
    ``sacct`` then ``scontrol`` for jobs squeue no longer lists, ``scancel`` to cancel."""

    name = "Slurm"
    supports_dependencies = True

    def __init__(self, commands: SchedulerCommands, jobdir: JobDir, *, python: str | None = None,
                 unschedulable_timeout: float = 60.0, requeue: bool = True,
                 max_array_size: int | None = None) -> None:
        escape_filename_pattern(jobdir.path)  # refuse an unusable work directory now
        self.unschedulable_timeout = unschedulable_timeout
        self.requeue = requeue
        self.commands = commands
        self.jobdir = jobdir
        self.python = python or sys.executable
        self._accounting = True  # until sacct says otherwise
        self._max_array_size = max_array_size

    def limits(self) -> SlurmLimits:
        """The cluster's limits (asked once, cached; see :func:`read_limits`), with the executor's
        explicit ``max_array_size`` over the reported one."""
        if self._max_array_size is not None:
            return SlurmLimits(self._max_array_size, source="SlurmExecutor(max_array_size=)")
        return read_limits(self.commands)

    @property
    def max_tasks_per_batch(self) -> int:
        """Most tasks in one array job: the cluster's MaxArraySize (indices 0 to MaxArraySize-1), and
        no more than the user may submit at all; or the executor's ``max_array_size``."""
        return self.limits().tasks_per_array()

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
        """One ``sbatch``: a plain job for one task, an array job (``--array=0-N``) for several.
        A refusal that names a limit or a resource is re-raised saying which setting to change."""
        batch = request.batch
        options = request.options if isinstance(request.options, SlurmOptions) else SlurmOptions()
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
        named = options.job_name is not None or check_directives(request.setup_lines, options) is not None
        argv = sbatch_argv(batch.key, log_path, batch.script_path, named=named)
        # Explicit, whatever the cluster's JobRequeue default: a requeued task runs only the calls
        # that have no result yet, so requeueing (after a node failure, a preemption) is safe.
        argv.insert(-1, "--requeue" if self.requeue else "--no-requeue")
        if batch.array:
            throttle = f"%{options.array_parallelism}" if options.array_parallelism else ""
            argv.insert(-1, f"--array=0-{len(batch.tasks) - 1}{throttle}")
        argv[-1:-1] = options.sbatch_args()
        if batch.dependencies:
            # Slurm holds the batch until they succeed, and removes it when they cannot
            # (DependencyNeverSatisfied) rather than leaving it pending for ever.
            argv.insert(-1, f"--dependency={batch.dependency_kind}:{':'.join(batch.dependencies)}")
            argv.insert(-1, "--kill-on-invalid-dep=yes")
        # sbatch hands its umask to the job (SLURM_UMASK): keep the job's log private too. The key
        # travels in sbatch's environment, which Slurm shows to nobody but the job.
        env = {"SLURM_UMASK": "0077", **request.job_env, **request.secret_env}
        try:
            result = self.commands.submit(argv, env=env, transient=self.is_transient)
        except SubmissionError as exc:
            self._explain(exc, len(batch.tasks))
            raise
        return parse_sbatch(argv, result)

    def _explain(self, exc: SubmissionError, tasks: int) -> None:
        """Add to a refusal that names a limit or a resource the limit and the setting to change."""
        text = exc.stderr + exc.stdout
        for marker, hint in _REFUSALS:
            if marker in text:
                limits = self.limits() if "{max" in hint or "{per_array}" in hint else SlurmLimits()
                exc.hint = hint.format(tasks=tasks, max_array_size=limits.max_array_size or "unknown",
                                       max_submit_jobs=limits.max_submit_jobs or "none",
                                       per_array=limits.tasks_per_array(), source=limits.source or "unknown")
                exc.args = (f"{exc.args[0]}\n{exc.hint}",)
                return

    def find_lost(self, batch: Batch) -> str | None:
        """The job of this batch among the user's jobs: its comment (or, for jobs of cfut before
        0.6, its name) is ``cfut.KEY``."""
        argv = ["squeue", "--noheader", "--me", "--format=%i|%k|%j"]
        result = self.commands.run(argv)
        if result.returncode != 0:
            return None
        for line in result.stdout.splitlines():
            job_id, sep, rest = line.strip().partition("|")
            if sep and key_of_comment_and_name(rest) == batch.key:
                return job_id.split("_")[0]
        return None

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

