"""The ``cfut`` command line (``python -m cfut ...``).

``demo``
    a small map on real Slurm when it answers, else on the embedded fake.
``jobs WORKDIR``
    what the journals in a work directory say: each submitting process (running or gone), its
    batches, their job ids, and how many calls have a result waiting, were collected, or are pending.
``clean WORKDIR``
    take over the journals of processes that are gone, cancel their jobs still queued or running,
    and remove their files (results not collected are discarded: use ``reattach`` to collect them).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
from collections.abc import Sequence

from ._errors import CfutError
from ._jobdir import default_workdir
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
    workdir = default_workdir()
    existed = os.path.exists(workdir)
    started = time.monotonic()
    with SlurmExecutor(runner=runner, poll_interval=0.2) as executor:
        results = list(executor.map(square, items))
        stats = executor.statistics()
    if not existed:  # the demo's own work directory, empty once its jobs are collected: not left behind
        with contextlib.suppress(OSError):
            os.rmdir(workdir)
    print(f"results: {results}")
    print(f"took {time.monotonic() - started:.1f} s; scheduler commands: {stats.commands}")
    return 0 if results == [square(n) for n in items] else 1


def _existing(workdir: str) -> str:
    """``workdir`` made absolute; InvalidArgumentError when it is not a directory (never created)."""
    from ._errors import InvalidArgumentError

    if not os.path.isdir(workdir):
        raise InvalidArgumentError(f"no work directory at {workdir!r} (missing, or not a directory)")
    return os.path.abspath(workdir)


def jobs(workdir: str) -> int:
    """Print what the journals of ``workdir`` say; 0, or 1 when a journal cannot be read. Raises
    InvalidArgumentError for a work directory that is missing or open to others."""
    from . import _keys
    from ._jobdir import JobDir
    from ._journal import journals, read

    key = _keys.load_key(create=False)
    jobdir = JobDir(_existing(workdir), key)
    status = 0
    found = False
    for path in journals(jobdir.path):
        found = True
        try:
            state = read(path, key)
        except (OSError, CfutError) as exc:
            print(f"{path}: cannot be read: {exc}")
            status = 1
            continue
        alive = "running" if state.owner_alive() else "gone"
        print(f"{path}: {state.scheduler} executor of pid {state.pid} on {state.host} ({alive})")
        for batch in state.batches.values():
            counts = {"result waiting": 0, "collected": 0, "pending": 0}
            for task_key, _, calls in batch.tasks:
                for call in calls:
                    if task_key in state.done:
                        counts["collected"] += 1
                    elif os.path.exists(jobdir.result(call)):
                        counts["result waiting"] += 1
                    else:
                        counts["pending"] += 1
            job = batch.job_id or "? (submission interrupted)"
            summary = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
            print(f"  batch {batch.key}: job {job}, {len(batch.tasks)} task(s): {summary}")
    if not found:
        print(f"{jobdir.path}: no journal (nothing submitted is left to collect)")
    return status


def clean(workdir: str) -> int:
    """Cancel the jobs of gone processes' journals and remove their files. Raises
    InvalidArgumentError for a work directory that is missing or open to others."""
    from . import _keys
    from ._executors import CondorExecutor, SlurmExecutor
    from ._jobdir import JobDir
    from ._journal import journals, read

    key = _keys.load_key(create=False)
    schedulers = set()
    for path in journals(JobDir(_existing(workdir), key).path):
        try:
            schedulers.add(read(path, key).scheduler)
        except (OSError, CfutError) as exc:
            print(f"{path}: cannot be read, left alone: {exc}")
    for scheduler in sorted(schedulers):
        cls = SlurmExecutor if scheduler == "Slurm" else CondorExecutor
        futures = cls.reattach(workdir, background_polling=False)
        print(f"{scheduler}: {len(futures)} call(s) of gone processes")
        futures.executor._terminate("python -m cfut clean")
        for _ in range(3):
            futures.executor.poll_once()
        futures.executor.shutdown(wait=False)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cfut", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    demo_parser = sub.add_parser("demo", help="run a small map on Slurm (or the embedded fake)")
    demo_parser.add_argument("items", nargs="*", type=int, default=[5, 7, 11])
    demo_parser.add_argument("--fake", action="store_true", help="use the embedded fake even if Slurm answers")
    jobs_parser = sub.add_parser("jobs", help="list what the journals of a work directory say")
    jobs_parser.add_argument("workdir")
    clean_parser = sub.add_parser("clean", help="cancel and remove the jobs and files of gone processes")
    clean_parser.add_argument("workdir")
    options = parser.parse_args(argv)
    try:
        if options.command == "demo":
            return demo(options.items, options.fake)
        if options.command in ("jobs", "clean"):
            return jobs(options.workdir) if options.command == "jobs" else clean(options.workdir)
    except (CfutError, OSError) as exc:
        # a work directory that is not there, not ours or not private: one line, not a traceback
        print(f"python -m cfut {options.command}: {exc}", file=sys.stderr)
        return 2
    return 2  # pragma: no cover - argparse rejects other commands


if __name__ == "__main__":
    sys.exit(main())
