"""cfut against the raw floor on whatever Slurm answers, and on the fakes; prints ratios and counts.

The floor is what the scheduler costs without cfut: one ``sbatch --array`` of a script that runs
Python and writes a result file per task, ``squeue`` polled every 0.1 s, results read from the
files. cfut is timed the same way, from the first call to every result in hand; its executor's
shutdown after that (waiting for the jobs to leave Slurm's queue, removing their files) is printed
beside each row. Each workload runs ``--repeat`` times, interleaved with its floor, and the medians
are compared, so that the cluster's mood of the moment affects both sides alike. One more row puts
the ``chunksize="auto"`` map against the physical limit of a chunked map: a floor of one wave of as
many plain tasks as cfut used. cfut's bytecode is compiled first, as ``pip install`` does.

Goals (issue 12), on this 2-core machine's real Slurm, as ratios to the floor of the same run:

* map of 100 trivial calls: ``chunksize="auto"`` <= 0.15x, ``chunksize=1`` <= 1.05x;
* one job, submit to result: <= floor + 0.15 s;
* map of 20 calls sleeping 1 s: <= 1.05x (``chunksize="auto"``);
* a loop of 300 ``submit``: <= 0.3x the time of 300 separate jobs, with <= 5 ``sbatch``.

And on the fakes: 10,000 separate ``submit`` < 10 s, 100,000 calls through ``map`` < 30 s (the
round trips of the fake alone: ``bench/bench_fake_slurm.py``).

Run ``python bench/bench_executor.py [--repeat N] [--real-only | --fake-only] [--big]``; ``--big`` adds a
10,000-call map on real Slurm (sbatch count, status queries, the submitting process's memory).
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import cfut
from cfut.fakes import FakeSlurm

BASE = os.environ.get("CFUT_BENCH_DIR") or os.getcwd()


def trivial(x: int) -> int:
    return x + 1


def one_second(x: int) -> int:
    time.sleep(1.0)
    return x


def real_slurm() -> bool:
    from cfut.__main__ import real_slurm_answers

    return real_slurm_answers()


# ---------------------------------------------------------------- the floor


FLOOR_SCRIPT = """#!/bin/sh
exec {python} -c 'import sys, time, os; time.sleep({sleep}); open(sys.argv[1] + ".tmp", "w").write("x"); \
os.rename(sys.argv[1] + ".tmp", sys.argv[1])' {directory}/r.$SLURM_ARRAY_TASK_ID
"""


#: How long the floor waits for its results before it says which are missing (seconds).
FLOOR_PATIENCE = 120.0


def floor(n: int, sleep: float = 0.0) -> float:
    """Seconds from ``sbatch --array=0-(n-1)`` to every result file present, squeue every 0.1 s."""
    directory = tempfile.mkdtemp(prefix="floor-", dir=BASE)
    try:
        script = os.path.join(directory, "job.sh")
        with open(script, "w") as handle:
            handle.write(FLOOR_SCRIPT.format(python=sys.executable, sleep=sleep, directory=directory))
        start = time.monotonic()
        job = subprocess.run(["sbatch", "--parsable", f"--array=0-{n - 1}", "--output=/dev/null", script],
                             capture_output=True, text=True, check=True, timeout=60).stdout.strip()
        while True:
            queue = subprocess.run(["squeue", "--noheader", f"--jobs={job}", "--format=%i|%T"],
                                   capture_output=True, text=True, timeout=60).stdout
            done = {name for name in os.listdir(directory) if name.startswith("r.") and not name.endswith(".tmp")}
            if len(done) >= n:
                return time.monotonic() - start
            if time.monotonic() - start > FLOOR_PATIENCE:
                missing = sorted(set(range(n)) - {int(name[2:]) for name in done})
                raise RuntimeError(f"floor: job {job} has no result for tasks {missing} after {FLOOR_PATIENCE} s; "
                                   f"squeue says {queue.strip()!r}")
            time.sleep(0.1)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# ---------------------------------------------------------------- cfut on real Slurm


#: Seconds each executor's shutdown(wait=True) took after its results were in (the jobs leaving
#: Slurm's queue, files removed): printed, not counted in the ratio, since the floor stops at its
#: results as well.
SHUTDOWNS: list[float] = []


def timed(work: Callable[[cfut.SlurmExecutor], None], **options: object) -> tuple[float, cfut.Statistics]:
    """Seconds from the first call to every result in hand (what the floor measures); the
    executor's shutdown after that goes to SHUTDOWNS."""
    directory = tempfile.mkdtemp(prefix="cfut-bench-", dir=BASE)
    try:
        executor = cfut.SlurmExecutor(workdir=directory, poll_interval=0.1, **options)  # type: ignore[arg-type]
        start = time.monotonic()
        with executor:
            work(executor)
            elapsed = time.monotonic() - start
        SHUTDOWNS.append(time.monotonic() - start - elapsed)
        return elapsed, executor.statistics()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def map_work(fn: Callable[[int], int], n: int, chunksize: int | str) -> Callable[[cfut.SlurmExecutor], None]:
    def work(executor: cfut.SlurmExecutor) -> None:
        assert list(executor.map(fn, range(n), chunksize=chunksize)) == [fn(i) if fn is trivial else i
                                                                       for i in range(n)]  # type: ignore[arg-type]
    return work


def submit_loop(n: int) -> Callable[[cfut.SlurmExecutor], None]:
    def work(executor: cfut.SlurmExecutor) -> None:
        futures = [executor.submit(trivial, i) for i in range(n)]
        assert [f.result() for f in futures] == [i + 1 for i in range(n)]
    return work


def shutdown_note() -> str:
    """The median shutdown of the runs timed since the last note."""
    note = f"; then shutdown {median(SHUTDOWNS):.2f} s" if SHUTDOWNS else ""
    SHUTDOWNS.clear()
    return note


def median(values: list[float]) -> float:
    return statistics.median(values)


def real_benchmarks(repeat: int) -> list[tuple[str, float, float, str]]:
    """(workload, cfut seconds, floor seconds, note) medians."""
    rows: list[tuple[str, float, float, str]] = []
    cases: list[tuple[str, int, float, Callable[[], tuple[float, cfut.Statistics]]]] = [
        ("map of 100 trivial calls, chunksize=1", 100, 0.0, lambda: timed(map_work(trivial, 100, 1))),
        ("map of 100 trivial calls, chunksize=auto", 100, 0.0, lambda: timed(map_work(trivial, 100, "auto"))),
        ("map of 10 trivial calls", 10, 0.0, lambda: timed(map_work(trivial, 10, "auto"))),
        ("one job, submit to result", 1, 0.0, lambda: timed(submit_loop(1))),
        ("map of 20 calls sleeping 1 s, chunksize=auto", 20, 1.0, lambda: timed(map_work(one_second, 20, "auto"))),
        ("map of 20 calls sleeping 1 s, chunksize=1", 20, 1.0, lambda: timed(map_work(one_second, 20, 1))),
    ]
    for name, n, sleep, run in cases:
        ours, theirs, notes = [], [], ""
        for _ in range(repeat):
            theirs.append(floor(n, sleep))
            elapsed, stats = run()
            ours.append(elapsed)
            notes = f"sbatch {stats.commands.get('sbatch', 0)}, squeue {stats.commands.get('squeue', 0)}"
        rows.append((name, median(ours), median(theirs), notes + shutdown_note()))
    # The physical limit of a chunked map: one wave of as many plain tasks as cfut used.
    ours, waves, tasks = [], [], 0
    for _ in range(repeat):
        elapsed, stats = timed(map_work(trivial, 100, "auto"))
        ours.append(elapsed)
        tasks = stats.submitted_tasks
        waves.append(floor(tasks))
    rows.append((f"map of 100 trivial calls, auto, vs one wave of {tasks}", median(ours), median(waves),
                 f"floor: {tasks} tasks" + shutdown_note()))
    coalesced, separate, counts = [], [], ""
    for _ in range(repeat):
        elapsed, stats = timed(submit_loop(300))
        coalesced.append(elapsed)
        counts = f"sbatch {stats.commands.get('sbatch', 0)}"
        separate.append(timed(submit_loop(300), submit_linger=0)[0])
    rows.append(("loop of 300 submit (vs 300 separate jobs)", median(coalesced), median(separate), counts))
    return rows


def big_map() -> str:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    elapsed, stats = timed(map_work(trivial, 10_000, "auto"))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (f"10,000-call map on real Slurm: {elapsed:.1f} s, sbatch {stats.commands.get('sbatch', 0)}, "
            f"status queries {stats.status_queries} over {stats.polls} polls, "
            f"peak memory of this process {after / 1024:.0f} MiB (+{(after - before) / 1024:.0f} MiB)")


# ---------------------------------------------------------------- the fakes


def fake_benchmarks() -> list[str]:
    lines = []
    directory = tempfile.mkdtemp(prefix="cfut-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else BASE)
    try:
        fake = FakeSlurm(nodes=10, cpus_per_node=100)
        with cfut.SlurmExecutor(runner=fake, workdir=os.path.join(directory, "a"), poll_interval=0.01) as ex:
            start = time.monotonic()
            futures = [ex.submit(trivial, i) for i in range(10_000)]
            assert [f.result() for f in futures] == [i + 1 for i in range(10_000)]
            elapsed = time.monotonic() - start
        lines.append(f"fake: 10,000 separate submit: {elapsed:.1f} s (goal < 10 s), "
                     f"sbatch {ex.statistics().commands.get('sbatch', 0)}")
        fake.close()
        fake = FakeSlurm(nodes=10, cpus_per_node=100)
        with cfut.SlurmExecutor(runner=fake, workdir=os.path.join(directory, "b"), poll_interval=0.01) as ex:
            start = time.monotonic()
            assert sum(ex.map(trivial, range(100_000))) == sum(range(1, 100_001))  # chunksize="auto"
            elapsed = time.monotonic() - start
        lines.append(f"fake: 100,000 calls through map (chunksize=\"auto\"): {elapsed:.1f} s (goal < 30 s), "
                     f"sbatch {ex.statistics().commands.get('sbatch', 0)}")
        fake.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--real-only", action="store_true")
    parser.add_argument("--fake-only", action="store_true")
    parser.add_argument("--big", action="store_true", help="also a 10,000-call map on real Slurm")
    options = parser.parse_args()
    print(f"cfut {cfut.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"{time.strftime('%Y-%m-%d')}")
    # Jobs import cfut from here: give them its bytecode, as ``pip install`` does. Without it (a source
    # checkout under PYTHONDONTWRITEBYTECODE=1) every job compiles cfut first: about 18 ms of CPU a job.
    compileall.compile_dir(os.path.dirname(cfut.__file__), quiet=1)
    if not options.fake_only:
        if real_slurm():
            print(f"{'workload':<48} {'cfut':>8} {'floor':>8} {'ratio':>7}  notes")
            for name, ours, theirs, note in real_benchmarks(options.repeat):
                print(f"{name:<48} {ours:8.2f} {theirs:8.2f} {ours / theirs:6.2f}x  {note}")
            if options.big:
                print(big_map())
        else:
            print("no real Slurm answers: real-cluster figures skipped")
    if not options.real_only:
        for line in fake_benchmarks():
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
