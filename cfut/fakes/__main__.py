"""``python -m cfut.fakes slurm --bin-dir DIR``: a fake cluster in the foreground, for manual use.

Writes fake ``sbatch``, ``squeue``, ``sacct``, ``scancel``, ``scontrol`` and ``srun`` into ``DIR``
(``condor_submit``, ``condor_q``, ``condor_history``, ``condor_rm`` for ``condor``), prints how to
put them on ``PATH``, and serves them from this process until interrupted (Ctrl-C or SIGTERM). Jobs
run as real subprocesses on a real-time clock by default.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from ._base import FakeScheduler
from ._clock import PROGRESSIONS
from ._shims.server import FakeCommandServer
from ._shims.ticker import Ticker


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cfut.fakes",
                                     description="serve a fake scheduler's commands from DIR until interrupted")
    parser.add_argument("scheduler", choices=("slurm", "condor"))
    parser.add_argument("--bin-dir", required=True, help="where to write the fake commands (created if needed)")
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--cpus-per-node", type=int, default=4)
    parser.add_argument("--progression", choices=PROGRESSIONS, default="realtime")
    parser.add_argument("--execution", choices=("subprocess", "process", "inline"), default="subprocess")
    parser.add_argument("--min-job-age", type=float, default=300.0, help="Slurm's MinJobAge, in seconds")
    slurm = parser.add_argument_group("slurm only")
    slurm.add_argument("--memory-per-node", type=int, default=0, help="RealMemory in MB (0: memory not counted)")
    slurm.add_argument("--gpus-per-node", type=int, default=0, help="GRES gpu:N of every node")
    slurm.add_argument("--cpu-share", type=int, default=1, help="jobs that may share a CPU (OverSubscribe=FORCE:N)")
    slurm.add_argument("--kill-wait", type=float, default=30.0, help="KillWait: seconds from SIGTERM to SIGKILL")
    slurm.add_argument("--first-job-id", type=int, default=1, help="FirstJobId")
    slurm.add_argument("--max-array-size", type=int, default=1001, help="MaxArraySize")
    slurm.add_argument("--no-accounting", action="store_true", help="sacct answers as without slurmdbd")
    slurm.add_argument("--extern-step", action="store_true",
                       help="sacct lists each job's .extern step, as with PrologFlags=Contain")
    options = parser.parse_args(argv)
    if options.scheduler == "condor":
        given = [action.option_strings[0] for action in slurm._group_actions
                 if getattr(options, action.dest) != action.default]
        if given:
            parser.error(f"{given[0]} is a Slurm option: FakeCondor does not take it")

    fake: FakeScheduler
    if options.scheduler == "slurm":
        from ._slurm.fake import FakeSlurm

        fake = FakeSlurm(nodes=options.nodes, cpus_per_node=options.cpus_per_node, progression=options.progression,
                         execution=options.execution, min_job_age=options.min_job_age,
                         memory_per_node=options.memory_per_node, gpus_per_node=options.gpus_per_node,
                         cpu_share=options.cpu_share, kill_wait=options.kill_wait, first_job_id=options.first_job_id,
                         max_array_size=options.max_array_size, accounting=not options.no_accounting,
                         extern_step=options.extern_step)
    else:
        from ._condor.fake import FakeCondor

        fake = FakeCondor(nodes=options.nodes, cpus_per_node=options.cpus_per_node,
                          progression=options.progression, execution=options.execution)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started in the background (SIGINT ignored)
        signal.signal(signum, lambda *_: stop.set())
    try:
        with FakeCommandServer(fake, bin_dir=options.bin_dir) as server:
            # jobs submitted from a shell progress without polling (realtime fakes tick on their own)
            ticker = Ticker(fake).start() if options.progression == "immediate" else None
            print(f"fake {options.scheduler} cluster ({fake!r}) serving {', '.join(server.commands)}\n"
                  f"use it from a shell with:\n\n    export PATH={server.bin_dir}:$PATH\n\n"
                  "Ctrl-C stops it (and kills its jobs).", flush=True)
            try:
                stop.wait()
            finally:
                if ticker is not None:
                    ticker.close()
    finally:
        fake.close()
    print("fake cluster stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
