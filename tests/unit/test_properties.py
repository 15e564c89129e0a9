"""One behaviour suite, two backends: random jobs meet random outcomes under random command
failures, for SlurmExecutor over FakeSlurm and CondorExecutor over FakeCondor alike.

Every future resolves exactly once with the value or the error type its outcome calls for; no
monitor crash; at most one status command per poll; ``shutdown(cancel_futures=True)`` leaves no
job of ours in the queue. Time is the fake's virtual clock; the executor polls only when the test
calls ``poll_once()``.
"""

from __future__ import annotations

import collections
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cloudpickle
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cfut
from cfut.fakes import FakeCondor, FakeSlurm
from tests.support.condor_checks import check_fake

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def give(value: int) -> int:
    return value


def throw(value: int) -> None:
    raise ArithmeticError(value)


def crash(code: int) -> None:
    os._exit(code)


# ------------------------------------------------------------------ the backends


def slurm_end(state: str) -> Callable[[Any, str, str], None]:
    def apply(fake: FakeSlurm, job_id: str, when: str) -> None:
        if when == "at_end":
            fake.set_outcome(job_id, state)
        else:
            fake.end_job(job_id, state)
    return apply


def condor_end(ending: str) -> Callable[[Any, str, str], None]:
    def apply(fake: FakeCondor, job_id: str, when: str) -> None:
        if ending in ("signal", "exit") and (when == "at_end" or fake.job(job_id).state != "RUNNING"):
            fake.set_outcome(job_id, exit_code=2 if ending == "exit" else None,
                             signal=15 if ending == "signal" else None)
        elif ending == "held":
            fake.hold(job_id, "held by policy", code=3, subcode=0)
        elif ending == "removed":
            fake.remove(job_id)
        elif ending == "signal":
            fake.kill(job_id, 9)
        else:
            fake.set_outcome(job_id, exit_code=2)
    return apply


@dataclass(frozen=True)
class Backend:
    name: str
    executor: type[cfut.ClusterExecutor]
    status_command: str
    submit_command: str
    fault_commands: tuple[str, ...]
    # How a job is made to end without a result, and the error its future must get.
    endings: dict[str, tuple[type[cfut.JobDied], Callable[[Any, str, str], None]]]
    fake_options: st.SearchStrategy[dict[str, Any]]
    executor_options: dict[str, Any] = field(default_factory=dict)

    def make_fake(self, **options: Any) -> Any:
        return (FakeSlurm if self.name == "slurm" else FakeCondor)(progression="manual", cpus_per_node=64,
                                                                   **options)

    def check(self, fake: Any) -> None:
        if self.name == "condor":
            check_fake(fake)  # htcondor2 reads every event log and description the fake wrote


SLURM = Backend(
    "slurm", cfut.SlurmExecutor, "squeue", "sbatch", ("squeue", "sacct", "scontrol", "scancel"),
    {state: (error, slurm_end(state)) for state, error in {
        "FAILED": cfut.JobDied, "TIMEOUT": cfut.JobTimeout, "OUT_OF_MEMORY": cfut.JobOutOfMemory,
        "CANCELLED": cfut.JobCancelled, "NODE_FAIL": cfut.JobNodeFailure, "PREEMPTED": cfut.JobPreempted,
    }.items()},
    # min_job_age 5 > the longest run of failed status queries (3): every end is seen before a purge.
    st.fixed_dictionaries({"min_job_age": st.sampled_from([5.0, 300.0]), "accounting": st.booleans()}),
)
CONDOR = Backend(
    "condor", cfut.CondorExecutor, "condor_q", "condor_submit", ("condor_q", "condor_history", "condor_rm"),
    {ending: (error, condor_end(ending)) for ending, error in {
        "held": cfut.JobHeld, "removed": cfut.JobCancelled, "signal": cfut.JobDied, "exit": cfut.JobDied,
    }.items()},
    st.just({}),
    {"log_silence": 3, "hold_timeout": 2},
)
BACKENDS = [pytest.param(SLURM, id="slurm"), pytest.param(CONDOR, id="condor")]


@dataclass(frozen=True)
class Plan:
    kind: str  # "return", "raise", "end", "cancel_pending", "cancel_running"
    value: int = 0
    ending: str = ""
    when: str = "running"  # when the job is made to end: "pending", "running", "at_end"


def plans(backend: Backend) -> st.SearchStrategy[Plan]:
    return st.one_of(
        st.builds(Plan, kind=st.just("return"), value=st.integers(-5, 5)),
        st.builds(Plan, kind=st.just("raise"), value=st.integers(0, 3)),
        st.builds(Plan, kind=st.just("end"), ending=st.sampled_from(sorted(backend.endings)),
                  when=st.sampled_from(["pending", "running", "at_end"])),
        st.builds(Plan, kind=st.just("cancel_pending")),
        st.builds(Plan, kind=st.just("cancel_running")),
    )


# ------------------------------------------------------------------ the properties


@pytest.mark.parametrize("backend", BACKENDS)
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data(), use_map=st.booleans(), silent_log=st.booleans(), shutdown_cancel=st.booleans())
def test_every_future_resolves_exactly_once(backend: Backend, data: st.DataObject, use_map: bool,
                                            silent_log: bool, shutdown_cancel: bool) -> None:
    jobs = data.draw(st.lists(plans(backend), min_size=1, max_size=8), label="jobs")
    # At most 3 consecutive failures of each command.
    faults = data.draw(st.dictionaries(st.sampled_from(backend.fault_commands), st.integers(1, 3), max_size=3),
                       label="faults")
    fake = backend.make_fake(**data.draw(backend.fake_options, label="fake options"))
    if backend.name == "condor":
        fake.silent_log = silent_log  # then every status comes from condor_q / condor_history
    with tempfile.TemporaryDirectory() as tmp:
        ex = backend.executor(runner=fake, workdir=os.path.join(tmp, "w"), background_polling=False,
                              result_grace=2, submit_linger=0, **backend.executor_options)
        resolutions: collections.Counter[int] = collections.Counter()
        if use_map:  # one array job / one cluster; map takes one function, so raises become returns
            jobs = [Plan("return", p.value) if p.kind == "raise" else p for p in jobs]
            futures = ex.map_futures(give, [p.value for p in jobs])
        else:
            futures = [ex.submit(throw if p.kind == "raise" else give, p.value) for p in jobs]
        for i, future in enumerate(futures):
            future.add_done_callback(lambda _f, i=i: resolutions.update([i]))
        for i, plan in enumerate(jobs):
            if plan.kind == "cancel_pending":
                assert futures[i].cancel() is True
                assert futures[i].job_id not in fake.queue()
            elif plan.kind == "end" and plan.when in ("pending", "at_end"):
                backend.endings[plan.ending][1](fake, futures[i].job_id, plan.when)
        for command, times in faults.items():
            fake.fail_next(command, times=times)
        fake.advance(0.5)  # everything still queued starts
        ex.poll_once()
        for step in range(60):
            for i, plan in enumerate(jobs):
                # A running job: cancel() fails once the monitor knows it runs (inline jobs write
                # their started marker only when they end, so before that cancel() may still win).
                if step == 0 and plan.kind == "cancel_running" and futures[i].running():
                    assert futures[i].cancel() is False
                if step == 0 and plan.kind == "end" and plan.when == "running" and futures[i].job_id in fake.queue():
                    backend.endings[plan.ending][1](fake, futures[i].job_id, plan.when)
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
                assert type(future.exception()) is backend.endings[plan.ending][0], (plan, future.exception())
            else:
                assert future.result() == plan.value
        assert resolutions == collections.Counter(range(len(jobs))), "each future resolved exactly once"
        stats = ex.statistics()
        assert stats.monitor_errors == 0
        assert stats.commands[backend.submit_command] == (1 if use_map else len(jobs))
        assert stats.commands.get(backend.status_command, 0) <= stats.status_queries <= stats.polls
        if backend.name == "condor" and not silent_log:
            assert stats.commands.get("condor_q", 0) == 0, "the event log answered everything"
        ex.shutdown(wait=False, cancel_futures=shutdown_cancel)
        for _ in range(4):  # removals that failed are retried by the next polls
            fake.advance(1)
            ex.poll_once()
        if shutdown_cancel:
            assert fake.queue() == [], "no job of ours is left in the queue"
        if backend.name == "condor":
            assert "HELD" not in {fake.job(j).state for j in fake.queue()}, "held jobs were removed"
    backend.check(fake)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n_pending=st.integers(0, 6), n_running=st.integers(0, 3), cancel_failures=st.integers(0, 2))
def test_shutdown_cancel_futures_leaves_no_job_queued(backend: Backend, n_pending: int, n_running: int,
                                                      cancel_failures: int) -> None:
    fake = backend.make_fake()
    with tempfile.TemporaryDirectory() as tmp:
        ex = backend.executor(runner=fake, workdir=os.path.join(tmp, "w"), background_polling=False,
                              submit_linger=0)
        running = [ex.submit(give, n) for n in range(n_running)]
        fake.advance(0.5)
        ex.poll_once()
        pending = [ex.submit(give, n) for n in range(n_pending)]
        fake.fail_next(backend.fault_commands[-1], times=cancel_failures)  # scancel / condor_rm
        ex.shutdown(wait=False, cancel_futures=True)
        assert all(f.cancelled() for f in pending)
        for _ in range(5):
            fake.advance(1)
            ex.poll_once()
        assert [f.result(timeout=0) for f in running] == list(range(n_running))
        assert fake.queue() == [], "no job of ours is left in the queue"
    backend.check(fake)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=int(os.environ.get("CFUT_SUBPROCESS_EXAMPLES", "4")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(outcomes=st.lists(st.sampled_from(["return", "raise", "crash"]), min_size=1, max_size=3))
def test_real_processes_crash_return_and_raise(backend: Backend, outcomes: list[str]) -> None:
    fake = (FakeSlurm if backend.name == "slurm" else FakeCondor)(progression="manual", execution="subprocess",
                                                                  cpus_per_node=8)
    with tempfile.TemporaryDirectory() as tmp:
        ex = backend.executor(runner=fake, workdir=os.path.join(tmp, "w"), background_polling=False,
                              result_grace=1, submit_linger=0, **backend.executor_options)
        funcs = {"return": give, "raise": throw, "crash": crash}
        futures = [ex.submit(funcs[kind], 3) for kind in outcomes]
        fake.advance(0.1)
        fake.join()  # wait for the real processes: an event, not a sleep
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
    backend.check(fake)
