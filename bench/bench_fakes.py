"""The default fakes under the executor: a 500-item map and 10,000 separate submits, timed.

Goals (issue "Fakes that behave like the real thing", item 2), on this project's 2-core machine, with
``FakeSlurm()`` and ``FakeCondor()`` as they come (1 node of 4 CPUs, 1-second jobs, an immediate
clock, every job in a process of its own):

* ``list(executor.map(square, range(500)))`` in under 2 s of wall time;
* 10,000 separate ``executor.submit(square, i)``, every result collected, in under 10 s.

Run ``python bench/bench_fakes.py [--items 500] [--submits 10000] [--execution process|inline|subprocess]
[--fake slurm|condor|both]``. It prints each figure, its goal and the ratio; the exit status is 0 when
every goal is met. Work directories go to /dev/shm where there is one (file creation on this
machine's disk varies from 25 us to 0.9 ms with load, which would measure the disk, not the fakes);
set CFUT_BENCH_DIR to choose. The machine is shared: take the best of a few runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable

import cfut
from cfut.fakes import FakeCondor, FakeScheduler, FakeSlurm
from cfut.fakes._pool import pool

MAP_GOAL = 2.0  # seconds for a 500-item map
SUBMIT_GOAL = 10.0  # seconds for 10,000 submits
BASE = os.environ.get("CFUT_BENCH_DIR") or ("/dev/shm" if os.access("/dev/shm", os.W_OK) else os.getcwd())


def square(x: int) -> int:
    return x * x


def timed(make: Callable[[], FakeScheduler], executor_type: type[cfut.ClusterExecutor], how: str,
          count: int) -> tuple[float, str]:
    """Wall time of ``count`` calls through an executor on a new fake, every result checked."""
    fake = make()
    with tempfile.TemporaryDirectory(prefix=".cfut-bench-", dir=BASE) as workdir:
        start = time.perf_counter()
        with executor_type(runner=fake, workdir=workdir) as executor:  # type: ignore[call-arg]
            if how == "map":
                results = list(executor.map(square, range(count)))
            else:
                futures = [executor.submit(square, i) for i in range(count)]
                results = [f.result() for f in futures]
        elapsed = time.perf_counter() - start
        stats = executor.statistics()
    fake.close()
    assert results == [i * i for i in range(count)], "wrong results"
    return elapsed, f"{dict(stats.commands)}, {stats.polls} polls, fake clock {fake.clock():,.0f} s"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--submits", type=int, default=10_000)
    parser.add_argument("--execution", choices=("process", "inline", "subprocess"), default="process")
    parser.add_argument("--fake", choices=("slurm", "condor", "both"), default="both")
    options = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
          f"work directories in {BASE}, execution={options.execution!r}")
    fakes: list[tuple[str, Callable[[], FakeScheduler], type[cfut.ClusterExecutor]]] = [
        ("FakeSlurm()", lambda: FakeSlurm(execution=options.execution), cfut.SlurmExecutor),
        ("FakeCondor()", lambda: FakeCondor(execution=options.execution), cfut.CondorExecutor),
    ]
    if options.fake != "both":
        fakes = [f for f in fakes if f[0].lower().startswith(f"fake{options.fake}")]
    ok = True
    map_goal = MAP_GOAL * options.items / 500
    submit_goal = SUBMIT_GOAL * options.submits / 10_000
    for name, make, executor_type in fakes:
        elapsed, detail = timed(make, executor_type, "map", options.items)
        print(f"{name}: map of {options.items:,} items: {elapsed:.2f} s (goal {map_goal:.1f} s: "
              f"{map_goal / elapsed:.2f}x) [{detail}]")
        ok = ok and elapsed <= map_goal
        elapsed, detail = timed(make, executor_type, "submit", options.submits)
        print(f"{name}: {options.submits:,} separate submits: {elapsed:.2f} s (goal {submit_goal:.1f} s: "
              f"{submit_goal / elapsed:.2f}x, {options.submits / elapsed:,.0f} jobs/s) [{detail}]")
        ok = ok and elapsed <= submit_goal
    if options.execution == "process":
        print(f"warm job processes started: {pool().started}")
    print("all goals met" if ok else "GOALS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
