"""What a user does and sees, as scenarios that run unchanged on FakeSlurm and on real Slurm.

Each scenario drives the Slurm commands through a :class:`~backends.Backend` and returns a report:
the commands, their exit codes, stdout and stderr, output files and derived facts, normalised. The
reports recorded on the real cluster are the golden files ``tests/golden/slurm-22.05/contract/``
(re-record with ``python tests/golden/record_slurm.py``); the contract tests check both backends
against them.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from backends import CI_CLUSTER, Backend, ClusterConfig

UNKNOWN = "4000001"  # a job id neither cluster has handed out
UNKNOWN2 = "4000002"
SLOW = {"time_limit_and_purge"}


@dataclass(frozen=True)
class Need:
    """What a scenario needs of a real cluster; without it the scenario is skipped with the reason."""

    ok: Callable[[ClusterConfig], bool]
    reason: Callable[[ClusterConfig], str]


ACCOUNTING = Need(lambda c: c.accounting,
                  lambda c: f"cluster {c.name!r} keeps no accounting (AccountingStorageType=accounting_storage/none): "
                            "sacct cannot show what this scenario compares")
GPUS = Need(lambda c: c.gpus >= 2 and c.cpus >= 2,
            lambda c: f"the nodes of cluster {c.name!r} have {c.gpus} GPUs (GRES gpu) and {c.cpus} CPUs; this "
                      "scenario asks for 2 of each on one node")
TWO_CPUS = Need(lambda c: c.cpus >= 2, lambda c: f"the nodes of cluster {c.name!r} have {c.cpus} CPU; this "
                                                 "scenario asks for 2 on one node")
CI_SHAPE = Need(lambda c: c.shape == CI_CLUSTER.shape,
                lambda c: f"the nodes of cluster {c.name!r} (nodes, CPUs, MB, GPUs, partitions: {c.shape}) are not "
                          f"those of the CI cluster the report was recorded on ({CI_CLUSTER.shape})")
#: Longest a purge may take for time_limit_and_purge (MinJobAge plus slurmctld's 60 s purge period).
PURGE_BUDGET = 240.0
PURGE = Need(lambda c: c.min_job_age + 60 <= PURGE_BUDGET,
             lambda c: f"MinJobAge={c.min_job_age:g} s on cluster {c.name!r}: a purge may take "
                       f"{c.min_job_age + 60:g} s, over this scenario's budget of {PURGE_BUDGET:g} s")
#: Longest signal_and_requeue waits for a requeued job to start again (AuthInfo's cred_expire + 1 s).
REQUEUE_BUDGET = 60.0
QUICK_REQUEUE = Need(lambda c: c.cred_expire + 1 <= REQUEUE_BUDGET,
                     lambda c: f"a requeued job on cluster {c.name!r} waits AuthInfo=cred_expire "
                               f"({c.cred_expire:g} s) before it may start again, over this scenario's budget "
                               f"of {REQUEUE_BUDGET:g} s")
#: Shortest MinJobAge under which a scenario's finished jobs are still listed by squeue when it reports
#: them (aftercorr reports its first array up to a minute after its first task ended; slurmctld purges
#: every 60 s, so MinJobAge 30 s keeps them through the report, as on the CI cluster; dependencies too).
LISTING_BUDGET = 30.0
LISTS_FINISHED = Need(lambda c: c.min_job_age >= LISTING_BUDGET,
                      lambda c: f"MinJobAge={c.min_job_age:g} s on cluster {c.name!r}: squeue forgets finished "
                                f"jobs before this scenario reports them (it needs MinJobAge >= {LISTING_BUDGET:g} s)")
#: What each scenario needs beyond a Slurm 22.05+ cluster that answers.
NEEDS: dict[str, tuple[Need, ...]] = {}


def needs(*items: Need) -> Callable[[Callable[[Backend], str]], Callable[[Backend], str]]:
    def register(scenario: Callable[[Backend], str]) -> Callable[[Backend], str]:
        NEEDS[scenario.__name__] = items
        return scenario
    return register


def unmet(config: ClusterConfig, name: str) -> str | None:
    """Why the cluster cannot show scenario ``name``, or None."""
    return next((need.reason(config) for need in NEEDS.get(name, ()) if not need.ok(config)), None)


def _sorted(text: str) -> str:
    """Lines in a stable order where Slurm's own order is not the point (it sorts by priority)."""
    head, _, body = text.partition("exit ")
    code, _, rest = body.partition("\n")
    return f"{head}exit {code}\n" + "".join(sorted(rest.splitlines(keepends=True)))


def _field(text: str, name: str) -> str:
    return next((w for w in text.split() if w.startswith(f"{name}=")), f"{name}=<missing>")


@needs(ACCOUNTING)
def squeue_and_scancel(b: Backend) -> str:
    out = [b.show("squeue", f"--jobs={UNKNOWN}"),
           b.show("squeue", f"--jobs={UNKNOWN},{UNKNOWN2}"),
           b.show("squeue", "--noheader", f"--jobs={UNKNOWN},{UNKNOWN2}")]
    # --clusters asks slurmdbd which clusters there are: a cluster without accounting refuses it
    clustered = b.run("sbatch", "--parsable", f"--clusters={b.config.name}", "--wrap=true")
    if clustered.returncode == 0:
        b.submitted.append(clustered.stdout.split(";")[0])
        b.norm.register(b.submitted[-1])
    out.append(b.describe(clustered))
    done = b.sbatch("--wrap=true")
    held = b.sbatch("--begin=now+1hour", "--wrap=true")
    b.wait_until(lambda: b.ended(done), 30, "finished")
    b.wait_until(lambda: "BeginTime" in b.run("squeue", "-h", "-j", held, "-o", "%r").stdout, 30, "evaluated")
    out += [
        b.show("squeue", "--noheader", f"--jobs={done},{held}", "--format=%i|%T|%r"),
        b.show("squeue", "--noheader", f"--jobs={done}", "--format=%i|%T"),
        b.show("squeue", "--noheader", "--states=all", f"--jobs={done},{held}", "--format=%i|%T|%r"),
        b.show("squeue", "--noheader", "--states=all", f"--jobs={done}", "--format=%i|%T|%r|%l"),
        # --clusters as clients send it (Parsl's clusters=, snakemake's sacct --clusters all)
        b.show("squeue", f"--clusters={b.config.name}", f"--jobs={held}", "--format=%i|%T"),
        b.show("squeue", "--noheader", "-M", "all", f"--jobs={held}", "--format=%i|%T"),
        b.show("squeue", "-M", "nosuchcluster"),
        b.show("scancel", "-M", "nosuchcluster", UNKNOWN),
        b.show("scancel", UNKNOWN),
        b.show("scancel", done),
        b.show("scancel", "--signal=USR1", done),
        b.show("scancel", "-s", "KILL", UNKNOWN),
    ]
    # EligibleTime is Unknown while a job is held or waits on a dependency, a date once it may run
    on_hold = b.sbatch("--hold", "--wrap=true")
    waiting = b.sbatch(f"--dependency=afterok:{on_hold}", "--wrap=true")
    # ... but a --begin time still to come is the EligibleTime shown, held or waiting
    held_later = b.sbatch("--hold", "--begin=now+1hour", "--wrap=true")
    waiting_later = b.sbatch(f"--dependency=afterok:{on_hold}", "--begin=now+1hour", "--wrap=true")
    pending = ("sacct", "--noheader", "--parsable2", "--allocations", f"--jobs={on_hold},{waiting},{held}",
               "--format=JobID,Eligible,State")
    b.wait_until(lambda: len(b.run(*pending).stdout.splitlines()) == 3, 30, "in accounting")
    out += [
        b.show(*pending),
        "scontrol held: " + b.norm(_fields(b.run("scontrol", "-o", "show", "job", on_hold).stdout,
                                           "EligibleTime", "AccrueTime")),
        "scontrol waiting: " + b.norm(_fields(b.run("scontrol", "-o", "show", "job", waiting).stdout,
                                              "EligibleTime", "AccrueTime")),
        "scontrol held, later: " + b.norm(_fields(b.run("scontrol", "-o", "show", "job", held_later).stdout,
                                                  "Reason", "EligibleTime", "AccrueTime")),
        "scontrol waiting, later: " + b.norm(_fields(b.run("scontrol", "-o", "show", "job", waiting_later).stdout,
                                                     "Reason", "EligibleTime", "AccrueTime")),
        b.show("scancel", held),
        b.show("scancel", held),
        b.show("scancel", on_hold, waiting, held_later, waiting_later),
    ]
    b.wait_until(lambda: b.accounted(done, held), 30, "in accounting")
    out += [
        b.show("squeue", "--noheader", "--states=all", f"--jobs={done},{held}", "--format=%i|%T|%r"),
        b.show("sacct", "--noheader", "--parsable2", "--allocations", f"--jobs={done},{held}",
               "--format=JobID,State,ExitCode"),
        b.show("sacct", "--parsable", f"--jobs={done}", "--format=JobID,JobName,State,ExitCode"),
        b.show("sacct", "-X", "--parsable2", "--clusters", "all", "--noheader", f"--jobs={done}",
               "--format=JobIdRaw,State"),
        b.show("sacct", "-X", "--parsable2", f"--jobs={done}", env={"SACCT_FORMAT": "JobID,State"}),
        b.show("sacct", "--parsable2", f"--jobs={done}", "--format=JobID,JobName,State,ExitCode"),
    ]
    return "\n".join(out)


def sbatch_replies(b: Backend) -> str:
    maximum = b.config.max_array_size
    b.norm.alias(f"--array=0-{maximum}", "--array=0-<MaxArraySize>")
    b.norm.alias(f"--array={maximum - 1}", "--array=<MaxArraySize-1>")
    bad_directive = "#!/bin/sh\n#SBATCH --bogus\ntrue\n"
    (b.directory / "bad.sh").write_text(bad_directive)
    (b.directory / "noshebang.sh").write_text("echo hi\n")
    out = [
        b.show("sbatch", "--bogus", "--wrap=true"),
        b.show("sbatch", "--time=abc", "--wrap=true"),
        b.show("sbatch", "--time=1:2:3:4", "--wrap=true"),
        b.show("sbatch", "--mem=lots", "--wrap=true"),
        b.show("sbatch", "bad.sh"),
        b.show("sbatch", "--partition=nope", "--wrap=true"),
        b.show("sbatch", "--array=5-1", "--wrap=true"),
        b.show("sbatch", "--array=abc", "--wrap=true"),
        b.show("sbatch", f"--array=0-{b.config.max_array_size}", "--wrap=true"),
        b.show("sbatch", "noshebang.sh"),
        b.show("sbatch", "missing.sh"),
        b.show("sbatch", input="echo from stdin\n"),
    ]
    ok = [("--parsable", "--wrap=true"), ("--wrap=true",), ("--quiet", "--parsable", f"--array={maximum - 1}",
                                                           "--wrap=true")]
    for args in ok:
        result = b.run("sbatch", *args)
        words = result.stdout.split()
        if words:
            job_id = words[-1]
            b.submitted.append(job_id)
            b.norm.register(job_id)
        out.append(b.describe(result))
    quiet = b.run("sbatch", "--quiet", "--wrap=true")
    out.append(b.describe(quiet))
    return "\n".join(out)


@needs(ACCOUNTING)
def exit_codes(b: Backend) -> str:
    scripts = {
        "exit 3": "exit 3",
        "shell killed by USR1": "kill -USR1 $$",
        "child killed by TERM": "sh -c 'kill -TERM $$'",
        "success": "echo done",
        "exit 200": "exit 200",
    }
    ids = {name: b.sbatch(f"--job-name=c{i}", f"--wrap={cmd}") for i, (name, cmd) in enumerate(scripts.items())}
    bad_dir = b.sbatch("--output=/nonexistent/dir/out.txt", "--wrap=true")
    every = [*ids.values(), bad_dir]
    b.wait_until(lambda: b.ended(*every), 60, "finished")
    b.wait_until(lambda: b.accounted(*every), 30, "in accounting")
    out = [_sorted(b.show("squeue", "--noheader", "--states=all", f"--jobs={','.join(every)}",
                          "--format=%i|%j|%T|%r|%R")),
           b.show("sacct", "--noheader", "--parsable2", f"--jobs={','.join(every)}",
                  "--format=JobID,JobName,State,ExitCode"),
           b.show("scontrol", "show", "job", ids["shell killed by USR1"]),
           b.show("scontrol", "--oneliner", "show", "job", bad_dir),
           *(f"scontrol {name}: " + b.norm(_field(b.run("scontrol", "-o", "show", "job", ids[name]).stdout, "ExitCode"))
             for name in ("child killed by TERM", "exit 200")),
           "files: " + " ".join(b.files()),
           "success output: " + b.read(f"slurm-{ids['success']}.out")]
    return "\n".join(out)


@needs(ACCOUNTING)
def arrays(b: Backend) -> str:
    script = "echo task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_JOB_ID is $SLURM_JOB_ID; sleep 1"
    array = b.sbatch("--array=0-3%2", "--output=arr-%A_%a-%j.out", f"--wrap={script}")
    plain = b.sbatch("--output=plain-%A_%a-%j.out", "--wrap=echo plain $SLURM_JOB_ID")
    held = b.sbatch("--begin=now+1hour", "--array=0-4", "--wrap=true")
    most = [0]

    def array_done() -> bool:
        states = b.states(array, plain)
        most[0] = max(most[0], sum(s == "RUNNING" for k, s in states.items() if k.startswith(f"{array}_")))
        return b.ended(array, plain)

    b.wait_until(lambda: "BeginTime" in b.run("squeue", "-h", "-j", held, "-o", "%r").stdout, 30, "evaluated")
    out = [b.show("squeue", "--noheader", f"--jobs={held}", "--format=%i|%T|%r|%K"),
           b.show("squeue", "--noheader", "--array", f"--jobs={held}", "--format=%i|%A|%T|%r|%K"),
           b.show("scancel", f"{held}_1"),
           b.show("squeue", "--noheader", "--array", "--states=all", f"--jobs={held}", "--format=%i|%T"),
           b.show("scancel", held)]
    b.wait_until(array_done, 60, "finished")
    # the tasks' own job ids, numbered in task order (each got one when it started)
    raw = b.run("squeue", "--noheader", "--array", "--states=all", f"--jobs={array}", "--format=%K %A").stdout
    for _, own in sorted((int(k), a) for k, a in (line.split() for line in raw.splitlines())):
        b.norm.register(own)
    b.wait_until(lambda: b.accounted(array, plain, held, rows=6), 30, "in accounting")
    out += [
        _sorted(b.show("squeue", "--noheader", "--array", "--states=all", f"--jobs={array},{held}",
                       "--format=%i|%A|%F|%K|%T")),
        b.show("sacct", "--noheader", "--parsable2", "--allocations", f"--jobs={array},{held}",
               "--format=JobID,JobIDRaw,State,ExitCode"),
        f"at most 2 tasks ran at once: {most[0] <= 2}",
        "files: " + " ".join(b.files()),
        *(f"{b.norm(name)}: {b.read(name)}" for name in sorted(
            p.name for p in b.directory.iterdir() if p.name.startswith(("arr-", "plain-")))),
    ]
    return "\n".join(out)


@needs(ACCOUNTING, TWO_CPUS)
def completing_and_environment(b: Backend) -> str:
    stubborn = b.sbatch("--job-name=stubborn", "--wrap=trap '' TERM; echo ready; sleep 300")
    names = ("SLURM_JOB_ID SLURM_JOBID SLURM_JOB_NAME SLURM_ARRAY_JOB_ID SLURM_ARRAY_TASK_ID "
             "SLURM_ARRAY_TASK_COUNT SLURM_ARRAY_TASK_MIN SLURM_ARRAY_TASK_MAX SLURM_ARRAY_TASK_STEP "
             "SLURM_CPUS_ON_NODE SLURM_CPUS_PER_TASK SLURM_JOB_CPUS_PER_NODE SLURM_JOB_NUM_NODES SLURM_NNODES "
             "SLURM_JOB_NODELIST SLURM_NODELIST SLURMD_NODENAME SLURM_JOB_PARTITION SLURM_CLUSTER_NAME "
             "SLURM_SUBMIT_DIR SLURM_NTASKS SLURM_JOB_QOS SLURM_GTIDS SLURM_PROCID SLURM_NODEID ENVIRONMENT "
             "FOO").split()
    show_env = "; ".join(f'echo "{n}=${{{n}-<unset>}}"' for n in names)
    env_job = b.sbatch("--array=2,4", "--cpus-per-task=2", "--job-name=envjob", "--export=ALL,FOO=bar",
                       f"--wrap={show_env}")
    b.wait_until(lambda: "ready" in b.read(f"slurm-{stubborn}.out"), 30, "ready")
    b.wait_until(lambda: b.ended(env_job), 30, "finished")
    seen = [b.state(stubborn)]
    cancel = b.show("scancel", stubborn)

    def gone() -> bool:
        state = b.state(stubborn)
        if state != seen[-1]:
            seen.append(state)
        return state == "CANCELLED"

    b.wait_until(gone, 30, "cancelled")
    raw = b.run("squeue", "--noheader", "--array", "--states=all", f"--jobs={env_job}", "--format=%K %A").stdout
    for _, own in sorted((int(k), a) for k, a in (line.split() for line in raw.splitlines())):
        b.norm.register(own)
    b.wait_until(lambda: b.accounted(stubborn, env_job), 30, "in accounting")
    out = [cancel, "states seen: " + " ".join(seen),
           b.show("sacct", "--noheader", "--parsable2", f"--jobs={stubborn}", "--format=JobID,State,ExitCode"),
           f"log: {b.read(f'slurm-{stubborn}.out')}",
           f"env task 2:\n{b.read(f'slurm-{env_job}_2.out')}",
           f"env task 4:\n{b.read(f'slurm-{env_job}_4.out')}"]
    return "\n".join(out)


@needs(ACCOUNTING, PURGE)
def time_limit_and_purge(b: Backend) -> str:
    """Slow on real Slurm: a time limit (60-100 s) and a purge (MinJobAge to MinJobAge + 60 s),
    waited for together; the waits follow the cluster's MinJobAge and OverTimeLimit."""
    # exec: the batch step is the sleep itself, which dies of the time limit's SIGTERM. With a shell
    # waiting for it, which of the two the signal reaches first depends on the TaskPlugin (with
    # task/cgroup the shell saw its child die and exited 143), a site difference the report must not show.
    limited = b.sbatch("--time=0:30", "--wrap=echo started; exec sleep 300")
    quick = b.sbatch("--wrap=true")
    b.wait_until(lambda: b.state(limited) == "RUNNING", 30, "running")
    out = [b.show("squeue", "--noheader", f"--jobs={limited}", "--format=%i|%T|%l"),
           b.show("scontrol", "show", "job", limited).split("TimeMin")[0].split("TimeLimit=")[-1].strip()]
    config = b.config
    b.wait_until(lambda: b.run("squeue", f"--jobs={quick}").returncode == 1, config.min_job_age + 120, "purged",
                 fast=True)
    b.wait_until(lambda: b.ended(limited), 150 + config.over_time_limit + config.kill_wait, "timed out", fast=True)
    b.wait_until(lambda: b.accounted(limited, quick), 30, "in accounting")
    elapsed = b.run("sacct", "-n", "-P", "-X", f"--jobs={limited}", "--format=ElapsedRaw").stdout.strip()
    out += [
        b.show("squeue", f"--jobs={quick}"),
        b.show("squeue", "--noheader", f"--jobs={quick},{UNKNOWN}"),
        b.show("scontrol", "show", "job", quick),
        b.show("squeue", "--noheader", "--states=all", f"--jobs={limited}", "--format=%i|%T|%r"),
        b.show("sacct", "--noheader", "--parsable2", f"--jobs={limited},{quick}",
               "--format=JobID,State,ExitCode,Timelimit"),
        f"ran at least its limit: {int(elapsed) >= 60}",
        f"log: {b.read(f'slurm-{limited}.out')}",
    ]
    return "\n".join(out)


def hold_and_release(b: Backend) -> str:
    """sbatch --hold and scontrol hold/release: reasons, priority 0, errors per id, arrays by task."""
    held = b.sbatch("--hold", "--wrap=echo held")
    later = b.sbatch("--begin=now+1hour", "--wrap=true")
    array = b.sbatch("--array=0-2", "--hold", "--wrap=true")
    out = [
        b.show("squeue", "--noheader", f"--jobs={held},{array}", "--array", "--format=%i|%T|%r"),
        b.show("scontrol", "hold", later),
        # scontrol hold makes JobHeldAdmin as root, JobHeldUser as anyone else (observed)
        b.show("squeue", "--noheader", f"--jobs={later},{UNKNOWN}", "--format=%i|%T|%r").replace(
            f"|{'JobHeldAdmin' if b.norm.uid == 0 else 'JobHeldUser'}", "|<held by scontrol hold>"),
        _field(b.run("scontrol", "--oneliner", "show", "job", later).stdout, "Priority"),
        b.show("scontrol", "hold"),
        b.show("scontrol", "release", UNKNOWN),
        b.show("scontrol", "release", f"{held},{array}_1"),
    ]
    b.wait_until(lambda: b.ended(held, f"{array}_1"), 30, "released jobs finished")
    out += [
        # states only: the reason of the array's tasks still held after one was released is
        # JobHeldUser or JobHeldAdmin (releasing as root), depending on a race inside slurmctld
        b.show("squeue", "--noheader", "--states=all", f"--jobs={held},{array}", "--array", "--format=%i|%T"),
        # one id a call: with a finished and an unknown id together, a fresh cluster once printed only the
        # first complaint (not reproduced since), so the contract does not depend on that
        b.show("scontrol", "release", held),
        b.show("scontrol", "release", f"{array}_1"),
        b.show("scontrol", "release", f"{UNKNOWN2}_1"),
        b.show("scancel", later, array),
    ]
    return "\n".join(out)


def _fields(text: str, *names: str) -> str:
    return " ".join(_field(text, name) for name in names)


@needs(LISTS_FINISHED)
def dependencies(b: Backend) -> str:
    """--dependency as the clients send it: afterok/afternotok/afterany/after, ? (any of), singleton,
    unknown ids, --kill-on-invalid-dep, and what squeue (%E) and scontrol (Dependency=) say."""
    first = b.sbatch("--job-name=first", "--wrap=sleep 2")
    fails = b.sbatch("--job-name=fails", "--wrap=exit 1")
    ok = b.sbatch("--job-name=ok", f"--dependency=afterok:{first}", "--wrap=true")
    notok = b.sbatch("--job-name=notok", f"--dependency=afternotok:{first}", "--wrap=true")
    started = b.sbatch("--job-name=started", f"--dependency=after:{first}", "--wrap=true")
    both = b.sbatch("--job-name=both", f"--dependency=afterany:{first},afterany:{fails}", "--wrap=true")
    either = b.sbatch("--job-name=either", f"--dependency=afterok:{fails}?afterany:{fails}", "--wrap=true")
    never = b.sbatch("--job-name=never", f"--dependency=afterok:{fails}", "--wrap=true")
    killed = b.sbatch("--job-name=killed", f"--dependency=afterok:{fails}", "--kill-on-invalid-dep=yes", "--wrap=true")
    unknown = b.sbatch("--job-name=unknown", f"--dependency=afterok:{UNKNOWN}", "--wrap=true")
    solo1 = b.sbatch("--job-name=solo", "--dependency=singleton", "--wrap=sleep 2")
    solo2 = b.sbatch("--job-name=solo", "--dependency=singleton", "--wrap=true")
    out = [b.show("squeue", "--noheader", f"--jobs={ok},{notok},{solo2}", "--format=%i|%j|%T|%r|%E"),
           b.show("sbatch", "--dependency=bogus:1", "--wrap=true"),
           b.show("sbatch", "--dependency=afterok", "--wrap=true")]
    every = [first, fails, ok, notok, started, both, either, never, killed, unknown, solo1, solo2]

    def settled() -> bool:
        states = b.states(*every)
        waiting = {notok, never}
        return all(s not in ("PENDING", "RUNNING", "COMPLETING") for k, s in states.items() if k not in waiting) and \
            "DependencyNeverSatisfied" in b.run("squeue", "-h", "-j", f"{notok},{never}", "-o", "%r").stdout and \
            b.run("squeue", "-h", "-j", f"{notok},{never}", "-o", "%r").stdout.count("DependencyNeverSatisfied") == 2

    b.wait_until(settled, 90, "settled")
    out += [_sorted(b.show("squeue", "--noheader", "--states=all", f"--jobs={','.join(every)}",
                           "--format=%j|%T|%r|%E")),
            "scontrol never: " + b.norm(_fields(b.run("scontrol", "-o", "show", "job", never).stdout,
                                                "JobState", "Reason", "Dependency")),
            "scontrol killed: " + b.norm(_fields(b.run("scontrol", "-o", "show", "job", killed).stdout,
                                                 "JobState", "Reason", "Dependency", "ExitCode")),
            b.show("scancel", never, notok)]
    return "\n".join(out)


def _job_time(b: Backend, job_id: str, which: str) -> str | None:
    """A job's StartTime or EndTime (``which``: "Start" or "End") as Slurm recorded it, from
    ``scontrol show job`` while it remembers the job, else from ``sacct``; None if neither does."""
    shown = _field(b.run("scontrol", "-o", "show", "job", job_id).stdout, f"{which}Time").partition("=")[2]
    if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", shown):
        return shown
    accounted = b.run("sacct", "-n", "-X", "-P", "-j", job_id, "-o", which).stdout.strip()
    return accounted if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", accounted) else None


@needs(LISTS_FINISHED)
def aftercorr(b: Backend) -> str:
    """--dependency=aftercorr (what cfut sends for a map over a map): task i waits for task i of the
    named array alone, and starts while other tasks of it still run; a task whose partner failed, or
    that has none, never can (cancelled under --kill-on-invalid-dep=yes, else left pending)."""
    # Task 2 of the first array ends only once task 0 of the dependant has run (it writes a flag,
    # 90 s at most): Slurm 22.05 releases a dependant task only after splitting it off its array,
    # which it does at a backfill pass (bf_interval, 30 s by default) as well as at once, so how
    # soon task 0 starts varies; whether it starts before the whole first array has ended does not.
    first = b.sbatch("--array=0-2", "--output=/dev/null",
                     "--wrap=sleep $((SLURM_ARRAY_TASK_ID * 12 + 1)); if [ $SLURM_ARRAY_TASK_ID -eq 2 ]; then "
                     "until [ -e aftercorr.flag ] || [ $SECONDS -gt 90 ]; do sleep 0.2; done; fi; "
                     "test $SLURM_ARRAY_TASK_ID -ne 1")
    killed = b.sbatch("--array=0-3", f"--dependency=aftercorr:{first}", "--kill-on-invalid-dep=yes",
                      "--output=/dev/null", "--wrap=touch aftercorr.flag")
    kept = b.sbatch("--array=0-2", f"--dependency=aftercorr:{first}", "--output=/dev/null", "--wrap=true")
    # slurmctld says why they wait at its next scheduling pass (reason None until then)
    b.wait_until(lambda: "None" not in b.run("squeue", "-h", "--array", "-j", f"{killed},{kept}", "-o", "%r").stdout,
                 30, "evaluated")
    out = [_sorted(b.show("squeue", "--noheader", "--array", f"--jobs={killed},{kept}", "--format=%i|%T|%r|%E"))]
    early = [False]

    def partner_done() -> bool:
        states = b.states(first, killed)
        if states.get(f"{killed}_0") not in ("RUNNING", "COMPLETING", "COMPLETED"):
            return False
        if states.get(f"{first}_2") in ("PENDING", "RUNNING"):
            early[0] = True  # task 2 has not ended: task 0 did not wait for the whole array
        else:
            # seen late (a loaded machine polls slowly): Slurm's own times say which came first
            started, ended = _job_time(b, f"{killed}_0", "Start"), _job_time(b, f"{first}_2", "End")
            early[0] = started is not None and ended is not None and started <= ended  # (whole seconds)
        return True

    b.wait_until(partner_done, 60, "task 0 started")
    out.append(f"task 0 started before task 2 of the first array ended: {early[0]}")

    def settled() -> bool:
        states = b.states(first, killed, kept)
        pending = [k for k, s in states.items() if s in ("PENDING", "RUNNING", "COMPLETING")]
        return pending == [f"{kept}_1"] and "DependencyNeverSatisfied" in b.run(
            "squeue", "-h", "-j", f"{kept}_1", "-o", "%r").stdout

    b.wait_until(settled, 90, "settled")
    out += [_sorted(b.show("squeue", "--noheader", "--array", "--states=all", f"--jobs={first},{killed},{kept}",
                           "--format=%i|%T|%r|%E")),
            "scontrol kept_1: " + b.norm(_fields(b.run("scontrol", "-o", "show", "job", f"{kept}_1").stdout,
                                                 "JobState", "Reason", "Dependency")),
            b.show("scancel", kept)]
    return "\n".join(out)


_GPU_ENV = ("CUDA_VISIBLE_DEVICES SLURM_JOB_GPUS SLURM_GPUS_ON_NODE SLURM_GPUS SLURM_GPUS_PER_NODE SLURM_GPUS_PER_TASK "
            "SLURM_MEM_PER_NODE SLURM_MEM_PER_CPU SLURM_NTASKS").split()


def _gpu_env(text: str) -> str:
    """Which GPUs a job got depends on what else runs: show how many, not which."""
    return re.sub(r"^(CUDA_VISIBLE_DEVICES|SLURM_JOB_GPUS)=([\d,]+)$",
                  lambda m: f"{m.group(1)}=<{len(m.group(2).split(','))} GPUs>", text, flags=re.M)


@needs(GPUS)
def gpus_and_memory(b: Backend) -> str:
    """--gres/--gpus*/--mem/--mem-per-cpu: accepted forms, the job's environment, scontrol's
    TresPer* and memory fields, and what sbatch refuses."""
    config = b.config
    show_env = "; ".join(f'echo "{n}=${{{n}-<unset>}}"' for n in _GPU_ENV)
    jobs = {
        "gres": b.sbatch("--gres=gpu:1", "--output=gres.out", f"--wrap={show_env}"),
        "gpus": b.sbatch("--gpus=1", "--mem=100M", "--output=gpus.out", f"--wrap={show_env}"),
        "per-node": b.sbatch("--gpus-per-node=1", "--output=per-node.out", f"--wrap={show_env}"),
        # --nodes=1: both tasks' GPUs on one node, wherever the other jobs' GPUs happen to be
        "per-task": b.sbatch("--gpus-per-task=1", "--ntasks=2", "--nodes=1", "--mem-per-cpu=200M",
                             "--output=per-task.out", f"--wrap={show_env}"),
        "plain": b.sbatch("--mem-per-cpu=300M", "--output=plain.out", f"--wrap={show_env}"),
    }
    b.norm.alias(f"--gres=gpu:{config.gpus + 1}", "--gres=gpu:<GPUs+1>")
    b.norm.alias(f"--mem={config.memory + 1}M", "--mem=<RealMemory+1>M")
    out = [b.show("sbatch", f"--gres=gpu:{config.gpus + 1}", "--wrap=true"),
           b.show("sbatch", "--gres=tpu:1", "--wrap=true"),
           b.show("sbatch", "--gpus=abc", "--wrap=true"),
           b.show("sbatch", f"--mem={config.memory + 1}M", "--wrap=true"),
           b.show("sbatch", "--mem-per-cpu=lots", "--wrap=true")]
    b.wait_until(lambda: b.ended(*jobs.values()), 90, "finished")
    for name, job in jobs.items():
        record = b.run("scontrol", "-o", "show", "job", job).stdout
        tres = [w for w in record.split() if w.startswith(("TresPerNode=", "TresPerJob=", "TresPerTask="))]
        out += [f"{name}: " + b.norm(_fields(record, "JobState", "NumCPUs", "NumTasks", "TRES", "MinMemoryNode",
                                             "MinMemoryCPU") + " " + " ".join(tres or ["(no TresPer*)"])),
                _gpu_env(b.read(f"{name}.out"))]
    return "\n".join(out)


@needs(QUICK_REQUEUE)
def signal_and_requeue(b: Backend) -> str:
    """--signal=B:SIG@TIME reaches the batch shell before the time limit; scontrol requeue sends a
    running job back to the queue (Restarts=, SLURM_RESTART_COUNT) and refuses what it cannot requeue."""
    trap = "trap 'echo got USR1; exit 0' USR1; echo started; sleep 300 & wait"
    # USR1@60 of a 2-minute job: the signal comes well after the shell set its trap (30-60 s on a
    # 30 s time-limit pass), whichever clock runs the cluster.
    warned = b.sbatch("--time=2", "--signal=B:USR1@60", "--output=warned.out", f"--wrap={trap}")
    again = b.sbatch("--output=again.out", "--wrap=echo run ${SLURM_RESTART_COUNT-0}; sleep 300")
    fixed = b.sbatch("--no-requeue", "--wrap=sleep 300")
    later = b.sbatch("--begin=now+1hour", "--wrap=true")
    out = [b.show("sbatch", "--signal=BOGUS@10", "--wrap=true"),
           b.show("sbatch", "--signal=USR1@x", "--wrap=true")]
    b.wait_until(lambda: b.state(again) == "RUNNING" and b.state(fixed) == "RUNNING"
                 and "run 0" in b.read("again.out"), 60, "running")
    out += [b.show("scontrol", "requeue", again),
            b.show("scontrol", "requeue", UNKNOWN),
            b.show("scontrol", "requeue", fixed),
            b.show("scontrol", "requeue", later)]
    b.wait_until(lambda: b.state(again) == "PENDING", 60, "pending again")
    record = b.run("scontrol", "-o", "show", "job", again).stdout
    out.append("requeued: " + b.norm(_fields(record, "JobState", "Reason", "Requeue", "Restarts")))
    b.wait_until(lambda: "run 1" in b.read("again.out"), b.config.cred_expire + 60, "running again")
    out.append("requeued log: " + b.read("again.out"))
    b.wait_until(lambda: b.ended(warned), 90, "warned and ended")
    out += [b.show("squeue", "--noheader", "--states=all", f"--jobs={warned},{again}", "--format=%i|%T|%r"),
            # slurmstepd sometimes logs its own race with the exiting shell ("failed signal 18 ...
            # No such process"): Slurm's noise, not the job's output
            "warned log: " + "".join(line for line in b.read("warned.out").splitlines(keepends=True)
                                     if not line.startswith("slurmstepd")),
            b.show("scancel", again, fixed, later)]
    return "\n".join(out)


@needs(QUICK_REQUEUE)
def output_modes(b: Backend) -> str:
    """--open-mode: the forms sbatch takes, an output file that exists already (truncated or appended
    to) and across a requeue of a --requeue job; SLURM_OPEN_MODE in the job."""
    show = 'echo "run ${SLURM_RESTART_COUNT-0} mode ${SLURM_OPEN_MODE-<unset>}"'
    names = ("append", "truncate", "default", "directive")
    for name in names:
        (b.directory / f"{name}.out").write_text("from before\n")
    kept = b.sbatch("--open-mode=append", "--requeue", "--output=append.out", f"--wrap={show}; sleep 300")
    jobs = [b.sbatch("--open-mode=Truncate", "--output=truncate.out", f"--wrap={show}"),
            b.sbatch("--output=default.out", f"--wrap={show}"),
            b.sbatch(script=f"#!/bin/sh\n#SBATCH --open-mode=A\n#SBATCH --output=directive.out\n{show}\n")]
    out = [b.show("sbatch", f"--open-mode={mode}", "--wrap=true") for mode in ("", "sometimes")]
    b.wait_until(lambda: b.state(kept) == "RUNNING" and "run 0" in b.read("append.out"), 60, "running")
    out.append(b.show("scontrol", "requeue", kept))
    b.wait_until(lambda: "run 1" in b.read("append.out"), b.config.cred_expire + 60, "running again")
    b.wait_until(lambda: b.ended(*jobs), 60, "finished")
    record = b.run("scontrol", "-o", "show", "job", kept).stdout
    out.append("requeued: " + b.norm(_fields(record, "JobState", "Requeue", "Restarts")))
    out += [f"{name}.out: {b.read(f'{name}.out')}" for name in names]
    out.append(b.show("scancel", kept))
    return "\n".join(out)


def sbatch_wait(b: Backend) -> str:
    """sbatch --wait: its reply at submission and its exit code (the job's, the highest of an array's
    tasks', 1 for a job killed by a signal)."""
    forms = (("--wait", "--wrap=exit 3"), ("-W", "--parsable", "--wrap=true"),
             ("--wait", "--array=0-2", "--wrap=exit $((3 - SLURM_ARRAY_TASK_ID))"), ("--wait", "--wrap=kill -9 $$"))
    return "\n".join(b.show_waiting("sbatch", *args, timeout=60) for args in forms)


_LAYOUT_ENV = ("SLURM_NNODES", "SLURM_JOB_NODELIST", "SLURM_CPUS_ON_NODE", "SLURM_JOB_CPUS_PER_NODE",
               "SLURM_TASKS_PER_NODE", "SLURM_NTASKS", "SLURM_MEM_PER_NODE", "SLURM_MEM_PER_CPU", "SLURM_GPUS_ON_NODE",
               "CUDA_VISIBLE_DEVICES")


#: Longest task_layout_and_sharing waits for other jobs to leave the nodes before it skips.
IDLE_BUDGET = 120.0


def _when_idle(b: Backend) -> None:
    """Return once no job runs on the cluster (where slurmctld puts a job depends on what else runs),
    or skip the scenario with the reason when others' jobs keep running: a shared cluster's load is
    a site difference, never a failure."""
    deadline = time.monotonic() + IDLE_BUDGET
    while b.run("squeue", "--noheader", "--states=running,completing", "--format=%i").stdout.strip():
        if time.monotonic() > deadline:
            pytest.skip(f"jobs kept running on cluster {b.config.name!r} for {IDLE_BUDGET:g} s: this scenario "
                        "needs idle nodes to show where slurmctld puts a job")
        b._tick(False)  # let the scheduler move on a little


@needs(CI_SHAPE)
def task_layout_and_sharing(b: Backend) -> str:
    """Where slurmctld puts a job's tasks and what it gives it, one job at a time on the idle CI
    cluster: --ntasks more than a node holds (spread over nodes; NumNodes estimated while pending),
    --exclusive with or without a GPU (all the node's), --exclusive=user|mcs (OverSubscribe= while pending),
    --mem=0 and --mem-per-cpu=0 (all of a node's memory), --gres=none and gpu:0, and what sbatch refuses of these."""
    show_env = "; ".join(f'echo "{n}=${{{n}-<unset>}}"' for n in _LAYOUT_ENV)
    out = [b.show("sbatch", "--exclusive=bogus", "--wrap=true"), b.show("sbatch", "--gres=none,gpu:1", "--wrap=true"),
           b.show("sbatch", "--mem=1G", "--mem-per-cpu=1G", "--wrap=true")]
    held = {name: b.sbatch("--hold", *args, "--wrap=true") for name, args in (
        ("spread", ("--ntasks=3",)), ("too-many", ("--ntasks=5",)), ("wide", ("--ntasks=3", "--cpus-per-task=2")),
        ("exclusive", ("--exclusive",)), ("user", ("--exclusive=USER",)), ("mcs", ("--exclusive=mcs",)),
        ("whole-memory", ("--mem=0",)), ("no-gres", ("--gres=none",)), ("zero-gpus", ("--gres=gpu:0",)),
        ("beyond", ("--nodes=3",)), ("per-node", ("--ntasks=5", "--ntasks-per-node=1")),
        ("uneven", ("--nodes=2", "--ntasks=3")))}
    for name, job in held.items():
        record = b.run("scontrol", "-o", "show", "job", job).stdout
        out.append(f"held {name}: " + b.norm(_fields(record, "NumNodes", "NumCPUs", "NumTasks", "TRES",
                                                     "MinMemoryNode", "MinMemoryCPU", "OverSubscribe"))
                   + " squeue: " + b.run("squeue", "-h", "-j", job, "-o", "%D|%C|%m|%b").stdout.strip())
    b.run("scancel", *held.values())
    never = {"beyond": b.sbatch("--nodes=3", "--wrap=true"),
             "per-node": b.sbatch("--ntasks=5", "--ntasks-per-node=1", "--wrap=true")}
    # (slurmctld's first look at submission says PartitionConfig for both; its next pass, the limit)
    reasons = {"beyond": "PartitionNodeLimit", "per-node": "PartitionConfig"}
    b.wait_until(lambda: all(b.run("squeue", "-h", "-j", job, "-o", "%r").stdout.strip() == reasons[name]
                             for name, job in never.items()), 30, "evaluated")
    out += [b.show("squeue", "--noheader", f"--jobs={job}", "--format=%T|%r|%D|%C") for job in never.values()]
    b.run("scancel", *never.values())
    for name, args in (("spread", ("--ntasks=3",)), ("exclusive-gpu", ("--gres=gpu:1", "--exclusive")),
                       ("exclusive", ("--exclusive",)), ("mem-per-cpu-0", ("--mem-per-cpu=0",)),
                       ("user", ("--exclusive=user",)), ("whole-memory", ("--mem=0",)), ("no-gres", ("--gres=none",)),
                       ("tasks-per-node", ("--ntasks=2", "--ntasks-per-node=1")),
                       ("uneven", ("--nodes=2", "--ntasks=3"))):
        _when_idle(b)
        job = b.sbatch(*args, f"--output={name}.out", f"--wrap={show_env}")
        b.wait_until(lambda job=job: b.ended(job), 60, f"{name} finished")
        record = b.run("scontrol", "-o", "show", "job", job).stdout
        out += [f"{name}: " + b.norm(_fields(record, "JobState", "NumNodes", "NumCPUs", "NumTasks", "TRES",
                                              "OverSubscribe")), b.read(f"{name}.out")]
    return "\n".join(out)


@needs(CI_SHAPE)
def sinfo_and_exclusive(b: Backend) -> str:
    """What clients ask sinfo (the default partition, nodes, CPUs, memory, GPUs; no node states, which
    follow whatever else runs), and a job given a whole node (--exclusive)."""
    whole = b.sbatch("--exclusive", "--output=whole.out", "--wrap=echo cpus=$SLURM_CPUS_ON_NODE")
    out = [b.show("sinfo", "--format=%P"),
           b.show("sinfo", "--noheader", "--format=%P|%a|%l|%D|%N|%c|%m|%G"),
           # (sorted: the order of a node's partitions varies from one call to the next on Slurm 22.05)
           _sorted(b.show("sinfo", "--Node", "--noheader", "--format=%N|%P|%c|%m|%G|%z")),
           b.show("sinfo", "--partition=long", "--noheader", "--format=%R %D %c"),
           # what cfut asks for chunksize="auto" (%C left out: it follows whatever else runs)
           b.show("sinfo", "--noheader", "--responding", "--format=%P|%h|%c")]
    b.wait_until(lambda: b.ended(whole), 120, "finished")
    record = b.run("scontrol", "-o", "show", "job", whole).stdout
    out += ["exclusive: " + b.norm(_fields(record, "JobState", "NumCPUs", "TRES")), b.read("whole.out")]
    return "\n".join(out)


NOSUCH_USER = "cfut-nosuch-user"  # a user name no site has
NOSUCH_UID = "3999999"  # a uid no user has


def _user_options(b: Backend) -> tuple[str, str]:
    """``--user=`` with the user's name and with their uid, shown as <USER> and <UID> in reports."""
    user, uid = b._user()
    by_name, by_uid = f"--user={user}", f"--user={uid}"
    b.norm.alias(by_name, "--user=<USER>")
    b.norm.alias(by_uid, "--user=<UID>")
    b.norm.alias(f"Invalid user name: {user},", "Invalid user name: <USER>,")  # scancel takes no list
    return by_name, by_uid


def command_id_and_user_forms(b: Backend) -> str:
    """How squeue --jobs, scontrol show job, scancel --state/--user and squeue --user read what they
    are given: step ids, stray commas, 0, ID_* and ID_[1-2], an empty list, unknown users and uids;
    scontrol --quiet. (Every scancel here names its jobs: other users' jobs share the cluster.)"""
    by_name, by_uid = _user_options(b)
    job = b.sbatch("--begin=now+1hour", "--wrap=true")
    array = b.sbatch("--array=0-3", "--begin=now+1hour", "--wrap=true")
    running = b.sbatch("--output=/dev/null", "--wrap=sleep 300")
    b.wait_until(lambda: "BeginTime" in b.run("squeue", "-h", "-j", f"{job},{array}", "-o", "%r").stdout
                 and b.state(running) == "RUNNING", 60, "evaluated and running")
    out = []
    for ids in (f"{job}.0", f"{job},", "0", f"{job}_*", f"{job}_[1-2]", f"{array}_*", f"{array}_[1-2]",
                f"{array}_1,{array}", f"{array},{array}_1", f"{array}_1,{array}_2", f",{job}", ",", "",
                f"{UNKNOWN}.0", f"{UNKNOWN},", f"{UNKNOWN}_*", f"{UNKNOWN}_[1-2]", f"{UNKNOWN},,{job}", "abc"):
        out.append(b.show("squeue", "--noheader", f"--jobs={ids}", "--format=%i|%T"))
    out += [b.show("squeue", "--noheader", "-j", f"{job}.0", "--format=%i|%T"),
            b.show("squeue", "--noheader", "-j", f"{UNKNOWN},", "--format=%i|%T")]
    for users in (f"--user={NOSUCH_USER}", f"{by_name},{NOSUCH_USER}", f"--user={NOSUCH_USER},{NOSUCH_UID}", by_uid,
                  "--user=", f"{by_name},"):
        out.append(b.show("squeue", "--noheader", users, f"--jobs={job},{running}", "--format=%i|%T"))
    out.append(b.show("squeue", "--noheader", "-u", NOSUCH_USER, f"--jobs={job}", "--format=%i|%T"))
    listed = b.run("scontrol", "--oneliner", "show", "job", "0")
    out.append(f"scontrol show job 0: exit {listed.returncode}, lists every job of ours: "
               f"{all(f'JobId={j} ' in listed.stdout for j in (job, array, running))}")
    out += [b.show("scontrol", "show", "job", word) for word in (f"{job}.0", f"{job},", f"{job}_*", f"{array}_7")]
    out += [b.show("scontrol", *words) for words in (
        ("--quiet", "show", "job", UNKNOWN), ("-Q", "show", "job", "abc"), ("-Q", "show", "job", f"{array}_7"),
        ("-Q", "show", "job", f"{UNKNOWN}_3"), ("-Q", "requeue", UNKNOWN), ("-Q", "requeue", job),
        ("-Q", "requeue"), ("-Q", "hold", UNKNOWN), ("--quiet", "release", f"{UNKNOWN}_1"))]
    for state in ("BOGUS", "pending,running", "PENDING,", "all", "", "pd", "r", "CD"):
        out.append(b.show("scancel", f"--state={state}", UNKNOWN))
    out.append(b.show("scancel", "-t", "PENDING,RUNNING", UNKNOWN))
    for user in (f"--user={NOSUCH_USER}", f"--user={NOSUCH_UID}", "--user=", f"{by_name},", by_uid, by_name):
        out.append(b.show("scancel", user, UNKNOWN))
    out.append(b.show("scancel", "-u", NOSUCH_USER, "abc"))
    # what the filters act on: only the jobs both named and in the state (or of the user)
    out += [b.show("scancel", "--state=RUNNING", job), b.show("scancel", "-t", "pending", job, running),
            b.show("scancel", "--state=PD", running), b.show("scancel", by_uid, "--state=R", running)]
    b.wait_until(lambda: b.state(running) == "CANCELLED", 60, "cancelled")
    out.append(b.show("squeue", "--noheader", "--states=all", f"--jobs={job},{running}", "--format=%i|%T"))
    out.append(b.show("scancel", array))
    return "\n".join(out)


@needs(ACCOUNTING)
def sacct_user_forms(b: Backend) -> str:
    """sacct --user with an unknown user, a uid, an empty list, and a list with an unknown name."""
    by_name, by_uid = _user_options(b)
    done = b.sbatch("--output=/dev/null", "--wrap=true")
    b.wait_until(lambda: b.accounted(done), 60, "accounted")
    query = ("sacct", "--noheader", "--parsable2", "--allocations", f"--jobs={done}", "--format=JobID,State")
    out = [b.show(*query, users) for users in (f"--user={NOSUCH_USER}", f"--user={NOSUCH_UID}", by_uid, by_name,
                                               f"{by_name},", f"{by_name},{NOSUCH_USER}", "--user=", "--user=,")]
    out += [b.show("sacct", "-u", NOSUCH_USER, "--jobs=abc"), b.show("sacct", "--jobs=abc", "-u", NOSUCH_USER),
            b.show("sacct", "--format=JobID,Bogus", f"--jobs={done}", f"--user={NOSUCH_USER}")]
    return "\n".join(out)


def edge_paths(b: Backend) -> str:
    """Where scripts and tests meet Slurm's corners: a pending array task cancelled by its index, a
    job no node can ever run, the job's files under SLURM_UMASK, scripts that are no scripts, and
    scancel's options on ids it does not know."""
    array = b.sbatch("--array=0-3", "--begin=now+1hour", "--wrap=true")
    b.wait_until(lambda: "BeginTime" in b.run("squeue", "-h", "-j", array, "-o", "%r").stdout, 30, "evaluated")
    out = [b.show("scancel", f"{array}_2"),
           b.show("squeue", "--noheader", f"--jobs={array}_2", "--format=%i|%T"),
           b.show("squeue", "--noheader", "--array", f"--jobs={array}", env={"SQUEUE_FORMAT": "%i|%T|%r"}),
           b.show("squeue", "--noheader", "--array", f"--jobs={array}", "--format=%i|%T"),
           b.show("scontrol", "show", "job", f"{array}_2"),
           b.show("scontrol", "--oneliner", "show", "job", f"{array}_2")]
    huge = b.sbatch("--cpus-per-task=999", "--wrap=true")
    b.wait_until(lambda: "PartitionConfig" in b.run("squeue", "-h", "-j", huge, "-o", "%r").stdout, 30, "evaluated")
    out.append(b.show("squeue", "--noheader", f"--jobs={huge}", "--format=%i|%T|%r|%C"))
    modes: dict[str, str] = {}
    for name, mask in (("private", "0077"), ("group", "0002"), ("default", "0022"), ("leading", "0778"),
                       ("invalid", "abc")):
        result = b.run("sbatch", "--parsable", f"--output={name}.out", "--wrap=umask; echo ${SLURM_UMASK-unset}",
                       env={"SLURM_UMASK": mask})
        assert result.returncode == 0, result.stderr
        modes[name] = result.stdout.strip()
        b.submitted.append(modes[name])
        b.norm.register(modes[name])
    b.wait_until(lambda: b.ended(*modes.values()), 60, "finished")
    for name in modes:
        mode = stat.S_IMODE(os.stat(b.directory / f"{name}.out").st_mode)
        seen = " ".join(b.read(f"{name}.out").split())
        out.append(f"{name}.out: mode {mode:04o}, the job's umask and SLURM_UMASK: {seen}")
    (b.directory / "adir").mkdir()
    (b.directory / "empty.sh").write_text("")
    (b.directory / "dos.sh").write_bytes(b"#!/bin/sh\r\necho dos\r\n")
    (b.directory / "cr.sh").write_bytes(b"#!/bin/sh\necho a\rb\n")  # a lone CR is no line break
    out += [b.show("sbatch", "adir"), b.show("sbatch", "/dev/null"), b.show("sbatch", "empty.sh"),
            b.show("sbatch", "missing/job.sh"), b.show("sbatch", "dos.sh")]
    lone_cr = b.sbatch("--output=cr.out", "cr.sh")
    b.wait_until(lambda: b.ended(lone_cr), 60, "finished")
    out.append(f"cr.out: {(b.directory / 'cr.out').read_bytes()!r}")
    for args in (("--signal=USR1",), ("--batch",), ("--full",), ("--quiet",), ("--hurry",), ("--state=PENDING",),
                 ("--name=nobody",), ("--me",), ("--signal=KILL", "--quiet")):
        out.append(b.show("scancel", *args, UNKNOWN))
    out += [b.show("scancel", f"{UNKNOWN}_3"), b.show("scancel", f"{UNKNOWN}_[1-2]"), b.show("scancel", "abc"),
            b.show("scancel", "0"), b.show("scancel", f"{UNKNOWN}.0"), b.show("scancel", UNKNOWN, f"{UNKNOWN2}.0"),
            b.show("scancel", f"{UNKNOWN}_1.0"), b.show("scancel", f"{UNKNOWN}.x"), b.show("scancel", "-s", "999999"),
            b.show("scancel", "-s", "999999", UNKNOWN), b.show("scancel", "-s", "0", UNKNOWN),
            b.show("squeue", "--noheader", "-j", UNKNOWN), b.show("sacct", "--fi=x"), b.show("squeue", "--si=x"),
            b.show("scancel", array, huge)]
    return "\n".join(out)


SCENARIOS: dict[str, Callable[[Backend], str]] = {
    f.__name__: f for f in (squeue_and_scancel, sbatch_replies, exit_codes, arrays, completing_and_environment,
                            hold_and_release, time_limit_and_purge, dependencies, aftercorr, gpus_and_memory,
                            signal_and_requeue, output_modes, sbatch_wait,
                            task_layout_and_sharing, sinfo_and_exclusive, command_id_and_user_forms,
                            sacct_user_forms, edge_paths)
}
