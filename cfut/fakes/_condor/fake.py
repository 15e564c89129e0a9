"""FakeCondor: an in-process HTCondor (schedd, startd and tools) on the shared fake cluster model.

It is a :class:`cfut.runner.CommandRunner`: ``condor_submit``, ``condor_q``, ``condor_history`` and
``condor_rm`` are answered in the formats of the reference (``htcondor-cli.md``), and each job writes
its job event log in HTCondor's text framing (:mod:`.condor_log`). Jobs run on a
:class:`~cfut.fakes.cluster.FakeCluster` (nodes, CPUs, virtual clock), either inline (the cfut worker
or a checked shell script runs in this process when the job ends) or as real subprocesses.

Progression (see :mod:`.clock`): ``"manual"`` moves only on :meth:`FakeCondor.advance`; in
``"immediate"`` every command first lets every due thing happen, jumping the clock over idle time, so
a submission's jobs have run by the time ``condor_submit`` returns; ``"realtime"`` follows the real
clock, driven by a small ticker thread.

Faults are injectable: :meth:`fail_next` (a command fails, or condor_submit loses its reply after
queuing), :meth:`hold`, :meth:`release`, :meth:`evict`, :meth:`remove` (``condor_rm`` by someone
else), :meth:`kill` (the job dies of a signal), :meth:`set_outcome` (how it ends when it ends).
Anything outside the model raises :class:`FakeUnsupported`.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from ..._runner import CommandResult
from .._base import FakeScheduler, Handler
from .._clock import Progression
from .._cluster import FakeCluster
from .._errors import FakeUnsupported
from .._inline import InlineScript, is_python, parse_inline, run_inline, run_worker_in_process, worker_args
from .._process import JobProcess
from . import classad
from . import eventlog as condor_log
from .submit import (
    SubmitError,
    check_universe,
    expand,
    parse_description,
    parse_disk_kb,
    parse_memory_mb,
    split_arguments,
    split_environment,
)

IDLE, RUNNING, REMOVED, COMPLETED, HELD = 1, 2, 3, 4, 5

#: What a failing command prints when told to fail without a message (reference sections 1.2, 2.3).
DEFAULT_FAILURES = {
    "condor_submit": (1, "Submitting job(s)", "\nERROR: Failed to connect to local queue manager\n"
                      "CEDAR:6001:Failed to connect to <127.0.0.1:9618>\n"),
    "condor_q": (1, "", "\n-- Failed to fetch ads from: <127.0.0.1:9618> : localhost\n"
                 "CEDAR:6001:Failed to connect to <127.0.0.1:9618>\n"),
    "condor_history": (1, "", "Error opening history file /var/lib/condor/spool/history: "
                       "Resource temporarily unavailable\n"),
    "condor_rm": (1, "", "\nERROR: Failed to connect to local queue manager\n"),
}


@dataclass(eq=False)
class FakeCondorJob:
    """One proc of a cluster, with its ClassAd attributes and what happens to it."""

    cluster: int
    proc: int
    executable: str
    arguments: list[str]
    iwd: str
    env: dict[str, str]
    log: str | None
    output: str | None
    error: str | None
    cpus: int
    ad: dict[str, classad.Value]
    status: int = IDLE
    submitted: float = 0.0
    started: float | None = None
    ends_at: float | None = None
    nodes: tuple[str, ...] = ()
    outcome: tuple[int | None, int | None] | None = None  # (exit code, signal) instead of running
    process: JobProcess | None = None
    inline: InlineScript | None = None  # the checked shell script an inline job runs
    hold_at_submit: bool = False  # submit description's ``hold = true``
    leave_at: float | None = None  # removed while running: leaves the queue at the next step
    remove_reason: str = ""

    @property
    def job_id(self) -> str:
        return f"{self.cluster}.{self.proc}"


@dataclass
class _Snapshot:
    job_id: str
    status: int
    state: str
    ad: dict[str, classad.Value] = field(default_factory=dict)


_STATE_NAMES = {IDLE: "IDLE", RUNNING: "RUNNING", REMOVED: "REMOVED", COMPLETED: "COMPLETED", HELD: "HELD"}


class FakeCondor(FakeScheduler):
    """A fake HTCondor pool behind the CommandRunner seam.

    ``FakeCondor(progression="immediate", execution="inline", cluster=None, nodes=1, cpus_per_node=4,
    job_duration=1.0)``. Pass ``cluster=`` to share nodes and clock with another fake scheduler.
    """

    def __init__(
        self,
        *,
        progression: Progression = "immediate",
        execution: str = "inline",
        cluster: FakeCluster | None = None,
        nodes: int = 1,
        cpus_per_node: int = 4,
        job_duration: float = 1.0,
        schedd_name: str | None = None,
    ) -> None:
        cluster = cluster or FakeCluster(nodes=nodes, cpus_per_node=cpus_per_node, progression=progression,
                                         node_prefix="slot", name="condor")
        super().__init__(cluster=cluster, execution=execution)
        if job_duration < 0:
            raise ValueError(f"job_duration must not be negative, got {job_duration!r}")
        self.job_duration = float(job_duration)
        self.schedd_name = schedd_name or self.cluster.submit_host
        self.lock = self.cluster.lock
        self._next_cluster = 1
        self._queue: dict[str, FakeCondorJob] = {}
        self._history: list[FakeCondorJob] = []
        #: Every submit description condor_submit accepted, verbatim.
        self.descriptions: list[str] = []
        #: Every job event log file written to.
        self.event_logs: set[str] = set()
        #: Everything written to each event log, kept even after the file is removed (for checks).
        self.written_events: dict[str, str] = {}
        #: Fault: while True, jobs write nothing to their event logs (a log that is silent or lost).
        self.silent_log = False

    # ---------------------------------------------------------------- the scheduler

    def _now(self) -> float:
        return self.cluster.clock.now()

    def _epoch(self, t: float | None = None) -> float:
        return self.cluster.clock.wall(self._now() if t is None else t)

    def _event(self, job: FakeCondorJob, code: int, body: str) -> None:
        if job.log and not self.silent_log:
            text = condor_log.append_event(job.log, code, job.cluster, job.proc, self._epoch(), body)
            self.event_logs.add(job.log)
            self.written_events[job.log] = self.written_events.get(job.log, "") + text

    def _host(self, name: str) -> str:
        return f"<127.0.0.1:9618?addrs=127.0.0.1-9618&alias={name}&noUDP&sock={name}>"

    def _set_status(self, job: FakeCondorJob, status: int) -> None:
        job.status = status
        job.ad["JobStatus"] = status
        job.ad["EnteredCurrentStatus"] = int(self._epoch())

    # -- FakeScheduler's hooks

    COMMANDS = ("condor_submit", "condor_q", "condor_history", "condor_rm")
    STATUS_COMMANDS = frozenset({"condor_q", "condor_history"})
    SUBMIT_COMMAND = "condor_submit"
    # cfut learns of HTCondor jobs from the job event log the schedd writes unasked, not by polling
    DRIVES_ITSELF = True

    def _command_table(self) -> Mapping[str, Handler]:
        def wrap(tool: Any, status: bool) -> Handler:
            def handler(argv: tuple[str, ...], *, input: str | None, env: Mapping[str, str] | None,
                        cwd: str | None) -> CommandResult:
                if status:
                    self._status_refresh()
                code, out, err = tool(argv, input, env, cwd)
                return CommandResult(argv, code, out, err)
            return handler

        return {"condor_submit": wrap(self._condor_submit, False), "condor_q": wrap(self._condor_q, True),
                "condor_history": wrap(self._condor_history, True), "condor_rm": wrap(self._condor_rm, False)}

    def _jump_target(self) -> float | None:
        due = [j.ends_at for j in self._queue.values()
               if j.status == RUNNING and j.ends_at is not None and j.process is None]
        due += [j.leave_at for j in self._queue.values() if j.leave_at is not None]
        horizon = self._horizon()
        due += [j.submitted for j in self._queue.values() if j.status == IDLE and j.submitted > horizon]
        return min(due, default=None)

    def _live_processes(self) -> Sequence[JobProcess]:
        return [j.process for j in self._queue.values() if j.process is not None]

    def _default_failure(self, command: str) -> tuple[str, str]:
        _, out, err = DEFAULT_FAILURES[command]
        return out, err

    def _shutdown(self) -> None:
        for job in self._queue.values():
            self._stop_process(job)

    def _settle(self, target: float) -> int:
        """Let what is due at or before ``target`` happen: removals, ends, then starts in queue order."""
        changes = 0
        for job in list(self._queue.values()):
            if job.leave_at is not None and job.leave_at <= target:
                self._stop_process(job)
                self._leave(job, removed=True)
                changes += 1
            elif job.status == RUNNING:
                if job.process is not None:
                    code = job.process.poll()
                    if code is not None:
                        job.process.kill_leftovers()
                        self._finish(job, *((None, -code) if code < 0 else (code, None)))
                        changes += 1
                elif job.ends_at is not None and job.ends_at <= target:
                    self._finish_inline(job)
                    changes += 1
        for job in sorted(self._queue.values(), key=lambda j: (j.cluster, j.proc)):
            if job.status == IDLE and job.submitted <= target and self._try_start(job):
                changes += 1
        return changes

    def _try_start(self, job: FakeCondorJob) -> bool:
        nodes = self.cluster.allocate(job.cpus)
        if nodes is None:
            return False
        job.nodes = nodes
        job.started = self._now()
        self._set_status(job, RUNNING)
        starts = job.ad.get("NumJobStarts", 0)
        job.ad["NumJobStarts"] = (starts if isinstance(starts, int) else 0) + 1
        job.ad["RemoteHost"] = f"slot1@{nodes[0]}"
        self._event(job, condor_log.EXECUTE, condor_log.execute_body(self._host(nodes[0])))
        for handle in self._open_outputs(job):  # the starter creates stdout/stderr as the job starts
            if handle is not None and not handle.closed:
                handle.close()
        if self.execution == "subprocess" and job.outcome is None:
            job.process = self._spawn(job)
            job.ends_at = None
        else:
            job.ends_at = self._now() + self._duration(job)
        return True

    def _duration(self, job: FakeCondorJob) -> float:
        return self.job_duration + (job.inline.sleep_seconds if job.inline is not None else 0.0)

    def _open_outputs(self, job: FakeCondorJob) -> tuple[IO[bytes] | None, IO[bytes] | None]:
        out = open(job.output, "ab") if job.output else None  # noqa: SIM115 - closed by the caller
        if job.error and job.error == job.output:
            return out, out
        err = open(job.error, "ab") if job.error else None  # noqa: SIM115
        return out, err

    def _spawn(self, job: FakeCondorJob) -> JobProcess:
        out, err = self._open_outputs(job)
        out = out if out is not None else open(os.devnull, "wb")  # noqa: SIM115
        err = err if err is not None else open(os.devnull, "wb")  # noqa: SIM115
        try:
            return JobProcess([job.executable, *job.arguments], cwd=job.iwd, env=job.env, stdout=out, stderr=err)
        finally:
            for handle in {id(h): h for h in (out, err) if h is not None}.values():
                handle.close()

    def _finish_inline(self, job: FakeCondorJob) -> None:
        """An inline job's time is up: its outcome, or its executable run now in this process."""
        if job.outcome is not None:
            self._finish(job, *job.outcome)
            return
        with contextlib.ExitStack() as stack:
            out = stack.enter_context(open(job.output or os.devnull, "a"))
            same = job.error is not None and job.error == job.output
            err = out if same else stack.enter_context(open(job.error or os.devnull, "a"))

            def worker(args: list[str]) -> int:
                return run_worker_in_process(args, stdout=out, stderr=err)

            if job.inline is not None:
                code = run_inline(job.inline, env=job.env, out=out, err=err, run_worker=worker,
                                  script_name=job.executable)
            else:
                code = worker(worker_args([job.executable, *job.arguments]) or [])
        # a negative status is the signal that killed the job (the starter reports it as such)
        self._finish(job, *((None, -code) if code < 0 else (code & 0xFF, None)))

    def _finish(self, job: FakeCondorJob, exit_code: int | None, signal: int | None) -> None:
        self.cluster.release(job.nodes, job.cpus)
        job.process = None
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._epoch()))
        self._event(job, condor_log.TERMINATED, condor_log.terminated_body(exit_code=exit_code, signal=signal,
                                                                            iso_end=iso))
        job.ad["ExitBySignal"] = signal is not None
        if signal is not None:
            job.ad["ExitSignal"] = signal
            job.ad.pop("ExitCode", None)
        else:
            job.ad["ExitCode"] = exit_code or 0
        job.ad["CompletionDate"] = int(self._epoch())
        self._set_status(job, COMPLETED)
        self._leave(job, removed=False)

    def _leave(self, job: FakeCondorJob, *, removed: bool) -> None:
        """Completed and removed jobs leave the queue at once, for the history."""
        if removed:
            if job.nodes and job.status in (RUNNING, REMOVED) and job.started is not None:
                self.cluster.release(job.nodes, job.cpus)
                job.nodes = ()
            self._set_status(job, REMOVED)
            self._event(job, condor_log.ABORTED, condor_log.aborted_body(job.remove_reason))
        job.leave_at = None
        self._queue.pop(job.job_id, None)
        self._history.append(job)

    def _stop_process(self, job: FakeCondorJob) -> None:
        if job.process is not None:
            job.process.kill_and_reap()
            job.process = None

    # ---------------------------------------------------------------- fault injection

    def _get(self, job_id: str) -> FakeCondorJob:
        job = self._queue.get(job_id)
        if job is None:
            raise KeyError(f"job {job_id} is not in the queue")
        return job

    def hold(self, job_id: str, reason: str | None = None, code: int = 1, subcode: int = 0) -> None:
        """Put a job on hold (``condor_hold``, or a policy with ``code``); a running job stops."""
        with self.lock:
            job = self._get(job_id)
            if job.status == RUNNING:
                self._stop_process(job)
                self.cluster.release(job.nodes, job.cpus)
                job.nodes, job.ends_at = (), None
            text = reason if reason is not None else f"via condor_hold (by user {self.cluster.user})"
            job.ad.update(HoldReason=text, HoldReasonCode=code, HoldReasonSubCode=subcode)
            self._set_status(job, HELD)
            self._event(job, condor_log.HELD, condor_log.held_body(text, code, subcode))

    def release(self, job_id: str) -> None:
        with self.lock:
            job = self._get(job_id)
            if job.status != HELD:
                raise ValueError(f"job {job_id} is not held")
            for key in ("HoldReason", "HoldReasonCode", "HoldReasonSubCode"):
                job.ad.pop(key, None)
            self._set_status(job, IDLE)
            self._event(job, condor_log.RELEASED,
                        condor_log.released_body(f"via condor_release (by user {self.cluster.user})"))

    def evict(self, job_id: str) -> None:
        """The running job is vacated and goes back to idle (it will run again)."""
        with self.lock:
            job = self._get(job_id)
            if job.status != RUNNING:
                raise ValueError(f"job {job_id} is not running")
            self._stop_process(job)
            self.cluster.release(job.nodes, job.cpus)
            job.nodes, job.ends_at = (), None
            self._set_status(job, IDLE)
            self._event(job, condor_log.EVICTED, condor_log.evicted_body())

    def remove(self, job_id: str, reason: str | None = None) -> None:
        """``condor_rm`` by someone else."""
        with self.lock:
            self._remove(self._get(job_id), reason or f"via condor_rm (by user {self.cluster.user})")

    def kill(self, job_id: str, signal: int = 9) -> None:
        """The running job dies of ``signal`` now, without a result."""
        with self.lock:
            job = self._get(job_id)
            if job.status != RUNNING:
                raise ValueError(f"job {job_id} is not running")
            self._stop_process(job)
            self._finish(job, None, signal)

    def set_outcome(self, job_id: str, *, exit_code: int | None = None, signal: int | None = None) -> None:
        """When the job ends, it ends like this instead of running its executable."""
        with self.lock:
            self._get(job_id).outcome = (None if signal is not None else (exit_code or 0), signal)

    def _remove(self, job: FakeCondorJob, reason: str) -> None:
        job.remove_reason = reason
        job.ad["RemoveReason"] = reason
        if job.status == RUNNING:
            # The shadow still has to stop the job: it shows X until then, and the abort is logged
            # when it leaves the queue.
            self._set_status(job, REMOVED)
            job.leave_at = self._now()
            job.ends_at = None
        else:
            self._leave(job, removed=True)

    # ---------------------------------------------------------------- inspection

    def queue(self) -> list[str]:
        """Ids of the jobs in the queue (what condor_q would list), in order."""
        with self.lock:
            return [j.job_id for j in sorted(self._queue.values(), key=lambda j: (j.cluster, j.proc))]

    def job(self, job_id: str | int) -> _Snapshot:
        """A job in the queue or the history."""
        with self.lock:
            job = self._queue.get(str(job_id)) or next((j for j in self._history if j.job_id == str(job_id)), None)
            if job is None:
                raise KeyError(job_id)
            return self._snapshot(job)

    def _snapshot(self, job: FakeCondorJob) -> _Snapshot:
        return _Snapshot(job.job_id, job.status, _STATE_NAMES.get(job.status, str(job.status)), self._public_ad(job))

    def history(self) -> list[str]:
        with self.lock:
            return [j.job_id for j in self._history]

    # -- condor_submit

    def _condor_submit(self, argv: tuple[str, ...], stdin: str | None, env: Mapping[str, str] | None,
                       cwd: str | None) -> tuple[int, str, str]:
        terse = verbose = False
        path: str | None = None
        for arg in argv[1:]:
            if arg in ("-terse",):
                terse = True
            elif arg in ("-verbose", "-v"):
                verbose = True
            elif arg == "-" or not arg.startswith("-"):
                if path is not None:
                    raise FakeUnsupported("more than one submit file")
                path = arg
            else:
                raise FakeUnsupported(f"the fake condor_submit does not model the option {arg!r}")
        implied_verbose = path == "-" and not terse
        verbose = (verbose or implied_verbose) and not terse
        prefix = "" if terse or implied_verbose else "Submitting job(s)"
        base = cwd or os.getcwd()
        if path is None or path == "-":
            text, name = stdin or "", "(stdin)"
        else:
            full = os.path.join(base, path)
            try:
                with open(full) as handle:
                    text = handle.read()
            except OSError as exc:
                return 1, prefix, f"\nERROR: Failed to open command file ({path}) ({exc.strerror})\n"
            name = path
        submitter_env = {**os.environ, **(env or {})}
        try:
            description = parse_description(text, read_file=lambda f: open(os.path.join(base, f)).read())
            if not description.queues:
                return 1, prefix, f'\nERROR: "{name}" doesn\'t contain any "queue" commands -- no jobs queued\n'
            jobs = self._materialize(description, base, submitter_env)
        except SubmitError as exc:
            extra = f"\nERROR: Failed to parse command file (line {exc.line}).\n" if exc.line and \
                not exc.message.startswith("Failed to parse") else ""
            return 1, prefix, f"\nERROR: {exc.message}\n{extra}"
        self.descriptions.append(text)
        clusters: dict[int, list[FakeCondorJob]] = {}
        for job in jobs:
            clusters.setdefault(job.cluster, []).append(job)
            job.submitted = self._now()
            job.ad["QDate"] = int(self._epoch())
            self._set_status(job, IDLE)
            self._queue[job.job_id] = job
            self._event(job, condor_log.SUBMIT, condor_log.submit_body(self._host(self.schedd_name)))
            if job.hold_at_submit:
                text_reason = "submitted on hold at user's request"
                job.ad.update(HoldReason=text_reason, HoldReasonCode=15, HoldReasonSubCode=0)
                self._set_status(job, HELD)
                self._event(job, condor_log.HELD, condor_log.held_body(text_reason, 15, 0))
        if terse:
            out = "".join(f"{c}.{js[0].proc} - {c}.{js[-1].proc}\n" for c, js in clusters.items())
        elif verbose:
            out = prefix + "".join(f"\n** Proc {j.job_id}:\n" + classad.long_form([self._public_ad(j)]).rstrip("\n")
                                   + "\n" for j in jobs) + "\n"
        else:
            out = prefix + "." * len(jobs) + "\n" + "".join(
                f"{len(js)} job(s) submitted to cluster {c}.\n" for c, js in clusters.items())
        return 0, out, ""

    def _materialize(self, description: Any, base: str, submitter_env: Mapping[str, str]) -> list[FakeCondorJob]:
        jobs: list[FakeCondorJob] = []
        cluster = None
        last_executable = None
        proc = 0
        for statement in description.queues:
            settings = statement.settings
            if "executable" not in settings:
                raise SubmitError("No 'executable' parameter was provided")
            if cluster is None or settings["executable"] != last_executable:
                cluster = self._next_cluster
                self._next_cluster += 1
                proc = 0
                last_executable = settings["executable"]
            items = statement.items if statement.items is not None else [()]
            step_items = [(index, item) for index, item in enumerate(items)]
            for item_index, item in step_items:
                for step in range(statement.count):
                    macros = dict(settings)
                    macros.update({"cluster": str(cluster), "clusterid": str(cluster), "process": str(proc),
                                   "procid": str(proc), "jobid": f"{cluster}.{proc}", "step": str(step),
                                   "itemindex": str(item_index), "row": str(item_index)})
                    for var, value in zip(statement.variables, item):
                        macros[var.lower()] = value
                    jobs.append(self._make_job(cluster, proc, macros, statement.attributes, base, submitter_env))
                    proc += 1
        return jobs

    def _make_job(self, cluster: int, proc: int, macros: dict[str, str], attributes: Mapping[str, str],
                  base: str, submitter_env: Mapping[str, str]) -> FakeCondorJob:
        def get(key: str, default: str = "") -> str:
            return expand(macros[key], macros).strip() if key in macros else default

        check_universe(get("universe", "vanilla"))
        iwd = get("initialdir") or get("iwd") or base
        iwd = os.path.join(base, iwd)
        if not os.path.isdir(iwd):
            raise SubmitError(f"No such directory: {iwd}")

        def path(key: str) -> str | None:
            value = get(key)
            return os.path.join(iwd, value) if value else None

        executable = os.path.join(iwd, get("executable"))
        if not os.path.exists(executable):
            raise SubmitError(f"Executable file {executable} does not exist")
        if os.path.getsize(executable) == 0:
            raise SubmitError(f"Executable file {executable} has zero length")
        raw_args = macros.get("arguments", macros.get("args", ""))
        arguments, new_syntax = split_arguments(expand(raw_args, macros))
        getenv = get("getenv", "false")
        env: dict[str, str] = {}
        if getenv.lower() in ("true", "yes", "1"):
            env.update(submitter_env)
        elif getenv.lower() not in ("false", "no", "0", ""):
            patterns = [p.strip() for p in getenv.replace(",", " ").split() if p.strip()]
            env.update({k: v for k, v in submitter_env.items() if any(fnmatch.fnmatchcase(k, p) for p in patterns)})
        if "environment" in macros or "env" in macros:
            env.update(split_environment(expand(macros.get("environment", macros.get("env", "")), macros)))
        env.setdefault("PATH", "/usr/bin:/bin")
        cpus = int(get("request_cpus", "1") or 1)
        ad: dict[str, classad.Value] = {
            "ClusterId": cluster, "ProcId": proc, "Owner": self.cluster.user, "Cmd": executable, "Iwd": iwd,
            "JobUniverse": 5, "RequestCpus": cpus, "NumJobStarts": 0,
            "JobBatchName": get("batch_name") or None,  # type: ignore[dict-item]
            "UserLog": path("log"), "Out": path("output") or "/dev/null",  # type: ignore[dict-item]
            "Err": path("error") or "/dev/null", "GlobalJobId": f"{self.schedd_name}#{cluster}.{proc}#0",
        }
        ad["Arguments" if new_syntax else "Args"] = " ".join(shlex.quote(a) for a in arguments)
        if "request_memory" in macros:
            ad["RequestMemory"] = parse_memory_mb(get("request_memory"))
        if "request_disk" in macros:
            ad["RequestDisk"] = parse_disk_kb(get("request_disk"))
        if "request_gpus" in macros:
            ad["RequestGPUs"] = int(get("request_gpus"))
        if "requirements" in macros:
            ad["Requirements"] = classad.Expr(get("requirements"))
        for name, value in attributes.items():
            ad[name] = _attribute_value(expand(value, macros))
        ad = {k: v for k, v in ad.items() if v is not None}
        inline = self._check_inline(executable, arguments) if self.execution == "inline" else None
        return FakeCondorJob(cluster=cluster, proc=proc, executable=executable, arguments=arguments, iwd=iwd,
                             env=env, log=path("log"), output=path("output"), error=path("error"), cpus=cpus,
                             ad=ad, inline=inline, hold_at_submit=get("hold", "false").lower() in ("true", "yes", "1"))

    @staticmethod
    def _check_inline(executable: str, arguments: list[str]) -> InlineScript | None:
        """Refuse at submission what inline execution could not run faithfully; the checked shell
        script, or None for the cfut worker run directly."""
        if is_python(executable):
            if worker_args([executable, *arguments]) is None:
                raise FakeUnsupported(f"inline jobs run `python -m cfut.remote ...` only, not {arguments!r}; "
                                      'use execution="subprocess"')
            return None
        with open(executable, errors="replace") as handle:
            text = handle.read()
        if arguments:
            raise FakeUnsupported("inline shell scripts cannot take arguments (no $1/$@ in the inline shell); "
                                  'use execution="subprocess"')
        return parse_inline(text)

    @staticmethod
    def _public_ad(job: FakeCondorJob) -> dict[str, classad.Value]:
        return dict(job.ad)

    # -- selection and output, shared by condor_q and condor_history

    def _select(self, argv: tuple[str, ...], jobs: list[FakeCondorJob], *, history: bool) -> tuple[int, str, str]:
        ids: list[str] = []
        constraint = None
        mode = None
        af_attrs: list[str] = []
        af_opts = ""
        formats: list[tuple[str, str]] = []
        limit: int | None = None
        i = 1
        while i < len(argv):
            arg = argv[i]
            if arg in ("-constraint", "-const"):
                if i + 1 >= len(argv):
                    return 1, "", f"Error: Argument {arg} requires another argument\n"
                try:
                    constraint = classad.compile_constraint(argv[i + 1])
                except classad.ConstraintError:
                    return 1, "", f'\n-- Parse error in constraint expression "{argv[i + 1]}"\n'
                i += 2
            elif arg.startswith("-af") or arg.startswith("-autoformat"):
                mode = "af"
                af_opts = arg.split(":", 1)[1] if ":" in arg else ""
                i += 1
                while i < len(argv) and not argv[i].startswith("-"):
                    af_attrs.append(argv[i])
                    i += 1
            elif arg == "-format":
                mode = "format"
                formats.append((argv[i + 1], argv[i + 2]))
                i += 3
            elif arg in ("-long", "-l"):
                mode = "long"
                i += 1
            elif arg == "-json":
                if mode == "xml":
                    return 1, "", "Error: Cannot print as both XML and JSON\n"
                mode = "json"
                i += 1
            elif history and arg in ("-limit", "-match"):
                limit = int(argv[i + 1])
                i += 2
            elif not arg.startswith("-"):
                ids.append(arg)
                i += 1
            else:
                return 1, "", f"Error: unrecognized argument {arg}\n" if not history else \
                    f"Error: Unknown argument {arg}\n"
        if mode is None:
            raise FakeUnsupported(f"{argv[0]}'s default table output; use -af, -format, -long or -json")
        selected = []
        for job in jobs:
            if ids and not any(self._id_matches(job, ident) for ident in ids):
                continue
            if constraint is not None and not classad.matches(constraint, self._public_ad(job)):
                continue
            selected.append(job)
            if limit is not None and len(selected) >= limit:
                break
        ads = [self._public_ad(job) for job in selected]
        if mode == "long":
            return 0, classad.long_form(ads), ""
        if mode == "json":
            return 0, classad.json_form(ads, empty_brackets=history), ""
        if mode == "format":
            return 0, "".join("".join(t for f, a in formats
                                      if (t := classad.format_one(f, classad.lookup(ad, a))) is not None)
                              for ad in ads), ""
        return 0, self._autoformat(ads, af_attrs, af_opts), ""

    def _id_matches(self, job: FakeCondorJob, ident: str) -> bool:
        if "." in ident:
            return ident == job.job_id
        if ident.isdigit():
            return int(ident) == job.cluster
        return ident == self.cluster.user and job.ad.get("Owner") == ident  # an owner name

    @staticmethod
    def _autoformat(ads: list[dict[str, classad.Value]], attrs: list[str], opts: str) -> str:
        unknown = set(opts) - set("jlVr,tng")
        if unknown or ("n" in opts and "," in opts):
            raise FakeUnsupported(f"-af qualifiers {opts!r}")
        sep = "\t" if "t" in opts else " "
        lines = []
        for ad in ads:
            fields = []
            if "j" in opts:
                fields.append(f"{ad['ClusterId']}.{ad['ProcId']}")
            for attr in attrs:
                text = classad.af_text(classad.lookup(ad, attr), quoted="V" in opts, raw="r" in opts)
                fields.append(f"{attr} = {text}" if "l" in opts else text)
            if "," in opts:
                fields = [f + "," for f in fields]
            lines.append(("\n" if "n" in opts else sep).join(fields) + "\n")
        return ("\n" if "g" in opts else "").join(lines)

    def _condor_q(self, argv: tuple[str, ...], stdin: str | None, env: Any, cwd: Any) -> tuple[int, str, str]:
        jobs = sorted(self._queue.values(), key=lambda j: (j.cluster, j.proc))
        return self._select(argv, jobs, history=False)

    def _condor_history(self, argv: tuple[str, ...], stdin: str | None, env: Any, cwd: Any) -> tuple[int, str, str]:
        return self._select(argv, list(reversed(self._history)), history=True)  # newest first

    # -- condor_rm

    def _condor_rm(self, argv: tuple[str, ...], stdin: str | None, env: Any, cwd: Any) -> tuple[int, str, str]:
        args = list(argv[1:])
        reason = None
        if "-reason" in args:
            at = args.index("-reason")
            reason = args[at + 1]
            del args[at: at + 2]
        user_reason = reason or f"via condor_rm (by user {self.cluster.user})"
        if not args:
            return 1, "", "You did not specify any jobs\n"
        out: list[str] = []
        err: list[str] = []
        had_error = False
        if args[0] in ("-constraint", "-all"):
            if args[0] == "-all":
                targets = list(self._queue.values())
                ok_text, what = "All jobs have been marked for removal", "all jobs"
            else:
                expr = classad.compile_constraint(args[1])
                targets = [j for j in self._queue.values() if classad.matches(expr, self._public_ad(j))]
                ok_text = f"All jobs matching constraint ({args[1]}) have been marked for removal"
                what = f"all jobs matching constraint ({args[1]})"
            if not self._queue:
                return 0, "", "condor_rm:0:There are no jobs in the queue\n"
            if not targets:
                return 1, "", f"\nCouldn't find/remove {what}\n"
            for job in targets:
                self._remove(job, user_reason)
            return 0, ok_text + "\n", ""
        for arg in args:
            if arg.startswith("-"):
                raise FakeUnsupported(f"the fake condor_rm does not model the option {arg!r}")
            if "." in arg:
                found = self._queue.get(arg)
                if found is None:
                    err.append(f"Job {arg} not found")
                    had_error = True
                elif found.status == REMOVED:
                    err.append(f"Job {arg} already marked for removal")
                    had_error = True
                else:
                    self._remove(found, user_reason)
                    out.append(f"Job {arg} marked for removal")
            elif arg.isdigit():
                targets = [j for j in self._queue.values() if j.cluster == int(arg)]
                if not self._queue:
                    return 0, "", "condor_rm:0:There are no jobs in the queue\n"
                if not targets:
                    err.append(f"Couldn't find/remove all jobs in cluster {arg}")
                    had_error = True
                else:
                    for job in targets:
                        self._remove(job, user_reason)
                    out.append(f"All jobs in cluster {arg} have been marked for removal")
            else:
                raise FakeUnsupported(f"condor_rm by owner or other forms ({arg!r})")
        # The (usually empty) error stack comes first on stderr when any id failed (rm.cpp).
        stderr = ("\n" + "\n".join(err) + "\n") if had_error else ""
        return (1 if had_error else 0), "".join(line + "\n" for line in out), stderr

    def jobs(self) -> list[_Snapshot]:
        """Snapshots of every job the fake knows (the queue's and the history's), by id."""
        with self.lock:
            every = sorted([*self._queue.values(), *self._history], key=lambda j: (j.cluster, j.proc))
            return [self._snapshot(j) for j in every]

    def __repr__(self) -> str:
        return f"FakeCondor(progression={self.cluster.clock.progression!r}, execution={self.execution!r})"


def _attribute_value(text: str) -> classad.Value:
    """A ``+Attr = value`` literal as a Python value; anything else stays an expression."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return classad.Expr(text)
