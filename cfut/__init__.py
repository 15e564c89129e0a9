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

import importlib as _importlib

from ._errors import (
    CfutError,
    CommandFailedError,
    CommandNotFoundError,
    CommandTimeoutError,
    DependencyFailed,
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
from ._jobdir import CFUT_DIR_ENV
from ._jobdir import default_workdir as _default_workdir

#: The work directory as clusterfutures 0.5 named it: ``$CFUT_DIR`` or ``.cfut``.
CFUT_DIR = _default_workdir()

# The executor's machinery loads on first use: a job's worker (``python -m cfut.remote``) imports
# this package too, and starting it must cost what reading a payload costs, not the executor's imports.
_LAZY = {
    "BrokenClusterExecutor": "._executor",
    "ClusterExecutor": "._executor",
    "Reattached": "._executor",
    "CondorExecutor": "._executors",
    "ExecutorView": "._executors",
    "SlurmExecutor": "._executors",
    "Progress": "._progress",
    "progress": "._progress",
    "Resources": "._resources",
    "SlurmLimits": "._schedulers.slurm",
    "ClusterFuture": "._future",
    "CommandResult": "._runner",
    "CommandRunner": "._runner",
    "SubprocessRunner": "._runner",
    "Statistics": "._stats",
    "JobStatus": "._status",
    "Phase": "._status",
    "map": "._compat",
}

# (typing is not imported for this: a worker would pay for it at every job start)
_TYPE_CHECKING = False
if _TYPE_CHECKING:
    from typing import Any as _Any

    from ._compat import map
    from ._executor import BrokenClusterExecutor, ClusterExecutor, Reattached
    from ._executors import CondorExecutor, ExecutorView, SlurmExecutor
    from ._future import ClusterFuture
    from ._progress import Progress, progress
    from ._resources import Resources
    from ._runner import CommandResult, CommandRunner, SubprocessRunner
    from ._schedulers.slurm import SlurmLimits
    from ._stats import Statistics
    from ._status import JobStatus, Phase

    __version__: str


def __getattr__(name: str) -> _Any:
    if name == "__version__":
        from importlib import metadata

        try:
            value: object = metadata.version("clusterfutures")
        except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
            value = "0+unknown"
    elif name in _LAZY:
        value = getattr(_importlib.import_module(_LAZY[name], __name__), name)
    else:
        raise AttributeError(f"module 'cfut' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
    "DependencyFailed",
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
