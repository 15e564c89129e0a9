"""SlurmExecutor end to end on a real Slurm cluster, with the default SubprocessRunner."""

from __future__ import annotations

import concurrent.futures
import ctypes
import os
import signal
import sys
import time
from pathlib import Path

import cloudpickle
import pytest
from slurmtools import queued_jobs_named, scancel, squeue_states

import cfut

# The workers cannot import this test module, so its functions travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

FAST = dict(poll_interval=0.2, max_poll_interval=2.0)
LATER = "#SBATCH --begin=now+1hour"  # keeps a job PENDING (reason BeginTime)


def square(x: int) -> int:
    return x * x


def raise_key_error(key: str) -> None:
    raise KeyError(key)


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


def wait_for_state(job_id: str, wanted: set[str], timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = squeue_states([job_id]).get(job_id, "")
        if state in wanted:
            return state
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} never reached {wanted}; last state {state!r}")


def test_submit_and_map(workdir: Path) -> None:
    with cfut.SlurmExecutor(workdir=workdir, **FAST) as executor:
        assert executor.submit(square, 12).result(timeout=120) == 144
        assert list(executor.map(square, range(20))) == [x * x for x in range(20)]
    assert sorted(os.listdir(workdir)) == [], "a successful run leaves no files behind"


def test_cfut_map_ordered_and_unordered(workdir: Path) -> None:
    assert list(cfut.map(cfut.SlurmExecutor(workdir=workdir, **FAST), square, [5, 7, 11])) == [25, 49, 121]
    unordered = cfut.map(cfut.SlurmExecutor(workdir=workdir, **FAST), square, [5, 7, 11], ordered=False)
    assert sorted(unordered) == [25, 49, 121]


def test_as_completed_and_wait(workdir: Path) -> None:
    with cfut.SlurmExecutor(workdir=workdir, **FAST) as executor:
        futures = [executor.submit(square, n) for n in range(6)]
        assert sorted(f.result() for f in concurrent.futures.as_completed(futures, timeout=120)) == [
            n * n for n in range(6)
        ]
        more = [executor.submit(square, n) for n in range(3)]
        done, not_done = concurrent.futures.wait(more, timeout=120)
        assert len(done) == 3 and not not_done


def test_remote_exception_same_type_with_remote_traceback(workdir: Path) -> None:
    with cfut.SlurmExecutor(workdir=workdir, **FAST) as executor:
        with pytest.raises(KeyError) as info:
            executor.submit(raise_key_error, "missing").result(timeout=120)
    assert isinstance(info.value.__cause__, cfut.RemoteTraceback)
    assert "raise_key_error" in info.value.__cause__.tb


def test_os_exit_is_job_died_with_exit_code_and_kept_log(workdir: Path) -> None:
    with cfut.SlurmExecutor(workdir=workdir, **FAST) as executor:
        with pytest.raises(cfut.JobDied) as info:
            executor.submit(exit_hard, 3).result(timeout=120)
    error = info.value
    assert (error.state, error.exit_code) == ("FAILED", 3)
    assert error.log_path and os.path.exists(error.log_path), "the log of a failed job is kept"
    assert error.job_id in str(error)


@pytest.mark.parametrize("how, signum", [(kill_self, signal.SIGKILL), (segfault, signal.SIGSEGV)])
def test_worker_killed_by_signal(workdir: Path, how, signum: int) -> None:  # type: ignore[no-untyped-def]
    with cfut.SlurmExecutor(workdir=workdir, **FAST) as executor:
        future = executor.submit(how, signum) if how is kill_self else executor.submit(how)
        with pytest.raises(cfut.JobDied) as info:
            future.result(timeout=120)
    assert info.value.state == "FAILED"
    assert info.value.signal == signum  # the batch shell exec'd Python, so the shell itself died


def test_non_zero_batch_script(workdir: Path) -> None:
    with cfut.SlurmExecutor(workdir=workdir, additional_setup_lines=["echo setting up", "exit 7"],
                            **FAST) as executor:
        with pytest.raises(cfut.JobDied) as info:
            executor.submit(square, 2).result(timeout=120)
    assert info.value.exit_code == 7
    assert "setting up" in info.value.log_tail


@pytest.mark.slow
def test_time_limit_gives_job_timeout(workdir: Path) -> None:
    # --time is in minutes; Slurm checks limits about every 30 s, so this takes 60-100 s.
    with cfut.SlurmExecutor(workdir=workdir, additional_setup_lines=["#SBATCH --time=1"], **FAST) as executor:
        with pytest.raises(cfut.JobTimeout) as info:
            executor.submit(sleep_then, 300, "late").result(timeout=240)
    assert info.value.state == "TIMEOUT"
    assert "TIME LIMIT" in info.value.log_tail


def test_scancel_from_outside_is_job_cancelled(workdir: Path) -> None:
    with cfut.SlurmExecutor(workdir=workdir, **FAST) as executor:
        future = executor.submit(sleep_then, 300, "never")
        deadline = time.monotonic() + 60
        while not future.running() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert future.running(), "the executor marks the future RUNNING once the job runs"
        assert future.cancel() is False
        scancel(future.job_id)
        with pytest.raises(cfut.JobCancelled) as info:
            future.result(timeout=120)
    assert info.value.state == "CANCELLED"


def test_future_cancel_removes_pending_job_from_queue(workdir: Path) -> None:
    with cfut.SlurmExecutor(workdir=workdir, additional_setup_lines=[LATER], **FAST) as executor:
        future = executor.submit(square, 3)
        job_id = future.job_id
        assert job_id and wait_for_state(job_id, {"PENDING"})
        assert future.cancel() is True
        assert future.cancelled()
        assert job_id not in squeue_states([job_id], all_states=False), "the job left the queue"
        assert squeue_states([job_id]).get(job_id) in (None, "CANCELLED")


def test_shutdown_cancel_futures_leaves_no_job_queued(workdir: Path) -> None:
    executor = cfut.SlurmExecutor(workdir=workdir, additional_setup_lines=[LATER], **FAST)
    futures = [executor.submit(square, n) for n in range(4)]
    ids = [f.job_id for f in futures]
    executor.shutdown(wait=True, cancel_futures=True)
    assert all(f.cancelled() for f in futures)
    assert not (set(ids) & set(queued_jobs_named("cfut."))), "no job of ours is left in the queue"
    with pytest.raises(RuntimeError):
        executor.submit(square, 1)
    executor.shutdown()  # idempotent


def test_additional_setup_lines_sbatch_option_and_export(workdir: Path) -> None:
    lines = ["#SBATCH --cpus-per-task=2", "export CFUT_TEST_VALUE='it works'"]
    with cfut.SlurmExecutor(workdir=workdir, additional_setup_lines=lines, **FAST) as executor:
        env = executor.submit(environment, "SLURM_CPUS_PER_TASK", "CFUT_TEST_VALUE").result(timeout=120)
        per_call = executor.submit(environment, "PER_CALL", additional_setup_lines=["export PER_CALL=yes"])
        assert per_call.result(timeout=120) == {"PER_CALL": "yes"}
    assert env == {"SLURM_CPUS_PER_TASK": "2", "CFUT_TEST_VALUE": "it works"}


def test_additional_import_paths(workdir: Path, tmp_path: Path) -> None:
    library = tmp_path / "lib dir"
    library.mkdir()
    (library / "cfut_itest_module.py").write_text("def triple(x):\n    return 3 * x\n")
    sys.path.insert(0, str(library))
    try:
        import cfut_itest_module  # pickled by reference: the worker must import it

        with cfut.SlurmExecutor(workdir=workdir, additional_import_paths=[str(library)], **FAST) as executor:
            assert executor.submit(cfut_itest_module.triple, 5).result(timeout=120) == 15
    finally:
        sys.path.remove(str(library))
        sys.modules.pop("cfut_itest_module", None)


def test_work_directory_with_spaces_quotes_percent_and_newline(tmp_path: Path, slurm_cluster: None) -> None:
    odd = tmp_path / "it's a \"work\" 100% dir\nwith a newline $HOME"
    with cfut.SlurmExecutor(workdir=odd, **FAST) as executor:
        assert executor.submit(square, 9).result(timeout=120) == 81
        with pytest.raises(ZeroDivisionError):
            executor.submit(divmod, 1, 0).result(timeout=120)
        assert list(executor.map(square, [1, 2])) == [1, 4]  # array logs: %a after an escaped %
        with pytest.raises(cfut.JobDied) as info:
            executor.submit(exit_hard, 4).result(timeout=120)
        assert info.value.log_path is not None and os.path.exists(info.value.log_path)
    assert oct(odd.stat().st_mode & 0o777) == oct(0o700)


def test_one_status_query_per_poll(workdir: Path) -> None:
    with cfut.SlurmExecutor(workdir=workdir, **FAST) as executor:
        assert list(executor.map(square, range(12))) == [x * x for x in range(12)]
        stats = executor.statistics()
    assert stats.submitted_jobs == 1 and stats.submitted_tasks == 12
    assert stats.commands["squeue"] == stats.status_queries <= stats.polls
    assert stats.status_queries >= 1


def test_map_is_one_array_job_with_chunks(workdir: Path) -> None:
    with cfut.SlurmExecutor(workdir=workdir, **FAST) as executor:
        assert list(executor.map(square, range(10), chunksize=3)) == [x * x for x in range(10)]
        stats = executor.statistics()
    assert (stats.submitted_jobs, stats.submitted_tasks, stats.commands["sbatch"]) == (1, 4, 1)

