"""The schedd (and startd and starter) of FakeCondor: the queue, the history, scheduling, job ends,
and the job event log each job writes.

Jobs are matched to slots first come first served in (cluster, proc) order; a completed or removed
job leaves the queue at once for the history, as HTCondor's do (unless ``leave_in_queue``, not
modelled). Every change a job goes through writes its event to the job's event log, in HTCondor's
text framing (:mod:`.eventlog`).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

from .._cluster import FakeCluster
from .._inline import InlineScript, run_inline, run_worker_in_process, worker_args
from .._jobworker import JobSpec
from .._pool import Job, PooledJob, pool, run_cut_short
from .._process import JobHandle, JobProcess
from . import classad, messages
from . import eventlog as log

# JobStatus codes (reference 2.2, proc.h)
IDLE, RUNNING, REMOVED, COMPLETED, HELD = 1, 2, 3, 4, 5
STATE_NAMES = {IDLE: "IDLE", RUNNING: "RUNNING", REMOVED: "REMOVED", COMPLETED: "COMPLETED", HELD: "HELD"}


@dataclass(eq=False)
class CondorJob:
    """One proc of a cluster: its ClassAd, and what the fake needs to run it."""

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
    process: JobHandle | None = None
    inline: InlineScript | None = None  # the checked shell script an inline job runs (None: the worker)
    real: bool = False  # its executable runs as a real process (execution "subprocess", or outside the shell)
    sys_path: tuple[str, ...] = ()  # the submitting process's sys.path (execution="process")
    umask: int = 0o022
    hold_at_submit: bool = False  # submit description's ``hold = true``
    leave_at: float | None = None  # removed while running: leaves the queue at the next step
    remove_reason: str = ""
    slot: int = 0  # its dynamic slot's number on its node (slot1_N), once started

    @property
    def job_id(self) -> str:
        return f"{self.cluster}.{self.proc}"

    @property
    def key(self) -> tuple[int, int]:
        return (self.cluster, self.proc)


class Schedd:
    """The queue and history of one schedd on a :class:`~cfut.fakes.FakeCluster`."""

    def __init__(self, cluster: FakeCluster, *, execution: str, job_duration: float, name: str) -> None:
        self.cluster = cluster
        self.clock = cluster.clock
        self.execution = execution
        self.job_duration = job_duration
        self.name = name
        self.next_cluster = 1
        self.queue: dict[str, CondorJob] = {}
        self.history: list[CondorJob] = []
        #: Every job event log file written to.
        self.event_logs: set[str] = set()
        #: Everything written to each event log, kept even after the file is removed (for checks).
        self._written: dict[str, list[str]] = {}
        #: Fault: while True, jobs write nothing to their event logs (a log that is silent or lost).
        self.silent_log = False
        self._at: float | None = None  # the time of the event being processed, during settle()
        self._settled_to = -math.inf  # everything due at or before this has been processed
        self._slot_numbers: dict[str, int] = {}  # the last dynamic slot number given on each node

    # ------------------------------------------------------------------ time and the event log

    def now(self) -> float:
        """The time things happen at: the event being processed, else the clock's now."""
        return self._at if self._at is not None else self.clock.now()

    def epoch(self) -> float:
        return self.clock.wall(self.now())

    def event(self, job: CondorJob, code: int, body: str) -> None:
        if job.log and not self.silent_log:
            text = log.append_event(job.log, code, job.cluster, job.proc, self.epoch(), body)
            self.event_logs.add(job.log)
            self._written.setdefault(job.log, []).append(text)  # joined when asked: one log may hold 10,000 jobs

    @property
    def written_events(self) -> dict[str, str]:
        """Everything written to each event log, kept even after the file is removed (for checks)."""
        return {path: "".join(chunks) for path, chunks in self._written.items()}

    @staticmethod
    def host(name: str) -> str:
        """A daemon's sinful string, as events show it."""
        return f"<127.0.0.1:9618?addrs=127.0.0.1-9618&alias={name}&noUDP&sock={name}>"

    def set_status(self, job: CondorJob, status: int) -> None:
        job.status = status
        job.ad["JobStatus"] = status
        job.ad["EnteredCurrentStatus"] = int(self.epoch())

    # ------------------------------------------------------------------ submission

    def enqueue(self, jobs: Iterable[CondorJob]) -> None:
        """Queue materialized jobs: SUBMIT events, and HELD at once for ``hold = true``."""
        for job in jobs:
            job.submitted = self.now()
            job.ad["QDate"] = int(self.epoch())
            self.set_status(job, IDLE)
            self.queue[job.job_id] = job
            self.event(job, log.SUBMIT, log.submit_body(self.host(self.name)))
            if job.hold_at_submit:
                reason = messages.HELD_AT_SUBMIT
                job.ad.update(HoldReason=reason, HoldReasonCode=15, HoldReasonSubCode=0)
                self.set_status(job, HELD)
                self.event(job, log.HELD, log.held_body(reason, 15, 0))

    def new_cluster(self) -> int:
        cluster = self.next_cluster
        self.next_cluster += 1
        return cluster

    # ------------------------------------------------------------------ the event loop

    def settle(self, target: float) -> int:
        """Let everything due at or before ``target`` happen, in time order, each at its own time
        (removals, inline ends, then starts in queue order); count what happened."""
        changes = self._reap()
        floor = self._settled_to
        last = -math.inf
        while True:
            # ends and removals are due until handled; an idle job is worth a pass once per time
            times = [j.leave_at for j in self.queue.values() if j.leave_at is not None]
            times += [j.ends_at for j in self.queue.values()
                      if j.status == RUNNING and j.process is None and j.ends_at is not None]
            times += [start for j in self.queue.values() if j.status == IDLE
                      and (start := max(j.submitted, floor)) > last]
            due = [x for x in times if x <= target]
            if not due:
                break
            at = min(due)
            self._at = max(at, floor)
            try:
                step = self._step_at(self._at)
            finally:
                self._at = None
            changes += step
            if step == 0 and at <= last:
                break
            last = max(last, at)
        self._settled_to = max(self._settled_to, target)
        return changes

    def _reap(self) -> int:
        """Notice subprocess jobs whose processes have exited (at the clock's now)."""
        reaped = 0
        for job in [j for j in self.queue.values() if j.process is not None and j.status == RUNNING]:
            assert job.process is not None
            code = job.process.poll()
            if code is not None:
                job.process.kill_leftovers()
                self.finish(job, *((None, -code) if code < 0 else (code, None)))
                reaped += 1
        return reaped

    def _step_at(self, at: float) -> int:
        """What is due at ``at``: removals, inline ends, then starts in queue order."""
        changes = 0
        ending = [job for job in self.queue.values()
                  if job.status == RUNNING and job.process is None and job.ends_at is not None and job.ends_at <= at
                  and not (job.leave_at is not None and job.leave_at <= at)]
        pooled = self._run_pooled([job for job in ending if self.execution == "process" and job.outcome is None])
        for job in list(self.queue.values()):
            if job.leave_at is not None and job.leave_at <= at:
                self.stop_process(job)
                self.leave(job, removed=True)
                changes += 1
            elif job.status == RUNNING and job.process is None and job.ends_at is not None and job.ends_at <= at:
                self._finish_inline(job, pooled.get(job))
                changes += 1
        # the queue holds jobs in (cluster, proc) order: they enter it only at submission, clusters
        # numbered upwards; a full pool starts nothing, so the pass stops there
        for job in list(self.queue.values()):
            if not any(node.free > 0 for node in self.cluster.nodes):
                break
            if job.status == IDLE and job.submitted <= at and self._try_start(job):
                changes += 1
        return changes

    def jump_target(self, horizon: float) -> float | None:
        """The next start or inline end an immediate clock may jump to."""
        due = [j.ends_at for j in self.queue.values()
               if j.status == RUNNING and j.ends_at is not None and j.process is None]
        due += [j.leave_at for j in self.queue.values() if j.leave_at is not None]
        due += [j.submitted for j in self.queue.values() if j.status == IDLE and j.submitted > horizon]
        return min(due, default=None)

    def live_processes(self) -> list[JobHandle]:
        return [j.process for j in self.queue.values() if j.process is not None]

    def _try_start(self, job: CondorJob) -> bool:
        nodes = self.cluster.allocate(job.cpus)
        if nodes is None:
            return False
        job.nodes = nodes
        job.started = self.now()
        self.set_status(job, RUNNING)
        starts = job.ad.get("NumJobStarts", 0)
        job.ad["NumJobStarts"] = (starts if isinstance(starts, int) else 0) + 1
        # the dynamic slot the partitionable slot slot1 carves out for it, numbered per node
        self._slot_numbers[nodes[0]] = job.slot = self._slot_numbers.get(nodes[0], 0) + 1
        job.ad["RemoteHost"] = f"slot1_{job.slot}@{nodes[0]}"
        self.event(job, log.EXECUTE, log.execute_body(self.host(nodes[0])))
        for handle in self._open_outputs(job):  # the starter creates stdout/stderr as the job starts
            if handle is not None and not handle.closed:
                handle.close()
        if job.real and job.outcome is None:
            job.process = self._spawn(job)
            job.ends_at = None
        else:
            job.ends_at = self.now() + self.job_duration + (job.inline.sleep_seconds if job.inline else 0.0)
        return True

    @staticmethod
    def _open_outputs(job: CondorJob) -> tuple[IO[bytes] | None, IO[bytes] | None]:
        out = open(job.output, "ab") if job.output else None  # noqa: SIM115 - closed by the caller
        if job.error and job.error == job.output:
            return out, out
        err = open(job.error, "ab") if job.error else None  # noqa: SIM115
        return out, err

    def _spawn(self, job: CondorJob) -> JobProcess:
        out, err = self._open_outputs(job)
        out = out if out is not None else open(os.devnull, "wb")  # noqa: SIM115
        err = err if err is not None else open(os.devnull, "wb")  # noqa: SIM115
        try:
            return JobProcess([job.executable, *job.arguments], cwd=job.iwd, env=job.env, stdout=out, stderr=err,
                              umask=job.umask)
        finally:
            for handle in {id(h): h for h in (out, err) if h is not None}.values():
                handle.close()

    def _run_pooled(self, jobs: list[CondorJob]) -> dict[CondorJob, PooledJob]:
        """Run these jobs in warm processes, together, waiting for them (until PATIENCE passes with none ending)."""
        if not jobs:
            return {}
        return dict(zip(jobs, pool().run([self._pooled(job) for job in jobs])))

    @staticmethod
    def _pooled(job: CondorJob) -> Job:
        """What a warm process needs to run the job's executable."""
        same = job.error is not None and job.error == job.output
        return (JobSpec(script=job.inline, worker_args=tuple(worker_args([job.executable, *job.arguments]) or ()),
                        cwd=job.iwd, umask=job.umask, stdout=job.output or os.devnull,
                        stderr=None if same else job.error or os.devnull, sys_path=job.sys_path,
                        script_name=job.executable), job.env)

    def _catch_up(self, job: CondorJob) -> None:
        """Before a running job is stopped (condor_rm, condor_hold, an eviction) while its script waits
        for its end to run: what the script had reached by then on an execute node, so that its output
        is there (see :func:`~cfut.fakes._pool.run_cut_short`)."""
        if job.inline is None or job.ends_at is None or job.outcome is not None or job.started is None:
            return
        until = self.now() - job.started
        run_cut_short(self._pooled(job), until, self.job_duration, in_process=self.execution == "inline",
                      here=lambda: self._run_here(job, until))

    def _finish_inline(self, job: CondorJob, pooled: PooledJob | None = None) -> None:
        """A job's time is up: its outcome, or its executable run now (in a warm process, or in this
        one for execution="inline"). A process still running goes on as a live process until it exits."""
        if job.outcome is not None:
            self.finish(job, *job.outcome)
            return
        if pooled is not None:
            code = pooled.poll()
            if code is None:
                job.process, job.ends_at = pooled, None
                return
            self.finish(job, *((None, -code) if code < 0 else (code & 0xFF, None)))
            return
        code = self._run_here(job)
        # a negative status is the signal that killed the job: the starter reports it as such
        # (JOB_TERMINATED "(0) Abnormal termination (signal N)")
        self.finish(job, *((None, -code) if code < 0 else (code & 0xFF, None)))

    def _run_here(self, job: CondorJob, until: float | None = None) -> int:
        """Run the job's executable in this process (up to ``until``: see :func:`run_inline`); its status."""
        with contextlib.ExitStack() as stack:
            out = stack.enter_context(open(job.output or os.devnull, "a"))
            same = job.error is not None and job.error == job.output
            err = out if same else stack.enter_context(open(job.error or os.devnull, "a"))

            def worker(args: list[str]) -> int:
                return run_worker_in_process(args, stdout=out, stderr=err)

            if job.inline is not None:
                return run_inline(job.inline, env=job.env, out=out, err=err, run_worker=worker,
                                  script_name=job.executable, until=until, worker_seconds=self.job_duration)
            return worker(worker_args([job.executable, *job.arguments]) or [])

    def finish(self, job: CondorJob, exit_code: int | None, signal: int | None) -> None:
        """The job's process ended (exit code, or the signal that killed it): TERMINATED, history."""
        self.cluster.release(job.nodes, job.cpus)
        job.process = None
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.epoch()))
        self.event(job, log.TERMINATED, log.terminated_body(exit_code=exit_code, signal=signal, iso_end=iso))
        job.ad["ExitBySignal"] = signal is not None
        if signal is not None:
            job.ad["ExitSignal"] = signal
            job.ad.pop("ExitCode", None)
        else:
            job.ad["ExitCode"] = exit_code or 0
        job.ad["CompletionDate"] = int(self.epoch())
        self.set_status(job, COMPLETED)
        self.leave(job, removed=False)

    def leave(self, job: CondorJob, *, removed: bool) -> None:
        """Completed and removed jobs leave the queue at once, for the history."""
        if removed:
            if job.nodes and job.status in (RUNNING, REMOVED) and job.started is not None:
                self.cluster.release(job.nodes, job.cpus)
                job.nodes = ()
            self.set_status(job, REMOVED)
            self.event(job, log.ABORTED, log.aborted_body(job.remove_reason))
        job.leave_at = None
        self.queue.pop(job.job_id, None)
        self.history.append(job)

    @staticmethod
    def stop_process(job: CondorJob) -> None:
        if job.process is not None:
            job.process.kill_and_reap()
            job.process = None

    def shutdown(self) -> None:
        for job in self.queue.values():
            self.stop_process(job)

    # ------------------------------------------------------------------ what happens to jobs

    def get(self, job_id: str) -> CondorJob:
        job = self.queue.get(job_id)
        if job is None:
            raise KeyError(f"job {job_id} is not in the queue")
        return job

    def find(self, job_id: str) -> CondorJob | None:
        """A job in the queue or the history."""
        return self.queue.get(job_id) or next((j for j in self.history if j.job_id == job_id), None)

    def sorted_queue(self) -> list[CondorJob]:
        return sorted(self.queue.values(), key=lambda j: j.key)

    def _vacate(self, job: CondorJob) -> None:
        self._catch_up(job)
        self.stop_process(job)
        self.cluster.release(job.nodes, job.cpus)
        job.nodes, job.ends_at = (), None

    def hold(self, job: CondorJob, reason: str, code: int, subcode: int) -> None:
        if job.status == RUNNING:
            self._vacate(job)
        job.ad.update(HoldReason=reason, HoldReasonCode=code, HoldReasonSubCode=subcode)
        self.set_status(job, HELD)
        self.event(job, log.HELD, log.held_body(reason, code, subcode))

    def release(self, job: CondorJob) -> None:
        for key in ("HoldReason", "HoldReasonCode", "HoldReasonSubCode"):
            job.ad.pop(key, None)
        self.set_status(job, IDLE)
        self.event(job, log.RELEASED, log.released_body(messages.RELEASE_REASON.format(user=self.cluster.user)))

    def evict(self, job: CondorJob) -> None:
        self._vacate(job)
        self.set_status(job, IDLE)
        self.event(job, log.EVICTED, log.evicted_body())

    def remove(self, job: CondorJob, reason: str) -> None:
        job.remove_reason = reason
        job.ad["RemoveReason"] = reason
        if job.status == RUNNING:
            # The shadow still has to stop the job: it shows X until then, and the abort is logged
            # when it leaves the queue.
            self._catch_up(job)
            self.set_status(job, REMOVED)
            job.leave_at = self.now()
            job.ends_at = None
        else:
            self.leave(job, removed=True)
