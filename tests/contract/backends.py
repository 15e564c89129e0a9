"""The two schedulers the contract tests drive with the same code: FakeSlurm and a real Slurm cluster.

A backend runs Slurm commands in its own scratch directory and waits for things to happen:
:meth:`Backend.wait_until` polls real Slurm with a wall-clock deadline, and on the fake moves the
virtual clock forward (one virtual second per poll) while the jobs, which are real processes
(``execution="subprocess"``), run for real. Deadlines are in scheduler seconds either way, so the
same test waits ~60 s for a time limit on the real cluster and a fraction of a second on the fake.

Any Slurm 22.05+ cluster will do: :func:`read_config` reads what the scenarios depend on from the
cluster itself (``scontrol show config``, ``scontrol show partition``, ``sinfo``), waits follow its
MinJobAge, KillWait and OverTimeLimit, and a scenario that needs what the cluster does not have (an
accounting database, GPUs, the CI cluster's node shape) is skipped with the reason. The fake is
configured as :data:`CI_CLUSTER`, the cluster the golden reports were recorded on.

What users see is compared after :class:`Normaliser` has replaced what legitimately differs between
two clusters: job ids (numbered in the order the test registers them), dates, the scratch directory,
node names, the user, uid, the ``AllocNode:Sid`` of scontrol, the cluster's name, its default
partition, DefMemPerCPU and OverSubscribe.
"""

from __future__ import annotations

import grp
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from cfut._runner import CommandResult, SubprocessRunner
from cfut.fakes import FakeSlurm
from cfut.fakes._slurm.values import compress_hostlist, memory_text

SLURM_COMMANDS = ("sbatch", "squeue", "sacct", "scontrol", "scancel", "sinfo")
#: The smallest job id the normaliser can tell from other numbers in a report.
MIN_JOB_ID = 1000
DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


@dataclass(frozen=True)
class ClusterConfig:
    """What the scenarios depend on in a cluster's configuration (times in seconds, memory in MB)."""

    name: str
    min_job_age: float
    kill_wait: float
    max_array_size: int
    over_time_limit: float
    accounting: bool
    def_mem_per_cpu: int
    partitions: tuple[str, ...]  # the default first
    oversubscribe: str  # the default partition's OverSubscribe= (FORCE:4, NO, ...)
    nodes: tuple[str, ...]
    cpus: int  # per node (the smallest)
    memory: int  # per node (the smallest)
    gpus: int  # GRES gpu per node (the smallest)
    cred_expire: float = 120.0  # AuthInfo=cred_expire: a requeued job waits it out (plus 1 s)

    @property
    def shape(self) -> tuple[int, int, int, int, tuple[str, ...]]:
        """What a report of the nodes shows: how many, their CPUs, memory, GPUs; the partitions."""
        return (len(self.nodes), self.cpus, self.memory, self.gpus, self.partitions)


# The cluster of ci/slurm-docker/ that the golden reports were recorded on: two nodes of 2 CPUs,
# 24105 MB and GRES gpu:2, partitions debug (default) and long, OverSubscribe=FORCE:4, MinJobAge=30,
# KillWait=2, MaxArraySize=1001, DefMemPerCPU=1024, slurmdbd accounting.
CI_CLUSTER = ClusterConfig(
    name="cfut", min_job_age=30.0, kill_wait=2.0, max_array_size=1001, over_time_limit=0.0, accounting=True,
    def_mem_per_cpu=1024, partitions=("debug", "long"), oversubscribe="FORCE:4", nodes=("node1", "node2"), cpus=2,
    memory=24105, gpus=2, cred_expire=10.0,
)


def _seconds(text: str) -> float:
    """``30 sec``, ``0 min``, ``2`` → seconds."""
    number, _, unit = text.strip().partition(" ")
    return float(number) * (60 if unit.startswith("min") else 1) if number.replace(".", "").isdigit() else 0.0


def read_config(runner: SubprocessRunner | None = None) -> ClusterConfig:
    """The configuration of the cluster the Slurm commands on PATH (and SLURM_CONF) talk to."""
    runner = runner or SubprocessRunner()
    conf: dict[str, str] = {}
    for line in runner.run(["scontrol", "show", "config"], timeout=30).stdout.splitlines():
        key, eq, value = line.partition("=")
        if eq:
            conf[key.strip()] = value.strip()
    rows = [line.split("|") for line in runner.run(["sinfo", "--noheader", "--Node", "--format=%N|%c|%m|%G|%P"],
                                                   timeout=30).stdout.split()]
    nodes = tuple(dict.fromkeys(row[0] for row in rows))
    partitions = list(dict.fromkeys(row[4] for row in rows))
    default = next((p.rstrip("*") for p in partitions if p.endswith("*")), partitions[0] if partitions else "")
    ordered = (default, *(p.rstrip("*") for p in partitions if p.rstrip("*") != default))
    shown = runner.run(["scontrol", "show", "partition", default], timeout=30).stdout
    oversubscribe = re.search(r"OverSubscribe=(\S+)", shown)

    def gpus(gres: str) -> int:
        match = re.search(r"gpu(?::[^:,(]+)?:(\d+)", gres)
        return int(match.group(1)) if match else 0

    memory = conf.get("DefMemPerCPU", "0")
    expire = re.search(r"cred_expire=(\d+)", conf.get("AuthInfo", ""))
    return ClusterConfig(
        name=conf.get("ClusterName", ""), min_job_age=_seconds(conf.get("MinJobAge", "300 sec")),
        kill_wait=_seconds(conf.get("KillWait", "30 sec")), max_array_size=int(conf.get("MaxArraySize", "1001")),
        over_time_limit=_seconds(conf.get("OverTimeLimit", "0 min")),
        accounting=conf.get("AccountingStorageType", "") != "accounting_storage/none",
        def_mem_per_cpu=int(memory) if memory.isdigit() else 0, partitions=ordered,
        oversubscribe=oversubscribe.group(1) if oversubscribe else "NO", nodes=nodes,
        cpus=min((int(r[1]) for r in rows), default=0), memory=min((int(r[2]) for r in rows), default=0),
        gpus=min((gpus(r[3]) for r in rows), default=0), cred_expire=float(expire.group(1)) if expire else 120.0,
    )


def fake_settings(config: ClusterConfig) -> dict[str, object]:
    """FakeSlurm's settings for a cluster configured like ``config``."""
    share = int(config.oversubscribe.split(":")[1]) if config.oversubscribe.startswith("FORCE:") else 1
    prefix = re.sub(r"\d+$", "", config.nodes[0])
    return {
        "min_job_age": config.min_job_age,  # real purges run every 60 s, so MinJobAge to MinJobAge + 60
        "kill_wait": config.kill_wait, "max_array_size": config.max_array_size, "first_job_id": 100001,
        "cluster_name": config.name, "partition": config.partitions[0], "partitions": config.partitions[1:],
        "nodes": len(config.nodes), "node_prefix": prefix, "cpus_per_node": config.cpus, "cpu_share": share,
        "memory_per_node": config.memory, "gpus_per_node": config.gpus, "def_mem_per_cpu": config.def_mem_per_cpu,
        "cred_expire": config.cred_expire,
        "extern_step": False,  # no PrologFlags=Contain: sacct lists no .extern steps
        "oversubscribe": "YES" if config.oversubscribe.startswith(("FORCE", "YES")) else "OK",
    }


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


class Normaliser:
    """Rewrites outputs so that two clusters' replies to the same actions compare equal."""

    def __init__(self, directory: str, config: ClusterConfig, user: str, uid: int) -> None:
        self.ids: dict[str, str] = {}
        self.directory = directory
        self.config = config
        self.nodes = sorted(config.nodes, key=len, reverse=True)
        self.user = user
        self.uid = uid
        self.group = _group_name(os.getgid())
        self.aliases: dict[str, str] = {}

    def alias(self, text: str, placeholder: str) -> None:
        """Show ``text`` (a site-dependent value a scenario used) as ``placeholder``."""
        self.aliases[text] = placeholder

    def register(self, *job_ids: str | int) -> None:
        """Number job ids in the order they are first registered: J1, J2, ..."""
        for job_id in job_ids:
            key = str(job_id).strip()
            if key.isdigit() and int(key) < MIN_JOB_ID:
                # a new cluster (or one restarted without its state) numbers jobs from 1: such ids
                # cannot be told from the other numbers in a report (NumCPUs=1, USR1, [1-2], exit codes)
                pytest.skip(f"the cluster handed out job id {key}: reports can be compared only with job ids "
                            f"of {MIN_JOB_ID} or more (set FirstJobId={MIN_JOB_ID} in slurm.conf, or submit past it)")
            if key and key not in self.ids:
                self.ids[key] = f"J{len(self.ids) + 1}"

    def __call__(self, text: str) -> str:
        config = self.config
        for original, placeholder in self.aliases.items():
            text = text.replace(original, placeholder)
        text = text.replace(self.directory, "<DIR>")
        text = DATE.sub("<DATE>", text)
        text = re.sub(r"AllocNode:Sid=\S+", "AllocNode:Sid=<HOST>:<PID>", text)
        text = re.sub(r"Priority=\d+", "Priority=<PRIO>", text)
        text = re.sub(r"RunTime=\S+", "RunTime=<RUNTIME>", text)
        # site differences: the cluster's name, default partition, DefMemPerCPU and OverSubscribe
        name, partition = re.escape(config.name), re.escape(config.partitions[0])
        text = re.sub(rf"(SLURM_CLUSTER_NAME=|--clusters=){name}\b", r"\1<CLUSTER>", text)
        text = re.sub(rf"(?<=\d);{name}$", ";<CLUSTER>", text, flags=re.M)
        text = re.sub(rf"^(CLUSTER: |Submitted batch job \S+ on cluster ){name}$", r"\1<CLUSTER>", text, flags=re.M)
        text = re.sub(rf"(Partition=|SLURM_JOB_PARTITION=){partition}\b", r"\1<PARTITION>", text)
        default_memory = memory_text(config.def_mem_per_cpu)
        text = re.sub(rf"(MinMemoryCPU=|TRES=cpu=1,mem=){default_memory}\b", r"\1<DefMemPerCPU>", text)
        text = re.sub(rf"\bSLURM_MEM_PER_CPU={config.def_mem_per_cpu}\b", "SLURM_MEM_PER_CPU=<DefMemPerCPU>", text)
        # (what the partition gives a job; a job's own --exclusive NO, USER, MCS are no site difference)
        text = re.sub(r"OverSubscribe=(?!(NO|USER|MCS)\b)\S+", "OverSubscribe=<OverSubscribe>", text)
        # every node, and any list of them, is <NODE>: jobs land on whichever node is free
        for node in self.nodes:
            text = text.replace(f"slurmstepd-{node}:", "slurmstepd-<NODE>:")
            text = re.sub(rf"(?<![\w.-]){re.escape(node)}(?![\w-])", "<NODE>", text)
        if len(config.nodes) > 1:
            text = text.replace(compress_hostlist(config.nodes), "<NODE>")
        text = re.sub(r"<NODE>(?:,<NODE>)+", "<NODE>", text)
        text = re.sub(rf"UserId={re.escape(self.user)}\({self.uid}\)", "UserId=<USER>(<UID>)", text)
        # the user's group and account are the site's (root's on the CI cluster): any user may run this
        text = re.sub(rf"GroupId={re.escape(self.group)}\({os.getgid()}\)", "GroupId=<GROUP>(<GID>)", text)
        text = re.sub(r"\bAccount=\S+", "Account=<ACCOUNT>", text)
        text = re.sub(rf"\bCANCELLED by {self.uid}\b", "CANCELLED by <UID>", text)
        # a dependency names its job after a colon: afterok:J1(unfulfilled)
        text = re.sub(r"\b((?:after|afterany|afterok|afternotok|aftercorr):)(\d+)",
                      lambda m: m.group(1) + self.ids.get(m.group(2), m.group(2)), text)
        if self.ids:
            # longest first, so that 1000 is not replaced inside 10001
            pattern = "|".join(re.escape(k) for k in sorted(self.ids, key=len, reverse=True))
            # ... never inside an exit code N:S (on a new cluster job 15 and exit status 15 meet), nor
            # as the index of an array task (J3_1 stays J3_1 when 1 is also a job's id)
            text = re.sub(rf"(?<![\d:_])({pattern})(?!\d|:\d)", lambda m: self.ids[m.group(1)], text)
        return text


class Backend:
    """Slurm commands in a scratch directory, and a way to wait for the scheduler."""

    name: str
    config: ClusterConfig

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.submitted: list[str] = []
        self.norm = Normaliser(str(directory), self.config, *self._user())

    @staticmethod
    def _user() -> tuple[str, int]:
        import pwd

        uid = os.getuid()
        try:
            return pwd.getpwuid(uid).pw_name, uid
        except KeyError:
            return str(uid), uid

    # -- to be provided
    def _run(self, argv: Sequence[str], input: str | None, env: dict[str, str] | None) -> CommandResult:
        raise NotImplementedError

    def _tick(self, fast: bool) -> None:
        """Let the scheduler move on a little."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    # -- shared
    def run(self, *argv: str, input: str | None = None, env: dict[str, str] | None = None) -> CommandResult:
        return self._run(argv, input, env)

    def sbatch(self, *args: str, script: str | None = None) -> str:
        """Submit with --parsable; the job id (registered for normalisation)."""
        result = self.run("sbatch", "--parsable", *args, input=script)
        assert result.returncode == 0, result.stderr
        job_id = result.stdout.strip().split(";")[0]
        self.submitted.append(job_id)
        self.norm.register(job_id)
        return job_id

    def show(self, *argv: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
        """The command and everything the user sees of it, normalised."""
        result = self.run(*argv, input=input, env=env)
        return self.describe(result)

    def show_waiting(self, *argv: str, timeout: float) -> str:
        """:meth:`show` for a command that returns only once jobs have ended (``sbatch --wait``): it
        runs in a thread while the scheduler moves on; the job id in its reply is registered."""
        results: list[CommandResult] = []
        waiting = threading.Thread(target=lambda: results.append(self.run(*argv)), daemon=True)
        waiting.start()
        self.wait_until(lambda: not waiting.is_alive(), timeout, f"returned from {' '.join(argv)}")
        result, = results
        job_id = result.stdout.split()[-1] if result.stdout.strip() else None
        if job_id and job_id.isdigit():
            self.submitted.append(job_id)
            self.norm.register(job_id)
        return self.describe(result)

    def describe(self, result: CommandResult) -> str:
        shown = " ".join(self.norm.aliases.get(a, a) if a.startswith("--array=") else self.norm(a)
                         for a in result.argv)
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

    def __init__(self, directory: Path, poll: float = 0.25, config: ClusterConfig | None = None) -> None:
        self.runner = SubprocessRunner()
        self.poll = poll
        self.config = config or read_config(self.runner)
        super().__init__(directory)

    def _run(self, argv: Sequence[str], input: str | None, env: dict[str, str] | None) -> CommandResult:
        return self.runner.run(list(argv), input=input, cwd=str(self.directory), timeout=60, env=env)

    def _tick(self, fast: bool) -> None:
        time.sleep(self.poll)


class FakeBackend(Backend):
    name = "fake"

    def __init__(self, directory: Path, step: float = 1.0, pause: float = 0.02, **settings: object) -> None:
        self.config = CI_CLUSTER
        self.fake = FakeSlurm(progression="manual", execution="subprocess",
                              **{**fake_settings(self.config), **settings})  # type: ignore[arg-type]
        self.step = step
        self.pause = pause
        super().__init__(directory)

    def _run(self, argv: Sequence[str], input: str | None, env: dict[str, str] | None) -> CommandResult:
        return self.fake.run(list(argv), input=input, cwd=str(self.directory), env=env)

    def _tick(self, fast: bool) -> None:
        # the jobs are real processes: give them a moment of real time, then move virtual time on
        time.sleep(self.pause)
        self.fake.advance(self.step if fast else self.pause)

    def close(self) -> None:
        self.fake.close()


def real_slurm_available() -> bool:
    from cfut.__main__ import real_slurm_answers

    return all(shutil.which(c) for c in SLURM_COMMANDS) and real_slurm_answers()
