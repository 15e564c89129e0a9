"""slurmctld of FakeSlurm: the job table, the event queue, FIFO scheduling, array ids, MinJobAge.

The controller knows every task (a plain job, or one array task) and when each one's next event is
due: two heaps index them, ``jumps`` (a task becomes eligible, an inline job reaches its end) and
``timers`` (a time limit's SIGTERM, KillWait's SIGKILL). Entries go stale when a task changes and
are dropped lazily; whoever changes a field that decides a task's next event (``eligible``,
``woken``, ``held``, ``state``, ``due_end``, ``term_at``, ``kill_at``) calls :meth:`Controller.changed`
so that its new events are indexed. A pass (:meth:`Controller.settle`) handles, in time order, what
is due, then schedules (sched/builtin: strict FIFO), so it costs what is due rather than what is known.

The node side (files, environments, processes) is :class:`~cfut.fakes._slurm.stepd.Stepd`.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import heapq
import itertools
import math
import os
import signal as signal_module
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from .. import _host
from .._cluster import Allocation, FakeCluster, Request
from .._errors import FakeUnsupported
from .._pool import PooledJob, pool
from .._process import JobHandle, deliver
from .model import END_DEFAULTS, Dependency, JobSnapshot, Outcome, Submission, Task
from .render import Context, rows, squeue_sort_key, std_paths
from .stepd import Hidden, Stepd
from .values import JobRef, parse_job_ref

LAUNCH_FAILED = 53  # the signal field of ExitCode when slurmstepd cannot set a job up (0:53)
#: squeue shows these without --states (squeue(1): "pending, running and completing by default").
DEFAULT_SQUEUE_STATES = frozenset({"PENDING", "RUNNING", "COMPLETING", "SUSPENDED", "CONFIGURING"})

_Entry = tuple[float, int, str, Task]


@dataclass(frozen=True)
class Config:
    """The cluster's configuration (slurm.conf and friends) as FakeSlurm models it."""

    execution: str
    min_job_age: float
    kill_wait: float
    time_limit_check: float
    job_duration: float
    idle_tick: float
    max_array_size: int
    partition: str
    start_delay: float
    extern_step: bool
    oversubscribe: str
    partitions: tuple[str, ...] = ("debug",)  # every partition (the first is the default), all nodes each
    def_mem_per_cpu: int = 1024  # DefMemPerCPU, MB
    cred_expire: float = 120.0  # AuthInfo=cred_expire (s): a requeued job waits it out, plus 1 s


def _queue_order(task: Task) -> int:
    return task.order


class Controller:
    """The job table and the event loop over it (see the module docstring)."""

    def __init__(self, cluster: FakeCluster, config: Config, *, first_job_id: int, accounting: bool) -> None:
        self.cluster = cluster
        self.clock = cluster.clock
        self.config = config
        self.stepd = Stepd(cluster, config.def_mem_per_cpu)
        self.accounting = accounting
        self.next_id = first_job_id
        self._seq = 0
        self.sim_time = -math.inf  # everything due at or before this has been processed
        #: Every task the controller or accounting still knows, in submission order.
        self.tasks: list[Task] = []
        # The tasks the event loop must look at (queued, running, or with a process, kill or limit
        # pending); finished ones leave it, so passes cost what is live, not the whole history.
        self._active: list[Task] = []
        self._active_dirty = False  # some task in _active may have finished since the last compaction
        self._ready: list[Task] = []  # woken pending tasks in queue order: what schedule() considers
        self._known: list[Task] = []  # tasks slurmctld may still hold (not yet purged after MinJobAge)
        self._purged = 0  # how many of _known have been purged since it was last compacted
        self._purges: list[tuple[float, int, Task]] = []  # (when MinJobAge has passed, order, task), a heap
        # job id -> the tasks it names: a plain job's, an array's (all its tasks), an array task's own id
        self._index: dict[int, list[Task]] = {}
        self._jumps: list[_Entry] = []  # "wake" (eligible), "end" (inline end)
        self._timers: list[_Entry] = []  # "term" (time limit), "kill" (KillWait)
        self._event_seq = itertools.count()
        self._task_order = itertools.count()
        self.hidden: list[Hidden] = []
        self.sched_requests: list[float] = []  # a scheduling pass asked for (a job ended, a hold released)

    # ------------------------------------------------------------------ the event index

    def changed(self, task: Task) -> None:
        """Index ``task``'s next events after a field that decides them changed."""
        seq = self._event_seq
        if task.pending and not task.woken and not task.held:
            heapq.heappush(self._jumps, (task.eligible, next(seq), "wake", task))
        if task.running and task.due_end is not None:
            heapq.heappush(self._jumps, (task.due_end, next(seq), "end", task))
        if task.term_at is not None:
            heapq.heappush(self._timers, (task.term_at, next(seq), "term", task))
        if task.kill_at is not None:
            heapq.heappush(self._timers, (task.kill_at, next(seq), "kill", task))
        if task.warn_at is not None:
            heapq.heappush(self._timers, (task.warn_at, next(seq), "warn", task))

    @staticmethod
    def _still_due(entry: _Entry) -> bool:
        at, _, kind, task = entry
        if kind == "wake":
            return task.pending and not task.woken and not task.held and task.eligible == at
        if kind == "end":
            return task.running and task.due_end == at
        if kind == "term":
            return task.term_at == at
        if kind == "warn":
            return task.warn_at == at
        return task.kill_at == at

    def _first(self, heap: list[_Entry]) -> float | None:
        while heap and not self._still_due(heap[0]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def jump_target(self) -> float:
        """The next thing an immediate-mode poll may skip ahead to: a start or an inline end; with
        nothing planned, ``idle_tick`` seconds on (a periodic pass of slurmctld)."""
        times = [x for x in (self._first(self._jumps), *self.sched_requests) if x is not None]
        return min(times, default=self.clock.now() + self.config.idle_tick)

    def quiet(self) -> bool:
        """Nothing would happen without a new command: no live task, nothing planned."""
        if self.sched_requests or self.hidden:
            return False
        return not any(t.pending or t.running or t.completing for t in self._active)

    def _next_due(self) -> float | None:
        times = [self._first(self._jumps), *self.sched_requests, self._first(self._timers),
                 *(h.due for h in self.hidden)]
        return min([x for x in times if x is not None], default=None)

    # ------------------------------------------------------------------ the event loop

    def settle(self, target: float) -> int:
        """Process, in time order, everything due at or before ``target``; count what happened."""
        if self._active_dirty:
            self._active = [t for t in self._active if t.pending or t.running or t.completing or t.proc is not None
                            or t.kill_at is not None or t.term_at is not None or t.due_end is not None]
            self._active_dirty = False
        changes = self._reap()
        while True:
            due = self._next_due()
            if due is None or due > target:
                break
            t = max(due, self.sim_time)
            changes += self._fire(t)
            changes += self.schedule(t)
        self.sim_time = max(self.sim_time, target)
        return changes + self._reap()

    def _fire(self, t: float) -> int:
        changes = 0
        self.sched_requests = [r for r in self.sched_requests if r > t]
        due: dict[int, Task] = {}
        for heap in (self._jumps, self._timers):
            while heap and heap[0][0] <= t:
                entry = heapq.heappop(heap)
                if self._still_due(entry):
                    due[id(entry[3])] = entry[3]
        ordered = sorted(due.values(), key=_queue_order)
        # jobs whose scripts run in warm processes now: all at once, then each ends in queue order
        pooled = self._run_pooled([task for task in ordered if self._script_ends(task, t)])
        for task in ordered:
            if task.pending and not task.woken and not task.held and task.eligible <= t:
                task.woken = True
                bisect.insort(self._ready, task, key=_queue_order)
                changes += 1
            elif task.running and task.due_end is not None and task.due_end <= t:
                self._end_by_itself(task, t, pooled.get(task))
                changes += 1
            if task.term_at is not None and task.term_at <= t:
                task.term_at = None
                self.stepd.message(task, t, " DUE TO TIME LIMIT")
                self.finish(task, t, "TIMEOUT", 0, 0, "TimeLimit", ("CANCELLED", 0, 15), kill=True)
                changes += 1
            if task.kill_at is not None and task.kill_at <= t:
                task.kill_at = None
                if task.proc is not None:
                    task.proc.signal_group(signal_module.SIGKILL)
            if task.warn_at is not None and task.warn_at <= t:
                task.warn_at = None
                if task.running and not task.completing:
                    self._warn(task, t)
                    changes += 1
        for hidden in [h for h in self.hidden if h.due <= t]:
            self.hidden.remove(hidden)
            self.stepd.unhide(hidden)
            changes += 1
        return changes

    # ------------------------------------------------------------------ scheduling

    def schedule(self, t: float) -> int:
        """One pass of sched/builtin: strict FIFO; the first job that does not fit blocks the rest."""
        started = 0
        blocked = False
        # The queue the scheduler looks at: woken pending tasks, in queue order (kept, not rebuilt).
        self._ready = [task for task in self._ready if task.pending and task.woken]
        running: Counter[int] | None = None  # array tasks running per array, counted when a throttle asks
        for task in self._ready:
            if not task.pending:  # started earlier in this pass (a task re-woken may be listed twice)
                continue
            task.last_sched = t
            array = task.sub.array
            if array is not None and array.throttle:
                if running is None:
                    running = Counter(x.sub.job_id for x in self._active
                                      if x.index is not None and (x.running or x.completing))
                if running[task.sub.job_id] >= array.throttle:
                    task.reason = "JobArrayTaskLimit"
                    continue
            if task.sub.dependency and not self._dependency_met(task, t):
                continue  # not eligible: it blocks nobody (reason set by _dependency_met)
            if task.eligible_at is None:
                task.eligible_at = t  # observed: a dependant's EligibleTime is the pass that found it met
            if blocked:
                task.reason = "Priority"
                continue
            request = self.request(task.sub)
            if not self._can_ever_run(task.sub, request):
                # it can never run here, and blocks nobody (observed: --nodes beyond the partition's
                # nodes is PartitionNodeLimit, anything else PartitionConfig)
                beyond = task.sub.nodes_given and task.sub.node_count > len(self.cluster.nodes) - len(task.sub.exclude)
                task.reason = "PartitionNodeLimit" if beyond else "PartitionConfig"
                continue
            alloc = self._allocate(task.sub, request)
            if alloc is None:
                task.reason = "Resources"
                blocked = True
                continue
            self._start(task, t, alloc)
            started += 1
            if task.index is not None and running is not None:
                running[task.sub.job_id] += 1
        # The tasks still pending share the array's one job record, and so its one reason.
        shared: dict[int, str] = {}
        for task in self._ready:
            if task.pending and task.woken and task.index is not None:
                task.reason = shared.setdefault(task.sub.job_id, task.reason)
        return started

    def _assign_id(self, task: Task) -> None:
        """An array task leaving the array's pending record gets its own id; the last takes the array's."""
        if task.job_id is not None:
            return
        task.sub.unassigned -= 1  # a count, not a scan of every task: starts stay O(1)
        if task.sub.unassigned > 0:
            task.job_id = self.next_id
            self.next_id += 1
            self._index.setdefault(task.job_id, []).append(task)
        else:
            task.job_id = task.sub.job_id

    def request(self, sub: Submission) -> Request:
        """What the job asks of each of its nodes (of each task for CPUs when the scheduler spreads
        its tasks): memory per node for --mem, else per CPU."""
        cpus = (sub.cpus_per_task or 1) if sub.spread else sub.cpus_per_node
        if sub.mem_mb is not None:
            return Request(cpus, sub.mem_mb, sub.gpus_per_node, sub.exclusive, whole_memory=sub.mem_mb == 0)
        per_cpu = sub.mem_per_cpu or self.config.def_mem_per_cpu
        return Request(cpus, per_cpu * cpus, sub.gpus_per_node, sub.exclusive, mem_per_cpu=per_cpu)

    def _can_ever_run(self, sub: Submission, request: Request) -> bool:
        if sub.spread:
            return self.cluster.can_ever_spread(request, sub.ntasks or 1, sub.cpus_per_task or 1, sub.exclude,
                                                nodes=sub.node_count if sub.nodes_given else None)
        nodes = [n for n in self.cluster.nodes if n.name not in sub.exclude]
        return sum(n.fits(request, now=False) for n in nodes) >= sub.node_count

    def _allocate(self, sub: Submission, request: Request) -> Allocation | None:
        saved = [(n, n.exclusive) for n in self.cluster.nodes if n.name in sub.exclude]
        for node, _ in saved:
            node.exclusive = True  # excluded nodes take nothing for this job
        try:
            if sub.spread:
                return self.cluster.spread_job(request, sub.ntasks or 1, sub.cpus_per_task or 1,
                                               nodes=sub.node_count if sub.nodes_given else None)
            return self.cluster.allocate_job(request, sub.node_count)
        finally:
            for node, exclusive in saved:
                node.exclusive = exclusive

    def _dependency_met(self, task: Task, t: float) -> bool:
        """Evaluate the job's dependency (sbatch(1) --dependency); set its reason when it waits.
        A condition that can never hold makes DependencyNeverSatisfied (observed: the job pends with
        it, or is cancelled under --kill-on-invalid-dep=yes). An aftercorr task is released as soon as
        its partner has ended; real Slurm 22.05 first splits it off its array at a scheduling pass,
        which may come up to a backfill interval (30 s) after the submission (observed in its log:
        "Split out ... for SLURM_DEPEND_AFTER_CORRESPOND use"), so there it may start later."""
        sub = task.sub
        for item in sub.dependency:
            if item.kind == "aftercorr":
                if task.index is not None and item.state_for(task.index) == "unfulfilled":
                    item.task_states[task.index] = self._corresponding(item, task)
            elif item.state == "unfulfilled":
                item.state = self._condition(item, task)
        states = [item.state_for(task.index) for item in sub.dependency]
        if sub.any_dependency:
            met, never = "fulfilled" in states, all(s == "failed" for s in states)
        else:
            met, never = all(s == "fulfilled" for s in states), "failed" in states
        if met:
            for item in sub.dependency:  # observed: Dependency=(null) once met, even by one of ? (any)
                if item.kind == "aftercorr" and task.index is not None:
                    item.task_states[task.index] = "fulfilled"
                elif item.kind != "aftercorr":
                    item.state = "fulfilled"
            return True
        task.reason = "DependencyNeverSatisfied" if never else "Dependency"
        if never and sub.kill_on_invalid_dep:
            # aftercorr fails task by task (observed: only the tasks whose partner failed, or that
            # have none, are cancelled); any other condition fails the whole array
            per_task = any(item.kind == "aftercorr" for item in sub.dependency)
            for each in [task] if per_task else [x for x in self.array_tasks(sub) if x.pending]:
                self.finish(each, t, "CANCELLED", 0, 0, "DependencyNeverSatisfied", None)
        return False

    def _corresponding(self, item: Dependency, task: Task) -> str:
        """aftercorr: task i may start once task i of the named array completed with exit code 0
        (observed: each as soon as its partner is done); it never can when its partner failed, or
        when it has none, which Slurm 22.05 says only once the whole named array is done."""
        assert item.job_id is not None
        others = self.find([JobRef(item.job_id, None, str(item.job_id))])
        partner = [o for o in others if o.index == task.index]
        if partner and partner[0].finished and not partner[0].completing:
            if partner[0].state == "COMPLETED" and partner[0].exit_code == 0:
                return "fulfilled"
        if all(o.finished and not o.completing for o in others):
            return "failed"
        return "unfulfilled"

    def _condition(self, item: Dependency, task: Task) -> str:
        if item.kind == "singleton":
            same = [t for t in self._active if t.sub.name == task.sub.name and t.sub.seq < task.sub.seq
                    and (t.pending or t.running or t.completing)]
            return "unfulfilled" if same else "fulfilled"
        assert item.job_id is not None
        tasks = None if item.task is None else frozenset({item.task})
        others = self.find([JobRef(item.job_id, tasks, f"{item.job_id}_{item.task}" if tasks else str(item.job_id))])
        if item.kind == "after":
            done = all(o.start is not None or o.finished for o in others)
            return "fulfilled" if done else "unfulfilled"
        if any(not o.finished or o.completing for o in others):
            return "unfulfilled"
        ok = all(o.state == "COMPLETED" and o.exit_code == 0 for o in others)
        if item.kind == "afterany":
            return "fulfilled"
        if item.kind == "afterok":
            return "fulfilled" if ok else "failed"
        return "failed" if ok else "fulfilled"  # afternotok

    def _warn(self, task: Task, t: float) -> None:
        """sbatch --signal: the signal reaches the job steps, or with B: the batch shell (sbatch(1));
        a job whose script runs without a process of its own (process and inline execution) has no
        step, and its shell dies of the signal's default action."""
        spec = task.sub.signal
        assert spec is not None
        if spec.signum >= signal_module.NSIG:
            if spec.batch and task.proc is not None:
                self.stepd.failed_signal(task, spec.signum, task.proc.pid)
            elif spec.batch or task.steps:
                raise FakeUnsupported(f"sbatch --signal={spec.signum}, which is no signal of this machine's, "
                                      "to a job without a process of its own or to its steps is not modelled")
            return
        if task.proc is not None:
            if spec.batch:
                task.proc.signal_shell(signal_module.SIGCONT)  # observed: CONT first, then the signal
                task.proc.signal_shell(spec.signum)
            else:
                self.signal_steps(task, spec.signum)
        elif spec.batch and spec.signum not in (signal_module.SIGCHLD, signal_module.SIGURG,
                                                signal_module.SIGWINCH, signal_module.SIGCONT):
            self.finish(task, t, "FAILED", 0, spec.signum, "JobLaunchFailure", ("CANCELLED", 0, spec.signum))
            self.sched_requests.append(t)

    def _start(self, task: Task, t: float, alloc: Allocation) -> None:
        sub = task.sub
        self._assign_id(task)
        task.alloc, task.holding = alloc, True
        nodes = alloc.nodes
        task.state, task.reason, task.start, task.nodes = "RUNNING", "None", t, nodes
        task.output_path, task.error_path = self.stepd.paths(task)
        task.env = self.stepd.job_env(task)
        if not os.path.isdir(sub.workdir) or not self.stepd.create_outputs(task):
            # slurmstepd cannot chdir or open the output: the job fails at launch (ExitCode 0:53).
            self.finish(task, t, "FAILED", 0, LAUNCH_FAILED, "JobLaunchFailure", ("CANCELLED", 0, LAUNCH_FAILED))
            return
        limit_end = None if sub.time_limit is None else self._limit_enforced_at(t + sub.time_limit * 60)
        if sub.signal is not None and sub.signal.seconds > 0 and sub.time_limit is not None:
            # (@0: no warning comes before the time limit's kill, observed)
            # sent by the periodic time-limit pass once the end is within the warning time plus the
            # pass's own period (sbatch(1): "may be sent up to 60 seconds earlier than specified";
            # observed: USR1@20 of a 1-minute job came 18 s after its start)
            # The first pass that can see the job comes after its start, never at it.
            period = self.config.time_limit_check
            first_pass = t if period <= 0 else (math.floor(t / period) + 1) * period
            task.warn_at = max(first_pass,
                               self._limit_enforced_at(t + sub.time_limit * 60 - sub.signal.seconds - period))
        if task.outcome is not None or sub.inline is not None:
            end = t + self.config.job_duration + (sub.inline.sleep_seconds if sub.inline is not None else 0.0)
            task.times_out = limit_end is not None and limit_end < end
            task.due_end = limit_end if task.times_out and limit_end is not None else end
            if (self.clock.progression != "manual" and self._script_ends(task, task.due_end)
                    and sub.inline is not None and not sub.inline.sleep_seconds):
                # On a clock that moves by itself the script starts with the job, in a free warm
                # process, as on a node: its end (at due_end) then waits for it, if it must at all.
                # A test that moves the clock by hand sees it run exactly at its end instead, and so
                # does a script that sleeps (its echo after a sleep must wait for virtual time; killed
                # before its end, it runs what it had reached: Stepd.catch_up).
                self.stepd.start_early(task)
        else:
            task.term_at = limit_end
            self.stepd.launch(task)
        self.changed(task)

    def _limit_enforced_at(self, limit_end: float) -> float:
        """slurmctld checks time limits on a periodic pass (about every 30 s in 22.05), so a job
        outlives its limit until the next pass; ``time_limit_check=0`` enforces it exactly."""
        step = self.config.time_limit_check
        return limit_end if step <= 0 else math.ceil(limit_end / step) * step

    # ------------------------------------------------------------------ how jobs end

    def _script_ends(self, task: Task, t: float) -> bool:
        """Whether ``task`` reaches its end at ``t`` by running its script in a warm process."""
        return (self.config.execution == "process" and task.running and task.due_end is not None
                and task.due_end <= t and not task.times_out and task.outcome is None and task.sub.inline is not None)

    def _catch_up(self, task: Task, t: float) -> None:
        """Before a running job is killed at ``t``: the part of its script a node would have run by
        then, where the script waits for the job's end to run (see :meth:`Stepd.catch_up`)."""
        if (self.config.execution in ("process", "inline") and task.running and task.due_end is not None
                and task.outcome is None):
            self.stepd.catch_up(task, t, self.config.job_duration, in_process=self.config.execution == "inline")

    def _run_pooled(self, tasks: list[Task]) -> dict[Task, PooledJob]:
        """Run these jobs' scripts in warm processes (or wait for those started with their job),
        together, waiting for them (until PATIENCE passes with none ending)."""
        if not tasks:
            return {}
        jobs = pool().run([task.early or self.stepd.pooled(task) for task in tasks])
        for task in tasks:
            self.stepd.forget_early(task)
        return dict(zip(tasks, jobs))

    def _end_by_itself(self, task: Task, t: float, job: PooledJob | None = None) -> None:
        """An inline, process (or outcome) job reaches its end time: time limit, outcome, or its
        script's status. A process job still running goes on as a live process until it exits."""
        if task.times_out:
            self._catch_up(task, t)
            self.stepd.message(task, t, " DUE TO TIME LIMIT")
            self.finish(task, t, "TIMEOUT", 0, 0, "TimeLimit", ("CANCELLED", 0, 15))
        elif task.outcome is not None:
            o = task.outcome
            self.finish(task, t, o.state, o.exit_code, o.signal, o.reason, batch_step(o.state, o.exit_code, o.signal))
        elif job is not None:
            status = job.poll()
            if status is not None:
                self._script_ended(task, t, status)
                return
            task.due_end = None
            task.proc = job
            self.stepd.processes.append(job)
            if task.sub.time_limit is not None and task.start is not None:
                task.term_at = self._limit_enforced_at(task.start + task.sub.time_limit * 60)
            self.changed(task)
        else:
            self._script_ended(task, t, self.stepd.run_inline(task))

    def _script_ended(self, task: Task, t: float, status: int) -> None:
        """The batch script exited with ``status`` (negative: killed by that signal)."""
        if status >= 0:
            state = "COMPLETED" if status == 0 else "FAILED"
            self.finish(task, t, state, status, 0, "None" if status == 0 else "NonZeroExitCode", (state, status, 0))
        else:
            # Slurm 22.05 reports a batch script killed by a signal as FAILED 0:S, JobLaunchFailure.
            self.finish(task, t, "FAILED", 0, -status, "JobLaunchFailure", ("CANCELLED", 0, -status))

    def signal_steps(self, task: Task, signum: int) -> None:
        """Send a signal to the tasks of the job's running steps (the children of each srun process),
        as slurmstepd does for sbatch --signal without B: and scancel --signal without --batch or
        --full; a job without steps gets nothing (observed: a batch script's own children do not)."""
        for step in task.steps:
            if step.end is not None or step.pid is None:
                continue
            deliver(functools.partial(_signal_children, step.pid, signum))

    def finish(self, task: Task, t: float, state: str, exit_code: int, sig: int, reason: str,
               batch: tuple[str, int, int] | None, *, kill: bool = False) -> None:
        """The job's final state is known. A subprocess job being killed stays COMPLETING (and keeps
        its CPUs) until its processes are gone; anything else frees its CPUs now. A step still
        running ends with it, CANCELLED (observed: by SIGTERM, 0:15, when the job is cancelled)."""
        for step in task.steps:
            if step.end is None:
                step.end, step.state, step.exit_code = t, "CANCELLED", 0
                ended_by_term = kill or state in ("CANCELLED", "TIMEOUT")
                step.signal = signal_module.SIGTERM if ended_by_term else signal_module.SIGKILL
        task.state, task.exit_code, task.signal, task.reason = state, exit_code, sig, reason
        task.end = t
        heapq.heappush(self._purges, (t + self.config.min_job_age, task.order, task))
        task.due_end = None
        task.term_at = None
        task.batch_step = batch if task.start is not None else None
        self._active_dirty = True
        if task.start is None and task.index is None:
            self._assign_id(task)  # array tasks that never ran stay in the array's record (its id)
        if kill and task.proc is not None:
            task.completing = True
            deliver(functools.partial(_terminate, task.proc))
            task.kill_at = t + self.config.kill_wait
            self.changed(task)
            return
        self._release(task)

    def _release(self, task: Task) -> None:
        self._active_dirty = True
        task.warn_at = None
        if task.alloc is not None and task.holding:
            self.cluster.release_job(task.alloc)
            task.holding = False
        self.stepd.drop(task)
        was_completing, task.completing = task.completing, False
        task.kill_at = None
        if was_completing and task.requeue_pending:
            self._back_to_queue(task, self.sim_time if self.sim_time > -math.inf else self.clock.now())
        if task.hide_for is not None and task.start is not None:
            self.hide_results(task, task.end if task.end is not None else self.sim_time)

    def _reap(self) -> int:
        """Notice subprocess jobs whose processes have exited; start what their CPUs allow."""
        if not self.stepd.processes:
            return 0
        reaped = 0
        for task in [t for t in self._active if t.proc is not None]:
            assert task.proc is not None
            status = task.proc.poll()
            if status is None:
                continue
            reaped += 1
            task.proc.kill_leftovers()
            t = max(self.sim_time, task.start or 0.0)
            if task.completing:
                if status < 0 and task.batch_step is not None:
                    # the batch step ends by the signal that finally killed it: 0:9 after KillWait
                    task.batch_step = (task.batch_step[0], 0, -status)
                self._release(task)
            else:
                self._script_ended(task, t, status)
        if reaped and self.sim_time > -math.inf:
            self.schedule(self.sim_time)
        return reaped

    def hide_results(self, task: Task, t: float) -> None:
        """Hide the results the job's worker wrote for ``task.hide_for`` seconds from ``t``."""
        seconds = task.hide_for
        task.hide_for = None
        if seconds is not None:
            self.hidden += self.stepd.hide_results(task, t, seconds)

    def cancel(self, task: Task, t: float) -> None:
        """scancel of one task: pending jobs end CANCELLED 0:0, running ones CANCELLED 0:15."""
        task.cancelled_by = self.cluster.uid
        if task.pending:
            # it keeps the reason it was pending for (scontrol shows Reason=Priority on it)
            self.finish(task, t, "CANCELLED", 0, 0, task.reason, None)
        else:
            self._catch_up(task, t)
            nodes, job_id, paths = task.nodes, task.job_id, (task.output_path, task.error_path)
            deliver(lambda: self.stepd.write_message(nodes, job_id, paths, t, ""))
            self.finish(task, t, "CANCELLED", 0, 15, "None", ("CANCELLED", 0, 15), kill=True)
            # slurmdbd records the job as it is cancelled, before the script's SIGTERM status comes
            # back: sacct shows 0:0 where scontrol shows 0:15 (observed on Slurm 22.05).
            task.accounted_exit = (0, 0)
        self.sched_requests.append(t)  # what it held or blocked may start

    def end_now(self, task: Task, outcome: Outcome, *, explicit_exit: bool) -> None:
        """The job ends now in ``outcome`` without running (the rest of) its script."""
        now = self.clock.now()
        if outcome.state != "BOOT_FAIL":  # (a node that failed to boot ran nothing)
            self._catch_up(task, now)
        self.stepd.kill_now(task)
        if outcome.state == "CANCELLED":
            task.cancelled_by = self.cluster.uid
            if task.running and not explicit_exit:
                task.accounted_exit = (0, 0)  # as scancel's (see cancel)
        self.finish(task, now, outcome.state, outcome.exit_code, outcome.signal, outcome.reason,
                    batch_step(outcome.state, outcome.exit_code, outcome.signal))
        self.sched_requests.append(now)

    def plan_outcome(self, task: Task, outcome: Outcome) -> None:
        """The job ends in ``outcome`` when it would have ended; a running process is stopped quietly."""
        task.outcome = outcome
        if task.running and task.proc is not None:
            self.stepd.kill_now(task)
            self.stepd.drop(task)
            task.term_at = None
            task.due_end = max((task.start or 0.0) + self.config.job_duration, self.clock.now())
            self.changed(task)

    def requeue(self, task: Task, t: float) -> None:
        """scontrol requeue of a running or finished task: its processes are killed (it shows COMPLETING
        meanwhile, as observed), then it pends again with Reason=BeginTime until AuthInfo's cred_expire
        + 1 s after its end (slurmctld's batch_requeue_fini; observed: 11 s with cred_expire=10, 121 s
        with the default), keeps its id, counts Restarts= (SLURM_RESTART_COUNT), gets a new SubmitTime."""
        if task.running:
            self._catch_up(task, t)
            nodes, job_id, paths = task.nodes, task.job_id, (task.output_path, task.error_path)
            deliver(lambda: self.stepd.write_message(nodes, job_id, paths, t, " DUE TO JOB REQUEUE"))
            self.finish(task, t, "CANCELLED", 0, 15, "None", ("CANCELLED", 0, 15), kill=True)
        task.requeue_pending = True
        if not task.completing:
            self._back_to_queue(task, t)

    def _back_to_queue(self, task: Task, t: float) -> None:
        task.requeue_pending = False
        task.restarts += 1
        task.requeued_at = t
        task.state, task.reason, task.exit_code, task.signal = "PENDING", "BeginTime", 0, 0
        task.start = task.end = task.due_end = None
        task.nodes, task.batch_step, task.accounted_exit, task.cancelled_by = (), None, None, None
        task.output_path = task.error_path = None
        task.times_out, task.outcome = False, None
        task.eligible, task.woken = t + self.config.cred_expire + 1, False
        task.eligible_at = None if task.held or task.sub.dependency else task.eligible
        if task not in self._active:
            self._active.append(task)
        if task not in self._known:
            self._known.append(task)
        self.changed(task)

    def hold(self, task: Task) -> None:
        """scontrol hold of a pending task: priority 0 until released."""
        task.held, task.woken = True, False
        if task.eligible <= self.clock.now():  # a --begin time still to come stays the EligibleTime shown
            task.eligible_at = None
        # root's holds are an administrator's (observed: JobHeldAdmin when run as root)
        task.reason = "JobHeldAdmin" if self.cluster.uid == 0 else "JobHeldUser"

    def release(self, task: Task) -> None:
        """scontrol release of a held task: eligible again at the next scheduling pass."""
        task.held = False
        now = self.clock.now()
        if not task.sub.dependency:  # a dependant's waits for the pass that finds it met
            task.eligible_at = max(now, task.eligible)
        # until the next scheduling pass says more (observed: BeginTime at once for a --begin to come)
        task.reason = "BeginTime" if task.eligible > now else "None"
        self.sched_requests.append(self.clock.now())
        self.changed(task)

    def delay(self, task: Task, seconds: float) -> None:
        """The pending task may start ``seconds`` after its submission (reason BeginTime)."""
        task.eligible = task.sub.submit_time + seconds
        task.woken = False
        task.reason = "BeginTime" if seconds > 0 else "Priority"
        self.changed(task)

    def withdraw(self, task: Task) -> None:
        """A pending array task cancelled by its index leaves the array's record without trace."""
        self.tasks.remove(task)
        if task in self._known:
            self._known.remove(task)
        self._index[task.sub.job_id].remove(task)
        task.sub.unassigned -= 1  # it never takes an id of its own

    # ------------------------------------------------------------------ submissions

    def new_job_id(self) -> tuple[int, int]:
        """The next job id, and the submission's sequence number."""
        job_id = self.next_id
        self.next_id += 1
        self._seq += 1
        return job_id, self._seq

    def add_submission(self, sub: Submission, eligible: float) -> None:
        # observed: Dependency at once, before BeginTime; a --begin time is the EligibleTime shown even
        # while the job is held or waits on its dependency
        reason = ("JobHeldUser" if sub.held else "Dependency" if sub.dependency
                  else "BeginTime" if eligible > sub.submit_time else "Priority")
        known = eligible if eligible > sub.submit_time or not (sub.held or sub.dependency) else None
        if sub.array is None:
            new = [Task(sub, None, sub.job_id, eligible, reason=reason, held=sub.held, eligible_at=known)]
        else:
            new = [Task(sub, i, None, eligible, reason=reason, held=sub.held, eligible_at=known)
                   for i in sub.array.indices]
            sub.unassigned = len(new)
        for task in new:
            task.order = next(self._task_order)
            self.changed(task)
        self.tasks.extend(new)
        self._active.extend(new)
        self._known.extend(new)
        self._index.setdefault(sub.job_id, []).extend(new)

    # ------------------------------------------------------------------ selection

    def controller_tasks(self, refs: Sequence[JobRef] | None = None) -> list[Task]:
        """The tasks slurmctld still holds (those ``refs`` name, when given), in queue order; purged
        ones leave for good (time only moves on)."""
        if refs is not None:
            return [t for t in self.find(refs) if self._in_controller(t)]
        now = self.clock.now()
        while self._purges and self._purges[0][0] <= now:
            _, _, task = heapq.heappop(self._purges)
            if not self._in_controller(task):
                self._purged += 1
        if self._purged * 2 > len(self._known):
            self._known = [t for t in self._known if self._in_controller(t)]
            self._purged = 0
        return [t for t in self._known if self._in_controller(t)]

    def holds_job(self, job_id: int) -> bool:
        """Whether slurmctld still holds a record under ``job_id`` (a job, or any task of an array)."""
        return any(self._in_controller(t) for t in self.find([JobRef(job_id, None, str(job_id))]))

    def find(self, refs: Sequence[JobRef]) -> list[Task]:
        """Every task (purged or not) the ``refs`` name, in queue order: ``A`` is every task of array
        A (or the job or task whose own id is A); through the index, whatever the number of jobs."""
        found: dict[int, Task] = {}
        for ref in refs:
            for task in self._index.get(ref.job_id, ()):
                if matches(task, ref):
                    found[id(task)] = task
        return sorted(found.values(), key=_queue_order)

    def _in_controller(self, task: Task) -> bool:
        """Finished jobs stay in slurmctld's memory for MinJobAge seconds, then are purged."""
        return task.end is None or task.completing or self.clock.now() < task.end + self.config.min_job_age

    def live(self, refs: Sequence[JobRef] | None = None) -> list[Task]:
        """Pending tasks, and running ones not already being killed (what scancel may act on); those
        ``refs`` name, when given."""
        tasks = self.find(refs) if refs is not None else sorted(set(self._active), key=_queue_order)
        return [t for t in tasks if t.pending or (t.running and not t.completing)]

    def array_tasks(self, sub: Submission) -> list[Task]:
        """Every task of one submission (still known to the fake)."""
        return [t for t in self._index.get(sub.job_id, ()) if t.sub is sub]

    def ours(self, uids: Collection[int] | None, me: bool) -> bool:
        """Whether the user's jobs (every job of the fake is theirs) pass a filter of users: the
        uids ``-u``/``--user`` named (None when not given; empty when none was valid) and ``--me``."""
        if uids is None and not me:
            return True
        return me or self.cluster.uid in (uids or ())

    def context(self) -> Context:
        cluster = self.cluster
        return Context(
            now=self.clock.now(), wall=self.clock.wall, user=cluster.user, uid=cluster.uid,
            group=cluster.group, gid=cluster.gid, account=cluster.user, cluster=cluster.name,
            alloc_node=f"{cluster.submit_host}:{os.getpid()}", oversubscribe=self.config.oversubscribe,
            def_mem_per_cpu=self.config.def_mem_per_cpu, node_memory=min(n.memory for n in cluster.nodes),
        )

    def tasks_for(self, job_id: str | int) -> list[Task]:
        """The tasks ``job_id`` names; ``KeyError`` if none."""
        try:
            ref = parse_job_ref(str(job_id))
        except ValueError:
            raise KeyError(f"not a job id: {job_id!r}") from None
        tasks = self.find([ref])
        if not tasks:
            raise KeyError(f"no job {job_id!r}")
        return tasks

    def by_own_id(self, job_id: str | int) -> Task:
        """The task a job's own id names (SLURM_JOB_ID inside the job: an array task's own id)."""
        wanted = int(job_id)
        for task in self._index.get(wanted, ()):
            if task.job_id == wanted and self._in_controller(task):
                return task
        raise KeyError(f"no running job {job_id!r}")

    def live_tasks(self, job_id: str | int) -> list[Task]:
        """The pending or running tasks ``job_id`` names; ``ValueError`` if all have ended."""
        tasks = [t for t in self.tasks_for(job_id) if t.pending or t.running]
        if not tasks:
            raise ValueError(f"job {job_id!r} has already ended")
        return tasks

    def queue_ids(self) -> list[str]:
        """Ids of pending and running jobs as ``squeue --array`` lists them (``12``, ``12_3``)."""
        tasks = [t for t in sorted(set(self._active), key=_queue_order) if t.shown_state in DEFAULT_SQUEUE_STATES]
        return [r.job_id() for r in sorted(rows(tasks, expand_pending=True), key=squeue_sort_key)]

    def snapshot(self, task: Task) -> JobSnapshot:
        out, err = std_paths(task, self.cluster.user)
        sub = task.sub
        return JobSnapshot(
            job_id=task.display_id, raw_job_id=task.raw_id, array_job_id=task.array_job_id,
            array_task_id=task.index, state=task.shown_state, reason=task.reason, exit_code=task.exit_code,
            signal=task.signal, name=sub.name, script=sub.script, output_path=out, error_path=err,
            workdir=sub.workdir, submit_time=sub.submit_time, eligible_time=task.eligible,
            start_time=task.start, end_time=task.end, time_limit=sub.time_limit, nodes=task.nodes,
            cpus=task.cpus, partition=sub.partition, comment=sub.comment, argv=sub.argv,
            env=MappingProxyType(dict(task.env)) if task.env is not None and sub.inline is None else None,
        )


def matches(task: Task, ref: JobRef) -> bool:
    """Whether ``ref`` names ``task`` (see :meth:`Controller.find`)."""
    if ref.tasks is not None:
        return task.sub.array is not None and task.sub.job_id == ref.job_id and task.index in ref.tasks
    if task.sub.array is not None and task.sub.job_id == ref.job_id:
        return True
    return task.job_id == ref.job_id


def outcome(state: str, exit_code: int | None, sig: int | None, reason: str | None) -> Outcome:
    """How a job made to end in ``state`` ends, with Slurm's defaults for what is not given."""
    if state not in END_DEFAULTS:
        raise ValueError(f"state must be one of {', '.join(END_DEFAULTS)}, not {state!r}")
    default_exit, default_signal, default_reason = END_DEFAULTS[state]
    return Outcome(state, default_exit if exit_code is None else exit_code,
                   default_signal if sig is None else sig, reason or default_reason)


def batch_step(state: str, exit_code: int, sig: int) -> tuple[str, int, int]:
    """The ``.batch`` step sacct lists for a job that ended in ``state``."""
    if state == "TIMEOUT":
        return ("CANCELLED", 0, 15)
    if state == "FAILED" and sig:
        return ("CANCELLED", 0, sig)
    return (state, exit_code, sig)


def _signal_children(pid: int, signum: int) -> None:
    for child in _host.children(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(child, signum)


def _terminate(proc: JobHandle) -> None:
    """slurmstepd ending a job: SIGCONT (a stopped job could not act on the rest), then SIGTERM."""
    proc.signal_group(signal_module.SIGCONT)
    proc.signal_group(signal_module.SIGTERM)
