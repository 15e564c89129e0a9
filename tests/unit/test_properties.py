"""Property tests: random sets of jobs meet random outcomes; every future resolves exactly once.

Time is the fake's virtual clock; the executor polls only when the test calls ``poll_once()``.
"""

from __future__ import annotations

import collections
import os
import sys
import tempfile
from dataclasses import dataclass

import cloudpickle
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cfut
from cfut.fakes import FakeSlurm

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def give(value: int) -> int:
    return value


def throw(value: int) -> None:
    raise ArithmeticError(value)


def crash(code: int) -> None:
    os._exit(code)


STATE_ERRORS = {
    "FAILED": cfut.JobDied,
    "TIMEOUT": cfut.JobTimeout,
    "OUT_OF_MEMORY": cfut.JobOutOfMemory,
    "CANCELLED": cfut.JobCancelled,
    "NODE_FAIL": cfut.JobNodeFailure,
    "PREEMPTED": cfut.JobPreempted,
}


@dataclass(frozen=True)
class Plan:
    kind: str  # "return", "raise", "state", "cancel_pending", "cancel_running"
    value: int = 0
    state: str = "FAILED"
    when: str = "running"  # when the job is made to end in `state`: "pending", "running", "at_end"


plans = st.one_of(
    st.builds(Plan, kind=st.just("return"), value=st.integers(-5, 5)),
    st.builds(Plan, kind=st.just("raise"), value=st.integers(0, 3)),
    st.builds(Plan, kind=st.just("state"), state=st.sampled_from(sorted(STATE_ERRORS)),
             when=st.sampled_from(["pending", "running", "at_end"])),
    st.builds(Plan, kind=st.just("cancel_pending")),
    st.builds(Plan, kind=st.just("cancel_running")),
)

# At most 3 consecutive failures of each command (see min_job_age below).
faults = st.dictionaries(st.sampled_from(["squeue", "sacct", "scontrol", "scancel"]), st.integers(1, 3), max_size=4)


def expected_outcome(plan: Plan) -> object:
    if plan.kind == "return":
        return plan.value
    if plan.kind == "raise":
        return ArithmeticError
    if plan.kind == "state":
        return STATE_ERRORS[plan.state]
    if plan.kind == "cancel_pending":
        return "cancelled"
    return plan.value  # cancel fails once running; the call completes


@settings(deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
# min_job_age 5 > the longest run of failed status queries (3), so every end is seen before it is purged.
@given(jobs=st.lists(plans, min_size=1, max_size=8), faults=faults, min_job_age=st.sampled_from([5.0, 300.0]),
       accounting=st.booleans(), shutdown_cancel=st.booleans())
def test_every_future_resolves_exactly_once(jobs: list[Plan], faults: dict[str, int],
                                            min_job_age: float, accounting: bool, shutdown_cancel: bool) -> None:
    fake = FakeSlurm(progression="manual", min_job_age=min_job_age, accounting=accounting, cpus_per_node=64)
    with tempfile.TemporaryDirectory() as tmp:
        ex = cfut.SlurmExecutor(runner=fake, workdir=os.path.join(tmp, "w"), background_polling=False,
                                result_grace=2)
        resolutions: collections.Counter[int] = collections.Counter()
        futures = []
        for i, plan in enumerate(jobs):
            future = ex.submit(throw if plan.kind == "raise" else give, plan.value)
            future.add_done_callback(lambda _f, i=i: resolutions.update([i]))
            futures.append(future)
        for i, plan in enumerate(jobs):
            if plan.kind == "cancel_pending":
                assert futures[i].cancel() is True
                assert futures[i].job_id not in fake.queue()
            elif plan.kind == "state" and plan.when == "pending":
                fake.end_job(futures[i].job_id, plan.state)
            elif plan.kind == "state" and plan.when == "at_end":
                fake.set_outcome(futures[i].job_id, plan.state)
        for command, times in faults.items():
            fake.fail_next(command, times=times)
        fake.advance(0.5)  # everything still queued starts
        ex.poll_once()
        for step in range(60):
            for i, plan in enumerate(jobs):
                if plan.kind == "cancel_running" and step == 0:
                    # The job runs: either the monitor saw it, or the started marker is not written yet
                    # (inline jobs write it when they end), in which case cancel() may still win.
                    if futures[i].running():
                        assert futures[i].cancel() is False
                if plan.kind == "state" and plan.when == "running" and step == 0:
                    fake.end_job(futures[i].job_id, plan.state)
            if all(f.done() for f in futures):
                break
            fake.advance(1)
            ex.poll_once()
        assert all(f.done() for f in futures), ex.statistics()
        for i, plan in enumerate(jobs):
            expected = expected_outcome(plan)
            future = futures[i]
            if plan.kind == "cancel_running" and future.cancelled():
                continue  # cancelled before anyone knew it ran: allowed, and the job was removed
            if expected == "cancelled":
                assert future.cancelled()
            elif isinstance(expected, type):
                assert type(future.exception()) is expected, (plan, future.exception())
            else:
                assert future.result() == expected
        stats = ex.statistics()
        assert stats["commands"].get("squeue", 0) == stats["status_queries"] <= stats["polls"]
        assert resolutions == collections.Counter(range(len(jobs))), "each future resolved exactly once"
        ex.shutdown(wait=False, cancel_futures=shutdown_cancel)
        assert fake.queue() == [] or not shutdown_cancel


@settings(deadline=None)
@given(n_pending=st.integers(0, 6), n_running=st.integers(0, 3), scancel_failures=st.integers(0, 2))
def test_shutdown_cancel_futures_leaves_no_job_queued(n_pending: int, n_running: int, scancel_failures: int) -> None:
    fake = FakeSlurm(progression="manual", cpus_per_node=64)
    with tempfile.TemporaryDirectory() as tmp:
        ex = cfut.SlurmExecutor(runner=fake, workdir=os.path.join(tmp, "w"), background_polling=False)
        running = [ex.submit(give, n) for n in range(n_running)]
        fake.advance(0.5)
        ex.poll_once()
        pending = [ex.submit(give, n) for n in range(n_pending)]
        fake.fail_next("scancel", times=scancel_failures)
        ex.shutdown(wait=False, cancel_futures=True)
        assert all(f.cancelled() for f in pending)
        for _ in range(5):
            fake.advance(1)
            ex.poll_once()
        assert [f.result(timeout=0) for f in running] == list(range(n_running))
        assert fake.queue() == [], "no job of ours is left in the queue"


@pytest.mark.slow
@settings(max_examples=int(os.environ.get("CFUT_SUBPROCESS_EXAMPLES", "6")), deadline=None)
@given(outcomes=st.lists(st.sampled_from(["return", "raise", "crash"]), min_size=1, max_size=3))
def test_real_processes_crash_return_and_raise(outcomes: list[str]) -> None:
    fake = FakeSlurm(progression="manual", execution="subprocess", cpus_per_node=8)
    with tempfile.TemporaryDirectory() as tmp:
        ex = cfut.SlurmExecutor(runner=fake, workdir=os.path.join(tmp, "w"), background_polling=False,
                                result_grace=1)
        funcs = {"return": give, "raise": throw, "crash": crash}
        futures = [ex.submit(funcs[kind], 3) for kind in outcomes]
        fake.advance(0.1)
        fake.join()
        for _ in range(10):
            fake.advance(1)
            ex.poll_once()
        for kind, future in zip(outcomes, futures):
            if kind == "return":
                assert future.result(timeout=0) == 3
            elif kind == "raise":
                assert isinstance(future.exception(timeout=0), ArithmeticError)
            else:
                error = future.exception(timeout=0)
                assert isinstance(error, cfut.JobDied) and error.exit_code == 3
