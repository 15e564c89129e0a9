"""cfut: run Python functions as batch jobs on Slurm and HTCondor clusters, as futures.

::

    import cfut

    with cfut.SlurmExecutor() as executor:
        for result in executor.map(square, [5, 7, 11]):
            print(result)

Functions, arguments and results travel as signed cloudpickle files in a work directory
(``CFUT_DIR``, default ``.cfut``) on a filesystem shared by this process and the compute nodes.
Everything public is importable from here; the modules behind it are private.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from ._compat import map
from ._errors import (
    BrokenClusterExecutor,
    CfutError,
    CommandFailedError,
    CommandNotFoundError,
    CommandTimeoutError,
    ExecutorShutdownError,
    IntegrityError,
    InvalidArgumentError,
    JobCancelled,
    JobDied,
    JobHeld,
    JobNodeFailure,
    JobOutOfMemory,
    JobPreempted,
    JobTimeout,
    JobUnschedulable,
    RealCommandRefused,
    RemoteException,
    RemoteTraceback,
    SchedulerError,
    SchedulerOutputError,
    SerializationError,
    SubmissionError,
)
from ._executor import ClusterExecutor, Reattached
from ._executors import CondorExecutor, ExecutorView, SlurmExecutor
from ._future import ClusterFuture
from ._jobdir import CFUT_DIR_ENV
from ._jobdir import default_workdir as _default_workdir
from ._progress import Progress, progress
from ._resources import Resources
from ._runner import CommandResult, CommandRunner, SubprocessRunner
from ._schedulers.slurm import SlurmLimits
from ._stats import Statistics
from ._status import JobStatus, Phase

try:
    __version__ = _metadata.version("clusterfutures")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

#: The work directory as clusterfutures 0.5 named it: ``$CFUT_DIR`` or ``.cfut``.
CFUT_DIR = _default_workdir()


__all__ = [
    "BrokenClusterExecutor",
    "CFUT_DIR",
    "CFUT_DIR_ENV",
    "CfutError",
    "ClusterExecutor",
    "ClusterFuture",
    "CommandFailedError",
    "CommandNotFoundError",
    "CommandResult",
    "CommandRunner",
    "CommandTimeoutError",
    "CondorExecutor",
    "ExecutorShutdownError",
    "ExecutorView",
    "IntegrityError",
    "InvalidArgumentError",
    "JobCancelled",
    "JobDied",
    "JobHeld",
    "JobNodeFailure",
    "JobOutOfMemory",
    "JobPreempted",
    "JobStatus",
    "JobTimeout",
    "JobUnschedulable",
    "Phase",
    "Progress",
    "RealCommandRefused",
    "Reattached",
    "RemoteException",
    "RemoteTraceback",
    "Resources",
    "SchedulerError",
    "SchedulerOutputError",
    "SerializationError",
    "SlurmExecutor",
    "SlurmLimits",
    "Statistics",
    "SubmissionError",
    "SubprocessRunner",
    "__version__",
    "map",
    "progress",
]
