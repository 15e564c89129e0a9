"""The property tests of the core, for CondorExecutor over FakeCondor: random jobs meet random
outcomes (return, raise, held, removed, killed by a signal, exit without result, cancelled while
queued or running) under random command failures; every future resolves exactly once, with the
error type the outcome calls for, and no job of ours is left in the queue. Every event log and
description the fake produced is read with htcondor2 afterwards.
"""

from __future__ import annotations

import collections
import os
import sys
import tempfile
from dataclasses import dataclass

import cloudpickle
from condor_checks import check_fake
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cfut
from cfut.fakes import FakeCondor

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def give(value: int) -> int:
    return value


def throw(value: int) -> None:
    raise ArithmeticError(value)


# How a job is made to end without a result, and the error its future must get.
ENDINGS = {
    "held": cfut.JobHeld,
    "removed": cfut.JobCancelled,
    "signal": cfut.JobDied,
    "exit": cfut.JobDied,
}


@dataclass(frozen=True)
class Plan:
    kind: str  # "return", "raise", "end", "cancel_pending", "cancel_running"
    value: int = 0
    ending: str = "exit"
    when: str = "running"  # "pending", "running", "at_end"


plans = st.one_of(
    st.builds(Plan, kind=st.just("return"), value=st.integers(-5, 5)),
    st.builds(Plan, kind=st.just("raise"), value=st.integers(0, 3)),
    st.builds(Plan, kind=st.just("end"), ending=st.sampled_from(sorted(ENDINGS)),
              when=st.sampled_from(["pending", "running", "at_end"])),
    st.builds(Plan, kind=st.just("cancel_pending")),
    st.builds(Plan, kind=st.just("cancel_running")),
)
faults = st.lists(st.tuples(st.sampled_from(["condor_q", "condor_history", "condor_rm"]), st.integers(1, 3)),
                  max_size=3)


def end(fake: FakeCondor, job_id: str, plan: Plan) -> None:
    if plan.when == "at_end":
        if plan.ending in ("signal", "exit"):
            fake.set_outcome(job_id, exit_code=2 if plan.ending == "exit" else None,
                             signal=15 if plan.ending == "signal" else None)
            return
    if plan.ending == "held":
        fake.hold(job_id, "held by policy", code=3, subcode=0)
    elif plan.ending == "removed":
        fake.remove(job_id)
    elif plan.ending == "signal" and fake.job(job_id).state == "RUNNING":
        fake.kill(job_id, 9)
    else:
        fake.set_outcome(job_id, exit_code=2 if plan.ending == "exit" else None,
                         signal=9 if plan.ending == "signal" else None)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jobs=st.lists(plans, min_size=1, max_size=8), faults=faults, silent_log=st.booleans(),
       use_map=st.booleans(), shutdown_cancel=st.booleans())
def test_every_future_resolves_exactly_once(jobs: list[Plan], faults: list[tuple[str, int]], silent_log: bool,
                                            use_map: bool, shutdown_cancel: bool) -> None:
    fake = FakeCondor(progression="manual", cpus_per_node=64)
    fake.silent_log = silent_log  # then every status comes from condor_q / condor_history
    with tempfile.TemporaryDirectory() as tmp:
        ex = cfut.CondorExecutor(runner=fake, workdir=os.path.join(tmp, "w"), background_polling=False,
                                 result_grace=2, log_silence=3)
        resolutions: collections.Counter[int] = collections.Counter()
        if use_map:  # one cluster of procs; raise plans become returns (map takes one function)
            jobs = [Plan("return", p.value) if p.kind == "raise" else p for p in jobs]
            iterator = ex.map(give, [p.value for p in jobs])
            futures = [t.calls[0].future for t in sorted(ex._tasks.values(), key=lambda t: t.index or 0)]
        else:
            futures = [ex.submit(throw if p.kind == "raise" else give, p.value) for p in jobs]
        for i, future in enumerate(futures):
            future.add_done_callback(lambda _f, i=i: resolutions.update([i]))
        for i, plan in enumerate(jobs):
            if plan.kind == "cancel_pending":
                assert futures[i].cancel() is True
                assert futures[i].job_id not in fake.queue()
            elif plan.kind == "end" and plan.when in ("pending", "at_end"):
                end(fake, futures[i].job_id, plan)
        for command, times in faults:
            fake.fail_next(command, times=times)
        fake.advance(0.5)
        ex.poll_once()
        for step in range(60):
            for i, plan in enumerate(jobs):
                if step == 0 and plan.kind == "cancel_running" and futures[i].running():
                    assert futures[i].cancel() is False
                if step == 0 and plan.kind == "end" and plan.when == "running" and futures[i].job_id in fake.queue():
                    end(fake, futures[i].job_id, plan)
            if all(f.done() for f in futures):
                break
            fake.advance(1)
            ex.poll_once()
        assert all(f.done() for f in futures), ex.statistics()
        for i, plan in enumerate(jobs):
            future = futures[i]
            if plan.kind == "cancel_running" and future.cancelled():
                continue  # cancelled before anyone knew it ran: allowed, and the job was removed
            if plan.kind == "cancel_pending":
                assert future.cancelled()
            elif plan.kind == "raise":
                assert type(future.exception()) is ArithmeticError
            elif plan.kind == "end":
                assert type(future.exception()) is ENDINGS[plan.ending], (plan, future.exception())
            else:
                assert future.result() == plan.value
        assert resolutions == collections.Counter(range(len(jobs))), "each future resolved exactly once"
        stats = ex.statistics()
        assert stats["commands"]["condor_submit"] == (1 if use_map else len(jobs))
        if not silent_log:
            assert stats["commands"].get("condor_q", 0) == 0, "the event log answered everything"
        ex.shutdown(wait=False, cancel_futures=shutdown_cancel)
        for _ in range(4):  # removals that failed are retried by the next polls (the monitor's, normally)
            fake.advance(1)
            ex.poll_once()
        assert not [j for j in fake.queue() if fake.job(j).state != "HELD"] or not shutdown_cancel
        assert "HELD" not in {fake.job(j).state for j in fake.queue()}, "held jobs were removed"
        if use_map:
            del iterator
    check_fake(fake)


@settings(deadline=None)
@given(n_pending=st.integers(0, 6), n_running=st.integers(0, 3), rm_failures=st.integers(0, 2))
def test_shutdown_cancel_futures_leaves_no_job_queued(n_pending: int, n_running: int, rm_failures: int) -> None:
    fake = FakeCondor(progression="manual", cpus_per_node=64)
    with tempfile.TemporaryDirectory() as tmp:
        ex = cfut.CondorExecutor(runner=fake, workdir=os.path.join(tmp, "w"), background_polling=False)
        running = [ex.submit(give, n) for n in range(n_running)]
        fake.advance(0.5)
        ex.poll_once()
        pending = [ex.submit(give, n) for n in range(n_pending)]
        fake.fail_next("condor_rm", times=rm_failures)
        ex.shutdown(wait=False, cancel_futures=True)
        assert all(f.cancelled() for f in pending)
        for _ in range(5):
            fake.advance(1)
            ex.poll_once()
        assert [f.result(timeout=0) for f in running] == list(range(n_running))
        assert fake.queue() == [], "no job of ours is left in the queue"
    check_fake(fake)
