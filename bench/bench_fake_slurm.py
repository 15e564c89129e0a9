"""Speed of the in-process FakeSlurm and of the executor on it; prints figures and ratios to goals.

Goals (issue 4, part 6), on a 2-core machine:

* at least 2,000 ``sbatch`` + ``squeue`` round trips per second against the in-process fake;
* 10,000 inline jobs through ``SlurmExecutor(runner=FakeSlurm(...), background_polling=False)`` in
  under 10 s, via ``map`` (one array job per 1,000 tasks) and via a loop of ``submit`` (one job each).

Run ``python bench/bench_fake_slurm.py [--jobs N] [--round-trips N] [--profile map|submit|roundtrip]``
(or ``tox -e bench``). ``--profile`` runs one part under cProfile and prints the top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable

import cfut
from cfut.fakes import FakeSlurm

ROUND_TRIP_GOAL = 2000.0  # per second
JOBS_GOAL = 10.0  # seconds for 10,000 jobs
NODES, CPUS_PER_NODE = 10, 100
# Work directories go here (as .cfut goes in the current directory): creating files in /tmp can be
# far slower than elsewhere on a busy machine (0.8 ms a file was seen), which would hide the code's cost.
# /dev/shm (a tmpfs), where there is one, measures cfut and the fake rather than the disk: creating a
# file on this machine's disk took from 25 us to 0.9 ms depending on load, and each job creates three.
BASE = os.environ.get("CFUT_BENCH_DIR") or ("/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK)
                                           else os.getcwd())


def identity(x: int) -> int:
    return x


def round_trips(count: int, *, keep_queued: bool = False) -> float:
    """sbatch of a tiny inline script, then squeue of that job; round trips per second.

    Sustained (the default): after each round trip the virtual clock moves on 2 s (``advance``, part
    of the timed work), so each job starts, ends and (min_job_age=0) leaves, and the queue stays
    short, as under an executor that keeps up. With ``keep_queued`` the clock never moves and every
    job stays queued: the rate then shows how the fake copes with ``count`` jobs piling up.
    """
    fake = FakeSlurm(progression="manual", min_job_age=0, execution="inline")
    workdir = BASE
    start = time.perf_counter()
    for _ in range(count):
        out = fake.run(["sbatch", "--parsable", "--output=/dev/null", "--wrap", "true"], cwd=workdir)
        fake.run(["squeue", "--noheader", f"--jobs={out.stdout.strip()}", "--format=%i|%T|%r"])
        if not keep_queued:
            fake.advance(2.0)
    elapsed = time.perf_counter() - start
    fake.close()
    return count / elapsed


def executor_jobs(count: int, how: str) -> float:
    """Wall time of ``count`` calls through the executor on the inline fake, all results checked."""
    # A cluster of 1,000 CPUs (10 nodes x 100): ten waves of 1,000 one-second jobs for 10,000.
    fake = FakeSlurm(nodes=NODES, cpus_per_node=CPUS_PER_NODE, min_job_age=0, execution="inline")
    with tempfile.TemporaryDirectory(prefix=".cfut-bench-", dir=BASE) as workdir:
        start = time.perf_counter()
        with cfut.SlurmExecutor(runner=fake, workdir=workdir, background_polling=False) as executor:
            # Without background polling nothing polls until shutdown(wait=True) does, to the end.
            if how == "map":
                iterator = executor.map(identity, range(count))
                executor.shutdown(wait=True)
                results = list(iterator)
            else:
                futures = [executor.submit(identity, i) for i in range(count)]
                executor.shutdown(wait=True)
                results = [f.result() for f in futures]
        elapsed = time.perf_counter() - start
        stats = executor.statistics()
    assert results == list(range(count)), "wrong results"
    print(f"    ({stats.commands.get('sbatch', 0)} sbatch, {stats.polls} polls, commands {dict(stats.commands)})")
    fake.close()
    return elapsed


def profiled(fn: Callable[[], object]) -> None:
    profile = cProfile.Profile()
    profile.runcall(fn)
    pstats.Stats(profile, stream=sys.stdout).sort_stats("cumulative").print_stats(30)
    pstats.Stats(profile, stream=sys.stdout).sort_stats("tottime").print_stats(20)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--round-trips", type=int, default=5_000)
    parser.add_argument("--profile", choices=("map", "submit", "roundtrip"))
    options = parser.parse_args()
    if options.profile == "roundtrip":
        profiled(lambda: round_trips(options.round_trips))
        return 0
    if options.profile:
        profiled(lambda: executor_jobs(options.jobs, options.profile))
        return 0

    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, work directories in {BASE}")
    rate = round_trips(options.round_trips)
    print(f"sbatch+squeue round trips, sustained: {rate:,.0f}/s (goal {ROUND_TRIP_GOAL:,.0f}/s: "
          f"{rate / ROUND_TRIP_GOAL:.2f}x the goal)")
    ok = rate >= ROUND_TRIP_GOAL
    queued = round_trips(options.round_trips, keep_queued=True)
    print(f"    for information, with all {options.round_trips:,} jobs left queued: {queued:,.0f}/s "
          f"({queued / rate:.2f}x the sustained rate: the fake's passes scan every queued job)")
    print(f"{options.jobs:,} inline jobs via map:")
    elapsed = executor_jobs(options.jobs, "map")
    goal = JOBS_GOAL * options.jobs / 10_000
    print(f"    {elapsed:.2f} s (goal {goal:.1f} s: {goal / elapsed:.2f}x faster than needed, "
          f"{options.jobs / elapsed:,.0f} jobs/s)")
    ok = ok and elapsed <= goal
    loop = max(1, options.jobs // 5)
    print(f"for information, {loop:,} inline jobs via a loop of submit (one sbatch each):")
    elapsed_loop = executor_jobs(loop, "submit")
    print(f"    {elapsed_loop:.2f} s, {loop / elapsed_loop:,.0f} jobs/s "
          f"({(loop / elapsed_loop) / (options.jobs / elapsed):.2f}x the rate of map)")
    print("all goals met" if ok else "GOALS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
