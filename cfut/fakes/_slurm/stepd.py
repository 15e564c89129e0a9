"""The node side of FakeSlurm: what slurmd and slurmstepd do with a job the controller started.

They expand the job's output paths and create its files, build its environment, run its batch
script (as a real process from a private spool directory, or inline in this process), signal and
kill it, and write slurmstepd's lines into its error file. The controller decides *when*; this module
knows *how*. Nothing here changes a task's state.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass

from .._cluster import FakeCluster
from .._inline import run_inline, run_worker_in_process
from .._jobworker import JobSpec
from .._pool import Job, PooledJob, pool, run_cut_short
from .._process import JobHandle, JobProcess
from . import messages
from .model import Task
from .values import compress_counts, compress_hostlist, expand_filename, slurm_date

#: The line the cfut worker logs for each result file it wrote (``cfut._worker``).
RESULT_LINE = "cfut worker: wrote result "


#: What slurmd sets in a batch script's environment and the fake does not, and why.
UNSET_BATCH_VARIABLES = {
    "SLURM_CONF": "the fake has no slurm.conf",
    "SLURM_WORKING_CLUSTER": "name:host:port of a slurmctld, which the fake has not",
    "TMPDIR": "slurmd's TmpFS when the job has none; the fake leaves the job's own",
}


@dataclass
class Hidden:
    """A result file renamed away (``hide_results``), to be put back at ``due``."""

    due: float
    hidden: str
    original: str


def cleanup(processes: list[JobHandle], spool: list[str], early: set[PooledJob] | None = None) -> None:
    """Kill what is still running and remove the spool directory (at close() or garbage collection)."""
    for process in [*processes, *(early or ())]:
        process.kill_and_reap()
        process.cleanup()
    processes.clear()
    if early is not None:
        early.clear()
    for path in spool:
        shutil.rmtree(path, ignore_errors=True)
    spool.clear()


class Stepd:
    """slurmd/slurmstepd of every node: job files, environments, processes."""

    def __init__(self, cluster: FakeCluster, def_mem_per_cpu: int = 1024) -> None:
        self.cluster = cluster
        self.def_mem_per_cpu = def_mem_per_cpu
        #: The job processes running (or not yet reaped), in launch order.
        self.processes: list[JobHandle] = []
        self.spool: list[str] = []  # the spool directory, once made
        #: Scripts started with their jobs (execution="process" on a clock that moves by itself).
        self.early: set[PooledJob] = set()

    # ------------------------------------------------------------------ launch

    def paths(self, task: Task) -> tuple[str, str | None]:
        """The job's output and error paths (``--output``/``--error`` patterns expanded, in its workdir)."""
        sub = task.sub
        assert task.job_id is not None

        def expand(pattern: str) -> str:
            path = expand_filename(pattern, job_id=task.job_id or 0,
                                   array_job_id=sub.job_id if sub.array is not None else None,
                                   task_id=task.index, name=sub.name, user=self.cluster.user,
                                   node=task.nodes[0] if task.nodes else None)
            return os.path.join(sub.workdir, path)

        default = "slurm-%A_%a.out" if sub.array is not None else "slurm-%j.out"
        return expand(sub.output or default), expand(sub.error) if sub.error else None

    def create_outputs(self, task: Task) -> bool:
        """Create (truncate or append to) the output and error files, as slurmstepd does at launch,
        mode 0666 less the job's umask (observed: 0600 under SLURM_UMASK=0077, 0664 under umask 002);
        False when it cannot (the job then fails to launch)."""
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if task.sub.open_mode == "append" else os.O_TRUNC)
        mode = 0o666 & ~task.sub.umask
        try:
            for path in (task.output_path, task.error_path):
                if path is not None:
                    existed = os.path.exists(path)
                    fd = os.open(path, flags, mode)
                    try:
                        if not existed:
                            os.fchmod(fd, mode)  # this process's own umask must not count
                    finally:
                        os.close(fd)
        except OSError:
            return False
        return True

    def job_env(self, task: Task) -> dict[str, str]:
        """The environment of the batch script: what sbatch exported plus the SLURM_* variables."""
        sub = task.sub
        cluster = self.cluster
        per_node = task.alloc.cpus if task.alloc is not None else (sub.cpus_per_node,) * sub.node_count
        # tasks per node as slurmctld lays them out: the node's CPUs over --cpus-per-task (observed: a
        # whole node of 2 CPUs for one task is SLURM_TASKS_PER_NODE=2; --ntasks=3 over 2+1 CPUs is "2,1")
        tasks_per_node = tuple(max(1, cpus // (sub.cpus_per_task or 1)) for cpus in per_node)
        slurm = {
            "SLURM_JOB_ID": str(task.job_id), "SLURM_JOBID": str(task.job_id),
            "SLURM_JOB_NAME": sub.name, "SLURM_SUBMIT_DIR": sub.submit_dir,
            "SLURM_SUBMIT_HOST": cluster.submit_host,
            "SLURM_JOB_NODELIST": compress_hostlist(task.nodes), "SLURM_NODELIST": compress_hostlist(task.nodes),
            "SLURMD_NODENAME": task.nodes[0], "SLURM_CPUS_ON_NODE": str(per_node[0]),
            "SLURM_JOB_CPUS_PER_NODE": compress_counts(per_node), "SLURM_JOB_PARTITION": sub.partition,
            "SLURM_TASKS_PER_NODE": compress_counts(tasks_per_node),
            "SLURM_CLUSTER_NAME": cluster.name, "SLURM_JOB_NUM_NODES": str(len(per_node)),
            "SLURM_NNODES": str(len(per_node)), "SLURM_JOB_USER": cluster.user,
            "SLURM_JOB_UID": str(cluster.uid), "SLURM_JOB_GID": str(cluster.gid),
            "SLURM_JOB_ACCOUNT": cluster.user, "SLURM_JOB_QOS": "normal",
            "SLURM_GTIDS": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_PROCID": "0",
            "SLURM_TASK_PID": "0", "ENVIRONMENT": "BATCH", "SLURM_NODE_ALIASES": "(null)",
            "SLURM_PRIO_PROCESS": str(os.getpriority(os.PRIO_PROCESS, 0)),  # sbatch's nice value
            "SLURM_TOPOLOGY_ADDR": task.nodes[0], "SLURM_TOPOLOGY_ADDR_PATTERN": "node",
        }
        if sub.ntasks is not None:
            slurm["SLURM_NTASKS"] = slurm["SLURM_NPROCS"] = str(sub.ntasks)
        # observed on Slurm 22.05: SLURM_MEM_PER_NODE for --mem, else SLURM_MEM_PER_CPU (--mem-per-cpu,
        # or DefMemPerCPU), in MB
        if sub.mem_mb == 0:
            pass  # --mem=0 (all of each node's memory): neither variable (observed)
        elif sub.mem_mb is not None:
            slurm["SLURM_MEM_PER_NODE"] = str(sub.mem_mb)
        else:
            slurm["SLURM_MEM_PER_CPU"] = str(sub.mem_per_cpu or self.def_mem_per_cpu)
        gpus = task.alloc.gpus[0] if task.alloc is not None and task.alloc.gpus else ()
        if gpus:
            devices = ",".join(str(i) for i in gpus)
            slurm.update({"CUDA_VISIBLE_DEVICES": devices, "SLURM_JOB_GPUS": devices,
                          "SLURM_GPUS_ON_NODE": str(len(gpus)), **sub.gpus_env})
        if task.restarts:
            slurm["SLURM_RESTART_COUNT"] = str(task.restarts)
        if sub.open_mode_given:
            slurm["SLURM_OPEN_MODE"] = "a" if sub.open_mode == "append" else "t"  # for srun --output
        if sub.cpus_per_task is not None:
            slurm["SLURM_CPUS_PER_TASK"] = str(sub.cpus_per_task)
        if sub.array is not None and task.index is not None:
            indices = sub.array.indices
            slurm.update({
                "SLURM_ARRAY_JOB_ID": str(sub.job_id), "SLURM_ARRAY_TASK_ID": str(task.index),
                "SLURM_ARRAY_TASK_COUNT": str(len(indices)), "SLURM_ARRAY_TASK_MIN": str(sub.array.bounds[0]),
                "SLURM_ARRAY_TASK_MAX": str(sub.array.bounds[1]),
            })
            slurm["SLURM_ARRAY_TASK_STEP"] = str(sub.array.task_step)
        return {**sub.env, **slurm}

    def launch(self, task: Task) -> None:
        """Start a subprocess job: the script from a private spool directory, as slurmd does."""
        if not self.spool:
            self.spool.append(tempfile.mkdtemp(prefix="cfut-fake-slurm-"))  # mode 0700
        assert task.output_path is not None and task.env is not None
        with contextlib.ExitStack() as stack:
            out = stack.enter_context(open(task.output_path, "ab"))
            err = stack.enter_context(open(task.error_path, "ab")) if task.error_path else None
            task.proc = JobProcess.from_script(
                script=task.sub.script, script_args=task.sub.script_args, spool_dir=self.spool[0],
                name=f"job{task.job_id}.sh", cwd=task.sub.workdir, env=task.env, stdout=out, stderr=err,
                umask=task.sub.umask,
            )
        self.processes.append(task.proc)

    def pooled(self, task: Task) -> Job:
        """What a warm process needs to run the job's script (``execution="process"``)."""
        sub = task.sub
        assert sub.inline is not None and task.output_path is not None and task.env is not None
        return JobSpec(script=sub.inline, worker_args=(), cwd=sub.workdir, umask=sub.umask,
                       stdout=task.output_path, stderr=task.error_path, sys_path=sub.sys_path,
                       script_name=f"/var/spool/slurmd/job{task.job_id}/slurm_script"), task.env

    def start_early(self, task: Task) -> None:
        """Start the job's script now in a free warm process, if there is one (else it runs at its end)."""
        job = pool().start(self.pooled(task), only_free=True)
        if job is not None:
            task.early = job
            self.early.add(job)

    def forget_early(self, task: Task) -> None:
        if task.early is not None:
            self.early.discard(task.early)
            task.early = None

    def run_inline(self, task: Task, until: float | None = None, worker_seconds: float = 0.0) -> int:
        """Run an inline job's script now (up to ``until``: see :func:`run_inline`); its status
        (negative: killed by that signal)."""
        script = task.sub.inline
        assert script is not None and task.output_path is not None and task.env is not None
        with contextlib.ExitStack() as stack:
            out = stack.enter_context(open(task.output_path, "a"))
            err = stack.enter_context(open(task.error_path, "a")) if task.error_path else out
            return run_inline(script, env=task.env, out=out, err=err,
                              run_worker=lambda args: run_worker_in_process(args, stdout=out, stderr=err),
                              script_name=f"/var/spool/slurmd/job{task.job_id}/slurm_script", until=until,
                              worker_seconds=worker_seconds)

    def catch_up(self, task: Task, t: float, worker_seconds: float, in_process: bool) -> None:
        """The job is killed at ``t`` before its script ran (execution "process" or "inline" run it at
        the job's end): run what it had reached by then on a node, so that its output is there before
        slurmstepd's line, as on a node. A worker it had run to the end runs in a warm process unless
        ``in_process``; builtins (echo, ...) alone run here."""
        script = task.sub.inline
        if task.early is not None:
            # started with the job: what it wrote so far goes before slurmstepd's line (it ran its
            # commands without spending their sleep, and is cut where it is now, in a worker if at all)
            self.stop_early(task)
            return
        if script is None or task.start is None or task.output_path is None:
            return
        until = t - task.start
        run_cut_short(self.pooled(task), until, worker_seconds, in_process=in_process,
                      here=lambda: self.run_inline(task, until, worker_seconds))

    # ------------------------------------------------------------------ processes

    def stop_early(self, task: Task) -> None:
        """End the job's script started with it (SIGKILL to its process group; reaped), if any."""
        if task.early is not None:
            task.early.kill_and_reap()
            self.forget_early(task)

    def drop(self, task: Task) -> None:
        """The job's processes are gone: forget them and remove its spool file. A script started
        with the job that still runs is ended (the job ended some other way: cancelled, ...)."""
        self.stop_early(task)
        if task.proc is None:
            return
        task.proc.cleanup()
        if task.proc in self.processes:
            self.processes.remove(task.proc)
        task.proc = None

    def kill_now(self, task: Task) -> None:
        """SIGKILL every process of the job and reap it (the node took the job away)."""
        self.stop_early(task)
        if task.proc is not None:
            task.proc.kill_and_reap()

    # ------------------------------------------------------------------ files

    def message(self, task: Task, t: float, why: str) -> None:
        """slurmstepd's line in the job's error file when it kills a running job."""
        self.write_message(task.nodes, task.job_id, (task.output_path, task.error_path), t, why)

    def failed_signal(self, task: Task, signum: int, pid: int) -> None:
        """slurmstepd's line in the job's error file for --signal=B:N that is no signal (the job runs on)."""
        path = task.error_path or task.output_path
        if path is not None and task.nodes:
            with contextlib.suppress(OSError), open(path, "a") as handle:
                handle.write(messages.STEPD_FAILED_SIGNAL.format(node=task.nodes[0], signal=signum, pid=pid,
                                                                 job=task.job_id))

    def write_message(self, nodes: tuple[str, ...], job_id: int | None, paths: tuple[str | None, str | None],
                      t: float, why: str) -> None:
        """:meth:`message` for a job that was on ``nodes`` with these output and error files (the
        line may be written after the job record moved on: see :func:`~cfut.fakes._process.deliver`)."""
        path = paths[1] or paths[0]
        if path is None or not nodes:
            return
        when = slurm_date(self.cluster.clock.wall(t))
        line = messages.STEPD_CANCELLED.format(node=nodes[0], job=job_id, when=when, why=why)
        # into the file the job has open: one removed meanwhile is not created again
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)

    def hide_results(self, task: Task, t: float, seconds: float) -> list[Hidden]:
        """Rename the result files the worker says it wrote, to be put back ``seconds`` after ``t``."""
        paths: list[str] = []
        for log in dict.fromkeys(p for p in (task.output_path, task.error_path) if p is not None):
            try:
                with open(log) as handle:
                    paths += [line[len(RESULT_LINE):].rstrip("\n") for line in handle if line.startswith(RESULT_LINE)]
            except OSError:
                continue
        hidden = []
        for path in paths:
            directory, name = os.path.split(path)
            renamed = os.path.join(directory, f".{name}.hidden-by-fake-slurm")
            try:
                os.replace(path, renamed)
            except OSError:
                continue
            hidden.append(Hidden(t + seconds, renamed, path))
        return hidden

    @staticmethod
    def unhide(hidden: Hidden) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.replace(hidden.hidden, hidden.original)
