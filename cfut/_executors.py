"""The public executors: thin façades that choose a scheduler adapter for :class:`ClusterExecutor`,
check their scheduler's options, and :class:`ExecutorView`, what ``executor.options(...)`` returns."""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

from . import _progress
from ._commands import SchedulerCommands
from ._errors import InvalidArgumentError
from ._executor import ClusterExecutor, check_count, check_seconds, check_setup_lines
from ._future import ClusterFuture
from ._jobdir import JobDir
from ._resources import (
    SLURM_KEYWORDS,
    CondorJobOptions,
    JobOptions,
    Resources,
    SlurmOptions,
    check_directives,
    condor_job_options,
    slurm_options,
)
from ._runner import CommandRunner
from ._schedulers.htcondor import HTCondorScheduler, condor_options
from ._schedulers.slurm import SlurmLimits, SlurmScheduler

SbatchValue = str | int | bool | None


class ExecutorView:
    """An executor with options for some calls: what :meth:`SlurmExecutor.options` and
    :meth:`CondorExecutor.options` return.

    It shares the executor's monitor, work directory and lifetime (shut the executor down, not the
    view); its calls are submitted with the executor's options overridden by the view's, and never
    share an array job with calls of other options. ``submit`` passes every keyword argument to the
    function untouched. Make as many views as you like: they cost nothing until used.
    """

    def __init__(self, executor: ClusterExecutor, options: JobOptions, setup_lines: tuple[str, ...]) -> None:
        self._executor = executor
        self._options = options
        self._setup = setup_lines

    @property
    def executor(self) -> ClusterExecutor:
        """The executor this view submits through."""
        return self._executor

    @property
    def job_options(self) -> JobOptions:
        """The view's own options (those that override the executor's)."""
        return self._options

    @property
    def additional_setup_lines(self) -> tuple[str, ...]:
        """The view's setup lines, run after the executor's."""
        return self._setup

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> ClusterFuture:
        """Run ``fn(*args, **kwargs)`` as one job with the view's options; ``kwargs`` all go to ``fn``.
        Raises what :meth:`ClusterExecutor.submit` raises."""
        return self._executor._submit_one(fn, args, kwargs, self._setup, self._options)

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None,
            chunksize: int | Literal["auto"] = "auto", progress: bool = False) -> Iterator[Any]:
        """:meth:`ClusterExecutor.map` with the view's options (one array job of them)."""
        if progress:
            _progress.require_tqdm()
        futures = self.map_futures(fn, *iterables, chunksize=chunksize)
        return self._executor._results(futures, timeout, progress)

    def map_futures(self, fn: Callable[..., Any], *iterables: Iterable[Any],
                    chunksize: int | Literal["auto"] = "auto") -> list[ClusterFuture]:
        """:meth:`ClusterExecutor.map_futures` with the view's options."""
        return self._executor._map_futures(fn, iterables, chunksize, self._setup, self._options)

    def options(self, **options: Any) -> ExecutorView:
        """A view with more options on top of this one's (the same keywords as the executor's
        ``options``)."""
        more = self._executor.options(**options)  # type: ignore[attr-defined]
        assert isinstance(more, ExecutorView)
        merged = self._options.merged(more._options)
        setup = self._setup + more._setup
        resolve = self._executor._resolve_options
        resolve(merged, self._executor.additional_setup_lines + setup)  # contradictions raise now
        return ExecutorView(self._executor, merged, setup)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._executor!r}: {self._options!r}>"


class SlurmExecutor(ClusterExecutor):
    """A :class:`concurrent.futures.Executor` that runs each call as a Slurm batch job.

    ``submit`` is one ``sbatch`` per call; ``map`` one array job (``--array``) of as many tasks as
    the cluster's ``MaxArraySize`` allows (``scontrol show config``, asked once), more arrays beyond.

    Resources are keywords named after ``sbatch``'s options (``cpus_per_task`` is
    ``--cpus-per-task``), checked here and passed on ``sbatch``'s command line; anything else goes in
    ``sbatch_options``. ``#SBATCH`` lines in ``additional_setup_lines`` that set an option a keyword
    also sets are refused. :meth:`options` changes them for some calls.

    Args:
        debug: log through ``logging.getLogger("cfut")`` at DEBUG level (configure logging to see it).
        keep_logs: keep every job's files (log, script), not only those of failed jobs.
        additional_setup_lines: lines for the batch script, before the worker runs: ``#SBATCH``
            directives (``"#SBATCH --mem=4G"``) and shell commands (``"module load python"``).
        additional_import_paths: directories prepended to ``sys.path`` on the node before unpickling.
        runner: where commands go; a :class:`~cfut.SubprocessRunner` by default, a
            :class:`cfut.fakes.FakeSlurm` in tests.
        workdir: the work directory shared with the nodes (payloads, results, logs); default
            ``$CFUT_DIR`` or ``.cfut``. Created with mode 0700; an existing one must be private.
        poll_interval: seconds between status queries right after a submission or a change.
        max_poll_interval: the longest interval, in seconds, the queries back off to while nothing changes.
        result_grace: seconds a job seen ended without its results may take for them to appear before
            its calls fail with :class:`~cfut.JobDied`.
        completed_result_grace: the same for a job that ended with exit code 0 (the worker exits 0 only
            after writing every result, so they exist): seconds to keep looking, opening the files by
            name, before concluding the filesystem does not show them (Linux NFS clients may hide a new
            file from a directory listing for 30-60 s).
        submit_retries: retries of ``sbatch`` after a transient controller error (1 s, 2 s, 4 s, ... apart).
        background_polling: ``False``: nothing polls unless you call :meth:`poll_once`.
        cancel_on_exit: ``True``: Ctrl-C leaving a ``with`` block, SIGTERM and interpreter exit cancel
            this executor's queued and running jobs (once, and remove their files); ``False``: they run
            on, and :meth:`reattach` collects them from another process.
        submit_linger: seconds a ``submit`` waits for more calls with the same options, so that a loop of
            ``submit`` goes out as one array job (see :mod:`cfut._coalesce`); waiting for a future, or
            asking its ``job_id``/``call_id``, sends its call at once. A refused submission fails the
            futures instead of raising from ``submit``. ``0``: one ``sbatch`` per ``submit``, in
            the caller's thread, its errors raised from ``submit``.
        python: the interpreter the job runs the worker with; default this process's ``sys.executable``.
        unschedulable_timeout: seconds a job may stay pending for a reason waiting cannot cure
            (``PartitionConfig``, ``BadConstraints``, ``DependencyNeverSatisfied``, ... as ``squeue``
            reports it) before its calls fail with :class:`~cfut.JobUnschedulable` and it is cancelled.
        requeue: ``sbatch --requeue`` (``True``) or ``--no-requeue``: whether Slurm may run a task again
            after a node failure or a preemption. A requeued task runs only the calls without a result;
            :attr:`JobDied.starts <cfut.JobDied>` says how often a task started.
        cpus_per_task: ``--cpus-per-task``: CPUs for each job (a positive ``int``).
        mem: ``--mem``: memory per node: an ``int`` in megabytes (sbatch's unit for a bare number) or a
            string ``"<n>[K|M|G|T]"`` (powers of 1024, ``"4G"``); ``0`` asks for all of a node's memory.
        mem_per_cpu: ``--mem-per-cpu``: memory per CPU, as ``mem`` (not with ``mem``).
        time: ``--time``: the time limit: ``"minutes"``, ``"minutes:seconds"``,
            ``"hours:minutes:seconds"``, ``"days-hours"``, ``"days-hours:minutes"``,
            ``"days-hours:minutes:seconds"`` or ``"INFINITE"``; an ``int`` is minutes (sbatch's unit);
            a :class:`datetime.timedelta` is converted. A job still running then ends in TIMEOUT:
            :class:`~cfut.JobTimeout`.
        partition: ``--partition``: a partition, or several separated by commas.
        gpus: ``--gpus``: GPUs for the job: a positive ``int`` or ``"type:number"``.
        gres: ``--gres``: generic resources, ``"name[:type][:count]"``, comma-separated.
        nodes: ``--nodes``: nodes for the job (a positive ``int``).
        ntasks_per_node: ``--ntasks-per-node`` (a positive ``int``; the worker runs one Python process:
            use it for code that starts ``srun`` steps itself).
        account: ``--account`` to charge.
        qos: ``--qos``.
        constraint: ``--constraint``: node features (``"intel&ib"``).
        exclude: ``--exclude``: nodes not to use (a host list, ``"node[1-3]"``).
        job_name: ``--job-name``, what ``squeue`` shows; default ``cfut.<key>``. cfut finds its jobs
            by their ``--comment`` either way.
        array_parallelism: the ``%N`` of ``--array=0-M%N``: at most N tasks of one map run at once.
        sbatch_options: any other ``sbatch`` option, ``{"mail-type": "END", "reservation": "r1",
            "exclusive": True}`` (``_`` may stand for ``-``; ``True`` is a flag, ``None``/``False``
            leave it out). Options cfut sets itself (``output``, ``error``, ``array``, ``comment``,
            ``wrap``, ``requeue``, ...) and those with a keyword above are refused.
        resources: a scheduler-neutral :class:`~cfut.Resources` (``cpus`` → ``--cpus-per-task``,
            ``memory`` → ``--mem``, ``time``, ``gpus``, ``job_name``, ``partition``); giving the same
            option here and by keyword is refused.
        max_array_size: the most tasks one array job may carry, overriding the cluster's
            ``MaxArraySize`` (which is read once with ``scontrol show config``; see :meth:`limits`).

    Raises:
        InvalidArgumentError: a bad option (named in the message), an ``#SBATCH`` line that contradicts
            one, an unusable work directory or key file.
    """

    def __init__(
        self,
        debug: bool = False,
        keep_logs: bool = False,
        additional_setup_lines: Sequence[str] = (),
        additional_import_paths: Sequence[str | os.PathLike[str]] = (),
        *,
        runner: CommandRunner | None = None,
        workdir: str | os.PathLike[str] | None = None,
        poll_interval: float = 0.5,
        max_poll_interval: float = 10.0,
        result_grace: float = 5.0,
        completed_result_grace: float = 120.0,
        submit_retries: int = 3,
        background_polling: bool = True,
        cancel_on_exit: bool = True,
        submit_linger: float = 0.005,
        python: str | None = None,
        unschedulable_timeout: float = 60.0,
        requeue: bool = True,
        cpus_per_task: int | None = None,
        mem: int | str | None = None,
        mem_per_cpu: int | str | None = None,
        time: int | str | datetime.timedelta | None = None,
        partition: str | None = None,
        gpus: int | str | None = None,
        gres: str | None = None,
        nodes: int | None = None,
        ntasks_per_node: int | None = None,
        account: str | None = None,
        qos: str | None = None,
        constraint: str | None = None,
        exclude: str | None = None,
        job_name: str | None = None,
        array_parallelism: int | None = None,
        sbatch_options: Mapping[str, SbatchValue] | None = None,
        resources: Resources | None = None,
        max_array_size: int | None = None,
    ) -> None:
        timeout = check_seconds(unschedulable_timeout, "unschedulable_timeout", allow_zero=True)
        if not isinstance(requeue, bool):
            raise InvalidArgumentError(f"requeue must be True or False, got {requeue!r}")
        if max_array_size is not None:
            check_count(max_array_size, "max_array_size", minimum=1)
        keywords = {k: v for k, v in locals().items() if k in SLURM_KEYWORDS}
        options = slurm_options(keywords, resources=resources, sbatch_options=sbatch_options,
                                array_parallelism=array_parallelism)
        check_directives(check_setup_lines(additional_setup_lines, "additional_setup_lines"), options)

        def make(commands: SchedulerCommands, jobdir: JobDir, clock: Callable[[], float], key: str) -> SlurmScheduler:
            return SlurmScheduler(commands, jobdir, python=python, unschedulable_timeout=timeout, requeue=requeue,
                                  max_array_size=max_array_size)

        super().__init__(
            make, debug=debug, keep_logs=keep_logs, additional_setup_lines=additional_setup_lines,
            additional_import_paths=additional_import_paths, runner=runner, scheduler_name=SlurmScheduler.name,
            workdir=workdir, poll_interval=poll_interval, max_poll_interval=max_poll_interval,
            result_grace=result_grace, completed_result_grace=completed_result_grace,
            submit_retries=submit_retries, background_polling=background_polling, cancel_on_exit=cancel_on_exit,
            submit_linger=submit_linger,
            job_options=options,
        )

    def options(
        self,
        *,
        cpus_per_task: int | None = None,
        mem: int | str | None = None,
        mem_per_cpu: int | str | None = None,
        time: int | str | datetime.timedelta | None = None,
        partition: str | None = None,
        gpus: int | str | None = None,
        gres: str | None = None,
        nodes: int | None = None,
        ntasks_per_node: int | None = None,
        account: str | None = None,
        qos: str | None = None,
        constraint: str | None = None,
        exclude: str | None = None,
        job_name: str | None = None,
        array_parallelism: int | None = None,
        sbatch_options: Mapping[str, SbatchValue] | None = None,
        resources: Resources | None = None,
        additional_setup_lines: Sequence[str] = (),
    ) -> ExecutorView:
        """This executor with other options for some calls: ``ex.options(cpus_per_task=4,
        mem="8G").submit(fn, x)`` or ``.map(fn, items)``.

        The keywords are the constructor's (each given one overrides the executor's; ``mem`` and
        ``mem_per_cpu`` replace each other), plus ``additional_setup_lines`` run after the
        executor's. The view shares the executor's monitor and work directory; its calls never share
        an array job with calls of other options.

        Raises:
            InvalidArgumentError: a bad value (named), or an ``#SBATCH`` line that contradicts an option.
        """
        setup = check_setup_lines(additional_setup_lines, "additional_setup_lines")
        keywords = {k: v for k, v in locals().items() if k in SLURM_KEYWORDS}
        mine = slurm_options(keywords, resources=resources, sbatch_options=sbatch_options,
                             array_parallelism=array_parallelism)
        self._resolve_options(mine, self.additional_setup_lines + setup)  # contradictions raise now
        return ExecutorView(self, mine, setup)

    def _resolve_options(self, options: JobOptions | None, setup_lines: Sequence[str]) -> JobOptions | None:
        base = self._job_options if isinstance(self._job_options, SlurmOptions) else SlurmOptions()
        merged = base if options is None else base.merged(options)
        check_directives(setup_lines, merged)
        return merged

    def limits(self) -> SlurmLimits:
        """The cluster's limits that size array jobs: ``MaxArraySize`` and ``MaxJobCount`` from
        ``scontrol show config``, the user's ``MaxSubmit`` from ``sacctmgr show assoc`` when the
        cluster enforces limits (asked once per cluster and process, then cached), or the
        executor's ``max_array_size``. Raises CommandNotFoundError without ``scontrol``."""
        scheduler = self._scheduler
        assert isinstance(scheduler, SlurmScheduler)
        return scheduler.limits()


class CondorExecutor(ClusterExecutor):
    """A :class:`concurrent.futures.Executor` that runs each call as an HTCondor job.

    ``submit`` is one ``condor_submit`` of one job; ``map`` one cluster (``queue N``) per 10,000 tasks.
    Status comes from the executor's own job event log (``<workdir>/<key>.events.log``), with
    ``condor_q``/``condor_history`` only for jobs the log has been silent about.

    Args:
        debug: log through ``logging.getLogger("cfut")`` at DEBUG level.
        keep_logs: keep every job's output and event log, not only those of failed jobs.
        additional_setup_lines: shell lines run in a small ``/bin/sh`` wrapper before the worker.
        additional_import_paths: directories prepended to ``sys.path`` on the node before unpickling.
        runner: where commands go; a :class:`~cfut.SubprocessRunner` by default, a
            :class:`cfut.fakes.FakeCondor` in tests.
        workdir: the work directory shared with the execute nodes; default ``$CFUT_DIR`` or ``.cfut``.
        poll_interval: seconds between status checks right after a submission or a change.
        max_poll_interval: the longest interval, in seconds, the checks back off to.
        result_grace: seconds a job seen ended without its results may take for them to appear.
        completed_result_grace: the same for a job that ended with exit code 0 (seconds).
        submit_retries: retries of ``condor_submit`` after a transient schedd error.
        background_polling: ``False``: nothing polls unless you call :meth:`poll_once`.
        cancel_on_exit: as for :class:`SlurmExecutor`: Ctrl-C, SIGTERM and interpreter exit remove
            this executor's jobs (``condor_rm``).
        python: the interpreter the job runs the worker with; default this process's ``sys.executable``.
        getenv: ``True``: the job sees the submitter's environment; ``False``; or a string of
            variable names and patterns as the ``getenv`` submit key takes them (``"PATH, HOME, CONDA_*"``).
        environment: variables set in the job (the ``environment`` submit key), on top of ``getenv``.
        initialdir: the job's working directory; default this process's current directory.
        request_cpus: CPUs per job (``request_cpus``, a positive ``int``).
        request_memory: memory per job (``request_memory``): an ``int`` in **megabytes** (HTCondor's
            unit for a bare number) or a string with a unit K, M, G or T (``"4G"``, ``"4 GB"``).
        request_disk: disk per job (``request_disk``): an ``int`` in **KiB** (HTCondor's unit for a bare
            number) or a string with a unit.
        request_gpus: GPUs per job (``request_gpus``, an ``int``; 0 asks for none).
        job_name: the ``batch_name`` ``condor_q`` shows; default ``cfut.<key>`` (cfut finds its jobs by
            the ``CfutBatch`` attribute either way).
        resources: a scheduler-neutral :class:`~cfut.Resources`: ``cpus`` → ``request_cpus``,
            ``memory`` → ``request_memory``, ``gpus`` → ``request_gpus``, ``time`` →
            ``allowed_execute_duration`` (a job running longer is held: :class:`~cfut.JobHeld`),
            ``job_name`` → ``batch_name``; ``partition`` is refused (HTCondor has none).
        requirements: a ClassAd expression (``requirements``).
        attributes: ``{"Name": "ClassAd expression"}``, written as ``+Name = expression`` (strings need
            their quotes: ``'"physics"'``).
        extra_submit_lines: more ``key = value`` lines, written before ``queue``; lines that would redo
            cfut's own keys (``executable``, ``arguments``, ``log``, ``queue``, ...) are refused.
        remove_held: ``True``: a job held for ``hold_timeout`` seconds fails with :class:`~cfut.JobHeld`
            and is removed with ``condor_rm`` (a release before that lets it run); ``False``: a held job
            is waited for, however long, until someone releases or removes it.
        hold_timeout: seconds a job may stay held before cfut gives up on it (default 300: longer than
            HTCondor's ``PERIODIC_EXPR_INTERVAL`` of 60 s, so a pool's ``periodic_release`` policy acts first).
        log_silence: seconds without news in the job event log after which ``condor_q`` is asked.

    Raises:
        InvalidArgumentError: a bad option, named in the message.
    """

    def __init__(
        self,
        debug: bool = False,
        keep_logs: bool = False,
        *,
        additional_setup_lines: Sequence[str] = (),
        additional_import_paths: Sequence[str | os.PathLike[str]] = (),
        runner: CommandRunner | None = None,
        workdir: str | os.PathLike[str] | None = None,
        poll_interval: float = 0.5,
        max_poll_interval: float = 10.0,
        result_grace: float = 5.0,
        completed_result_grace: float = 120.0,
        submit_retries: int = 3,
        background_polling: bool = True,
        cancel_on_exit: bool = True,
        submit_linger: float = 0.005,
        python: str | None = None,
        getenv: bool | str = True,
        environment: Mapping[str, str] | None = None,
        initialdir: str | os.PathLike[str] | None = None,
        request_cpus: int | str | None = None,
        request_memory: int | str | None = None,
        request_disk: int | str | None = None,
        request_gpus: int | str | None = None,
        job_name: str | None = None,
        resources: Resources | None = None,
        requirements: str | None = None,
        attributes: Mapping[str, str] | None = None,
        extra_submit_lines: Sequence[str] = (),
        remove_held: bool = True,
        hold_timeout: float = 300.0,
        log_silence: float = 60.0,
    ) -> None:
        job_options = condor_job_options(request_cpus=request_cpus, request_memory=request_memory,
                                         request_disk=request_disk, request_gpus=request_gpus, resources=resources,
                                         job_name=job_name)
        options = condor_options(
            python=python, getenv=getenv, environment=environment, initialdir=initialdir,
            request_cpus=None, request_memory=None, request_disk=None,
            request_gpus=None, requirements=requirements, attributes=attributes,
            extra_submit_lines=extra_submit_lines, remove_held=remove_held, log_silence=log_silence,
            hold_timeout=hold_timeout,
        )

        def make(commands: SchedulerCommands, jobdir: JobDir, clock: Callable[[], float],
                 key: str) -> HTCondorScheduler:
            return HTCondorScheduler(commands, jobdir, options, clock=clock, key=key)

        super().__init__(
            make, debug=debug, keep_logs=keep_logs, additional_setup_lines=additional_setup_lines,
            additional_import_paths=additional_import_paths, runner=runner,
            scheduler_name=HTCondorScheduler.name, workdir=workdir, poll_interval=poll_interval,
            max_poll_interval=max_poll_interval, result_grace=result_grace,
            completed_result_grace=completed_result_grace, submit_retries=submit_retries,
            background_polling=background_polling, cancel_on_exit=cancel_on_exit, submit_linger=submit_linger,
            job_options=job_options,
        )

    def options(
        self,
        *,
        request_cpus: int | str | None = None,
        request_memory: int | str | None = None,
        request_disk: int | str | None = None,
        request_gpus: int | str | None = None,
        job_name: str | None = None,
        resources: Resources | None = None,
        additional_setup_lines: Sequence[str] = (),
    ) -> ExecutorView:
        """This executor with other resources for some calls: ``ex.options(request_cpus=4,
        request_memory="8G").map(fn, items)``. The keywords are the constructor's (each given one
        overrides the executor's), plus ``additional_setup_lines`` run after the executor's.

        Raises:
            InvalidArgumentError: a bad value (named), or what HTCondor cannot express.
        """
        setup = check_setup_lines(additional_setup_lines, "additional_setup_lines")
        mine = condor_job_options(request_cpus=request_cpus, request_memory=request_memory,
                                  request_disk=request_disk, request_gpus=request_gpus, resources=resources,
                                  job_name=job_name)
        return ExecutorView(self, mine, setup)

    def _resolve_options(self, options: JobOptions | None, setup_lines: Sequence[str]) -> JobOptions | None:
        base = self._job_options if isinstance(self._job_options, CondorJobOptions) else CondorJobOptions()
        return base if options is None else base.merged(options)

    @property
    def event_log(self) -> str:
        """The path of the job event log every job of this executor writes to."""
        scheduler = self._scheduler
        assert isinstance(scheduler, HTCondorScheduler)
        return scheduler.event_log
