"""FakeSlurm: an in-process Slurm 22.05 for tests, behind cfut's command-runner seam.

It answers ``sbatch``, ``squeue``, ``sacct``, ``scontrol`` and ``scancel`` with the bytes the real
commands print, from a model of a small cluster: FIFO scheduling of CPUs on nodes, job arrays, time
limits, purging of finished jobs from the controller after MinJobAge, and accounting. Batch scripts
run in processes of their own on virtual time (``execution="process"``, the default), in this
process (``execution="inline"``) or as real processes in real time (``execution="subprocess"``):
see :class:`~cfut.fakes.FakeScheduler`.

This class is a façade: the runner protocol, time and fault injection come from
:class:`~cfut.fakes.FakeScheduler` (see it for what the progressions mean); the model is the
controller (:mod:`.controller`) and the node side (:mod:`.stepd`); each command is a module
(:mod:`.sbatch`, :mod:`.squeue`, :mod:`.sacct`, :mod:`.scontrol`, :mod:`.scancel`). Anything the fake
does not model raises :class:`~cfut.fakes.FakeUnsupported` instead of guessing.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence

from ..._runner import CommandResult
from .. import _host
from .._base import FakeScheduler, Handler
from .._cluster import FakeCluster
from .._errors import FakeUnsupported
from .._process import JobHandle
from . import messages, sacct, sbatch, scancel, scontrol, sinfo, squeue
from .controller import Config, Controller, outcome
from .model import JobSnapshot, StepRecord, Task
from .options import TABLES, with_input_environment
from .stepd import cleanup

COMMANDS = ("sbatch", "squeue", "sacct", "scancel", "scontrol", "sinfo")
#: What :meth:`FakeSlurm.run` answers for an ``sbatch --wait`` whose caller went away while it waited:
#: an sbatch killed by SIGINT, as :mod:`subprocess` reports it (observed on Slurm 22.05: sbatch --wait
#: dies of SIGINT or SIGTERM printing nothing more, and its job runs on).
INTERRUPTED_RETURNCODE = -signal.SIGINT
_StatusCommand = Callable[[Controller, tuple[str, ...], Callable[[], None]], CommandResult]


class FakeSlurm(FakeScheduler):
    """A Slurm cluster in a box; pass it as an executor's ``runner=``.

    Configuration (all keyword-only; times in virtual seconds unless said): ``nodes`` ×
    ``cpus_per_node``; ``progression`` and ``execution`` (see :class:`~cfut.fakes.FakeScheduler`);
    ``min_job_age`` (MinJobAge: how long squeue still shows a finished job), ``kill_wait``
    (KillWait: from SIGTERM to SIGKILL), ``time_limit_check`` (the period of slurmctld's time-limit
    pass; 0 enforces limits exactly), ``job_duration`` (how long a job runs on the virtual clock
    under ``"process"`` and ``"inline"``, plus its script's ``sleep``), ``idle_tick`` (how far an
    immediate clock jumps when nothing is planned), ``accounting`` (whether slurmdbd answers sacct),
    ``max_array_size`` (MaxArraySize),
    ``cluster_name``, ``partition``, ``node_prefix``, ``first_job_id`` (FirstJobId),
    ``start_delay`` (before a new job is eligible), ``extern_step`` (sacct lists an ``.extern`` step,
    as with ``PrologFlags=Contain``; Slurm's default, and so the fake's, is without),
    ``oversubscribe`` (scontrol's OverSubscribe=), ``partitions`` (more partitions after the default
    ``partition``, each on every node), ``memory_per_node`` (RealMemory, MB; 0 counts none),
    ``gpus_per_node`` (GRES gpu:N), ``cpu_share`` (jobs that may share a CPU: OverSubscribe=FORCE:N),
    ``def_mem_per_cpu`` (DefMemPerCPU, MB), ``cred_expire`` (AuthInfo's, seconds: how long a requeued
    job waits before it may start again, less 1 s), ``cluster`` (a :class:`~cfut.fakes.FakeCluster` to share;
    then ``nodes``, ``cpus_per_node``, ``node_prefix``, ``progression``, ``cluster_name``,
    ``memory_per_node``, ``gpus_per_node`` and ``cpu_share`` are the cluster's). Raises
    ``ValueError`` naming a bad value.
    """

    COMMANDS = COMMANDS
    STATUS_COMMANDS = frozenset({"squeue", "sacct", "scontrol", "sinfo"})
    SUBMIT_COMMAND = "sbatch"

    def __init__(
        self,
        *,
        nodes: int = 1,
        cpus_per_node: int = 4,
        progression: str = "immediate",
        execution: str = "process",
        min_job_age: float = 300.0,
        kill_wait: float = 30.0,
        time_limit_check: float = 30.0,
        job_duration: float = 1.0,
        idle_tick: float = 5.0,
        accounting: bool = True,
        max_array_size: int = 1001,
        cluster_name: str = "cluster",
        partition: str = "debug",
        node_prefix: str = "node",
        first_job_id: int = 1,
        start_delay: float = 0.0,
        extern_step: bool = False,
        oversubscribe: str = "OK",
        cluster: FakeCluster | None = None,
        partitions: tuple[str, ...] = (),
        memory_per_node: int = 0,
        gpus_per_node: int = 0,
        cpu_share: int = 1,
        def_mem_per_cpu: int = 1024,
        cred_expire: float = 120.0,
    ) -> None:
        for name, value in (("min_job_age", min_job_age), ("kill_wait", kill_wait), ("cred_expire", cred_expire),
                            ("time_limit_check", time_limit_check),
                            ("job_duration", job_duration), ("start_delay", start_delay)):
            if value < 0:
                raise ValueError(f"{name} must not be negative, got {value!r}")
        if idle_tick <= 0:
            raise ValueError(f"idle_tick must be positive, got {idle_tick!r}")
        if max_array_size < 1 or first_job_id < 1:
            raise ValueError(f"max_array_size and first_job_id must be at least 1, got {max_array_size!r} "
                             f"and {first_job_id!r}")
        if def_mem_per_cpu < 1:
            raise ValueError(f"def_mem_per_cpu must be at least 1 (MB), got {def_mem_per_cpu!r}")
        cluster = cluster or FakeCluster(
            nodes=nodes, cpus_per_node=cpus_per_node, node_prefix=node_prefix,
            progression=progression,  # type: ignore[arg-type]  # checked by FakeClock
            name=cluster_name, memory_per_node=memory_per_node, gpus_per_node=gpus_per_node, cpu_share=cpu_share,
        )
        config = Config(execution=execution, min_job_age=float(min_job_age), kill_wait=float(kill_wait),
                        time_limit_check=float(time_limit_check), job_duration=float(job_duration),
                        idle_tick=float(idle_tick), max_array_size=max_array_size, partition=partition,
                        start_delay=float(start_delay), extern_step=extern_step, oversubscribe=oversubscribe,
                        partitions=(partition, *(p for p in partitions if p != partition)),
                        def_mem_per_cpu=def_mem_per_cpu, cred_expire=float(cred_expire))
        self._ctl = Controller(cluster, config, first_job_id=first_job_id, accounting=accounting)
        super().__init__(cluster=cluster, execution=execution)
        stepd = self._ctl.stepd
        self._finalizer = weakref.finalize(self, cleanup, stepd.processes, stepd.spool, stepd.early)

    # ------------------------------------------------------------------ FakeScheduler's hooks

    def _command_table(self) -> Mapping[str, Handler]:
        ctl, refresh = self._ctl, self._status_refresh

        def submit(argv: tuple[str, ...], *, input: str | None, env: Mapping[str, str] | None,
                   cwd: str | None) -> CommandResult:
            return sbatch.run(ctl, argv, input=input, env=env, cwd=cwd)

        def environment(name: str, argv: tuple[str, ...], env: Mapping[str, str] | None) -> tuple[str, ...]:
            """The command line as the command's input environment variables make it (see
            :func:`~.options.with_input_environment`): the caller's environment, ``env`` over this
            process's."""
            return with_input_environment(name, argv, TABLES[name][0], {**_host.environ(), **(env or {})})

        def status(name: str, command: _StatusCommand) -> Handler:
            def handler(argv: tuple[str, ...], *, input: str | None, env: Mapping[str, str] | None,
                        cwd: str | None) -> CommandResult:
                return _as_given(command(ctl, environment(name, argv, env), refresh), argv)
            return handler

        def cancel(argv: tuple[str, ...], *, input: str | None, env: Mapping[str, str] | None,
                   cwd: str | None) -> CommandResult:
            return _as_given(scancel.run(ctl, environment("scancel", argv, env)), argv)

        return {"sbatch": submit, "squeue": status("squeue", squeue.run), "sacct": status("sacct", sacct.run),
                "scontrol": status("scontrol", scontrol.run), "scancel": cancel, "sinfo": status("sinfo", sinfo.run)}

    def _settle(self, target: float) -> int:
        return self._ctl.settle(target)

    def _jump_target(self) -> float | None:
        return self._ctl.jump_target()

    def _live_processes(self) -> Sequence[JobHandle]:
        return self._ctl.stepd.processes

    def _quiet(self) -> bool:
        return self._ctl.quiet()

    def _default_failure(self, command: str) -> tuple[str, str]:
        return "", messages.TRANSIENT_FAILURES[command]

    def _shutdown(self) -> None:
        self._finalizer()

    #: Real seconds ``sbatch --wait`` on a manual clock waits for another thread to move the clock
    #: before it gives up (FakeUnsupported): nothing else moves a manual clock.
    MANUAL_WAIT_PATIENCE = 30.0

    def run(self, argv: Sequence[str], *, input: str | None = None, env: Mapping[str, str] | None = None,
            cwd: str | None = None, timeout: float | None = None,
            on_submitted: Callable[[CommandResult], None] | None = None,
            interrupted: Callable[[], bool] | None = None) -> CommandResult:
        """See :meth:`FakeScheduler.run`; ``sbatch --wait`` returns once its job has ended: on a virtual
        clock that moves by itself, at once; on a manual clock, once another thread has advanced the clock
        past the job's end (FakeUnsupported, the job left as it is, when the clock stays still for
        :attr:`MANUAL_WAIT_PATIENCE` real seconds meanwhile).

        For ``sbatch --wait``, ``on_submitted`` hears what sbatch prints at submission, before the wait
        (the fake commands on PATH print it then, as sbatch does), and ``interrupted`` is asked while it
        waits: once it says true (the caller is gone, as an sbatch killed by a signal), the wait ends, the
        job left as it is, and the reply is what sbatch had printed with :data:`INTERRUPTED_RETURNCODE`."""
        result = super().run(argv, input=input, env=env, cwd=cwd, timeout=timeout)
        if not isinstance(result, sbatch.Waiting):
            return result
        if on_submitted is not None:
            on_submitted(CommandResult(result.argv, 0, result.stdout, result.stderr))
        tasks = self._wait_for_end(result.job_id, interrupted or (lambda: False))
        if tasks is None:
            return CommandResult(result.argv, INTERRUPTED_RETURNCODE, result.stdout, result.stderr)
        codes = [1 if t.signal else t.exit_code for t in tasks]
        return CommandResult(result.argv, max(codes), result.stdout, result.stderr)

    def _wait_for_end(self, job_id: int, interrupted: Callable[[], bool]) -> list[Task] | None:
        """sbatch --wait: the job's tasks once all have ended, or None once ``interrupted()``."""
        event = threading.Event()
        moved_at, last = time.monotonic(), self.clock()
        while True:
            with self._lock:
                self._settle(self._horizon())
                tasks = self._ctl.tasks_for(job_id)
                if all(t.finished and not t.completing for t in tasks):
                    return list(tasks)
            if interrupted():
                return None
            if self.progression == "immediate":
                self.wait(event, self._ctl.config.idle_tick)
                continue
            event.wait(0.02)
            if self.progression == "manual":
                if self.clock() != last:
                    moved_at, last = time.monotonic(), self.clock()
                elif time.monotonic() - moved_at > self.MANUAL_WAIT_PATIENCE:
                    raise FakeUnsupported(
                        f"sbatch --wait: job {job_id} has not ended and the manual clock stayed at "
                        f"{last:g} s for {self.MANUAL_WAIT_PATIENCE:g} s of real time; advance it from another "
                        'thread (FakeSlurm.advance) or use progression="immediate" or "realtime"')

    # ------------------------------------------------------------------ configuration

    @property
    def min_job_age(self) -> float:
        """MinJobAge, in seconds."""
        return self._ctl.config.min_job_age

    @property
    def job_duration(self) -> float:
        """How long a job runs under ``"process"`` and ``"inline"`` (besides its script's ``sleep``),
        in virtual seconds."""
        return self._ctl.config.job_duration

    # ------------------------------------------------------------------ fault injection

    def fail_next(self, command: str, times: int = 1, *, stderr: str | None = None, returncode: int = 1,
                  lose_reply: bool = False, stdout: str | None = None, submitted: bool = False) -> None:
        """The next ``times`` calls of ``command`` fail with Slurm's transient-error text (see
        :meth:`FakeScheduler.fail_next`). ``submitted=True`` is the older name of ``lose_reply=True``
        (sbatch only: the job is created anyway, the reply was lost)."""
        super().fail_next(command, times, stderr=stderr, returncode=returncode, lose_reply=lose_reply or submitted,
                          stdout=stdout)

    def end_job(self, job_id: str | int, state: str, *, exit_code: int | None = None, signal: int | None = None,
                reason: str | None = None) -> None:
        """A pending or running job ends now in ``state`` (a state name of :data:`END_DEFAULTS`, with
        Slurm's exit code, signal and reason for it unless given), without running (the rest of) its
        script. Raises ``KeyError`` for an unknown job, ``ValueError`` for one already ended."""
        with self._lock:
            ending = outcome(state, exit_code, signal, reason)
            for task in self._ctl.live_tasks(job_id):
                self._ctl.end_now(task, ending, explicit_exit=exit_code is not None or signal is not None)

    def set_outcome(self, job_id: str | int, state: str, *, exit_code: int | None = None,
                    signal: int | None = None, reason: str | None = None) -> None:
        """The job ends in ``state`` when it would have ended (after ``job_duration`` running), without
        running its script. A subprocess job that already runs is stopped quietly and its end planned."""
        with self._lock:
            ending = outcome(state, exit_code, signal, reason)
            for task in self._ctl.live_tasks(job_id):
                self._ctl.plan_outcome(task, ending)

    def start_step(self, job_id: str | int, name: str, *, pid: int | None = None) -> int:
        """A job step (``srun`` in the batch script) starts in a running job; its number (0, 1, ...).

        The fake commands on PATH call this, with the srun process's ``pid`` (its children are the
        step's tasks, which ``scancel --signal`` and ``sbatch --signal`` reach); sacct then lists
        the step as ``ID.N``. Raises ``KeyError`` for an unknown job, ``ValueError`` if it is not
        running."""
        with self._lock:
            task = self._ctl.by_own_id(job_id)
            if not task.running:
                raise ValueError(f"job {job_id} is {task.state}, not RUNNING")
            step = StepRecord(len(task.steps), name, self.clock(), pid=pid)
            task.steps.append(step)
            return step.step_id

    def end_step(self, job_id: str | int, step_id: int, exit_code: int, signal: int = 0) -> None:
        """The step ended: COMPLETED for exit 0, FAILED otherwise (sacct ``N:0``; ``0:S`` if killed)."""
        with self._lock:
            task = self._ctl.by_own_id(job_id)
            for step in task.steps:
                if step.step_id == step_id and step.end is None:
                    step.end = self.clock()
                    step.exit_code, step.signal = exit_code, signal
                    step.state = "COMPLETED" if exit_code == 0 and signal == 0 else "FAILED"
                    if signal and task.state == "CANCELLED":
                        step.state = "CANCELLED"

    def delay_start(self, job_id: str | int, seconds: float) -> None:
        """The job cannot start before its submission time + ``seconds`` (reason ``BeginTime``).
        Raises ``ValueError`` if it is no longer pending."""
        with self._lock:
            for task in self._ctl.live_tasks(job_id):
                if not task.pending:
                    raise ValueError(f"job {task.display_id} is {task.state}, not pending")
                self._ctl.delay(task, seconds)

    def hide_results(self, job_id: str | int, seconds: float) -> None:
        """When the job ends, hide the result files its worker wrote for ``seconds`` (a slow NFS)."""
        with self._lock:
            for task in self._ctl.tasks_for(job_id):
                task.hide_for = seconds
                if task.finished and not task.completing and task.start is not None:
                    self._ctl.hide_results(task, self.clock())

    def set_accounting(self, enabled: bool) -> None:
        """Switch slurmdbd on or off: sacct then answers, or says accounting is disabled."""
        with self._lock:
            self._ctl.accounting = bool(enabled)

    # ------------------------------------------------------------------ inspection

    def queue(self) -> list[str]:
        """Ids of pending and running jobs as ``squeue --array`` lists them (``12``, ``12_3``). On an
        immediate clock, jobs whose processes are ending are let end first (at most half a second)."""
        self._settle_for_inspection()
        with self._lock:
            return self._ctl.queue_ids()

    def job(self, job_id: str | int) -> JobSnapshot:
        """A snapshot of one job or array task; ``KeyError`` if unknown, ``ValueError`` if it names a
        whole array of several tasks (say ``"12_3"``)."""
        with self._lock:
            tasks = self._ctl.tasks_for(job_id)
            if len(tasks) != 1:
                raise ValueError(f"{job_id!r} names {len(tasks)} array tasks; name one, e.g. "
                                 f"{tasks[0].display_id!r}")
            return self._ctl.snapshot(tasks[0])

    def jobs(self) -> list[JobSnapshot]:
        """Snapshots of every job the fake knows, purged or not, in submission order."""
        with self._lock:
            return [self._ctl.snapshot(t) for t in self._ctl.tasks]

    @property
    def spool_dir(self) -> str | None:
        """The private directory (mode 0700) subprocess jobs' scripts are written to, once made;
        removed by :meth:`close`."""
        spool = self._ctl.stepd.spool
        return spool[0] if spool else None

    def __repr__(self) -> str:
        return (f"FakeSlurm(progression={self.progression!r}, execution={self.execution!r},"
                f" nodes={len(self.cluster.nodes)}, cpus_per_node={self.cluster.cpus_per_node},"
                f" jobs={len(self._ctl.tasks)})")


def _as_given(result: CommandResult, argv: tuple[str, ...]) -> CommandResult:
    """The result under the command line as given (not as its environment completed it)."""
    return result if result.argv == argv else dataclasses.replace(result, argv=argv)
