"""``executor.statistics()``: a frozen snapshot of what an executor has done, for debugging and benchmarks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Statistics:
    """What :meth:`ClusterExecutor.statistics() <cfut.ClusterExecutor.statistics>` returns.

    Counts are since the executor was made; ``commands`` and ``command_failures`` are by program
    name (``{"sbatch": 1, "squeue": 12}``); ``poll_interval`` is the current interval between status
    queries, in seconds.
    """

    #: Tracked tasks by the scheduler's own state name (``SUBMITTED`` before it said anything).
    jobs_by_state: Mapping[str, int]
    #: Tasks (plain jobs or array tasks) still tracked.
    outstanding_jobs: int
    #: Scheduler submissions (an array job counts once).
    submitted_jobs: int
    #: Tasks submitted (plain jobs and array tasks).
    submitted_tasks: int
    calls_done: int
    calls_failed: int
    calls_cancelled: int
    commands: Mapping[str, int]
    command_failures: Mapping[str, int]
    polls: int
    status_queries: int
    query_failures: int
    #: Monitoring steps that raised something other than a scheduler error.
    monitor_errors: int
    poll_interval: float

    def __getitem__(self, key: str) -> Any:
        """The earlier dict form still reads: ``stats["commands"]``, ``stats["calls"]["done"]``
        (``calls``: ``done``, ``failed``, ``cancelled``). Raises KeyError for any other key."""
        if key == "calls":
            return {"done": self.calls_done, "failed": self.calls_failed, "cancelled": self.calls_cancelled}
        if key in {f.name for f in fields(self)}:
            return getattr(self, key)
        raise KeyError(key)
