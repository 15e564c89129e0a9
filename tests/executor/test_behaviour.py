"""The executor's behaviour, one suite for every cluster: FakeSlurm, FakeCondor and a real Slurm.

What a user of ``concurrent.futures`` may rely on whatever the scheduler: results and errors,
future states, cancellation, shutdown, files left behind, retries of a failing scheduler, bad input.
Scheduler-specific behaviour (Slurm's job states, HTCondor holds and its event log) is tested in
tests/unit/test_slurm_executor.py and tests/unit/test_condor_executor.py.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import gc
import logging
import os
import signal
import stat
import sys
import threading
import time
from pathlib import Path

import cloudpickle
import pytest

import cfut
from tests.executor.harness import Harness, wait_until

# Jobs in real processes cannot import this test module: its functions travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def square(x: int) -> int:
    return x * x


def raise_key_error(key: str) -> None:
    raise KeyError(key)


class Unpicklable(Exception):
    def __reduce__(self):  # type: ignore[no-untyped-def]
        raise TypeError("not today")


def raise_unpicklable() -> None:
    raise Unpicklable("x")


def exit_hard(code: int) -> None:
    os._exit(code)


def kill_self(signum: int) -> None:
    os.kill(os.getpid(), signum)


def segfault() -> None:
    ctypes.string_at(0)


def sleep_then(seconds: float, value: object) -> object:
    time.sleep(seconds)
    return value


def environment(*names: str) -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in names}


# ---------------------------------------------------------------- results


def drain(harness: Harness, ex: cfut.ClusterExecutor) -> None:
    """Let every outstanding job of ``ex`` finish (its futures resolve)."""
    if harness.real:
        wait_until(lambda: ex.statistics().outstanding_jobs == 0, 180, "every job is done")
        return
    for _ in range(60):
        if ex.statistics().outstanding_jobs == 0:
            return
        harness.fake.advance(1)
        ex.poll_once()
    raise AssertionError(ex.statistics())


def test_submit_and_map(harness: Harness) -> None:
    ex = harness.executor()
    future = ex.submit(square, 12)
    mapped = ex.map(square, range(6), chunksize=1)
    drain(harness, ex)
    assert future.result() == 144
    assert list(mapped) == [x * x for x in range(6)]
    stats = ex.statistics()
    assert (stats.submitted_jobs, stats.submitted_tasks) == (2, 7), "map is one submission of 6 tasks"
    assert harness.commands()[harness.submit_command] == 2
    ex.shutdown()
    assert os.listdir(ex.workdir) == [], "a successful run leaves no files behind"


def test_map_chunks_several_calls_per_task(harness: Harness) -> None:
    ex = harness.executor()
    mapped = ex.map(square, range(10), chunksize=3)
    stats = ex.statistics()
    assert (stats.submitted_jobs, stats.submitted_tasks) == (1, 4)
    drain(harness, ex)
    assert list(mapped) == [x * x for x in range(10)]


def test_map_results_come_while_iterating(harness: Harness) -> None:
    """Iterating a map waits for each result in turn; the monitor thread resolves them meanwhile."""
    with harness.autonomous_executor() as ex:
        assert list(ex.map(square, [5, 7, 11])) == [25, 49, 121]
        assert ex.submit(square, 3).result(timeout=120) == 9


def test_as_completed_wait_and_asyncio(harness: Harness) -> None:
    import asyncio

    ex = harness.executor()
    futures = [ex.submit(square, n) for n in range(4)]
    harness.settle(ex, futures)
    assert sorted(f.result() for f in concurrent.futures.as_completed(futures, timeout=0)) == [0, 1, 4, 9]
    done, not_done = concurrent.futures.wait(futures, timeout=0)
    assert len(done) == 4 and not not_done

    async def gather() -> list[int]:
        return list(await asyncio.gather(*(asyncio.wrap_future(f) for f in futures)))

    assert asyncio.run(gather()) == [0, 1, 4, 9]


def test_cfut_map_ordered_and_unordered(harness: Harness) -> None:
    """clusterfutures 0.5's ``cfut.map(executor, fn, args, ordered=)``."""
    assert list(cfut.map(harness.autonomous_executor(), square, [5, 7, 11])) == [25, 49, 121]
    assert sorted(cfut.map(harness.autonomous_executor(), square, [5, 7, 11], ordered=False)) == [25, 49, 121]


def test_future_goes_pending_running_finished(harness: Harness) -> None:
    ex = harness.executor(additional_setup_lines=[])
    future = ex.submit(sleep_then, 3 if harness.real else 0, 9)
    assert future.job_id is not None
    assert not future.running() and not future.done()
    harness.start(ex, [future])
    assert future.running()
    harness.settle(ex, [future])
    assert future.result() == 9 and not future.running()


# ---------------------------------------------------------------- errors


def test_remote_exception_same_type_with_remote_traceback(harness: Harness) -> None:
    ex = harness.executor()
    future = ex.submit(raise_key_error, "missing")
    harness.settle(ex, [future])
    with pytest.raises(KeyError) as info:
        future.result()
    assert isinstance(info.value.__cause__, cfut.RemoteTraceback)
    assert "raise_key_error" in info.value.__cause__.tb


def test_remote_exception_that_cannot_be_unpickled(harness: Harness) -> None:
    ex = harness.executor()
    future = ex.submit(raise_unpicklable)
    harness.settle(ex, [future])
    error = future.exception()
    assert isinstance(error, cfut.RemoteException)
    assert "Unpicklable" in error.error and "raise_unpicklable" in error.error


def test_os_exit_is_job_died_with_exit_code_and_kept_log(harness: Harness) -> None:
    ex = harness.executor(processes=True, result_grace=1)
    futures = [ex.submit(exit_hard, 3), ex.submit(square, 6)]
    harness.settle(ex, futures)
    error = futures[0].exception()
    assert isinstance(error, cfut.JobDied) and error.exit_code == 3, error
    assert error.state == ("COMPLETED" if harness.scheduler == "htcondor" else "FAILED")
    assert error.log_path and os.path.exists(error.log_path), "the log of a failed job is kept"
    assert error.job_id == futures[0].job_id and error.job_id in str(error)
    assert futures[1].result() == 36


def exit_at(x: int) -> int:
    if x == 2:
        os._exit(5)
    return x


def test_a_call_that_ends_its_task_fails_the_calls_after_it_saying_they_never_ran(harness: Harness) -> None:
    """Calls that share a task share its process: the calls before the one that ends it keep their
    results, it is "running when the job ended", the ones after it "never ran"."""
    ex = harness.executor(processes=True, result_grace=1)
    futures = ex.map_futures(exit_at, range(5), chunksize=5)
    harness.settle(ex, futures)
    assert [f.result() for f in futures[:2]] == [0, 1]
    errors = [f.exception() for f in futures[2:]]
    assert all(isinstance(e, cfut.JobDied) and e.exit_code == 5 for e in errors), errors
    assert "this call was running when the job ended" in str(errors[0]), errors[0]
    for error in errors[1:]:
        assert "this call never ran" in str(error) and "before it in the same task, ended the job" in str(error)


@pytest.mark.parametrize("how, signum", [(kill_self, signal.SIGKILL), (segfault, signal.SIGSEGV)])
def test_worker_killed_by_signal(harness: Harness, how: object, signum: int) -> None:
    ex = harness.executor(processes=True, result_grace=1)
    future = ex.submit(how, signum) if how is kill_self else ex.submit(how)  # type: ignore[arg-type]
    harness.settle(ex, [future])
    error = future.exception()
    assert isinstance(error, cfut.JobDied) and error.signal == signum, error
    # the batch shell exec'd Python, so the job itself died of the signal
    assert error.state == ("COMPLETED" if harness.scheduler == "htcondor" else "FAILED")


def test_setup_line_failing_is_job_died_with_its_output(harness: Harness) -> None:
    ex = harness.executor(processes=True, additional_setup_lines=["echo setting up", "exit 7"])
    future = ex.submit(square, 2)
    harness.settle(ex, [future])
    error = future.exception()
    assert isinstance(error, cfut.JobDied) and error.exit_code == 7
    assert "setting up" in error.log_tail


# ---------------------------------------------------------------- files


def test_success_leaves_no_files_failure_keeps_log(harness: Harness) -> None:
    ex = harness.executor(processes=True, result_grace=1)
    ok = ex.submit(square, 2)
    harness.settle(ex, [ok])
    drain(harness, ex)
    ex.shutdown()
    assert os.listdir(ex.workdir) == []
    ex = harness.executor(processes=True, result_grace=1)
    dead = ex.submit(exit_hard, 2)
    harness.settle(ex, [dead])
    error = dead.exception()
    assert isinstance(error, cfut.JobDied) and error.log_path is not None and os.path.exists(error.log_path)


def test_keep_logs_keeps_files(harness: Harness) -> None:
    ex = harness.executor(keep_logs=True)
    future = ex.submit(square, 2)
    harness.settle(ex, [future])
    drain(harness, ex)
    names = os.listdir(ex.workdir)
    assert any(n.endswith(".log") for n in names), names


def test_workdir_and_files_are_private(harness: Harness) -> None:
    ex = harness.executor(additional_setup_lines=harness.pending_lines())
    future = ex.submit(square, 2)
    assert stat.S_IMODE(os.stat(ex.workdir).st_mode) == 0o700
    names = os.listdir(ex.workdir)
    assert names
    for name in names:
        mode = stat.S_IMODE(os.stat(os.path.join(ex.workdir, name)).st_mode)
        assert mode & 0o077 == 0, (name, oct(mode))
    assert future.cancel()


def test_work_directory_with_spaces_quotes_percent_and_newline(harness: Harness) -> None:
    odd = harness.tmp_path / "it's a \"work\" 100% dir\nwith a newline $HOME"
    if harness.scheduler == "htcondor":
        odd = harness.tmp_path / "it's a \"work\" 100% dir with $HOME"  # no line breaks in submit files
    ex = harness.executor(workdir=odd, processes=True, result_grace=1)
    futures = [ex.submit(square, 9), ex.submit(divmod, 1, 0), ex.submit(exit_hard, 4)]
    mapped = ex.map(square, [1, 2])  # array logs: %a after an escaped %
    harness.settle(ex, futures)
    drain(harness, ex)
    assert futures[0].result() == 81 and list(mapped) == [1, 4]
    assert isinstance(futures[1].exception(), ZeroDivisionError)
    error = futures[2].exception()
    assert isinstance(error, cfut.JobDied) and error.log_path and os.path.exists(error.log_path)
    assert stat.S_IMODE(odd.stat().st_mode) == 0o700


def test_additional_setup_lines_and_import_paths(harness: Harness, tmp_path: Path) -> None:
    library = tmp_path / "lib dir"
    library.mkdir()
    (library / "cfut_itest_module.py").write_text("def triple(x):\n    return 3 * x\n")
    sys.path.insert(0, str(library))
    try:
        import cfut_itest_module  # pickled by reference: the worker must import it

        ex = harness.executor(processes=True, additional_import_paths=[str(library)],
                              additional_setup_lines=["export CFUT_TEST_VALUE='it works'"])
        futures = [ex.submit(cfut_itest_module.triple, 5), ex.submit(environment, "CFUT_TEST_VALUE", "PER_CALL"),
                   ex.submit(environment, "PER_CALL", additional_setup_lines=["export PER_CALL=yes"])]
        harness.settle(ex, futures)
    finally:
        sys.path.remove(str(library))
        sys.modules.pop("cfut_itest_module", None)
    assert futures[0].result() == 15
    assert futures[1].result() == {"CFUT_TEST_VALUE": "it works", "PER_CALL": None}
    assert futures[2].result() == {"PER_CALL": "yes"}


# ---------------------------------------------------------------- cancel and shutdown


def test_cancel_pending_job_removes_it_from_queue(harness: Harness) -> None:
    ex = harness.executor(additional_setup_lines=harness.pending_lines())
    future = ex.submit(square, 3)
    assert future.job_id in harness.queue()
    assert future.cancel() is True
    assert future.cancelled() and future.job_id not in harness.queue()
    assert future.cancel() is True  # again: still True, no second cancel command
    assert ex.statistics().commands[harness.cancel_command] == 1
    done, _ = concurrent.futures.wait([future], timeout=0)
    assert done == {future}, "wait() sees a cancelled future as done at once"
    ex.poll_once()  # the monitor leaves it alone
    assert ex.statistics().outstanding_jobs == 0


def test_cancel_running_job_fails(harness: Harness) -> None:
    ex = harness.executor()
    future = ex.submit(sleep_then, 2 if harness.real else 0, 9)
    harness.start(ex, [future])
    assert future.cancel() is False
    harness.settle(ex, [future])
    assert future.result() == 9


def test_cancel_from_outside_is_job_cancelled(harness: Harness) -> None:
    ex = harness.executor(processes=harness.real)
    future = ex.submit(sleep_then, 300 if harness.real else 0, "never")
    harness.start(ex, [future])
    harness.cancel_from_outside(future.job_id or "")
    harness.settle(ex, [future])
    error = future.exception()
    assert type(error) is cfut.JobCancelled
    assert error.state == ("REMOVED" if harness.scheduler == "htcondor" else "CANCELLED")


def test_shutdown_cancel_futures_leaves_no_job_queued(harness: Harness) -> None:
    ex = harness.executor(additional_setup_lines=harness.pending_lines())
    futures = [ex.submit(square, n) for n in range(4)]
    mapped = ex.map(square, [1, 2])
    ex.shutdown(wait=True, cancel_futures=True)
    assert all(f.cancelled() for f in futures)
    assert harness.queue() == [], "no job of ours is left in the queue"
    assert ex.statistics().commands[harness.cancel_command] == 1, "one cancel command for all of them"
    with pytest.raises(concurrent.futures.CancelledError):
        list(mapped)
    with pytest.raises(RuntimeError, match="shutdown"):
        ex.submit(square, 1)
    with pytest.raises(cfut.ExecutorShutdownError):
        ex.submit(square, 1)
    ex.shutdown()  # idempotent


def test_shutdown_cancel_futures_spares_running_jobs(harness: Harness) -> None:
    ex = harness.executor()
    running = ex.submit(sleep_then, 2 if harness.real else 0, 4)
    harness.start(ex, [running])
    queued_ex = harness.executor(additional_setup_lines=harness.pending_lines(), workdir=harness.workdir("q")) \
        if harness.real else ex
    queued = queued_ex.submit(square, 3)
    queued_ex.shutdown(wait=False, cancel_futures=True)
    ex.shutdown(wait=False, cancel_futures=True)
    assert queued.cancelled() and not running.cancelled()
    harness.settle(ex, [running])
    assert running.result() == 4


@pytest.mark.fakes_only
def test_failed_cancel_is_retried_by_the_monitor(harness: Harness) -> None:
    ex = harness.executor()
    future = ex.submit(square, 3)
    harness.fake.fail_next(harness.cancel_command)
    assert future.cancel() is True
    assert future.job_id in harness.queue(), "the scheduler refused for now"
    ex.poll_once()
    assert future.job_id not in harness.queue()


def test_future_resolves_when_nobody_holds_the_executor(harness: Harness) -> None:
    future = harness.autonomous_executor().submit(square, 7)
    harness.executors.clear()
    gc.collect()
    assert future.result(timeout=120) == 49


def _monitor_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("cfut-monitor-")}


def test_shutdown_waits_and_the_monitor_thread_ends(harness: Harness) -> None:
    before = _monitor_threads()
    ex = harness.autonomous_executor()
    futures = [ex.submit(square, n) for n in range(3)]
    (thread,) = _monitor_threads() - before
    ex.shutdown(wait=True)
    assert [f.result(timeout=0) for f in futures] == [0, 1, 4]
    assert not thread.is_alive()


def test_idle_executor_is_collected_and_its_thread_ends(harness: Harness) -> None:
    before = _monitor_threads()
    ex = harness.autonomous_executor()
    assert ex.submit(square, 2).result(timeout=120) == 4
    (thread,) = _monitor_threads() - before
    harness.executors.clear()
    del ex
    gc.collect()
    thread.join(timeout=30)  # it wakes at least once a second and finds the executor gone
    assert not thread.is_alive()


# ---------------------------------------------------------------- a failing scheduler


@pytest.mark.fakes_only
def test_transient_submit_failures_are_retried(harness: Harness) -> None:
    ex = harness.executor()
    harness.fake.fail_next(harness.submit_command, times=2)
    future = ex.submit(square, 3)
    assert harness.commands()[harness.submit_command] == 3
    assert len(harness.queue()) == 1
    harness.settle(ex, [future])
    assert future.result() == 9


@pytest.mark.fakes_only
def test_lost_submit_reply_adopts_the_job_instead_of_duplicating(harness: Harness) -> None:
    ex = harness.executor()
    harness.lose_next_submit_reply()
    future = ex.submit(square, 3)
    assert len(harness.queue()) == 1 and harness.commands()[harness.submit_command] == 1
    assert future.job_id == harness.queue()[0]
    harness.settle(ex, [future])
    assert future.result() == 9


@pytest.mark.fakes_only
def test_persistent_submit_failure_raises_after_retries_and_leaves_no_file(harness: Harness) -> None:
    ex = harness.executor()
    harness.fake.fail_next(harness.submit_command, times=10)
    with pytest.raises(cfut.SubmissionError) as info:
        ex.submit(square, 3)
    assert info.value.transient and info.value.argv[0] == harness.submit_command
    assert harness.commands()[harness.submit_command] == 4
    assert os.listdir(ex.workdir) == [], "a failed submission leaves no files"


@pytest.mark.fakes_only
def test_result_found_by_the_scan_while_status_queries_fail(harness: Harness) -> None:
    ex = harness.executor()
    future = ex.submit(square, 4)
    harness.fake.advance(5)
    harness.fake.advance(5)
    harness.fake.fail_next(harness.status_command, times=3)
    harness.fake.fail_next("condor_history" if harness.scheduler == "htcondor" else "sacct", times=3)
    ex.poll_once()  # whatever the scheduler says, the scan finds the result
    assert future.result(timeout=0) == 16


def test_at_most_one_status_query_per_poll(harness: Harness) -> None:
    ex = harness.executor()
    futures = [ex.submit(square, n) for n in range(12)]
    harness.settle(ex, futures)
    stats = ex.statistics()
    assert stats.commands.get(harness.status_command, 0) <= stats.status_queries <= stats.polls
    assert stats.calls_done == 12


# ---------------------------------------------------------------- bad input


def test_bad_input_is_rejected_before_submission(harness: Harness) -> None:
    ex = harness.executor()
    with pytest.raises(cfut.InvalidArgumentError, match="callable"):
        ex.submit(42)  # type: ignore[arg-type]
    with pytest.raises(cfut.SerializationError, match="cannot serialise"):
        ex.submit(square, threading.Lock())
    with pytest.raises(cfut.InvalidArgumentError, match="additional_setup_lines"):
        ex.submit(square, 1, additional_setup_lines="#SBATCH --mem=1G")
    with pytest.raises(cfut.InvalidArgumentError, match="chunksize"):
        ex.map(square, [1], chunksize=0)
    assert harness.commands()[harness.submit_command] == 0
    assert os.listdir(ex.workdir) == []


def test_debug_logs_through_logging_not_print(harness: Harness, caplog: pytest.LogCaptureFixture,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG, logger="cfut")
    root_handlers = list(logging.getLogger().handlers)
    ex = harness.executor(debug=True)
    future = ex.submit(square, 2)
    harness.settle(ex, [future])
    assert "submitted" in caplog.text and harness.submit_command in caplog.text
    assert capsys.readouterr().out == ""
    assert logging.getLogger().handlers == root_handlers, "debug=True configures no logging of the user's"


# ---------------------------------------------------------------- a broken monitor


class BrokenStatus:
    """A runner whose status command raises something that is not a scheduler error, every time."""

    def __init__(self, fake: object, status_command: str) -> None:
        self.fake, self.status_command = fake, status_command
        self.clock = fake.clock
        self.sleep = fake.sleep

    def run(self, argv: list[str], **kwargs: object) -> cfut.CommandResult:
        if os.path.basename(argv[0]) == self.status_command:
            raise RuntimeError("a bug in the status path")
        return self.fake.run(argv, **kwargs)  # type: ignore[attr-defined, no-any-return]


@pytest.mark.fakes_only
def test_a_monitor_that_keeps_failing_breaks_the_executor(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.executor()  # makes the harness's fake
    runner = BrokenStatus(harness.fake, harness.status_command)
    # (HTCondor asks condor_q only about jobs its event log is silent about: log_silence=0 asks always)
    extra = {"log_silence": 0} if harness.scheduler == "htcondor" else {}
    ex = type(harness.executors[0])(runner=runner, workdir=harness.workdir("broken"), poll_interval=0.01,
                                    submit_linger=0, **extra)
    harness.executors.append(ex)
    futures = [ex.submit(square, n) for n in range(3)] + ex.map_futures(square, [4, 5])
    assert len(harness.queue()) == 5
    done, pending = concurrent.futures.wait(futures, timeout=60)
    assert not pending
    for future in futures:
        error = future.exception(timeout=0)
        assert isinstance(error, cfut.BrokenClusterExecutor) and isinstance(error, concurrent.futures.BrokenExecutor)
        assert isinstance(error.__cause__, RuntimeError) and "a bug in the status path" in str(error)
    assert harness.queue() == [], "the broken executor cancelled its jobs"
    with pytest.raises(cfut.BrokenClusterExecutor):
        ex.submit(square, 1)
    assert "a bug in the status path" in caplog.text and "broken" in caplog.text
    ex.shutdown()  # returns at once: nothing is left to wait for


class BlockedStatus:
    """A runner whose status command hangs until released (a dead controller: ~9 s per squeue)."""

    def __init__(self, fake: object, status_command: str) -> None:
        self.fake, self.status_command = fake, status_command
        self.clock = fake.clock
        self.sleep = fake.sleep
        self.release = threading.Event()
        self.blocked = threading.Event()

    def run(self, argv: list[str], **kwargs: object) -> cfut.CommandResult:
        if os.path.basename(argv[0]) == self.status_command:
            self.blocked.set()
            self.release.wait(60)
        return self.fake.run(argv, **kwargs)  # type: ignore[attr-defined, no-any-return]


@pytest.mark.fakes_only
def test_results_do_not_wait_behind_a_hanging_scheduler(harness: Harness) -> None:
    """A result the work directory holds resolves its future while the status command hangs."""
    harness.executor()
    runner = BlockedStatus(harness.fake, harness.status_command)
    extra = {"log_silence": 0} if harness.scheduler == "htcondor" else {}
    ex = type(harness.executors[0])(runner=runner, workdir=harness.workdir("blocked"), poll_interval=0.01,
                                    submit_linger=0, **extra)
    harness.executors.append(ex)
    try:
        future = ex.submit(square, 6)
        assert runner.blocked.wait(30), "the status thread asked the scheduler"
        harness.fake.advance(5)  # the job starts,
        harness.fake.advance(5)  # runs and writes its result; the status command still hangs
        assert future.result(timeout=30) == 36
        assert not runner.release.is_set()
    finally:
        runner.release.set()
