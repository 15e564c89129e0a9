"""HTCondor: submit descriptions, the job event log reader, output parsers, and :class:`CondorExecutor`.

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

Every format handled here is the one described in the HTCondor manual and source, as summarised in
the project's HTCondor reference (condor_submit output shapes, the ``...``-framed event log, the
``-af`` value printing, condor_rm's per-id lines); the golden tests quote that reference.
"""

from __future__ import annotations

import errno
import os
import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from . import files, serialize
from ._errors import (
    InvalidArgumentError,
    JobCancelled,
    JobDied,
    JobHeld,
    SchedulerOutputError,
)
from ._runner import CommandResult, CommandRunner
from .core import Batch, ClusterExecutor, JobStatus, Phase, Task, log

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
_PHASES = {
    "SUBMITTED": Phase.QUEUED,  # cfut's own: submitted, nothing heard yet
    "IDLE": Phase.QUEUED,
    "RUNNING": Phase.RUNNING,
    "REMOVED": Phase.FINISHED,
    "COMPLETED": Phase.FINISHED,
    # A held job will not run again unless someone releases it; it counts as finished so that its
    # future fails after result_grace. A release before that puts it back in the queue.
    "HELD": Phase.FINISHED,
    "TRANSFERRING_OUTPUT": Phase.RUNNING,
    "SUSPENDED": Phase.RUNNING,
}

# condor_submit / condor_q / condor_rm messages of a schedd that is busy or unreachable.
_TRANSIENT = (
    "Failed to connect to local queue manager",
    "Can't find address of local schedd",
    "Failed to fetch ads from",
    "Connection refused",
    "Connection timed out",
    "Resource temporarily unavailable",
    "SECMAN",
)

#: Attributes asked of condor_q / condor_history, in this order; the free text comes last.
Q_ATTRIBUTES = ("JobStatus", "ExitBySignal", "ExitCode", "ExitSignal", "HoldReasonCode", "HoldReasonSubCode",
                "HoldReason")
HISTORY_ATTRIBUTES = Q_ATTRIBUTES[:-1] + ("RemoveReason",)
#: Submit keys cfut writes itself; extra submit lines may not set them.
OWN_KEYS = frozenset({"universe", "executable", "arguments", "args", "environment", "env", "getenv", "initialdir",
                      "iwd", "log", "output", "error", "batch_name", "queue"})


def phase_of(state: str) -> Phase:
    return _PHASES.get(state, Phase.RUNNING)


def error_class(state: str) -> type[JobDied]:
    if state == "HELD":
        return JobHeld
    if state == "REMOVED":
        return JobCancelled
    return JobDied


# ---------------------------------------------------------------- submit description


def escape_macros(text: str) -> str:
    """condor_submit expands ``$(...)`` everywhere in a value; ``$(DOLLAR)`` is its literal ``$``."""
    return text.replace("$", "$(DOLLAR)")


def _check_value(text: str, what: str) -> str:
    if "\n" in text or "\r" in text or "\0" in text:
        raise InvalidArgumentError(f"HTCondor submit descriptions cannot carry a line break in {what}: {text!r}")
    return text


def quote_argument(arg: str) -> str:
    """One argument in HTCondor's new argument syntax (the whole value goes in double quotes).

    Inside the double quotes, a single-quoted word keeps its spaces, ``''`` is a literal single quote
    and ``""`` a literal double quote; a backslash is an ordinary character.
    """
    _check_value(arg, "an argument")
    doubled = arg.replace('"', '""')
    if arg and not any(c in arg for c in " \t'"):
        return doubled
    return "'" + doubled.replace("'", "''") + "'"


def arguments_value(args: Sequence[str]) -> str:
    """The value of ``arguments =`` (new syntax) for these arguments."""
    return '"' + " ".join(quote_argument(a) for a in args) + '"'


def environment_value(env: Mapping[str, str]) -> str:
    """The value of ``environment =`` in the new syntax: ``"A=1 B='x y'"``."""
    for name in env:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise InvalidArgumentError(f"not an environment variable name: {name!r}")
    return '"' + " ".join(quote_argument(f"{k}={v}") for k, v in env.items()) + '"'


@dataclass(frozen=True)
class SubmitSpec:
    """Everything one submit description says; :func:`submit_description` writes it."""

    executable: str  # already macro-escaped
    arguments: tuple[str, ...]  # already macro-escaped (may contain $(ProcId))
    log: str
    output: str
    initialdir: str
    count: int
    batch_key: str
    getenv: bool | str = True
    environment: tuple[tuple[str, str], ...] = ()
    resources: tuple[tuple[str, str], ...] = ()  # ("request_cpus", "2"), ...
    requirements: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()  # +Name = ClassAd expression
    extra_lines: tuple[str, ...] = ()


def submit_description(spec: SubmitSpec) -> str:
    """The submit description for one cluster of ``spec.count`` jobs (``queue N``)."""
    getenv = spec.getenv if isinstance(spec.getenv, str) else ("True" if spec.getenv else "False")
    lines = [
        "# Written by cfut: runs Python calls and writes their results.",
        "universe = vanilla",
        f"executable = {spec.executable}",
        f"arguments = {arguments_value(spec.arguments)}",
        f"getenv = {getenv}",
    ]
    if spec.environment:
        lines.append(f"environment = {environment_value(dict(spec.environment))}")
    lines += [
        f"initialdir = {spec.initialdir}",
        f"log = {spec.log}",
        f"output = {spec.output}",
        f"error = {spec.output}",
        f"batch_name = cfut.{spec.batch_key}",
        f'+CfutBatch = "{spec.batch_key}"',
    ]
    lines += [f"{key} = {value}" for key, value in spec.resources]
    if spec.requirements:
        lines.append(f"requirements = {spec.requirements}")
    lines += [f"+{name} = {value}" for name, value in spec.attributes]
    lines += list(spec.extra_lines)
    lines.append(f"queue {spec.count}")
    return "\n".join(lines) + "\n"


def check_extra_line(line: str) -> str:
    """An extra submit line must be one ``key = value`` (or comment) that does not redo cfut's own keys."""
    if not isinstance(line, str):
        raise InvalidArgumentError(f"extra submit lines must be strings, got {line!r}")
    _check_value(line, "an extra submit line")
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return line
    key = re.split(r"[\s=]", stripped, maxsplit=1)[0].lower()
    if key in OWN_KEYS or key.startswith("queue"):
        raise InvalidArgumentError(f"cfut writes {key!r} itself; it cannot come from an extra submit line: {line!r}")
    if "=" not in stripped:
        raise InvalidArgumentError(f"an extra submit line must be 'key = value', got {line!r}")
    return line


def wrapper_script(python: str, setup_lines: Sequence[str], import_paths: Sequence[str]) -> str:
    """The executable used when setup lines are needed: they run, then the worker replaces the shell.

    The payload path comes in ``$CFUT_PAYLOAD`` (set by the submit description's ``environment``),
    since it depends on ``$(ProcId)``.
    """
    words = [shlex.quote(python), "-m", "cfut.remote", '"$CFUT_PAYLOAD"']
    for path in import_paths:
        words += ["--import-path", shlex.quote(path)]
    lines = ["#!/bin/sh", "# Written by cfut: runs Python calls and writes their results."]
    lines += list(setup_lines)
    lines.append("exec " + " ".join(words))
    return "\n".join(lines) + "\n"


def submit_argv() -> list[str]:
    return ["condor_submit", "-terse", "-"]


_TERSE = re.compile(r"(\d+)\.(\d+) - (\d+)\.(\d+)")


def parse_submit_terse(argv: Sequence[str], output: str) -> tuple[str, int]:
    """``-terse`` prints one ``C.P0 - C.Pn`` line per cluster; returns (cluster, number of procs)."""
    clusters = []
    for line in output.splitlines():
        match = _TERSE.fullmatch(line.strip())
        if match:
            c0, p0, c1, p1 = (int(g) for g in match.groups())
            if c0 != c1 or p1 < p0:
                raise SchedulerOutputError(argv, output, f"odd range {line.strip()!r}")
            clusters.append((str(c0), p1 - p0 + 1))
        elif line.strip():
            log.debug("condor_submit said: %s", line)
    if len(clusters) != 1:
        raise SchedulerOutputError(argv, output, f"expected one cluster, found {len(clusters)}")
    return clusters[0]


# ---------------------------------------------------------------- the job event log


@dataclass(frozen=True)
class LogEvent:
    """One event of a job event log: its number, job, time text, first-line text and body lines."""

    code: int
    cluster: int
    proc: int
    time: str
    text: str
    body: tuple[str, ...] = ()

    @property
    def job_id(self) -> str:
        return f"{self.cluster}.{self.proc}"


_HEADER = re.compile(
    r"(\d{3}) \((\d+)\.(\d+)\.(\d+)\) "
    r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?Z?|\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?Z?) ?(.*)"
)


def parse_events(text: str) -> list[LogEvent]:
    """Parse complete ``...``-framed events. An event whose header cannot be read is skipped
    (logged), so one damaged record cannot stop the monitor."""
    events = []
    lines: list[str] = []
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        if line != "...":
            lines.append(line)
            continue
        while lines and not lines[0].strip():
            lines.pop(0)
        if lines:
            match = _HEADER.fullmatch(lines[0])
            if match:
                code, cluster, proc, _sub, when, first = match.groups()
                events.append(LogEvent(int(code), int(cluster), int(proc), when, first, tuple(lines[1:])))
            else:
                log.warning("skipping an unreadable job event log record: %r", lines[:3])
        lines = []
    return events


class EventLogReader:
    """Reads a job event log incrementally: each call returns only the events appended since the
    last, and never reads the file from the start again. An event whose closing ``...`` is not
    written yet is left for the next call."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0

    def read_new(self) -> list[LogEvent]:
        """New complete events; raises OSError when the file cannot be read (a missing file is
        simply no news: HTCondor creates it at the first event)."""
        try:
            with open(self.path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size < self.offset:  # truncated or replaced: start over rather than miss events
                    log.warning("job event log %s shrank; reading it again from the start", self.path)
                    self.offset = 0
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n...\n")
        if end < 0:
            end = len(data) - 4 if data.startswith(b"...\n") else -1
            if end < 0:
                return []
        else:
            end += 1
        chunk = data[: end + 4]
        self.offset += len(chunk)
        return parse_events(chunk.decode(errors="replace"))


_NORMAL = re.compile(r"\s*\(1\) Normal termination \(return value (-?\d+)\)")
_ABNORMAL = re.compile(r"\s*\(0\) Abnormal termination \(signal (\d+)\)")
_HOLD_CODE = re.compile(r"\s*Code (-?\d+) Subcode (-?\d+)")


def status_from_event(event: LogEvent) -> JobStatus | None:
    """What an event says about its job's status; None for events that change nothing
    (image size, file transfer, ...)."""
    code = event.code
    body = [line.strip() for line in event.body]
    if code == 0:
        return JobStatus("IDLE", Phase.QUEUED)
    if code in (1, 11):  # execute, unsuspended
        return JobStatus("RUNNING", Phase.RUNNING)
    if code == 10:
        return JobStatus("SUSPENDED", Phase.RUNNING)
    if code in (4, 7, 13):  # evicted (requeued), shadow exception (requeued), released
        reason = {4: "evicted", 7: "shadow exception", 13: "released"}[code]
        if code in (7, 13) and body and body[0]:
            reason = f"{reason}: {body[0]}"
        return JobStatus("IDLE", Phase.QUEUED, reason)
    if code == 5:
        for line in event.body:
            normal = _NORMAL.match(line)
            if normal:
                return JobStatus("COMPLETED", Phase.FINISHED, exit_code=int(normal.group(1)))
            abnormal = _ABNORMAL.match(line)
            if abnormal:
                return JobStatus("COMPLETED", Phase.FINISHED, "killed by a signal", signal=int(abnormal.group(1)))
        return JobStatus("COMPLETED", Phase.FINISHED)
    if code == 9:
        return JobStatus("REMOVED", Phase.FINISHED, body[0] if body else "")
    if code == 12:
        reason = body[0] if body and not _HOLD_CODE.fullmatch(event.body[0]) else ""
        hold_code = hold_subcode = None
        for line in event.body:
            match = _HOLD_CODE.fullmatch(line)
            if match:
                hold_code, hold_subcode = int(match.group(1)), int(match.group(2))
        return JobStatus("HELD", Phase.FINISHED, reason,
                         details=(("hold_code", hold_code), ("hold_subcode", hold_subcode)))
    return None


# ---------------------------------------------------------------- condor_q / condor_history / condor_rm


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


# ---------------------------------------------------------------- the executor


def _resource(value: object, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidArgumentError(f"{what} must be a number or a string, got {value!r}")
    text = str(value).strip()
    if not text:
        raise InvalidArgumentError(f"{what} must not be empty")
    return _check_value(text, what)


class CondorExecutor(ClusterExecutor):
    """A ``concurrent.futures`` executor that runs each call as an HTCondor job.

    ``map`` submits one cluster (``queue N``); ``submit`` one job. Options beyond those of
    :class:`cfut.core.ClusterExecutor`:

    ``getenv``
        ``True`` (default): the job sees the submitter's environment; ``False``; or a string of
        variable names/patterns as ``getenv`` accepts them (``"PATH, HOME, CONDA_*"``).
    ``request_cpus``, ``request_memory``, ``request_disk``, ``request_gpus``
        Numbers or HTCondor strings (``"4 GB"``), written as the submit keys of those names.
    ``requirements``
        A ClassAd expression. ``attributes``: ``{"Name": "classad expression"}`` → ``+Name = ...``.
    ``extra_submit_lines``
        More ``key = value`` lines, written verbatim before ``queue``.
    ``environment``
        Variables set in the job (``environment =``), on top of ``getenv``.
    ``remove_held``
        ``True`` (default): a held job's future fails with :class:`~cfut.JobHeld` and the job is
        removed with ``condor_rm``; ``False`` leaves it held in the queue for you to inspect.
    ``log_silence``
        Seconds without news in the job event log after which ``condor_q`` is asked instead.
    """

    scheduler_name = "HTCondor"
    transient_errors = _TRANSIENT
    max_tasks_per_batch = 10000

    def __init__(
        self,
        debug: bool = False,
        keep_logs: bool = False,
        *,
        runner: CommandRunner | None = None,
        additional_setup_lines: Sequence[str] = (),
        additional_import_paths: Sequence[str] = (),
        python: str | None = None,
        getenv: bool | str = True,
        environment: Mapping[str, str] | None = None,
        initialdir: str | os.PathLike[str] | None = None,
        request_cpus: int | str | None = None,
        request_memory: int | str | None = None,
        request_disk: int | str | None = None,
        request_gpus: int | str | None = None,
        requirements: str | None = None,
        attributes: Mapping[str, str] | None = None,
        extra_submit_lines: Sequence[str] = (),
        remove_held: bool = True,
        log_silence: float = 60.0,
        **options,  # type: ignore[no-untyped-def]
    ) -> None:
        super().__init__(
            debug, keep_logs, runner=runner, additional_setup_lines=additional_setup_lines,
            additional_import_paths=additional_import_paths, **options,
        )
        _check_value(self.workdir, "the work directory")
        self.python = python or sys.executable
        _check_value(self.python, "the Python interpreter path")
        if not isinstance(getenv, (bool, str)):
            raise InvalidArgumentError(f"getenv must be True, False or a string, got {getenv!r}")
        self.getenv = getenv if isinstance(getenv, bool) else _check_value(getenv, "getenv")
        self.environment = {str(k): _check_value(str(v), "environment") for k, v in (environment or {}).items()}
        environment_value(self.environment)  # validates the names
        self.initialdir = os.path.abspath(os.fspath(initialdir)) if initialdir is not None else None
        resources = {"request_cpus": request_cpus, "request_memory": request_memory,
                     "request_disk": request_disk, "request_gpus": request_gpus}
        self.resources = tuple((k, v) for k, v in ((k, _resource(v, k)) for k, v in resources.items())
                               if v is not None)
        self.requirements = _check_value(requirements, "requirements") if requirements else None
        attrs = dict(attributes or {})
        for name, value in attrs.items():
            if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise InvalidArgumentError(f"not a ClassAd attribute name: {name!r}")
            if not isinstance(value, str) or not value.strip():
                raise InvalidArgumentError(f"attribute {name} needs a ClassAd expression as a string, got {value!r}")
            _check_value(value, f"attribute {name}")
        self.attributes = tuple(attrs.items())
        if isinstance(extra_submit_lines, str):
            raise InvalidArgumentError("extra_submit_lines must be a sequence of lines, not one string")
        self.extra_submit_lines = tuple(check_extra_line(line) for line in extra_submit_lines)
        self.remove_held = bool(remove_held)
        if isinstance(log_silence, bool) or not isinstance(log_silence, (int, float)) or log_silence < 0:
            raise InvalidArgumentError(f"log_silence must be >= 0 seconds, got {log_silence!r}")
        self.log_silence = float(log_silence)
        self._key = files.new_key()
        #: The job event log every job of this executor writes to.
        self.event_log = files.in_dir(self.workdir, f"{self._key}.events{files.LOG_SUFFIX}")
        self._reader = EventLogReader(self.event_log)
        self._log_status: dict[str, JobStatus] = {}  # last status the log (or condor_q) gave, by job id
        self._heard: dict[str, float] = {}  # when the log (or condor_q) last told us about a job
        self._log_broken = False
        self._keep_event_log = False
        self._held_to_remove: set[str] = set()  # held jobs whose condor_rm failed: retried each poll

    # -- submission

    def _submit_batch(self, batch: Batch, setup_lines: Sequence[str]) -> str:
        """One ``condor_submit``: ``queue 1`` for submit(), ``queue N`` (one cluster) for map()."""
        array = batch.tasks[0].index is not None
        if array:
            payload = escape_macros(files.in_dir(self.workdir, batch.key + ".")) + "$(ProcId)" + files.PAYLOAD_SUFFIX
            output = escape_macros(files.in_dir(self.workdir, batch.key + ".")) + "$(ProcId)" + files.LOG_SUFFIX
        else:
            payload = escape_macros(files.in_dir(self.workdir, batch.tasks[0].key + files.PAYLOAD_SUFFIX))
            output = escape_macros(self._log_path(batch.tasks[0]))
        environment = dict(self.environment)
        if setup_lines:
            batch.script_path = files.in_dir(self.workdir, batch.key + files.SCRIPT_SUFFIX)
            script = wrapper_script(self.python, setup_lines, self.additional_import_paths)
            serialize.write_text_private(batch.script_path, script)
            os.chmod(batch.script_path, 0o700)
            executable = escape_macros(batch.script_path)
            arguments: tuple[str, ...] = ()
            environment["CFUT_PAYLOAD"] = payload
        else:
            executable = escape_macros(self.python)
            arguments = ("-m", "cfut.remote", payload)
            for path in self.additional_import_paths:
                arguments += ("--import-path", escape_macros(path))
        spec = SubmitSpec(
            executable=executable, arguments=arguments, log=escape_macros(self.event_log), output=output,
            initialdir=escape_macros(_check_value(self.initialdir or os.getcwd(), "initialdir")),
            count=len(batch.tasks), batch_key=batch.key, getenv=self.getenv,
            environment=tuple(environment.items()), resources=self.resources, requirements=self.requirements,
            attributes=self.attributes, extra_lines=self.extra_submit_lines,
        )
        description = submit_description(spec)
        log.debug("submit description of batch %s:\n%s", batch.key, description)
        argv = submit_argv()
        result = self._run_submission(argv, input=description)
        cluster, count = parse_submit_terse(argv, result.stdout)
        if count != len(batch.tasks):
            raise SchedulerOutputError(argv, result.stdout, f"{count} jobs queued, {len(batch.tasks)} asked for")
        return cluster

    @staticmethod
    def _task_id(job_id: str, index: int | None) -> str:
        return f"{job_id}.{index or 0}"

    def _find_lost_submission(self, batch: Batch) -> str | None:
        result = self._run(lost_submission_argv(batch.key))
        if result is None or result.returncode != 0:
            return None
        ids = [line.strip() for line in result.stdout.splitlines() if line.strip().isdigit()]
        return ids[0] if ids else None

    # -- monitoring

    def _read_log(self) -> None:
        """Take in the event log's new records (no command is run)."""
        try:
            events = self._reader.read_new()
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

    def _query(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """The event log first; one ``condor_q`` for the jobs it has been silent about."""
        self._read_log()
        now = self._clock()
        statuses: dict[str, JobStatus] = {}
        stale = []
        for job_id in job_ids:
            heard = self._heard.setdefault(job_id, now)
            known = self._log_status.get(job_id)
            final = known is not None and known.phase is Phase.FINISHED
            if not final and (self._log_broken or now - heard >= self.log_silence):
                stale.append(job_id)
            elif known is not None:
                statuses[job_id] = known
            else:
                statuses[job_id] = JobStatus("SUBMITTED", Phase.QUEUED, "no event in the job event log yet")
        if stale:
            argv = q_argv(stale)
            result = self._run_checked(argv)
            found = parse_af_status(argv, result.stdout)
            for job_id in stale:
                if job_id in found:
                    statuses[job_id] = found[job_id]
                    # Remembered until the log says something newer, so that the next poll, within
                    # log_silence, does not fall back to "SUBMITTED".
                    self._log_status[job_id] = found[job_id]
                    self._heard[job_id] = now
                # Not listed: it left the queue. Leaving it out sends it to _lookup (condor_history).
        return statuses

    def _lookup(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """Final statuses: from the event log when it has them, else one ``condor_history``."""
        found = {i: s for i in job_ids if (s := self._log_status.get(i)) is not None and s.phase is Phase.FINISHED}
        missing = [i for i in job_ids if i not in found]
        if not missing:
            return found
        argv = history_argv(missing)
        result = self._run_checked(argv)
        for job_id, status in parse_af_status(argv, result.stdout).items():
            if job_id in missing:
                found[job_id] = status
        return found

    def _cancel_jobs(self, job_ids: Sequence[str]) -> bool:
        argv = rm_argv(job_ids)
        result = self._run(argv)
        if result is None:
            return False
        self._keep_event_log = self._keep_event_log or self.keep_logs
        if result.returncode == 0:
            return True
        settled, refused = parse_rm(result)
        if refused:
            log.warning("condor_rm refused to remove %s: %s", ", ".join(sorted(refused)), result.stderr.strip())
        if settled | refused >= set(job_ids):
            return True  # every id has its answer; nothing more can be done by asking again
        log.warning("condor_rm %s failed (%d): %s", " ".join(job_ids), result.returncode, result.stderr.strip())
        return False

    def _error_for(self, status: JobStatus) -> type[JobDied]:
        return error_class(status.state)

    def _after_death(self, tasks: Sequence[Task]) -> None:
        """Held jobs whose futures failed are removed from the queue (unless ``remove_held=False``)."""
        self._keep_event_log = True
        held = sorted(t.scheduler_id for t in tasks
                      if t.scheduler_id and t.status is not None and t.status.state == "HELD")
        if not held:
            return
        if not self.remove_held:
            log.info("leaving held jobs %s in the queue (remove_held=False)", ", ".join(held))
            return
        if not self._cancel_jobs(held):
            log.warning("could not remove held jobs %s yet; will retry", ", ".join(held))
            with self._lock:
                self._held_to_remove.update(held)

    def _poll(self, *, query: bool) -> bool:
        changed = super()._poll(query=query)
        with self._lock:
            retry = sorted(self._held_to_remove)
        if retry and self._cancel_jobs(retry):
            with self._lock:
                self._held_to_remove.difference_update(retry)
        return changed

    def _has_work(self) -> bool:
        with self._lock:
            return super()._has_work() or bool(self._held_to_remove)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait, cancel_futures=cancel_futures)
        # The event log goes once every job of ours is done with it, unless a job died (its story is
        # in there) or logs are kept.
        if wait and not self._has_work() and not (self.keep_logs or self._keep_event_log):
            try:
                os.unlink(self.event_log)
            except FileNotFoundError:
                pass
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    log.warning("cannot remove %s: %s", self.event_log, exc)
