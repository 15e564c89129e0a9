"""The clusters the executor behaviour suite runs on: FakeSlurm, FakeCondor and a real Slurm.

A harness makes executors for one cluster and lets time pass on it the way that cluster allows:

* on a fake, time is the fake's virtual clock (``progression="manual"``), the executor polls only
  when the harness calls ``poll_once()`` (``background_polling=False``), and nothing waits for real
  time except real job processes (``processes=True``), whose end is an event (``fake.join()``);
* on real Slurm, the executor's monitor thread polls in the background and the harness waits, with
  a deadline, for what the test expects.

The same test code runs on all three; tests that need fault injection ask for a fake
(``@pytest.mark.fakes_only``), which the suite's conftest turns into parameters.
"""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cfut
from cfut.fakes import FakeCondor, FakeSlurm

#: What the real cluster needs to keep a job pending while a test looks at it.
SLURM_LATER = "#SBATCH --begin=now+1hour"


class Harness:
    """What every cluster offers the suite."""

    name: str
    scheduler: str  # "slurm" or "htcondor"
    real: bool = False
    submit_command: str
    status_command: str
    cancel_command: str

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.executors: list[cfut.ClusterExecutor] = []

    def workdir(self, name: str = "work") -> Path:
        return self.tmp_path / name

    def executor(self, *, processes: bool = False, workdir: Path | None = None,
                 **options: Any) -> cfut.ClusterExecutor:
        raise NotImplementedError

    def autonomous_executor(self, **options: Any) -> cfut.ClusterExecutor:
        """An executor whose jobs progress without the test's help: its monitor thread polls, and on
        a fake the clock moves by itself (``progression="immediate"``)."""
        raise NotImplementedError

    def settle(self, executor: cfut.ClusterExecutor, futures: Sequence[concurrent.futures.Future[Any]],
               timeout: float = 180.0, others_run: bool = False) -> None:
        """Let time pass until every future is done (an AssertionError after ``timeout`` cluster seconds).

        ``others_run``: other jobs go on running meanwhile (a fake's job processes are then waited
        for a moment per cluster second, not until they end)."""
        raise NotImplementedError

    def start(self, executor: cfut.ClusterExecutor, futures: Sequence[concurrent.futures.Future[Any]]) -> None:
        """Let the queued jobs of these futures start, and the executor notice (futures RUNNING)."""
        raise NotImplementedError

    def pending_lines(self) -> list[str]:
        """Setup lines that keep a job pending until the test is done looking at it."""
        return []

    def queue(self) -> list[str]:
        """Ids of the cluster's pending and running jobs (every job there is the test's own)."""
        raise NotImplementedError

    def cancel_from_outside(self, job_id: str) -> None:
        """What an administrator's (or another tool's) cancel does to a job."""
        raise NotImplementedError

    def lose_next_submit_reply(self) -> None:
        """The next submission is made but its answer is lost (fakes only)."""
        raise NotImplementedError

    def close(self) -> None:
        """Shut every executor down, cancelling what has not run."""
        for executor in self.executors:
            executor.shutdown(wait=False, cancel_futures=True)

    def dispose(self) -> None:
        """Release the cluster (after the queue was checked)."""


# ---------------------------------------------------------------- fakes


class FakeHarness(Harness):
    fake: FakeSlurm | FakeCondor

    autonomous_fakes: list[FakeSlurm | FakeCondor]

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.autonomous_fakes = []

    def make_fake(self, processes: bool, progression: str = "manual") -> FakeSlurm | FakeCondor:
        raise NotImplementedError

    def executor(self, *, processes: bool = False, workdir: Path | None = None,
                 **options: Any) -> cfut.ClusterExecutor:
        self.fake = self.make_fake(processes)
        options.setdefault("background_polling", False)
        options.setdefault("result_grace", 2)
        options.setdefault("submit_linger", 0)  # one submission per submit (coalescing: test_coalescing.py)
        executor = self.executor_type(runner=self.fake, workdir=workdir or self.workdir(), **options)
        self.executors.append(executor)
        return executor

    executor_type: type[cfut.ClusterExecutor]

    def autonomous_executor(self, **options: Any) -> cfut.ClusterExecutor:
        fake = self.make_fake(False, progression="immediate")
        self.autonomous_fakes.append(fake)
        options.setdefault("poll_interval", 0.01)
        executor = self.executor_type(runner=fake, workdir=self.workdir("auto"), **options)
        self.executors.append(executor)
        return executor

    def settle(self, executor: cfut.ClusterExecutor, futures: Sequence[concurrent.futures.Future[Any]],
               timeout: float = 180.0, others_run: bool = False) -> None:
        for _ in range(int(timeout)):
            if all(f.done() for f in futures):
                return
            if self._has_processes():
                # real processes end by themselves: an event, not a sleep
                self.fake.join(timeout=0.2 if others_run else 60)
            self.fake.advance(1)
            executor.poll_once()
        raise AssertionError(f"futures still pending after {timeout:g} fake seconds: {executor.statistics()}")

    def _has_processes(self) -> bool:
        return getattr(self.fake, "execution", "inline") == "subprocess"

    def start(self, executor: cfut.ClusterExecutor, futures: Sequence[concurrent.futures.Future[Any]]) -> None:
        self.fake.advance(0.5)
        executor.poll_once()
        assert all(f.running() for f in futures), [f._state for f in futures]

    def queue(self) -> list[str]:
        fakes = ([self.fake] if hasattr(self, "fake") else []) + self.autonomous_fakes
        return [job for fake in fakes for job in fake.queue()]

    def commands(self) -> Counter[str]:
        return Counter(os.path.basename(argv[0]) for argv in self.fake.calls)

    def dispose(self) -> None:
        for fake in ([self.fake] if hasattr(self, "fake") else []) + self.autonomous_fakes:
            fake.close()


class FakeSlurmHarness(FakeHarness):
    name = "slurm-fake"
    scheduler = "slurm"
    submit_command, status_command, cancel_command = "sbatch", "squeue", "scancel"
    executor_type = cfut.SlurmExecutor

    def make_fake(self, processes: bool, progression: str = "manual") -> FakeSlurm:
        return FakeSlurm(progression=progression, execution="subprocess" if processes else "inline",  # type: ignore[arg-type]
                         cpus_per_node=64)

    def lose_next_submit_reply(self) -> None:
        assert isinstance(self.fake, FakeSlurm)
        self.fake.fail_next("sbatch", submitted=True)

    def cancel_from_outside(self, job_id: str) -> None:
        assert isinstance(self.fake, FakeSlurm)
        self.fake.end_job(job_id, "CANCELLED")


class FakeCondorHarness(FakeHarness):
    name = "condor-fake"
    scheduler = "htcondor"
    submit_command, status_command, cancel_command = "condor_submit", "condor_q", "condor_rm"
    executor_type = cfut.CondorExecutor

    def make_fake(self, processes: bool, progression: str = "manual") -> FakeCondor:
        return FakeCondor(progression=progression, execution="subprocess" if processes else "inline",  # type: ignore[arg-type]
                          cpus_per_node=64)

    def lose_next_submit_reply(self) -> None:
        assert isinstance(self.fake, FakeCondor)
        self.fake.fail_next("condor_submit", lose_reply=True)

    def cancel_from_outside(self, job_id: str) -> None:
        assert isinstance(self.fake, FakeCondor)
        self.fake.remove(job_id)


# ---------------------------------------------------------------- real Slurm


def _run(argv: Sequence[str]) -> str:
    return subprocess.run(list(argv), capture_output=True, text=True, check=True).stdout


class RealSlurmHarness(Harness):
    name = "slurm-real"
    scheduler = "slurm"
    real = True
    submit_command, status_command, cancel_command = "sbatch", "squeue", "scancel"

    def executor(self, *, processes: bool = False, workdir: Path | None = None,
                 **options: Any) -> cfut.ClusterExecutor:
        options.setdefault("poll_interval", 0.2)
        options.setdefault("max_poll_interval", 2.0)
        options.setdefault("submit_linger", 0)  # one submission per submit (coalescing: test_coalescing.py)
        options.pop("background_polling", None)
        executor = cfut.SlurmExecutor(workdir=workdir or self.workdir(), **options)
        self.executors.append(executor)
        return executor

    def autonomous_executor(self, **options: Any) -> cfut.ClusterExecutor:
        return self.executor(workdir=self.workdir("auto"), **options)

    def settle(self, executor: cfut.ClusterExecutor, futures: Sequence[concurrent.futures.Future[Any]],
               timeout: float = 180.0, others_run: bool = False) -> None:
        done, pending = concurrent.futures.wait(futures, timeout=timeout)
        assert not pending, f"futures still pending after {timeout:g} s: {executor.statistics()}"

    def start(self, executor: cfut.ClusterExecutor, futures: Sequence[concurrent.futures.Future[Any]]) -> None:
        wait_until(lambda: all(f.running() or f.done() for f in futures), 90, "the jobs run")
        assert all(f.running() for f in futures)

    def pending_lines(self) -> list[str]:
        return [SLURM_LATER]

    def queue(self) -> list[str]:
        """Pending and running jobs whose batch script (squeue %o) lies in one of our work directories:
        other users of the cluster do not count."""
        mine = tuple(e.workdir + os.sep for e in self.executors)
        lines = _run(["squeue", "--noheader", "--array", "--format=%i|%o"]).splitlines()
        rows = [line.split("|", 1) for line in lines if "|" in line]
        return [job for job, command in rows if mine and command.startswith(mine)]

    def cancel_from_outside(self, job_id: str) -> None:
        _run(["scancel", job_id])

    def commands(self) -> Counter[str]:
        return Counter({name: sum(e.statistics().commands.get(name, 0) for e in self.executors)
                        for name in ("sbatch", "squeue", "sacct", "scontrol", "scancel")})


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting until {what}")
        time.sleep(0.1)


HARNESSES: dict[str, type[Harness]] = {
    "slurm-fake": FakeSlurmHarness,
    "condor-fake": FakeCondorHarness,
    "slurm-real": RealSlurmHarness,
}
