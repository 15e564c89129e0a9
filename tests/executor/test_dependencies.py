"""Futures as arguments: pipelines the scheduler runs by itself (``--dependency`` on Slurm; held back
by the executor on HTCondor), on every cluster of the suite."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import cloudpickle
import pytest

import cfut
from tests.executor.harness import Harness, wait_until

cloudpickle.register_pickle_by_value(sys.modules[__name__])



def inc(x: int) -> int:
    return x + 1


def add(x: int, y: int) -> int:
    return x + y


def total(values: list[int], extra: dict[str, int]) -> int:
    return sum(values) + sum(extra.values())


def boom(x: int) -> int:
    raise ValueError(f"boom {x}")


def drain(harness: Harness, ex: cfut.ClusterExecutor, futures: list[cfut.ClusterFuture]) -> None:
    harness.settle(ex, futures, timeout=300)


def submit_commands(harness: Harness, ex: cfut.ClusterExecutor) -> list[tuple[str, ...]]:
    if harness.real or not hasattr(harness, "fake"):
        return []
    return [argv for argv in harness.fake.calls if os.path.basename(argv[0]) == harness.submit_command]


def test_a_chain_returns_at_once_and_runs_by_itself(harness: Harness) -> None:
    ex = harness.executor(submit_linger=0.005)
    a = ex.submit(inc, 1)
    b = ex.submit(inc, a)
    c = ex.submit(add, a, b)
    assert not c.done(), "submit returns at once: nothing waited for a"
    drain(harness, ex, [a, b, c])
    assert (a.result(), b.result(), c.result()) == (2, 3, 5)
    stats = ex.statistics()
    assert stats.commands[harness.submit_command] == 3
    if harness.scheduler == "slurm" and not harness.real:
        first, second, third = submit_commands(harness, ex)
        assert not any(arg.startswith("--dependency") for arg in first)
        assert f"--dependency=afterok:{a.job_id}" in second
        assert f"--dependency=afterok:{a.job_id}:{b.job_id}" in third
    ex.shutdown()
    assert os.listdir(ex.workdir) == [], "the dependencies' results went once their dependants ran"


def test_futures_inside_lists_and_dicts_and_done_ones_pass_their_values(harness: Harness) -> None:
    ex = harness.executor()
    done = ex.submit(inc, 10)
    drain(harness, ex, [done])
    pending = ex.submit(inc, 20)
    c = ex.submit(total, [done, pending, 1], {"x": pending})
    drain(harness, ex, [c])
    assert c.result() == 11 + 21 + 1 + 21


def test_a_failing_dependency_fails_its_dependants_without_running_them(harness: Harness) -> None:
    ex = harness.executor(result_grace=1)
    a = ex.submit(boom, 1)
    b = ex.submit(inc, a)
    c = ex.submit(add, a, b)
    drain(harness, ex, [a, b, c])
    assert isinstance(a.exception(), ValueError)
    for future in (b, c):
        error = future.exception()
        assert isinstance(error, cfut.DependencyFailed), error
        assert isinstance(error.__cause__, ValueError) and "boom 1" in str(error.__cause__)
        assert error.dependency == a.call_id
    later = ex.submit(inc, a)  # a dependency already failed: no job at all
    assert isinstance(later.exception(timeout=0), cfut.DependencyFailed)
    if harness.real:  # jobs whose futures resolved may still be exiting
        wait_until(lambda: harness.queue() == [], 30, "the jobs left the queue")
    assert harness.queue() == []


def test_cancelling_a_future_cancels_its_dependants(harness: Harness) -> None:
    ex = harness.executor(additional_setup_lines=harness.pending_lines())
    a = ex.submit(inc, 1)
    b = ex.submit(inc, a)
    assert a.cancel()
    ex.poll_once()
    assert b.cancelled()
    assert ex.submit(inc, a).cancelled()
    assert harness.queue() == []


def wait_for_flag(path: str) -> int:
    import time

    open(path + ".started", "w").close()
    while not os.path.exists(path):
        time.sleep(0.05)
    return 1


def test_shutdown_cancelling_futures_cancels_the_dependants_of_a_running_call(harness: Harness,
                                                                            tmp_path: Path) -> None:
    """shutdown(cancel_futures=True) cancels every call not yet running, those waiting for a running
    dependency too (HTCondor's are held back in the executor, Slurm's are pending jobs)."""
    flag = str(tmp_path / "flag")
    ex = harness.executor(processes=True)
    a = ex.submit(wait_for_flag, flag)
    if not harness.real:
        harness.fake.advance(0.5)  # it starts: a real process now runs
    wait_until(lambda: os.path.exists(flag + ".started"), 120, "the first call runs")
    if not harness.real:
        ex.poll_once()  # the executor sees it run
    wait_until(a.running, 120, "the executor knows the first call runs")
    dependants = [ex.submit(inc, a) for _ in range(3)]
    ex.shutdown(wait=False, cancel_futures=True)
    assert all(f.cancelled() for f in dependants)
    open(flag, "w").close()
    harness.settle(ex, [a], others_run=True)
    assert a.result(timeout=0) == 1


def test_a_pipeline_of_maps_is_three_submissions(harness: Harness) -> None:
    ex = harness.executor()
    first = ex.map_futures(inc, range(20))
    second = ex.map_futures(inc, first)
    third = ex.map_futures(inc, second)
    drain(harness, ex, third)
    assert [f.result() for f in third] == [n + 3 for n in range(20)]
    assert ex.statistics().commands[harness.submit_command] == (3 if harness.scheduler == "slurm" else 41)
    if harness.scheduler == "slurm" and not harness.real:
        _, second_argv, third_argv = submit_commands(harness, ex)
        assert f"--dependency=aftercorr:{first[0].job_id.split('_')[0]}" in second_argv  # type: ignore[union-attr]


def test_a_map_over_a_chunked_map_is_chunked_alike_and_waits_task_by_task(harness: Harness) -> None:
    """The first map runs 3 calls a task (as chunksize="auto" may choose): the second, over its
    futures, runs the same calls together, so its task i waits for task i alone (aftercorr)."""
    ex = harness.executor()
    first = ex.map_futures(inc, range(8), chunksize=3)
    second = ex.map_futures(inc, first)
    empty = ex.map_futures(inc, [])
    drain(harness, ex, second)
    assert [f.result() for f in second] == [n + 2 for n in range(8)] and empty == []
    assert ex.statistics().commands[harness.submit_command] == (2 if harness.scheduler == "slurm" else 9)
    if harness.scheduler == "slurm" and not harness.real:
        first_argv, second_argv = submit_commands(harness, ex)
        assert "--array=0-2" in first_argv and "--array=0-2" in second_argv
        assert f"--dependency=aftercorr:{first[0].job_id.split('_')[0]}" in second_argv  # type: ignore[union-attr]


def wait_for(flag: str | None) -> int:
    """1 at once, or once the file ``flag`` exists."""
    while flag is not None and not os.path.exists(flag):
        time.sleep(0.05)
    return 1


def min_job_age() -> float:
    """The real cluster's MinJobAge (seconds), from ``scontrol show config``."""
    import re
    import subprocess

    out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, check=True).stdout
    found = re.search(r"^MinJobAge\s*=\s*(\d+)", out, re.M)
    return float(found.group(1)) if found else 300.0


def test_each_element_of_a_map_over_a_map_starts_when_its_input_is_ready(harness: Harness) -> None:
    """Element 0 of the second stage runs while element 1 of the first still runs (aftercorr on
    Slurm; per call on HTCondor): nothing waits for the whole first stage."""
    if harness.real and min_job_age() < 30:
        # observed on the second CI cluster (MinJobAge=5, one 2-CPU node): the dependant of a task
        # that ended sometimes stays PENDING (Dependency) while the rest of its array runs, as if
        # slurmctld lost the ended task before it evaluated the dependency
        pytest.skip("Slurm 22.05 does not reliably release aftercorr dependants of array tasks "
                    f"purged after MinJobAge={min_job_age():g} s")
    flag = harness.tmp_path / "go"
    ex = harness.executor(processes=True)  # first[1] waits in a process of its own
    first = ex.map_futures(wait_for, [None, str(flag)], chunksize=1)  # a task each, whatever the slots
    second = ex.map_futures(inc, first)
    try:
        harness.settle(ex, [second[0]], others_run=True)
        assert second[0].result() == 2 and not first[1].done()
    finally:
        flag.touch()
    harness.settle(ex, second)
    assert [f.result() for f in second] == [2, 2]


def test_a_future_of_another_work_directory_is_refused(harness: Harness) -> None:
    one = harness.executor(additional_setup_lines=harness.pending_lines())
    a = one.submit(inc, 1)
    other = harness.executor(workdir=harness.workdir("other"))
    with pytest.raises(cfut.InvalidArgumentError, match="same scheduler"):
        other.submit(inc, a)
    assert other.statistics().submitted_jobs == 0, "the refused call left nothing behind"
    assert a.cancel()


def test_after_orders_calls_without_passing_values(harness: Harness) -> None:
    ex = harness.executor(result_grace=1)
    a = ex.submit(inc, 1)
    b = ex.after(a).submit(add, 2, 3)
    mapped = ex.after(a, b).map_futures(inc, [10, 20])
    drain(harness, ex, [b, *mapped])
    assert b.result() == 5 and [f.result() for f in mapped] == [11, 21]
    failed = ex.submit(boom, 0)
    blocked = ex.after(failed).submit(inc, 1)
    drain(harness, ex, [blocked])
    assert isinstance(blocked.exception(), cfut.DependencyFailed)
    with pytest.raises(cfut.InvalidArgumentError, match="after"):
        ex.after(42)  # type: ignore[arg-type]
