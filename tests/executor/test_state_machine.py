"""A hypothesis state machine drives the executor against a model of what each future must end as.

Rules submit single calls and maps, cancel futures, end jobs from outside, make scheduler commands
fail, shut the executor down, and let the fake's virtual time pass with ``poll_once()``. The model
records, for every future, the outcomes still allowed; invariants check after every step that no
future resolved twice and that a resolved future's outcome is one the model allows. At teardown every
future must have resolved and no job of ours may be left in the queue. It runs on FakeSlurm and
FakeCondor (the same machine, two schedulers); there are no threads and no real time in the draws.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

import cloudpickle
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, precondition, rule

import cfut
from cfut.fakes import FakeCondor, FakeSlurm

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def give(value: int) -> int:
    return value


def throw(value: int) -> None:
    raise ArithmeticError(value)


@dataclass
class Expect:
    """What one future may end as: a value, an exception type, a job death, or cancelled."""

    value: Any = None
    error: type[BaseException] | None = None
    must_cancel: bool = False  # a cancel() returned True on it (or shutdown cancelled it)
    died: tuple[type[BaseException], ...] = ()  # a job death that may or may not win against the result
    resolutions: int = 0


SLURM_ENDINGS = {"FAILED": cfut.JobDied, "TIMEOUT": cfut.JobTimeout, "CANCELLED": cfut.JobCancelled,
                 "NODE_FAIL": cfut.JobNodeFailure, "OUT_OF_MEMORY": cfut.JobOutOfMemory}
CONDOR_ENDINGS = {"removed": cfut.JobCancelled, "held": cfut.JobHeld, "signal": cfut.JobDied}


class ExecutorMachine(RuleBasedStateMachine):
    scheduler = "slurm"
    futures = Bundle("futures")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.mkdtemp(prefix="cfut-machine-")
        self.fake: FakeSlurm | FakeCondor
        if self.scheduler == "slurm":
            self.fake = FakeSlurm(progression="manual", cpus_per_node=8)
            self.executor: cfut.ClusterExecutor = cfut.SlurmExecutor(
                runner=self.fake, workdir=os.path.join(self.tmp, "w"), background_polling=False, result_grace=2,
                submit_linger=0)
            self.submit_command, self.fault_commands = "sbatch", ("sbatch", "squeue", "sacct", "scancel")
        else:
            self.fake = FakeCondor(progression="manual", cpus_per_node=8)
            self.executor = cfut.CondorExecutor(
                runner=self.fake, workdir=os.path.join(self.tmp, "w"), background_polling=False, result_grace=2,
                log_silence=3, hold_timeout=2, submit_linger=0)
            self.submit_command, self.fault_commands = "condor_submit", ("condor_submit", "condor_q",
                                                                         "condor_history", "condor_rm")
        self.expect: dict[int, Expect] = {}
        self.all: list[cfut.ClusterFuture] = []
        self.shut = False
        self.submit_faults = 0  # failures queued for the submit command (each attempt takes one)
        self.faults = 0  # failures queued for any command: teardown retries cancels at least as often

    # -- helpers

    def _track(self, future: cfut.ClusterFuture, expect: Expect) -> cfut.ClusterFuture:
        self.expect[id(future)] = expect
        self.all.append(future)

        def resolved(_: object, expect: Expect = expect) -> None:
            expect.resolutions += 1

        future.add_done_callback(resolved)
        return future

    def _submit(self, make: Any) -> list[cfut.ClusterFuture]:
        """Submit; when more submit failures are queued than the executor retries (3), the call raises."""
        if self.submit_faults > 3:
            with pytest.raises(cfut.SubmissionError):
                make()
            self.submit_faults -= 4
            return []
        self.submit_faults = 0
        futures: list[cfut.ClusterFuture] = make()
        return futures

    # -- rules

    @precondition(lambda self: not self.shut)
    @rule(target=futures, raises=st.booleans(), value=st.integers(-3, 3))
    def submit(self, raises: bool, value: int) -> Any:
        made = self._submit(lambda: [self.executor.submit(throw if raises else give, value)])
        if not made:
            return multiple()
        return self._track(made[0], Expect(error=ArithmeticError) if raises else Expect(value=value))

    @precondition(lambda self: not self.shut)
    @rule(target=futures, values=st.lists(st.integers(-3, 3), min_size=1, max_size=4), chunksize=st.integers(1, 2))
    def map(self, values: list[int], chunksize: int) -> Any:
        made = self._submit(lambda: self.executor.map_futures(give, values, chunksize=chunksize))
        return multiple(*(self._track(future, Expect(value=value)) for future, value in zip(made, values)))

    @rule(future=futures)
    def cancel(self, future: cfut.ClusterFuture) -> None:
        was_done = future.done()
        if future.cancel():
            assert future.cancelled()
            if not was_done:
                self.expect[id(future)].must_cancel = True
        else:
            assert future.running() or future.done()

    @rule(future=futures, data=st.data())
    def end_from_outside(self, future: cfut.ClusterFuture, data: st.DataObject) -> None:
        job_id = future.job_id
        if job_id is None or job_id not in self.fake.queue() or future.done():
            return
        if isinstance(self.fake, FakeSlurm):
            state = data.draw(st.sampled_from(sorted(SLURM_ENDINGS)), label="ending")
            self.fake.end_job(job_id, state)
            error: type[BaseException] = SLURM_ENDINGS[state]
        else:
            ending = data.draw(st.sampled_from(sorted(CONDOR_ENDINGS)), label="ending")
            if ending == "removed":
                self.fake.remove(job_id)
            elif ending == "held":
                self.fake.hold(job_id, "held by the machine", code=3, subcode=0)
            elif self.fake.job(job_id).state == "RUNNING":
                self.fake.kill(job_id, 9)
            else:
                return
            error = CONDOR_ENDINGS[ending]
        # every call of the job dies with it (a map's chunk shares one job)
        for other in self.all:
            if other.job_id == job_id and not other.done():
                self.expect[id(other)].died += (error,)

    @rule(command=st.data(), times=st.integers(1, 2))
    def scheduler_fails(self, command: st.DataObject, times: int) -> None:
        name = command.draw(st.sampled_from(self.fault_commands), label="command")
        self.fake.fail_next(name, times=times)
        self.faults += times
        if name == self.submit_command:
            self.submit_faults += times

    @rule(seconds=st.sampled_from([0.5, 1.0, 3.0]))
    def time_passes(self, seconds: float) -> None:
        self.fake.advance(seconds)
        self.executor.poll_once()

    @precondition(lambda self: not self.shut)
    @rule(cancel_futures=st.booleans())
    def shutdown(self, cancel_futures: bool) -> None:
        pending = [f for f in self.all if not f.done() and not f.running()]
        self.executor.shutdown(wait=False, cancel_futures=cancel_futures)
        self.shut = True
        if cancel_futures:
            for future in pending:
                assert future.cancelled(), "shutdown(cancel_futures=True) cancels what has not started"
                self.expect[id(future)].must_cancel = True
        with pytest.raises(cfut.ExecutorShutdownError):
            self.executor.submit(give, 1)

    # -- invariants

    @invariant()
    def resolved_at_most_once_and_as_allowed(self) -> None:
        for future in self.all:
            expect = self.expect[id(future)]
            assert expect.resolutions <= 1, "a future resolved twice"
            if future.done():
                self._check(future, expect)

    def _check(self, future: cfut.ClusterFuture, expect: Expect) -> None:
        if future.cancelled():
            assert expect.must_cancel, "cancelled, yet no cancel() nor shutdown(cancel_futures) succeeded on it"
            return
        assert not expect.must_cancel, "cancel() returned True, yet the future ran"
        error = future.exception(timeout=0)
        if error is None:
            assert expect.error is None and future.result() == expect.value
        elif expect.died and type(error) in expect.died:
            return
        elif isinstance(error, cfut.SubmissionError):
            pytest.fail(f"a transient failure reached a future: {error!r}")
        else:
            assert expect.error is not None and type(error) is expect.error, (error, expect)

    def teardown(self) -> None:
        try:
            for _ in range(80):
                if all(f.done() for f in self.all):
                    break
                self.fake.advance(1)
                self.executor.poll_once()
            assert all(f.done() for f in self.all), self.executor.statistics()
            for future in self.all:
                expect = self.expect[id(future)]
                assert expect.resolutions == 1, "every future resolves exactly once"
                if expect.must_cancel:
                    assert future.cancelled()
                self._check(future, expect)
            self.executor.shutdown(wait=False, cancel_futures=True)
            for _ in range(6 + self.faults):  # cancels that failed are retried by the next polls
                self.fake.advance(1)
                self.executor.poll_once()
            assert self.fake.queue() == [], "no job of ours is left in the queue"
            assert self.executor.statistics().monitor_errors == 0
        finally:
            self.fake.close()
            shutil.rmtree(self.tmp, ignore_errors=True)


class CondorMachine(ExecutorMachine):
    scheduler = "htcondor"


MACHINE_SETTINGS = settings(deadline=None, stateful_step_count=25,
                            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

TestSlurmExecutorMachine = ExecutorMachine.TestCase
TestSlurmExecutorMachine.settings = MACHINE_SETTINGS
TestCondorExecutorMachine = CondorMachine.TestCase
TestCondorExecutorMachine.settings = MACHINE_SETTINGS
