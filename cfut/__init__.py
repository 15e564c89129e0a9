"""cfut: run Python functions as batch jobs on Slurm and HTCondor clusters, as futures.

::

    import cfut

    with cfut.SlurmExecutor() as executor:
        for result in executor.map(square, [5, 7, 11]):
            print(result)

Functions, arguments and results travel as cloudpickle files in a work directory (``CFUT_DIR``,
default ``.cfut``) on a filesystem shared by this process and the compute nodes.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ._errors import (
    CfutError,
    CommandNotFoundError,
    CommandTimeoutError,
    ExecutorShutdownError,
    InvalidArgumentError,
    JobCancelled,
    JobDied,
    JobHeld,
    JobNodeFailure,
    JobOutOfMemory,
    JobPreempted,
    JobTimeout,
    RemoteException,
    RemoteTraceback,
    SchedulerError,
    SchedulerOutputError,
    SerializationError,
    SubmissionError,
)
from ._runner import CommandResult, CommandRunner, SubprocessRunner
from .condor import CondorExecutor
from .core import ClusterExecutor, ClusterFuture, JobStatus, Phase
from .files import CFUT_DIR_ENV
from .files import default_workdir as _default_workdir
from .slurm import SlurmExecutor

__version__ = "0.6.0.dev0"

#: The work directory as clusterfutures 0.5 named it: ``$CFUT_DIR`` or ``.cfut``.
CFUT_DIR = _default_workdir()


def map(executor: concurrent.futures.Executor, func: Callable[..., Any], args: Iterable[Any],
        ordered: bool = True) -> Iterator[Any]:
    """Map ``func`` over ``args`` as cluster jobs, yielding results (clusterfutures 0.5).

    With ``ordered=False`` results come as jobs finish. The executor is shut down at the end, as
    in 0.5, which used it as a context manager.
    """
    with executor:
        futures = [executor.submit(func, arg) for arg in args]
        for future in (futures if ordered else concurrent.futures.as_completed(futures)):
            yield future.result()


__all__ = [
    "CFUT_DIR",
    "CFUT_DIR_ENV",
    "CfutError",
    "ClusterExecutor",
    "ClusterFuture",
    "CommandNotFoundError",
    "CommandResult",
    "CommandRunner",
    "CommandTimeoutError",
    "CondorExecutor",
    "ExecutorShutdownError",
    "InvalidArgumentError",
    "JobCancelled",
    "JobDied",
    "JobHeld",
    "JobNodeFailure",
    "JobOutOfMemory",
    "JobPreempted",
    "JobStatus",
    "JobTimeout",
    "Phase",
    "RemoteException",
    "RemoteTraceback",
    "SchedulerError",
    "SchedulerOutputError",
    "SerializationError",
    "SlurmExecutor",
    "SubmissionError",
    "SubprocessRunner",
    "__version__",
    "map",
]
