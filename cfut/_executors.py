"""The public executors: thin façades that choose a scheduler adapter for :class:`ClusterExecutor`."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

from ._commands import SchedulerCommands
from ._errors import InvalidArgumentError
from ._executor import ClusterExecutor, check_seconds
from ._jobdir import JobDir
from ._runner import CommandRunner
from ._schedulers.htcondor import HTCondorScheduler, condor_options
from ._schedulers.slurm import SlurmScheduler


class SlurmExecutor(ClusterExecutor):
    """A :class:`concurrent.futures.Executor` that runs each call as a Slurm batch job.

    ``submit`` is one ``sbatch`` per call; ``map`` one array job (``--array``) per 1,000 tasks.

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
            ``submit`` goes out as one array job (see :mod:`cfut._coalesce`); waiting for a future sends
            its call at once. Until then ``future.job_id`` is ``None``, and a refused submission fails
            the futures instead of raising from ``submit``. ``0``: one ``sbatch`` per ``submit``, in
            the caller's thread, its errors raised from ``submit``.
        python: the interpreter the job runs the worker with; default this process's ``sys.executable``.
        unschedulable_timeout: seconds a job may stay pending for a reason waiting cannot cure
            (``PartitionConfig``, ``BadConstraints``, ``DependencyNeverSatisfied``, ... as ``squeue``
            reports it) before its calls fail with :class:`~cfut.JobUnschedulable` and it is cancelled.
        requeue: ``sbatch --requeue`` (``True``) or ``--no-requeue``: whether Slurm may run a task again
            after a node failure or a preemption. A requeued task runs only the calls without a result;
            :attr:`JobDied.starts <cfut.JobDied>` says how often a task started.

    Raises:
        InvalidArgumentError: a bad option (named in the message), an unusable work directory or key file.
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
    ) -> None:
        timeout = check_seconds(unschedulable_timeout, "unschedulable_timeout", allow_zero=True)
        if not isinstance(requeue, bool):
            raise InvalidArgumentError(f"requeue must be True or False, got {requeue!r}")

        def make(commands: SchedulerCommands, jobdir: JobDir, clock: Callable[[], float], key: str) -> SlurmScheduler:
            return SlurmScheduler(commands, jobdir, python=python, unschedulable_timeout=timeout, requeue=requeue)

        super().__init__(
            make, debug=debug, keep_logs=keep_logs, additional_setup_lines=additional_setup_lines,
            additional_import_paths=additional_import_paths, runner=runner, scheduler_name=SlurmScheduler.name,
            workdir=workdir, poll_interval=poll_interval, max_poll_interval=max_poll_interval,
            result_grace=result_grace, completed_result_grace=completed_result_grace,
            submit_retries=submit_retries, background_polling=background_polling, cancel_on_exit=cancel_on_exit,
            submit_linger=submit_linger,
        )


class CondorExecutor(ClusterExecutor):
    """A :class:`concurrent.futures.Executor` that runs each call as an HTCondor job.

    ``submit`` is one ``condor_submit`` of one job; ``map`` one cluster (``queue N``) per 10,000 tasks.
    Status comes from the executor's own job event log (``<workdir>/<key>.events.log``), with
    ``condor_q``/``condor_history`` only for jobs the log has been silent about.

    Args:
        debug, keep_logs, additional_setup_lines, additional_import_paths, runner, workdir,
        poll_interval, max_poll_interval, result_grace, completed_result_grace, submit_retries,
        background_polling, cancel_on_exit, python:
            as for :class:`SlurmExecutor` (setup lines run in a small ``/bin/sh`` wrapper).
        getenv: ``True``: the job sees the submitter's environment; ``False``; or a string of
            variable names and patterns as the ``getenv`` submit key takes them (``"PATH, HOME, CONDA_*"``).
        environment: variables set in the job (the ``environment`` submit key), on top of ``getenv``.
        initialdir: the job's working directory; default this process's current directory.
        request_cpus: CPUs per job (``request_cpus``).
        request_memory: memory per job: a number in MB (HTCondor's unit for a bare number) or a string
            with a unit (``"4 GB"``), written as ``request_memory``.
        request_disk: disk per job: a number in KiB (HTCondor's unit) or a string with a unit.
        request_gpus: GPUs per job (``request_gpus``).
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
        requirements: str | None = None,
        attributes: Mapping[str, str] | None = None,
        extra_submit_lines: Sequence[str] = (),
        remove_held: bool = True,
        hold_timeout: float = 300.0,
        log_silence: float = 60.0,
    ) -> None:
        options = condor_options(
            python=python, getenv=getenv, environment=environment, initialdir=initialdir,
            request_cpus=request_cpus, request_memory=request_memory, request_disk=request_disk,
            request_gpus=request_gpus, requirements=requirements, attributes=attributes,
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
        )

    @property
    def event_log(self) -> str:
        """The path of the job event log every job of this executor writes to."""
        scheduler = self._scheduler
        assert isinstance(scheduler, HTCondorScheduler)
        return scheduler.event_log
