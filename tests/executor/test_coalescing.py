"""Coalescing: a burst of ``submit`` calls with the same options goes out as one array job.

On the fakes the executors run without background polling (``poll_once()`` sends what lingers, so
nothing depends on real time); on real Slurm with the default linger window.
"""

from __future__ import annotations

import concurrent.futures
import os
import sys
import threading

import cloudpickle
import pytest

import cfut
from tests.executor.harness import Harness

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def square(x: int) -> int:
    return x * x


def negate(x: int) -> int:
    return -x


def coalescing(harness: Harness, **options: object) -> cfut.ClusterExecutor:
    # a window wide enough for a loaded CI machine (on the fakes, buckets go at poll_once anyway)
    options.setdefault("submit_linger", 0.2)
    return harness.executor(**options)  # type: ignore[arg-type]


def test_a_loop_of_submits_is_a_handful_of_submissions(harness: Harness) -> None:
    ex = coalescing(harness)
    futures = [ex.submit(square, n) for n in range(300)]
    harness.settle(ex, futures)
    assert [f.result() for f in futures] == [n * n for n in range(300)]
    stats = ex.statistics()
    assert stats.calls_done == 300 and stats.commands[harness.submit_command] <= 5, stats
    # every backend says its free job slots (sinfo, condor_status): calls of one function share tasks
    assert stats.submitted_tasks < 300, f"spread over the free job slots the cluster reports: {stats}"
    assert all(f.job_id is not None for f in futures)


def test_calls_of_different_functions_and_threads_share_a_submission(harness: Harness) -> None:
    ex = coalescing(harness)
    futures: list[concurrent.futures.Future[int]] = []
    lock = threading.Lock()

    def worker(fn: object) -> None:
        for n in range(20):
            future = ex.submit(fn, n)  # type: ignore[arg-type]
            with lock:
                futures.append(future)

    threads = [threading.Thread(target=worker, args=(fn,)) for fn in (square, negate, square)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    harness.settle(ex, futures)
    assert sorted(f.result() for f in futures) == sorted([n * n for n in range(20)] * 2 + [-n for n in range(20)])
    assert ex.statistics().commands[harness.submit_command] <= 10


def test_waiting_sends_a_lone_call_at_once(harness: Harness) -> None:
    ex = coalescing(harness, submit_linger=3600)  # never by the window: only the wait sends it
    future = ex.submit(square, 7)
    assert ex.statistics().submitted_jobs == 0, "no job yet: the call lingers"
    if harness.real:
        assert future.result(timeout=120) == 49
    else:
        with pytest.raises(concurrent.futures.TimeoutError):
            future.result(timeout=0)  # the wait sends it; the fake's time has not moved yet
        assert ex.statistics().submitted_jobs == 1
        harness.settle(ex, [future])
        assert future.result() == 49


def test_asking_for_the_job_id_sends_a_lone_call_at_once(harness: Harness) -> None:
    """Code written for an uncoalesced submit reads ``future.job_id`` right after it: it gets one."""
    ex = coalescing(harness, submit_linger=3600)
    future, other = ex.submit(square, 7), ex.submit(square, 8)
    assert ex.statistics().submitted_jobs == 0
    assert future.job_id is not None and other.call_id is not None
    assert ex.statistics().submitted_jobs == 1, "both went, in one submission"
    harness.settle(ex, [future, other])
    assert (future.result(), other.result()) == (49, 64)


def test_different_options_never_share_a_submission(harness: Harness) -> None:
    ex = coalescing(harness)
    plain = [ex.submit(square, n) for n in range(3)]
    marked = [ex.submit(square, n, additional_setup_lines=["echo marked"]) for n in range(3)]
    harness.settle(ex, plain + marked)
    assert [f.result() for f in plain + marked] == [0, 1, 4] * 2
    assert len({f.job_id.split("_")[0].split(".")[0] for f in plain}) == 1  # type: ignore[union-attr]
    assert not {f.job_id for f in plain} & {f.job_id for f in marked}
    assert ex.statistics().submitted_jobs == 2


def test_cancelling_a_lingering_call_submits_nothing_for_it(harness: Harness) -> None:
    ex = coalescing(harness, submit_linger=3600)
    kept, dropped = ex.submit(square, 2), ex.submit(square, 3)
    assert dropped.cancel() and dropped.cancelled()
    ex.poll_once()  # sends what lingers (so would a wait for `kept`)
    harness.settle(ex, [kept])
    assert kept.result() == 4
    assert ex.statistics().submitted_tasks == 1


@pytest.mark.fakes_only
def test_a_refused_submission_fails_its_futures(harness: Harness) -> None:
    ex = coalescing(harness)
    harness.fake.fail_next(harness.submit_command, times=10)
    futures = [ex.submit(square, n) for n in range(3)]  # no error here: the calls linger
    ex.poll_once()
    for future in futures:
        error = future.exception(timeout=0)
        assert isinstance(error, cfut.SubmissionError) and error.transient
    assert os.listdir(ex.workdir) == [], "a failed submission leaves no files"


def test_shutdown_sends_or_cancels_what_lingers(harness: Harness) -> None:
    ex = coalescing(harness, submit_linger=3600)
    sent = ex.submit(square, 3)
    ex.shutdown(wait=False)
    assert ex.statistics().submitted_jobs == 1, "shutdown sends what lingers"
    harness.settle(ex, [sent])
    assert sent.result() == 9
    other = coalescing(harness, submit_linger=3600, workdir=harness.workdir("other"))
    dropped = other.submit(square, 4)
    other.shutdown(wait=False, cancel_futures=True)
    assert dropped.cancelled() and other.statistics().submitted_tasks == 0
