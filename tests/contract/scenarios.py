"""What a user does and sees, as scenarios that run unchanged on FakeSlurm and on real Slurm.

Each scenario drives the Slurm commands through a :class:`~backends.Backend` and returns a report:
the commands, their exit codes, stdout and stderr, output files and derived facts, normalised. The
reports recorded on the real cluster are the golden files ``tests/golden/slurm-22.05/contract/``
(re-record with ``python tests/golden/record_slurm.py``); the contract tests check both backends
against them.
"""

from __future__ import annotations

from collections.abc import Callable

from backends import Backend

UNKNOWN = "4000001"  # a job id neither cluster has handed out
UNKNOWN2 = "4000002"
SLOW = {"time_limit_and_purge"}


def _sorted(text: str) -> str:
    """Lines in a stable order where Slurm's own order is not the point (it sorts by priority)."""
    head, _, body = text.partition("exit ")
    code, _, rest = body.partition("\n")
    return f"{head}exit {code}\n" + "".join(sorted(rest.splitlines(keepends=True)))


def _field(text: str, name: str) -> str:
    return next((w for w in text.split() if w.startswith(f"{name}=")), f"{name}=<missing>")


def squeue_and_scancel(b: Backend) -> str:
    out = [b.show("squeue", f"--jobs={UNKNOWN}"),
           b.show("squeue", f"--jobs={UNKNOWN},{UNKNOWN2}"),
           b.show("squeue", "--noheader", f"--jobs={UNKNOWN},{UNKNOWN2}")]
    done = b.sbatch("--wrap=true")
    held = b.sbatch("--begin=now+1hour", "--wrap=true")
    b.wait_until(lambda: b.ended(done), 30, "finished")
    b.wait_until(lambda: "BeginTime" in b.run("squeue", "-h", "-j", held, "-o", "%r").stdout, 30, "evaluated")
    out += [
        b.show("squeue", "--noheader", f"--jobs={done},{held}", "--format=%i|%T|%r"),
        b.show("squeue", "--noheader", f"--jobs={done}", "--format=%i|%T"),
        b.show("squeue", "--noheader", "--states=all", f"--jobs={done},{held}", "--format=%i|%T|%r"),
        b.show("squeue", "--noheader", "--states=all", f"--jobs={done}", "--format=%i|%T|%r|%l"),
        b.show("scancel", UNKNOWN),
        b.show("scancel", done),
        b.show("scancel", "--signal=USR1", done),
        b.show("scancel", "-s", "KILL", UNKNOWN),
        b.show("scancel", held),
        b.show("scancel", held),
    ]
    b.wait_until(lambda: b.accounted(done, held), 30, "in accounting")
    out += [
        b.show("squeue", "--noheader", "--states=all", f"--jobs={done},{held}", "--format=%i|%T|%r"),
        b.show("sacct", "--noheader", "--parsable2", "--allocations", f"--jobs={done},{held}",
               "--format=JobID,State,ExitCode"),
        b.show("sacct", "--parsable", f"--jobs={done}", "--format=JobID,JobName,State,ExitCode"),
        b.show("sacct", "--parsable2", f"--jobs={done}", "--format=JobID,JobName,State,ExitCode"),
    ]
    return "\n".join(out)


def sbatch_replies(b: Backend) -> str:
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
        b.show("sbatch", "--array=0-1001", "--wrap=true"),
        b.show("sbatch", "noshebang.sh"),
        b.show("sbatch", "missing.sh"),
        b.show("sbatch", input="echo from stdin\n"),
    ]
    ok = [("--parsable", "--wrap=true"), ("--wrap=true",), ("--parsable", "--clusters=cfut", "--wrap=true"),
          ("--quiet", "--parsable", "--array=1000", "--wrap=true")]
    for args in ok:
        result = b.run("sbatch", *args)
        words = result.stdout.replace(";", " ").split()
        if words:
            job_id = words[-2] if words[-1] == "cfut" else words[-1]
            b.submitted.append(job_id)
            b.norm.register(job_id)
        out.append(b.describe(result))
    quiet = b.run("sbatch", "--quiet", "--wrap=true")
    out.append(b.describe(quiet))
    return "\n".join(out)


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


def time_limit_and_purge(b: Backend) -> str:
    """Slow on real Slurm: a time limit (60-100 s) and a purge (30-90 s), waited for together."""
    limited = b.sbatch("--time=0:30", "--wrap=echo started; sleep 300")
    quick = b.sbatch("--wrap=true")
    b.wait_until(lambda: b.state(limited) == "RUNNING", 30, "running")
    out = [b.show("squeue", "--noheader", f"--jobs={limited}", "--format=%i|%T|%l"),
           b.show("scontrol", "show", "job", limited).split("TimeMin")[0].split("TimeLimit=")[-1].strip()]
    b.wait_until(lambda: b.run("squeue", f"--jobs={quick}").returncode == 1, 150, "purged", fast=True)
    b.wait_until(lambda: b.ended(limited), 150, "timed out", fast=True)
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
        b.show("squeue", "--noheader", f"--jobs={later},{UNKNOWN}", "--format=%i|%T|%r"),
        _field(b.run("scontrol", "--oneliner", "show", "job", later).stdout, "Priority"),
        b.show("scontrol", "hold"),
        b.show("scontrol", "release", UNKNOWN),
        b.show("scontrol", "release", f"{held},{array}_1"),
    ]
    b.wait_until(lambda: b.ended(held, f"{array}_1"), 30, "released jobs finished")
    out += [
        b.show("squeue", "--noheader", "--states=all", f"--jobs={held},{array}", "--array", "--format=%i|%T|%r"),
        # one id a call: with a finished and an unknown id together, a fresh cluster once printed only the
        # first complaint (not reproduced since), so the contract does not depend on that
        b.show("scontrol", "release", held),
        b.show("scontrol", "release", f"{array}_1"),
        b.show("scontrol", "release", f"{UNKNOWN2}_1"),
        b.show("scancel", later, array),
    ]
    return "\n".join(out)


SCENARIOS: dict[str, Callable[[Backend], str]] = {
    f.__name__: f for f in (squeue_and_scancel, sbatch_replies, exit_codes, arrays, completing_and_environment,
                            hold_and_release, time_limit_and_purge)
}
