"""The two schedulers the contract tests drive with the same code: FakeSlurm and a real Slurm cluster.

A backend runs Slurm commands in its own scratch directory and waits for things to happen:
:meth:`Backend.wait_until` polls real Slurm with a wall-clock deadline, and on the fake moves the
virtual clock forward (one virtual second per poll) while the jobs, which are real processes
(``execution="subprocess"``), run for real. Deadlines are in scheduler seconds either way, so the
same test waits ~60 s for a time limit on the real cluster and a fraction of a second on the fake.

What users see is compared after :class:`Normaliser` has replaced what legitimately differs between
two clusters: job ids (numbered in the order the test registers them), dates, the scratch directory,
node names, the user, uid and the ``AllocNode:Sid`` of scontrol.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from cfut._runner import CommandResult, SubprocessRunner
from cfut.fakes import FakeSlurm

# The real cluster of ci/slurm-docker/, as FakeSlurm should be configured to mirror it.
CLUSTER_SETTINGS = {
    "min_job_age": 30.0,  # MinJobAge=30 (real purges run every 60 s, so 30-90 s)
    "kill_wait": 2.0,  # KillWait=2
    "max_array_size": 1001,  # MaxArraySize=1001
    "first_job_id": 100001,  # FirstJobId=100001
    "cluster_name": "cfut",
    "partition": "debug",
    "cpus_per_node": 16,  # OverSubscribe=FORCE:4: 1-CPU jobs never wait for CPUs on the CI node
    "extern_step": False,  # no PrologFlags=Contain: sacct lists no .extern steps
    "oversubscribe": "YES",  # OverSubscribe=FORCE:4 on the partition
}
SLURM_COMMANDS = ("sbatch", "squeue", "sacct", "scontrol", "scancel")
DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


class Normaliser:
    """Rewrites outputs so that two clusters' replies to the same actions compare equal."""

    def __init__(self, directory: str, node: str, user: str, uid: int) -> None:
        self.ids: dict[str, str] = {}
        self.directory = directory
        self.node = node
        self.user = user
        self.uid = uid

    def register(self, *job_ids: str | int) -> None:
        """Number job ids in the order they are first registered: J1, J2, ..."""
        for job_id in job_ids:
            key = str(job_id).strip()
            if key and key not in self.ids:
                self.ids[key] = f"J{len(self.ids) + 1}"

    def __call__(self, text: str) -> str:
        text = text.replace(self.directory, "<DIR>")
        text = DATE.sub("<DATE>", text)
        text = re.sub(r"AllocNode:Sid=\S+", "AllocNode:Sid=<HOST>:<PID>", text)
        text = re.sub(r"Priority=\d+", "Priority=<PRIO>", text)
        text = re.sub(r"RunTime=\S+", "RunTime=<RUNTIME>", text)
        text = text.replace(f"slurmstepd-{self.node}:", "slurmstepd-<NODE>:")
        text = re.sub(rf"(?<![\w.-]){re.escape(self.node)}(?![\w-])", "<NODE>", text)
        text = re.sub(rf"UserId={re.escape(self.user)}\({self.uid}\)", "UserId=<USER>(<UID>)", text)
        text = re.sub(rf"\bCANCELLED by {self.uid}\b", "CANCELLED by <UID>", text)
        if self.ids:
            # longest first, so that 1000 is not replaced inside 10001
            pattern = "|".join(re.escape(k) for k in sorted(self.ids, key=len, reverse=True))
            # ... and never inside an exit code N:S (on a new cluster job 15 and exit status 15 meet)
            text = re.sub(rf"(?<![\d:])({pattern})(?!\d|:\d)", lambda m: self.ids[m.group(1)], text)
        return text


class Backend:
    """Slurm commands in a scratch directory, and a way to wait for the scheduler."""

    name: str
    node: str

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.submitted: list[str] = []
        self.norm = Normaliser(str(directory), self.node, *self._user())

    @staticmethod
    def _user() -> tuple[str, int]:
        import pwd

        uid = os.getuid()
        try:
            return pwd.getpwuid(uid).pw_name, uid
        except KeyError:
            return str(uid), uid

    # -- to be provided
    def _run(self, argv: Sequence[str], input: str | None) -> CommandResult:
        raise NotImplementedError

    def _tick(self, fast: bool) -> None:
        """Let the scheduler move on a little."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    # -- shared
    def run(self, *argv: str, input: str | None = None) -> CommandResult:
        return self._run(argv, input)

    def sbatch(self, *args: str, script: str | None = None) -> str:
        """Submit with --parsable; the job id (registered for normalisation)."""
        result = self.run("sbatch", "--parsable", *args, input=script)
        assert result.returncode == 0, result.stderr
        job_id = result.stdout.strip().split(";")[0]
        self.submitted.append(job_id)
        self.norm.register(job_id)
        return job_id

    def show(self, *argv: str, input: str | None = None) -> str:
        """The command and everything the user sees of it, normalised."""
        result = self.run(*argv, input=input)
        return self.describe(result)

    def describe(self, result: CommandResult) -> str:
        shown = " ".join(a if a.startswith("--array=") else self.norm(a) for a in result.argv)
        return (f"$ {shown}\nexit {result.returncode}\n" + self.norm(result.stdout)
                + "".join(f"stderr: {line}\n" for line in self.norm(result.stderr).splitlines()))

    def wait_until(self, predicate: Callable[[], bool], timeout: float, what: str, *, fast: bool = False) -> None:
        """Poll ``predicate`` until it holds; fail after ``timeout`` wall-clock seconds. On the fake,
        virtual time follows real time, or with ``fast`` runs ~50 times faster (a time limit or a
        purge passes in a second or two; other finished jobs may be purged meanwhile)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: still not {what} after {timeout} s")
            self._tick(fast)

    def state(self, job_id: str) -> str:
        """``squeue --states=all`` state of one job or task ('' once slurmctld forgot it)."""
        result = self.run("squeue", "--noheader", "--states=all", f"--jobs={job_id}", "--format=%T")
        return result.stdout.strip() if result.returncode == 0 else ""

    def states(self, *job_ids: str) -> dict[str, str]:
        """id → state for every task of these jobs that squeue still shows (array tasks expanded)."""
        result = self.run("squeue", "--noheader", "--states=all", "--array", f"--jobs={','.join(job_ids)}",
                          "--format=%i %T")
        return dict(line.split() for line in result.stdout.splitlines())  # type: ignore[misc]

    def ended(self, *job_ids: str) -> bool:
        live = {"PENDING", "RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED"}
        states = self.states(*job_ids, "4000009")  # two ids or more: never the one-unknown-id error
        return not any(s in live for s in states.values())

    def accounted(self, *job_ids: str, rows: int | None = None) -> bool:
        """sacct has the final state of every job, in ``rows`` rows if given (it lags squeue)."""
        result = self.run("sacct", "--noheader", "--parsable2", "--allocations", f"--jobs={','.join(job_ids)}",
                          "--format=JobID,State,JobName,Partition")
        lines = result.stdout.splitlines()
        if rows is not None and len(lines) != rows:
            return False
        return bool(lines) and all(
            not any(s in line for s in ("PENDING", "RUNNING", "COMPLETING", "|allocation|", "||"))
            for line in lines)

    def read(self, name: str) -> str:
        path = self.directory / name
        return self.norm(path.read_text()) if path.exists() else "<missing>"

    def files(self) -> list[str]:
        """Names of the files jobs left in the scratch directory (normalised, sorted)."""
        return sorted(self.norm(p.name) for p in self.directory.iterdir() if not p.name.startswith("."))

    def cleanup_jobs(self) -> None:
        if self.submitted:
            self.run("scancel", *self.submitted)


class RealBackend(Backend):
    name = "real"

    def __init__(self, directory: Path, poll: float = 0.25) -> None:
        self.runner = SubprocessRunner()
        self.poll = poll
        self.node = real_node_name(self.runner)
        super().__init__(directory)

    def _run(self, argv: Sequence[str], input: str | None) -> CommandResult:
        return self.runner.run(list(argv), input=input, cwd=str(self.directory), timeout=60)

    def _tick(self, fast: bool) -> None:
        time.sleep(self.poll)


class FakeBackend(Backend):
    name = "fake"

    def __init__(self, directory: Path, step: float = 1.0, pause: float = 0.02, **settings: object) -> None:
        self.fake = FakeSlurm(progression="manual", execution="subprocess",
                              **{**CLUSTER_SETTINGS, **settings})  # type: ignore[arg-type]
        self.node = self.fake.cluster.nodes[0].name
        self.step = step
        self.pause = pause
        super().__init__(directory)

    def _run(self, argv: Sequence[str], input: str | None) -> CommandResult:
        return self.fake.run(list(argv), input=input, cwd=str(self.directory))

    def _tick(self, fast: bool) -> None:
        # the jobs are real processes: give them a moment of real time, then move virtual time on
        time.sleep(self.pause)
        self.fake.advance(self.step if fast else self.pause)

    def close(self) -> None:
        self.fake.close()


def real_node_name(runner: SubprocessRunner | None = None) -> str:
    result = (runner or SubprocessRunner()).run(["sinfo", "--noheader", "--format=%N"], timeout=30)
    return result.stdout.strip().split(",")[0] or "localhost"


def real_slurm_available() -> bool:
    from cfut.__main__ import real_slurm_answers

    return all(shutil.which(c) for c in SLURM_COMMANDS) and real_slurm_answers()
