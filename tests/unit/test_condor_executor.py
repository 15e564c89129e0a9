"""CondorExecutor over FakeCondor: the issue's done-when, held/removed/signalled jobs, cancel and
shutdown, the condor_q/condor_history fallback, submission failures.

Manual progression (``fake.advance``) and ``poll_once()`` with ``background_polling=False``: no test
waits for time to pass. Every description and event log is checked with htcondor2 at teardown.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

import cfut
from cfut.fakes.condor import FakeCondor
from tests.support.condor_checks import check_description, check_fake

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def square(x: int) -> int:
    return x * x


def fail(message: str) -> None:
    raise ValueError(message)


@pytest.fixture
def fake() -> Iterator[FakeCondor]:
    fake = FakeCondor(progression="manual")
    yield fake
    fake.close()
    check_fake(fake)


@pytest.fixture
def executor(fake: FakeCondor, tmp_path: Path) -> Iterator[cfut.CondorExecutor]:
    ex = cfut.CondorExecutor(runner=fake, workdir=tmp_path / "work", background_polling=False, submit_linger=0,
                             result_grace=2,
                             hold_timeout=3)
    yield ex
    ex.shutdown(wait=False, cancel_futures=True)


def settle(executor: cfut.CondorExecutor, fake: FakeCondor, futures: list[Any], steps: int = 30) -> None:
    for _ in range(steps):
        if all(f.done() for f in futures):
            return
        fake.advance(1)
        executor.poll_once()
    raise AssertionError(f"futures still pending: {executor.statistics()}")


def count(fake: FakeCondor, command: str) -> int:
    return sum(1 for argv in fake.calls if argv[0] == command)


# ---------------------------------------------------------------- done when


def test_done_when_map_is_one_condor_submit(tmp_path: Path) -> None:
    fake = FakeCondor()
    with cfut.CondorExecutor(runner=fake, workdir=tmp_path, poll_interval=0.01) as ex:
        assert list(ex.map(square, [5, 7, 11])) == [25, 49, 121]
    assert count(fake, "condor_submit") == 1
    assert fake.history() == ["1.0", "1.1", "1.2"]
    assert check_fake(fake) == 9  # submit, execute, terminated for each proc
    assert os.listdir(tmp_path) == [], "no file is left after success"


def test_submit_description_is_what_htcondor_reads(tmp_path: Path) -> None:
    workdir = tmp_path / "it's a \"work\" $dir"
    fake = FakeCondor()
    ex = cfut.CondorExecutor(
        runner=fake, workdir=workdir, poll_interval=0.01, request_cpus=2, request_memory="2 GB", request_disk=1000,
        request_gpus=0, requirements='OpSys == "LINUX"', attributes={"ProjectName": '"physics"'},
        extra_submit_lines=["notification = never"], getenv="PATH, HOME",
    )
    with ex:
        assert list(ex.map(square, [1, 2])) == [1, 4]
        assert ex.submit(square, 3).result() == 9
    text = fake.descriptions[0]
    check_description(text)
    import htcondor2

    sub = htcondor2.Submit(text)
    assert sub.getQArgs() == "2" and sub["request_cpus"] == "2" and sub["request_memory"] == "2 GB"
    assert sub["requirements"] == 'OpSys == "LINUX"' and sub["MY.ProjectName"] == '"physics"'
    assert sub["getenv"] == "PATH, HOME" and sub["notification"] == "never"
    assert sub.expand("log") == ex.event_log
    assert str(workdir) in sub.expand("arguments").replace("''", "'").replace('""', '"')
    assert fake.job("1.0").ad["RequestMemory"] == 2048
    assert htcondor2.Submit(fake.descriptions[1]).getQArgs() == "1"


def test_future_goes_pending_running_finished_from_the_log_alone(executor: cfut.CondorExecutor,
                                                                 fake: FakeCondor) -> None:
    future = executor.submit(square, 3)
    assert future.job_id == "1.0"
    executor.poll_once()
    assert not future.running() and fake.job("1.0").state == "IDLE"
    fake.advance(0)  # the job starts
    executor.poll_once()
    assert future.running()
    settle(executor, fake, [future])
    assert future.result() == 9
    stats = executor.statistics()
    assert stats.commands == {"condor_submit": 1}, "the event log answered every status question"


# ---------------------------------------------------------------- deaths


def test_held_job_fails_with_reason_and_code_and_is_removed(executor: cfut.CondorExecutor,
                                                            fake: FakeCondor) -> None:
    future = executor.submit(square, 2)
    reason = "Error from slot1@node: Failed to execute '/x': (errno=2: 'No such file or directory')"
    fake.hold(future.job_id, reason, code=6, subcode=2)
    settle(executor, fake, [future])
    error = future.exception()
    assert type(error) is cfut.JobHeld
    assert (error.hold_code, error.hold_subcode, error.reason, error.state) == (6, 2, reason, "HELD")
    assert fake.queue() == [], "the held job was removed"
    assert count(fake, "condor_rm") == 1 and count(fake, "condor_q") == 0


def test_held_job_is_waited_for_when_not_to_be_removed(fake: FakeCondor, tmp_path: Path) -> None:
    """remove_held=False: a hold never fails the future; a release, however late, lets the value arrive."""
    ex = cfut.CondorExecutor(runner=fake, workdir=tmp_path, background_polling=False, submit_linger=0, result_grace=1,
                             remove_held=False, hold_timeout=1)
    future = ex.submit(square, 2)
    fake.hold(future.job_id)
    for _ in range(600):
        fake.advance(1)
        ex.poll_once()
    assert not future.done() and fake.job(future.job_id).state == "HELD"
    assert count(fake, "condor_rm") == 0
    fake.release(future.job_id)
    settle(ex, fake, [future])
    assert future.result() == 4


def test_hold_then_release_within_grace_completes(executor: cfut.CondorExecutor, fake: FakeCondor) -> None:
    future = executor.submit(square, 5)
    fake.hold(future.job_id)
    executor.poll_once()
    fake.release(future.job_id)
    settle(executor, fake, [future])
    assert future.result() == 25


def test_removed_from_outside_is_cancelled_error(executor: cfut.CondorExecutor, fake: FakeCondor) -> None:
    future = executor.submit(square, 2)
    fake.remove(future.job_id)
    settle(executor, fake, [future])
    error = future.exception()
    assert type(error) is cfut.JobCancelled
    assert error.reason == f"via condor_rm (by user {fake.cluster.user})"


def test_removed_while_running_passes_through_x(executor: cfut.CondorExecutor, fake: FakeCondor) -> None:
    future = executor.submit(square, 2)
    fake.advance(0)
    fake.remove(future.job_id)
    assert fake.job(future.job_id).state == "REMOVED" and fake.queue() == [future.job_id]
    settle(executor, fake, [future])
    assert type(future.exception()) is cfut.JobCancelled and fake.queue() == []


def test_killed_by_signal_is_job_died_with_signal_and_log(executor: cfut.CondorExecutor, fake: FakeCondor) -> None:
    future = executor.submit(square, 2)
    fake.advance(0)
    executor.poll_once()
    fake.kill(future.job_id, 9)
    settle(executor, fake, [future])
    error = future.exception()
    assert type(error) is cfut.JobDied
    assert (error.state, error.signal, error.exit_code) == ("COMPLETED", 9, None)
    assert count(fake, "condor_history") == 0, "the log had the signal"


def test_exit_code_without_result(executor: cfut.CondorExecutor, fake: FakeCondor) -> None:
    future = executor.submit(square, 2)
    fake.set_outcome(future.job_id, exit_code=3)
    settle(executor, fake, [future])
    error = future.exception()
    assert type(error) is cfut.JobDied and error.exit_code == 3 and error.signal is None
    assert error.log_path is not None and os.path.exists(error.log_path)
    assert os.path.exists(executor.event_log), "the event log of a failed job is kept"


def test_evicted_job_runs_again(executor: cfut.CondorExecutor, fake: FakeCondor) -> None:
    future = executor.submit(square, 6)
    fake.advance(0)
    fake.evict(future.job_id)
    executor.poll_once()
    settle(executor, fake, [future])
    assert future.result() == 36 and fake.job(future.job_id).ad["NumJobStarts"] == 2


# ---------------------------------------------------------------- fallback when the log is silent


def test_silent_log_falls_back_to_one_condor_q_then_history(fake: FakeCondor, tmp_path: Path) -> None:
    ex = cfut.CondorExecutor(runner=fake, workdir=tmp_path, background_polling=False, submit_linger=0, result_grace=1,
                             log_silence=5)
    fake.silent_log = True
    futures = [ex.submit(square, n) for n in range(3)]
    fake.set_outcome(futures[2].job_id, signal=15)
    ex.poll_once()
    assert count(fake, "condor_q") == 0, "not before the log has been silent for log_silence"
    fake.advance(5)
    ex.poll_once()
    assert count(fake, "condor_q") == 1, "one batched condor_q for all silent jobs"
    q = [argv for argv in fake.calls if argv[0] == "condor_q"][0]
    assert {"1.0", "2.0", "3.0"} <= set(q)
    settle(ex, fake, futures)
    assert [f.result() for f in futures[:2]] == [0, 1]
    error = futures[2].exception()
    assert type(error) is cfut.JobDied and error.signal == 15
    assert count(fake, "condor_history") >= 1


def test_unreadable_log_asks_condor_q_at_once(executor: cfut.CondorExecutor, fake: FakeCondor) -> None:
    future = executor.submit(square, 2)
    fake.advance(0)
    os.unlink(executor.event_log)
    os.mkdir(executor.event_log)  # reading it now fails with EISDIR
    executor.poll_once()
    assert count(fake, "condor_q") == 1 and future.running()
    os.rmdir(executor.event_log)


# ---------------------------------------------------------------- submission


def test_missing_python_is_a_submission_error_with_condor_text(fake: FakeCondor, tmp_path: Path) -> None:
    ex = cfut.CondorExecutor(runner=fake, workdir=tmp_path, background_polling=False, submit_linger=0,
                             python="/no/such/python")
    with pytest.raises(cfut.SubmissionError, match="ERROR: Executable file /no/such/python does not exist"):
        ex.submit(square, 2)
    assert os.listdir(tmp_path) == [], "the payload is removed"


def test_setup_lines_use_a_wrapper_script(fake: FakeCondor, tmp_path: Path) -> None:
    ex = cfut.CondorExecutor(runner=fake, workdir=tmp_path / "a b", background_polling=False, submit_linger=0,
                             additional_setup_lines=["echo setting up", "set -e"])
    futures = [ex.submit(square, 3)]
    mapped = ex.map(square, [1, 2])
    settle(ex, fake, futures)
    fake.advance(5)
    ex.poll_once()
    assert list(mapped) == [1, 4] and futures[0].result() == 9
    assert "environment" in fake.descriptions[0] and "CFUT_PAYLOAD" in fake.descriptions[0]


def test_bad_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(cfut.InvalidArgumentError, match="queue"):
        cfut.CondorExecutor(runner=FakeCondor(), workdir=tmp_path, extra_submit_lines=["queue 3"])
    with pytest.raises(cfut.InvalidArgumentError, match="line break"):
        cfut.CondorExecutor(runner=FakeCondor(), workdir=tmp_path, requirements="a\nqueue")
    with pytest.raises(cfut.InvalidArgumentError):
        cfut.CondorExecutor(runner=FakeCondor(), workdir=tmp_path, attributes={"bad name": "1"})
    with pytest.raises(cfut.InvalidArgumentError, match="getenv"):
        cfut.CondorExecutor(runner=FakeCondor(), workdir=tmp_path, getenv=3)  # type: ignore[arg-type]



@pytest.mark.parametrize("remove_held", [True, False])
def test_memory_hold_released_by_the_pools_policy_delivers_the_value(tmp_path: Path, remove_held: bool) -> None:
    """shared/cases/16: a job held for memory (HoldReasonCode 34) at t=5 is released 60 s later by a
    periodic_release policy (PERIODIC_EXPR_INTERVAL=60); with default settings its value arrives."""
    fake = FakeCondor(progression="manual", job_duration=30)
    ex = cfut.CondorExecutor(runner=fake, workdir=tmp_path, background_polling=False, submit_linger=0,
                             remove_held=remove_held)
    future = ex.submit(square, 7)
    fake.advance(0)
    for _ in range(5):
        fake.advance(1)
        ex.poll_once()
    fake.hold(future.job_id, "Job has gone over memory limit of 2048 megabytes.", code=34, subcode=0)
    for _ in range(60):
        fake.advance(1)
        ex.poll_once()
    assert not future.done(), "a hold is not a death: the pool's policy gets its chance"
    fake.release(future.job_id)
    settle(ex, fake, [future], steps=60)
    assert future.result() == 49
    assert count(fake, "condor_rm") == 0
    ex.shutdown()
    check_fake(fake)
