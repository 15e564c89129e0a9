"""``python -m cfut demo``: a small map on real Slurm when it answers, else on the embedded fake."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Sequence

from ._errors import CfutError
from ._runner import CommandRunner, SubprocessRunner


def square(n: int) -> int:
    return n * n


def real_slurm_answers(runner: SubprocessRunner | None = None) -> bool:
    """True when ``sbatch`` is on PATH and the controller answers ``squeue``."""
    if shutil.which("sbatch") is None or shutil.which("squeue") is None:
        return False
    try:
        result = (runner or SubprocessRunner()).run(["squeue", "--noheader", "--jobs=1", "--format=%i"], timeout=15)
    except CfutError:
        return False
    # An unknown id is still an answer from the controller.
    return result.returncode == 0 or "Invalid job id" in result.stderr


def demo(items: Sequence[int], force_fake: bool) -> int:
    from ._executors import SlurmExecutor

    runner: CommandRunner
    if not force_fake and real_slurm_answers():
        runner, where = SubprocessRunner(), "real Slurm (sbatch on PATH answered)"
    else:
        from .fakes import FakeSlurm

        runner = FakeSlurm(execution="subprocess", progression="realtime")
        why = "as asked" if force_fake else "no Slurm cluster answered"
        where = f"the embedded FakeSlurm ({why}), jobs as real subprocesses"
    print(f"cfut demo: mapping square over {list(items)} on {where}", flush=True)
    started = time.monotonic()
    with SlurmExecutor(runner=runner, poll_interval=0.2) as executor:
        results = list(executor.map(square, items))
        stats = executor.statistics()
    print(f"results: {results}")
    print(f"took {time.monotonic() - started:.1f} s; scheduler commands: {stats.commands}")
    return 0 if results == [square(n) for n in items] else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cfut")
    sub = parser.add_subparsers(dest="command", required=True)
    demo_parser = sub.add_parser("demo", help="run a small map on Slurm (or the embedded fake)")
    demo_parser.add_argument("items", nargs="*", type=int, default=[5, 7, 11])
    demo_parser.add_argument("--fake", action="store_true", help="use the embedded fake even if Slurm answers")
    options = parser.parse_args(argv)
    if options.command == "demo":
        return demo(options.items, options.fake)
    return 2  # pragma: no cover - argparse rejects other commands


if __name__ == "__main__":
    sys.exit(main())
