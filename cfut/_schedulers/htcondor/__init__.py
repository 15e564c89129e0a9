"""HTCondor: :class:`HTCondorScheduler`, the adapter the executor drives.

Where the status of a job comes from, in order::

    job event log (one per executor)   read incrementally from the last offset, no command at all
    condor_q IDS -af:j ...             one batched call, only for jobs the log has been silent about
                                       for ``log_silence`` seconds (or when the log cannot be read)
    condor_history IDS -af:j ...       jobs condor_q no longer lists (completed jobs leave at once)

Commands issued::

    condor_submit -terse -                                      submit (description on stdin)
    condor_q ID... -af:j JobStatus ... HoldReason               status fallback
    condor_history ID... -limit N -af:j JobStatus ... RemoveReason
    condor_rm ID...                                             cancel; remove held jobs
    condor_q -constraint 'CfutBatch == "KEY"' -af ClusterId     a lost condor_submit reply
    condor_status -af State Cpus                                free CPUs (chunksize="auto", coalescing)

Every format handled here is the one described in the HTCondor manual and source, as summarised in
the project's HTCondor reference (condor_submit output shapes, the ``...``-framed event log, the
``-af`` value printing, condor_rm's per-id lines); the golden tests quote that reference.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..._commands import SchedulerCommands
from ..._errors import InvalidArgumentError, JobDied, SchedulerOutputError
from ..._jobdir import LOG_SUFFIX, PAYLOAD_SUFFIX, JobDir
from ..._records import Batch
from ..._resources import CondorJobOptions
from ..._runner import CommandResult
from ..._status import JobStatus, Phase
from ..base import SubmitRequest
from ..script import WORKER_MODULE, wrapper_script
from .eventlog import EventLogReader, status_from_event
from .queries import (
    SLOTS_ARGV,
    error_class,
    history_argv,
    lost_submission_argv,
    parse_af_status,
    parse_rm,
    parse_slots,
    q_argv,
    rm_argv,
)
from .submit import (
    SubmitSpec,
    check_extra_line,
    check_value,
    environment_value,
    escape_macros,
    parse_submit_terse,
    submit_argv,
    submit_description,
)

log = logging.getLogger("cfut")

# condor_submit / condor_q / condor_rm messages of a schedd that is busy or unreachable.
TRANSIENT = (
    "Failed to connect to local queue manager",
    "Can't find address of local schedd",
    "Failed to fetch ads from",
    "Connection refused",
    "Connection timed out",
    "Resource temporarily unavailable",
    "SECMAN",
)


def _check_seconds(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise InvalidArgumentError(f"{what} must be >= 0 seconds, got {value!r}")


def _resource(value: object, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidArgumentError(f"{what} must be a number or a string, got {value!r}")
    text = str(value).strip()
    if not text:
        raise InvalidArgumentError(f"{what} must not be empty")
    return check_value(text, what)


@dataclass(frozen=True)
class CondorOptions:
    """What a CondorExecutor writes into every submit description (validated by :func:`condor_options`)."""

    python: str
    getenv: bool | str
    environment: tuple[tuple[str, str], ...]
    initialdir: str | None
    resources: tuple[tuple[str, str], ...]
    requirements: str | None
    attributes: tuple[tuple[str, str], ...]
    extra_submit_lines: tuple[str, ...]
    remove_held: bool
    log_silence: float
    hold_timeout: float


def condor_options(
    *,
    python: str | None,
    getenv: bool | str,
    environment: Mapping[str, str] | None,
    initialdir: str | os.PathLike[str] | None,
    request_cpus: int | str | None,
    request_memory: int | str | None,
    request_disk: int | str | None,
    request_gpus: int | str | None,
    requirements: str | None,
    attributes: Mapping[str, str] | None,
    extra_submit_lines: Sequence[str],
    remove_held: bool,
    log_silence: float,
    hold_timeout: float,
) -> CondorOptions:
    """Check every HTCondor option; raises InvalidArgumentError naming the bad value."""
    python = python or sys.executable
    check_value(python, "the Python interpreter path")
    if not isinstance(getenv, (bool, str)):
        raise InvalidArgumentError(f"getenv must be True, False or a string, got {getenv!r}")
    env = {str(k): check_value(str(v), "environment") for k, v in (environment or {}).items()}
    environment_value(env)  # validates the names
    resources = {"request_cpus": request_cpus, "request_memory": request_memory,
                 "request_disk": request_disk, "request_gpus": request_gpus}
    checked = tuple((k, v) for k, v in ((k, _resource(v, k)) for k, v in resources.items()) if v is not None)
    attrs = dict(attributes or {})
    for name, value in attrs.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise InvalidArgumentError(f"not a ClassAd attribute name: {name!r}")
        if not isinstance(value, str) or not value.strip():
            raise InvalidArgumentError(f"attribute {name} needs a ClassAd expression as a string, got {value!r}")
        check_value(value, f"attribute {name}")
    if isinstance(extra_submit_lines, str):
        raise InvalidArgumentError("extra_submit_lines must be a sequence of lines, not one string")
    _check_seconds(log_silence, "log_silence")
    _check_seconds(hold_timeout, "hold_timeout")
    return CondorOptions(
        python=python,
        getenv=getenv if isinstance(getenv, bool) else check_value(getenv, "getenv"),
        environment=tuple(env.items()),
        initialdir=os.path.abspath(os.fspath(initialdir)) if initialdir is not None else None,
        resources=checked,
        requirements=check_value(requirements, "requirements") if requirements else None,
        attributes=tuple(attrs.items()),
        extra_submit_lines=tuple(check_extra_line(line) for line in extra_submit_lines),
        remove_held=bool(remove_held),
        log_silence=float(log_silence),
        hold_timeout=float(hold_timeout),
    )


class HTCondorScheduler:
    """The HTCondor adapter: one cluster per batch (``queue N``), the event log first for status."""

    name = "HTCondor"
    supports_dependencies = False  # (DAGMan would, with a second log): the executor holds dependants back
    max_tasks_per_batch = 10000

    def __init__(self, commands: SchedulerCommands, jobdir: JobDir, options: CondorOptions, *,
                 clock: Callable[[], float], key: str) -> None:
        check_value(jobdir.path, "the work directory")
        self.commands = commands
        self.jobdir = jobdir
        self.options = options
        self._clock = clock
        #: The job event log every job of this executor writes to.
        self.event_log = self._event_log(key)
        self._readers = [EventLogReader(self.event_log)]
        self._log_status: dict[str, JobStatus] = {}  # last status the log (or condor_q) gave, by job id
        self._heard: dict[str, float] = {}  # when the log (or condor_q) last told us about a job
        self._log_broken = False

    @staticmethod
    def task_id(job_id: str, index: int | None) -> str:
        return f"{job_id}.{index or 0}"

    @staticmethod
    def is_transient(result: CommandResult) -> bool:
        text = result.stderr + result.stdout
        return any(marker in text for marker in TRANSIENT)

    # -- submission

    def submit(self, request: SubmitRequest) -> str:
        """One ``condor_submit``: ``queue 1`` for submit(), ``queue N`` (one cluster) for map()."""
        batch, options, jobdir = request.batch, self.options, self.jobdir
        job = request.options if isinstance(request.options, CondorJobOptions) else CondorJobOptions()
        if batch.array:
            payload = escape_macros(jobdir.file(batch.key + ".")) + "$(ProcId)" + PAYLOAD_SUFFIX
            output = escape_macros(jobdir.file(batch.key + ".")) + "$(ProcId)" + LOG_SUFFIX
        else:
            payload = escape_macros(jobdir.payload(batch.tasks[0].key))
            output = escape_macros(jobdir.log(batch.tasks[0].key))
        # A job ad's environment is visible to every user of the pool: only non-secret variables
        # (the key file's path) go there; the key itself stays in the file.
        environment = {**dict(options.environment), **request.job_env}
        if request.setup_lines:
            batch.script_path = jobdir.script(batch.key)
            jobdir.write_text(batch.script_path, wrapper_script(options.python, '"$CFUT_PAYLOAD"',
                                                                request.setup_lines, request.import_paths),
                              executable=True)
            executable = escape_macros(batch.script_path)
            arguments: tuple[str, ...] = ()
            environment["CFUT_PAYLOAD"] = payload
        else:
            executable = escape_macros(options.python)
            arguments = ("-m", WORKER_MODULE, payload)
            for path in request.import_paths:
                arguments += ("--import-path", escape_macros(path))
        spec = SubmitSpec(
            executable=executable, arguments=arguments, log=escape_macros(self.event_log), output=output,
            initialdir=escape_macros(check_value(options.initialdir or os.getcwd(), "initialdir")),
            count=len(batch.tasks), batch_key=batch.key, getenv=options.getenv,
            environment=tuple(environment.items()), resources=options.resources + job.resources,
            batch_name=None if job.batch_name is None else escape_macros(job.batch_name),
            requirements=options.requirements, attributes=options.attributes,
            extra_lines=options.extra_submit_lines,
        )
        description = submit_description(spec)
        log.debug("submit description of batch %s:\n%s", batch.key, description)
        argv = submit_argv()
        result = self.commands.submit(argv, input=description, transient=self.is_transient)
        cluster, count = parse_submit_terse(argv, result.stdout)
        if count != len(batch.tasks):
            raise SchedulerOutputError(argv, result.stdout, f"{count} jobs queued, {len(batch.tasks)} asked for")
        return cluster

    def find_lost(self, batch: Batch) -> str | None:
        result = self.commands.run(lost_submission_argv(batch.key))
        if result.returncode != 0:
            return None
        ids = [line.strip() for line in result.stdout.splitlines() if line.strip().isdigit()]
        return ids[0] if ids else None

    # -- monitoring

    def _read_log(self) -> None:
        """Take in the event log's new records (no command is run)."""
        try:
            events = [event for reader in self._readers for event in reader.read_new()]
        except OSError as exc:
            if not self._log_broken:
                log.warning("cannot read the job event log %s (%s); asking condor_q instead",
                            self.event_log, exc.strerror or exc)
            self._log_broken = True
            return
        self._log_broken = False
        now = self._clock()
        for event in events:
            status = status_from_event(event)
            self._heard[event.job_id] = now
            if status is None:
                continue
            previous = self._log_status.get(event.job_id)
            # A job's story ends with its final event; a late duplicate "submitted" cannot revive it.
            ended = previous is not None and previous.state in ("COMPLETED", "REMOVED")
            if ended and status.phase is not Phase.FINISHED:
                continue
            self._log_status[event.job_id] = status

    def query(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """The event log first; one ``condor_q`` for the jobs it has been silent about."""
        self._read_log()
        now = self._clock()
        statuses: dict[str, JobStatus] = {}
        stale = []
        for job_id in job_ids:
            heard = self._heard.setdefault(job_id, now)
            known = self._log_status.get(job_id)
            final = known is not None and known.phase is Phase.FINISHED
            if not final and (self._log_broken or now - heard >= self.options.log_silence):
                stale.append(job_id)
            elif known is not None:
                statuses[job_id] = known
            else:
                statuses[job_id] = JobStatus("SUBMITTED", Phase.QUEUED, "no event in the job event log yet")
        if stale:
            argv = q_argv(stale)
            found = parse_af_status(argv, self.commands.check(argv).stdout)
            for job_id in stale:
                if job_id in found:
                    statuses[job_id] = found[job_id]
                    # Remembered until the log says something newer, so that the next poll, within
                    # log_silence, does not fall back to "SUBMITTED".
                    self._log_status[job_id] = found[job_id]
                    self._heard[job_id] = now
                # Not listed: it left the queue. Leaving it out sends it to lookup (condor_history).
        return statuses

    def lookup(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """Final statuses: from the event log when it has them, else one ``condor_history``."""
        found = {i: s for i in job_ids if (s := self._log_status.get(i)) is not None and s.phase is Phase.FINISHED}
        missing = [i for i in job_ids if i not in found]
        if not missing:
            return found
        argv = history_argv(missing)
        for job_id, status in parse_af_status(argv, self.commands.check(argv).stdout).items():
            if job_id in missing:
                found[job_id] = status
        return found

    def cancel(self, job_ids: Sequence[str]) -> bool:
        result = self.commands.run(rm_argv(job_ids))
        if result.returncode == 0:
            return True
        settled, refused = parse_rm(result)
        if refused:
            log.warning("condor_rm refused to remove %s: %s", ", ".join(sorted(refused)), result.stderr.strip())
        if settled | refused >= set(job_ids):
            return True  # every id has its answer; nothing more can be done by asking again
        log.warning("condor_rm %s failed (%d): %s", " ".join(job_ids), result.returncode, result.stderr.strip())
        return False

    def error_for(self, status: JobStatus) -> type[JobDied]:
        return error_class(status.state)

    def give_up_after(self, status: JobStatus) -> float | None:
        """A held job: its calls fail with JobHeld after ``hold_timeout`` seconds on hold (a release
        before that lets it run) and it is removed; with ``remove_held=False`` it is waited for."""
        if status.state == "HELD" and self.options.remove_held:
            return self.options.hold_timeout
        return None

    def _event_log(self, key: str) -> str:
        return self.jobdir.file(f"{key}.events{LOG_SUFFIX}")

    def free_slots(self) -> int | None:
        """Free CPUs of the pool, from ``condor_status -af State Cpus`` (the Unclaimed slots' CPUs; all
        slots' CPUs when none is free); None when the collector does not answer."""
        result = self.commands.run(list(SLOTS_ARGV))
        if result.returncode != 0:
            return None
        return parse_slots(result.stdout)

    def adopt(self, key: str) -> None:
        """Read the event log the executor with this key wrote to, too (its jobs keep writing there)."""
        self._readers.append(EventLogReader(self._event_log(key)))

    def close(self, *, keep_logs: bool) -> None:
        """The event logs go once every job of ours is done with them, unless a job's story is wanted."""
        if not keep_logs:
            self.jobdir.remove([reader.path for reader in self._readers])
