"""SlurmExecutor over FakeSlurm: futures, cancellation, shutdown, failures, bad input.

These tests drive the fake's virtual clock (``progression="manual"``, ``fake.advance``) and the
executor's ``poll_once()`` with ``background_polling=False``; none waits for time to pass.
"""

from __future__ import annotations

import concurrent.futures
import gc
import logging
import os
import stat
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

import cfut
from cfut import ClusterExecutor
from cfut._runner import CommandResult
from cfut.fakes import FakeSlurm

# Jobs in subprocess mode cannot import this test module, so its functions travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def square(x: int) -> int:
    return x * x


def fail(message: str) -> None:
    raise ValueError(message)


class Unpicklable(Exception):
    def __reduce__(self):  # type: ignore[no-untyped-def]
        raise TypeError("not today")


def raise_unpicklable() -> None:
    raise Unpicklable("x")


def exit_hard(code: int) -> None:
    os._exit(code)


@pytest.fixture
def fake() -> FakeSlurm:
    return FakeSlurm(progression="manual")


@pytest.fixture
def executor(fake: FakeSlurm, tmp_path: Path) -> Iterator[cfut.SlurmExecutor]:
    ex = cfut.SlurmExecutor(runner=fake, workdir=tmp_path / "work", background_polling=False)
    yield ex
    ex.shutdown(wait=False, cancel_futures=True)


def settle(executor: ClusterExecutor, fake: FakeSlurm, futures: list[Any], steps: int = 50,
           dt: float = 1.0) -> None:
    """Advance virtual time and poll until every future is done (bounded)."""
    for _ in range(steps):
        if all(f.done() for f in futures):
            return
        fake.advance(dt)
        executor.poll_once()
    raise AssertionError(f"futures still pending after {steps} steps: {executor.statistics()}")


# ---------------------------------------------------------------- the basics


def test_map_with_default_fake_just_works(tmp_path: Path) -> None:
    with cfut.SlurmExecutor(runner=FakeSlurm(), workdir=tmp_path, poll_interval=0.01) as ex:
        assert list(ex.map(square, [5, 7, 11])) == [25, 49, 121]
        with pytest.raises(ValueError, match="boom") as info:
            ex.submit(fail, "boom").result(timeout=60)
    assert isinstance(info.value.__cause__, cfut.RemoteTraceback)
    assert "in fail" in info.value.__cause__.tb


def test_cfut_map_ordered_and_unordered(tmp_path: Path) -> None:
    def make() -> cfut.SlurmExecutor:
        return cfut.SlurmExecutor(runner=FakeSlurm(), workdir=tmp_path, poll_interval=0.01)

    assert list(cfut.map(make(), square, [1, 2, 3])) == [1, 4, 9]
    assert sorted(cfut.map(make(), square, [1, 2, 3], ordered=False)) == [1, 4, 9]


def test_future_goes_pending_running_finished(executor: cfut.SlurmExecutor, fake: FakeSlurm) -> None:
    future = executor.submit(square, 3)
    assert future.job_id is not None
    executor.poll_once()
    assert fake.job(future.job_id).state == "PENDING" and not future.running()
    fake.advance(0.5)  # starts; inline jobs run for job_duration (1 s) of virtual time
    executor.poll_once()
    assert fake.job(future.job_id).state == "RUNNING"
    assert future.running()
    settle(executor, fake, [future])
    assert future.result() == 9


def test_result_found_by_scan_without_scheduler(executor: cfut.SlurmExecutor, fake: FakeSlurm,
                                                tmp_path: Path) -> None:
    future = executor.submit(square, 4)
    fake.advance(5)
    fake.fail_next("squeue", times=3)
    executor.poll_once()  # the status query fails, the scan still finds the result
    assert future.result(timeout=0) == 16
    assert executor.statistics().query_failures == 1


def test_remote_exception_that_cannot_be_unpickled(executor: cfut.SlurmExecutor, fake: FakeSlurm) -> None:
    future = executor.submit(raise_unpicklable)
    settle(executor, fake, [future])
    error = future.exception()
    assert isinstance(error, cfut.RemoteException)
    assert "Unpicklable" in error.error and "raise_unpicklable" in error.error


def test_success_leaves_no_files_failure_keeps_log(executor: cfut.SlurmExecutor, fake: FakeSlurm) -> None:
    ok = executor.submit(square, 2)
    settle(executor, fake, [ok])
    assert os.listdir(executor.workdir) == []
    dead = executor.submit(square, 3)
    fake.advance(0.5)
    fake.end_job(dead.job_id, "FAILED", exit_code=2)
    settle(executor, fake, [dead])
    error = dead.exception()
    assert isinstance(error, cfut.JobDied) and error.exit_code == 2
    assert error.log_path is not None and os.path.exists(error.log_path)


def test_keep_logs_keeps_files(fake: FakeSlurm, tmp_path: Path) -> None:
    with cfut.SlurmExecutor(runner=fake, workdir=tmp_path, keep_logs=True, background_polling=False) as ex:
        future = ex.submit(square, 2)
        settle(ex, fake, [future])
        names = os.listdir(tmp_path)
    assert any(n.endswith(".log") for n in names) and any(n.endswith(".sh") for n in names)


def test_workdir_and_files_are_private(executor: cfut.SlurmExecutor, fake: FakeSlurm) -> None:
    executor.submit(square, 2)
    assert stat.S_IMODE(os.stat(executor.workdir).st_mode) == 0o700
    for name in os.listdir(executor.workdir):
        assert stat.S_IMODE(os.stat(os.path.join(executor.workdir, name)).st_mode) == 0o600, name


# ---------------------------------------------------------------- job deaths


@pytest.mark.parametrize("state, error_type", [
    ("FAILED", cfut.JobDied),
    ("TIMEOUT", cfut.JobTimeout),
    ("OUT_OF_MEMORY", cfut.JobOutOfMemory),
    ("CANCELLED", cfut.JobCancelled),
    ("NODE_FAIL", cfut.JobNodeFailure),
    ("PREEMPTED", cfut.JobPreempted),
])
def test_job_ending_in_state_raises_matching_error(executor: cfut.SlurmExecutor, fake: FakeSlurm,
                                                    state: str, error_type: type) -> None:
    future = executor.submit(square, 3)
    fake.advance(0.5)
    executor.poll_once()
    fake.end_job(future.job_id, state)
    settle(executor, fake, [future])
    error = future.exception()
    assert type(error) is error_type
    assert error.state == state and error.job_id == future.job_id
    assert error.exit_code is not None, "the exit code comes from the fallback lookup"


def test_grace_period_waits_for_a_slow_filesystem(fake: FakeSlurm, tmp_path: Path) -> None:
    ex = cfut.SlurmExecutor(runner=fake, workdir=tmp_path, result_grace=10, background_polling=False)
    future = ex.submit(square, 5)
    fake.advance(0.5)
    fake.hide_results(future.job_id, 6)
    for _ in range(8):
        fake.advance(1)
        ex.poll_once()
    assert fake.job(future.job_id).state == "COMPLETED"
    assert future.result(timeout=0) == 25


def test_result_hidden_beyond_grace_is_job_died(fake: FakeSlurm, tmp_path: Path) -> None:
    ex = cfut.SlurmExecutor(runner=fake, workdir=tmp_path, result_grace=3, background_polling=False)
    future = ex.submit(square, 5)
    fake.advance(0.5)
    fake.hide_results(future.job_id, 100)
    settle(ex, fake, [future])
    error = future.exception()
    assert isinstance(error, cfut.JobDied) and error.state == "COMPLETED" and error.exit_code == 0


@pytest.mark.parametrize("accounting", [True, False])
def test_job_purged_from_squeue_is_found_by_fallback(tmp_path: Path, accounting: bool) -> None:
    fake = FakeSlurm(progression="manual", min_job_age=2, accounting=accounting)
    ex = cfut.SlurmExecutor(runner=fake, workdir=tmp_path, result_grace=1, background_polling=False)
    future = ex.submit(square, 5)
    fake.advance(0.5)
    ex.poll_once()
    fake.end_job(future.job_id, "OUT_OF_MEMORY")
    fake.advance(30)  # long purged from squeue
    settle(ex, fake, [future])
    error = future.exception()
    counts = ex.statistics().commands
    if accounting:
        assert type(error) is cfut.JobOutOfMemory and error.exit_code == 0 and error.signal == 125
        assert counts["sacct"] >= 1
    else:
        # Nobody remembers the job: sacct says accounting is off (asked once), scontrol forgot it.
        assert type(error) is cfut.JobDied and error.state == "UNKNOWN"
        assert counts["sacct"] == 1 and counts["scontrol"] >= 1


def test_a_finished_job_awaiting_its_result_costs_no_more_lookups(tmp_path: Path) -> None:
    fake = FakeSlurm(progression="manual", min_job_age=1)
    ex = cfut.SlurmExecutor(runner=fake, workdir=tmp_path, result_grace=10, background_polling=False)
    future = ex.submit(square, 5)
    fake.advance(0.5)
    ex.poll_once()
    fake.end_job(future.job_id, "NODE_FAIL")
    settle(ex, fake, [future])  # seen NODE_FAIL, purged a second later, declared dead after 10 s
    assert type(future.exception()) is cfut.JobNodeFailure
    counts = ex.statistics().commands
    assert counts["sacct"] == 1, "one lookup, for the exit code, when the grace period ends"
    assert "scontrol" not in counts


def test_subprocess_worker_crash_is_job_died(tmp_path: Path) -> None:
    fake = FakeSlurm(progression="manual", execution="subprocess")
    ex = cfut.SlurmExecutor(runner=fake, workdir=tmp_path, background_polling=False, result_grace=1)
    futures = [ex.submit(exit_hard, 3), ex.submit(square, 6)]
    fake.advance(0.1)  # start both
    fake.join()  # wait for the real processes (an event, not a sleep)
    settle(ex, fake, futures)
    error = futures[0].exception()
    assert isinstance(error, cfut.JobDied) and (error.state, error.exit_code) == ("FAILED", 3)
    assert futures[1].result() == 36


# ---------------------------------------------------------------- cancellation and shutdown


def test_cancel_pending_job_removes_it_from_queue(executor: cfut.SlurmExecutor, fake: FakeSlurm) -> None:
    future = executor.submit(square, 3)
    assert future.job_id in fake.queue()
    assert future.cancel() is True
    assert future.cancelled() and future.job_id not in fake.queue()
    assert fake.job(future.job_id).state == "CANCELLED"
    assert future.cancel() is True  # again: still True, no second scancel
    assert fake.command_counts["scancel"] == 1
    done, _ = concurrent.futures.wait([future], timeout=0)
    assert done == {future}, "wait() sees a cancelled future as done at once"
    executor.poll_once()  # the monitor leaves it alone
    assert executor.statistics().outstanding_jobs == 0


def test_cancel_running_job_fails(executor: cfut.SlurmExecutor, fake: FakeSlurm) -> None:
    future = executor.submit(square, 3)
    fake.advance(0.5)
    executor.poll_once()
    assert future.running()
    assert future.cancel() is False
    settle(executor, fake, [future])
    assert future.result() == 9


def test_failed_scancel_is_retried_by_the_monitor(executor: cfut.SlurmExecutor, fake: FakeSlurm) -> None:
    future = executor.submit(square, 3)
    fake.fail_next("scancel")
    assert future.cancel() is True
    assert future.job_id in fake.queue()  # the scheduler refused for now
    executor.poll_once()
    assert future.job_id not in fake.queue()


def test_shutdown_cancel_futures_leaves_nothing_queued(fake: FakeSlurm, tmp_path: Path) -> None:
    ex = cfut.SlurmExecutor(runner=fake, workdir=tmp_path, background_polling=False)
    pending = [ex.submit(square, n) for n in range(5)]
    ex.shutdown(wait=False, cancel_futures=True)
    assert all(f.cancelled() for f in pending)
    assert fake.queue() == []
    assert fake.command_counts["scancel"] == 1, "one scancel for all jobs"
    with pytest.raises(RuntimeError, match="shutdown"):
        ex.submit(square, 1)
    with pytest.raises(cfut.ExecutorShutdownError):
        ex.submit(square, 1)
    ex.shutdown()  # idempotent


def test_shutdown_cancel_futures_spares_running_jobs(fake: FakeSlurm, tmp_path: Path) -> None:
    ex = cfut.SlurmExecutor(runner=fake, workdir=tmp_path, background_polling=False)
    running = ex.submit(square, 2)
    fake.advance(0.5)
    ex.poll_once()
    queued = ex.submit(square, 3)
    ex.shutdown(wait=False, cancel_futures=True)
    assert queued.cancelled() and not running.cancelled()
    settle(ex, fake, [running])
    assert running.result() == 4


def test_future_resolves_when_nobody_holds_the_executor(tmp_path: Path) -> None:
    future = cfut.SlurmExecutor(runner=FakeSlurm(), workdir=tmp_path, poll_interval=0.01).submit(square, 7)
    gc.collect()
    assert future.result(timeout=60) == 49


def _monitor_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("cfut-monitor-")}


def test_idle_executor_is_collected_and_its_thread_ends(tmp_path: Path) -> None:
    before = _monitor_threads()
    ex = cfut.SlurmExecutor(runner=FakeSlurm(), workdir=tmp_path, poll_interval=0.01)
    assert ex.submit(square, 2).result(timeout=60) == 4
    (thread,) = _monitor_threads() - before
    del ex
    gc.collect()
    thread.join(timeout=30)  # it wakes at least once a second and finds the executor gone
    assert not thread.is_alive()


def test_shutdown_wait_with_background_thread(tmp_path: Path) -> None:
    before = _monitor_threads()
    ex = cfut.SlurmExecutor(runner=FakeSlurm(), workdir=tmp_path, poll_interval=0.01)
    futures = [ex.submit(square, n) for n in range(5)]
    (thread,) = _monitor_threads() - before
    ex.shutdown(wait=True)
    assert [f.result(timeout=0) for f in futures] == [n * n for n in range(5)]
    assert not thread.is_alive()


# ---------------------------------------------------------------- scheduler trouble


def test_transient_sbatch_failures_are_retried(executor: cfut.SlurmExecutor, fake: FakeSlurm) -> None:
    fake.fail_next("sbatch", times=2)
    future = executor.submit(square, 3)
    assert fake.command_counts["sbatch"] == 3
    assert len(fake.jobs()) == 1
    settle(executor, fake, [future])
    assert future.result() == 9


def test_lost_sbatch_reply_adopts_the_job_instead_of_duplicating(executor: cfut.SlurmExecutor,
                                                                 fake: FakeSlurm) -> None:
    fake.fail_next("sbatch", submitted=True)
    future = executor.submit(square, 3)
    assert len(fake.jobs()) == 1 and fake.command_counts["sbatch"] == 1
    settle(executor, fake, [future])
    assert future.result() == 9


def test_persistent_sbatch_failure_raises_after_retries(executor: cfut.SlurmExecutor, fake: FakeSlurm) -> None:
    fake.fail_next("sbatch", times=10)
    with pytest.raises(cfut.SubmissionError, match="Socket timed out"):
        executor.submit(square, 3)
    assert fake.command_counts["sbatch"] == 4
    assert os.listdir(executor.workdir) == [], "a failed submission leaves no files"


def test_rejected_submission_quotes_slurm(executor: cfut.SlurmExecutor) -> None:
    with pytest.raises(cfut.SubmissionError, match="Invalid partition name specified"):
        executor.submit(square, 3, additional_setup_lines=["#SBATCH --partition=nope"])
    assert os.listdir(executor.workdir) == []


class GarbageSqueue:
    """A runner whose squeue answers nonsense; everything else goes to the fake."""

    def __init__(self, fake: FakeSlurm) -> None:
        self.fake = fake
        self.clock = fake.clock

    def run(self, argv: Any, **kwargs: Any) -> CommandResult:
        if argv[0] == "squeue":
            return CommandResult(tuple(argv), 0, "total nonsense\n", "")
        return self.fake.run(argv, **kwargs)


def test_unparsable_status_is_reported_not_crashing(fake: FakeSlurm, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    ex = cfut.SlurmExecutor(runner=GarbageSqueue(fake), workdir=tmp_path, background_polling=False)
    future = ex.submit(square, 3)
    settle(ex, fake, [future])
    assert future.result() == 9  # results still arrive through the directory scan
    assert "total nonsense" in caplog.text and "squeue" in caplog.text
    assert ex.statistics().query_failures >= 1


class ExplodingOnce:
    def __init__(self, fake: FakeSlurm) -> None:
        self.fake, self.clock, self.exploded = fake, fake.clock, threading.Event()

    def run(self, argv: Any, **kwargs: Any) -> CommandResult:
        if argv[0] == "squeue" and not self.exploded.is_set():
            self.exploded.set()
            raise RuntimeError("a bug somewhere")
        return self.fake.run(argv, **kwargs)


def test_monitor_thread_survives_an_exception(tmp_path: Path) -> None:
    runner = ExplodingOnce(FakeSlurm())
    with cfut.SlurmExecutor(runner=runner, workdir=tmp_path, poll_interval=0.01) as ex:
        futures = [ex.submit(square, n) for n in range(3)]
        assert [f.result(timeout=60) for f in futures] == [0, 1, 4]
        assert ex.statistics().monitor_errors == 1


def test_at_most_one_status_query_per_poll(executor: cfut.SlurmExecutor, fake: FakeSlurm) -> None:
    futures = [executor.submit(square, n) for n in range(30)]
    settle(executor, fake, futures)
    stats = executor.statistics()
    assert stats.commands["squeue"] == stats.status_queries <= stats.polls
    assert stats.calls_done == 30


# ---------------------------------------------------------------- bad input


def test_bad_input_is_rejected_before_submission(executor: cfut.SlurmExecutor, fake: FakeSlurm,
                                                 tmp_path: Path) -> None:
    with pytest.raises(cfut.InvalidArgumentError, match="callable"):
        executor.submit(42)  # type: ignore[arg-type]
    with pytest.raises(cfut.SerializationError, match="cannot serialise"):
        executor.submit(square, threading.Lock())
    with pytest.raises(cfut.InvalidArgumentError, match="additional_setup_lines"):
        executor.submit(square, 1, additional_setup_lines="#SBATCH --mem=1G")
    with pytest.raises(cfut.InvalidArgumentError, match="chunksize"):
        executor.map(square, [1], chunksize=0)
    assert fake.command_counts["sbatch"] == 0
    assert os.listdir(executor.workdir) == []


def test_bad_constructor_arguments(tmp_path: Path) -> None:
    with pytest.raises(cfut.InvalidArgumentError, match="runner"):
        cfut.SlurmExecutor(runner=object(), workdir=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(cfut.InvalidArgumentError, match="additional_setup_lines"):
        cfut.SlurmExecutor(additional_setup_lines=[1, 2], workdir=tmp_path)  # type: ignore[list-item]
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(cfut.InvalidArgumentError, match="cannot create work directory"):
        cfut.SlurmExecutor(workdir=blocker / "sub", runner=FakeSlurm())
    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o755)
    open_dir.chmod(0o755)
    with pytest.raises(cfut.InvalidArgumentError, match="chmod 700"):
        cfut.SlurmExecutor(workdir=open_dir, runner=FakeSlurm())
    with pytest.raises(cfut.InvalidArgumentError, match="poll_interval"):
        cfut.SlurmExecutor(workdir=tmp_path / "w", runner=FakeSlurm(), poll_interval=0)


def test_cfut_dir_environment_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CFUT_DIR", str(tmp_path / "from-env"))
    ex = cfut.SlurmExecutor(runner=FakeSlurm(), background_polling=False)
    assert ex.workdir == str(tmp_path / "from-env")


def test_missing_binary_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    ex = cfut.SlurmExecutor(workdir=tmp_path / "w", background_polling=False)
    with pytest.raises(cfut.CommandNotFoundError, match="'sbatch'"):
        ex.submit(square, 1)


def test_debug_logs_through_logging_not_print(fake: FakeSlurm, tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG, logger="cfut")
    ex = cfut.SlurmExecutor(debug=True, runner=fake, workdir=tmp_path, background_polling=False)
    future = ex.submit(square, 2)
    settle(ex, fake, [future])
    assert "submitted" in caplog.text and "sbatch" in caplog.text
    assert capsys.readouterr().out == ""


# ---------------------------------------------------------------- the public API


def test_public_names_are_exactly_all() -> None:
    # "@py_builtins"/"@pytest_ar": pytest rewrites the asserts of the cfut distribution, since it
    # ships a pytest11 plugin (cfut.pytest_plugin).
    public = {name for name in dir(cfut) if not name.startswith(("_", "@"))}
    modules = {"core", "errors", "files", "remote", "runner", "serialize", "slurm", "condor", "fakes",
               "pytest_plugin"}
    assert public - modules - {"annotations", "concurrent", "Callable", "Iterable", "Iterator", "Any"} == (
        set(cfut.__all__) - {"__version__"}
    )


def test_errors_share_one_root() -> None:
    for name in cfut.__all__:
        obj = getattr(cfut, name)
        if isinstance(obj, type) and issubclass(obj, Exception) and obj is not cfut.RemoteTraceback:
            assert issubclass(obj, cfut.CfutError), name
