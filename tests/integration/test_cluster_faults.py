"""What a real cluster does to running jobs, and what every future must end as.

These tests break the CI cluster on purpose with ``ci/slurm-docker/start-slurm.sh``'s fault
subcommands (as root): a node dies with its jobs (``kill-node --with-jobs``), the controller dies
and comes back (``kill-ctld``/``start-ctld``), a job goes over its memory (cgroup enforcement), an
administrator requeues a job (``scontrol requeue``), the controller loses its last seconds of state
and gives a job's id to somebody else (``kill-ctld --now``). Each test puts the cluster back as it
found it, whatever happens.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cloudpickle
import pytest

import cfut
from tests.support import real_slurm
from tests.support.slurmtools import squeue_states

cloudpickle.register_pickle_by_value(sys.modules[__name__])

SCRIPT = Path(__file__).resolve().parents[2] / "ci" / "slurm-docker" / "start-slurm.sh"
FAST = dict(poll_interval=0.2, max_poll_interval=1.0)

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def can_break_the_cluster(slurm_cluster: None) -> None:
    """Killing daemons needs root and the script that started them."""
    if os.geteuid() == 0 and SCRIPT.exists() and _run("status").returncode == 0:
        return
    reason = "breaking the cluster needs root and a cluster started by ci/slurm-docker/start-slurm.sh"
    if real_slurm.required():
        pytest.fail(f"{reason}; CI=true makes this a failure", pytrace=False)
    pytest.skip(reason)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def fault(*args: str) -> None:
    result = _run(*args)
    assert result.returncode == 0, f"start-slurm.sh {' '.join(args)}: {result.stderr}"


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.2)


def node_of(job_id: str) -> str:
    """The node a running job runs on (``squeue %N``); '' while it has none."""
    out = subprocess.run(["squeue", "--noheader", f"--jobs={job_id}", "--format=%T %N"], capture_output=True,
                         text=True).stdout.split()
    return out[1] if len(out) == 2 and out[0] == "RUNNING" else ""


@pytest.fixture
def nodes_back() -> Iterator[list[str]]:
    """Nodes a test killed: started again afterwards, whatever happened."""
    killed: list[str] = []
    yield killed
    for node in killed:
        fault("start-node", node)


@pytest.fixture
def controller_back() -> Iterator[None]:
    yield
    fault("start-ctld", "cfut")


def sleep_unless_restarted(seconds: float) -> int:
    """Sleeps on the first start of its job; on a restart returns at once how many there were."""
    restarts = int(os.environ.get("SLURM_RESTART_COUNT", "0"))
    if restarts == 0:
        time.sleep(seconds)
    return restarts


def sleep_then(seconds: float, value: object) -> object:
    time.sleep(seconds)
    return value


def test_a_node_dies_with_its_jobs(workdir: Path, nodes_back: list[str]) -> None:
    """The node running two calls crashes: the call of a ``requeue=True`` executor runs again on the
    other node and returns; the call of a ``requeue=False`` one fails with JobNodeFailure (NODE_FAIL).
    Slurm needs ~25 s to declare the node down; the requeued task starts again ~11 s later."""
    with cfut.SlurmExecutor(workdir=workdir, requeue=True, **FAST) as again, \
            cfut.SlurmExecutor(workdir=workdir, requeue=False, **FAST) as once:
        survivor = again.submit(sleep_unless_restarted, 600)
        wait_for(lambda: survivor.job_id and node_of(survivor.job_id), 60, "the first job runs")
        assert survivor.job_id is not None
        node = node_of(survivor.job_id)
        victim = once.options(sbatch_options={"nodelist": node}).submit(sleep_then, 600, "never")
        wait_for(lambda: victim.job_id and node_of(victim.job_id) == node, 60, "the second job runs there")
        nodes_back.append(node)
        fault("kill-node", node, "--with-jobs")
        with pytest.raises(cfut.JobNodeFailure) as info:
            victim.result(timeout=180)
        assert info.value.state == "NODE_FAIL"
        assert survivor.result(timeout=240) == 1, "ran again after the node failure (SLURM_RESTART_COUNT=1)"
        assert again.statistics().calls_done == 1


def test_the_controller_dies_and_comes_back_during_a_map(workdir: Path, controller_back: None) -> None:
    """slurmctld is killed while a map runs and started 8 s later: the jobs run on, every future
    gets its value, and the executor goes on taking work."""
    with cfut.SlurmExecutor(workdir=workdir, **FAST) as executor:
        futures = executor.map_futures(sleep_then, [25] * 6, range(6))  # outlasts kill-ctld's wait for a save
        wait_for(lambda: any(squeue_states([f.job_id]).get(f.job_id) == "RUNNING" for f in futures
                             if f.job_id), 60, "a task runs")
        fault("kill-ctld", "cfut")
        time.sleep(8)  # real time: the outage must outlast several polls
        fault("start-ctld", "cfut")
        assert [f.result(timeout=180) for f in futures] == list(range(6))
        # squeue waits for the controller (Slurm's clients retry): nothing counted as a failure,
        # and the executor takes new work
        assert executor.statistics().monitor_errors == 0
        assert executor.submit(sleep_then, 0, "after").result(timeout=120) == "after"


def allocate(megabytes: int) -> int:
    block = bytearray(megabytes * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    time.sleep(5)
    return len(block)


def test_a_job_over_its_memory_fails_with_job_out_of_memory(workdir: Path) -> None:
    """``mem="64M"`` and a call that touches 400 MB: the cgroup kills it, squeue says OUT_OF_MEMORY,
    the future raises JobOutOfMemory and the job's log is kept and named."""
    with cfut.SlurmExecutor(workdir=workdir, mem="64M", **FAST) as executor:
        future = executor.submit(allocate, 400)
        with pytest.raises(cfut.JobOutOfMemory) as info:
            future.result(timeout=120)
    assert info.value.state == "OUT_OF_MEMORY"
    assert info.value.log_path and os.path.exists(info.value.log_path)
    assert "oom" in info.value.log_tail.lower()


def count_and_wait(counter_dir: str, name: str, flag: str | None) -> str:
    """Records one run of the call ``name``; with ``flag``, waits until that file exists."""
    with open(os.path.join(counter_dir, name), "a") as handle:
        handle.write("run\n")
    while flag is not None and not os.path.exists(flag):
        time.sleep(0.1)
    return name


def test_a_requeued_task_runs_only_the_calls_without_a_result(workdir: Path, tmp_path: Path) -> None:
    """A task of two calls is requeued by an administrator (``scontrol requeue``) after its first
    call returned, while its second runs: when the task starts again, the worker skips the first
    call (its result exists) and runs the second again."""
    counters, flag = tmp_path / "runs", tmp_path / "go"
    counters.mkdir()
    with cfut.SlurmExecutor(workdir=workdir, **FAST) as executor:
        first, second = executor.map_futures(count_and_wait, [str(counters)] * 2, ["first", "second"],
                                             [None, str(flag)], chunksize=2)
        wait_for(lambda: (counters / "second").exists(), 60, "the second call runs")
        assert second.job_id is not None
        subprocess.run(["scontrol", "requeue", second.job_id], check=True, capture_output=True)
        wait_for(lambda: squeue_states([second.job_id]).get(second.job_id) in ("PENDING", "REQUEUED"), 60,
                 "the task waits to run again")
        flag.touch()
        assert (first.result(timeout=180), second.result(timeout=180)) == ("first", "second")
    assert (counters / "first").read_text() == "run\n", "the first call ran once"
    assert (counters / "second").read_text() == "run\nrun\n", "the second call ran again"


def sbatch_later(name: str) -> str:
    """A job of somebody else's (no cfut comment) that waits an hour; its id."""
    out = subprocess.run(["sbatch", "--parsable", "--begin=now+1hour", f"--job-name={name}", "--output=/dev/null",
                          "--wrap=true"], capture_output=True, text=True, check=True)
    return out.stdout.strip().split(";")[0]


def job_state_file() -> Path:
    """Where slurmctld saves its jobs (StateSaveLocation's ``job_state``)."""
    config = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, check=True).stdout
    location = next(line.split("=", 1)[1].strip() for line in config.splitlines()
                    if line.startswith("StateSaveLocation"))
    return Path(location) / "job_state"


#: Slurm 22.05 saves its job state at once after a submission when its last save is this old
#: (seconds), else defers it (observed); a cancellation alone is only saved minutes later.
SAVE_INTERVAL = 5.0


def wait_for_state_save(since: float) -> None:
    """Until slurmctld wrote its job state after ``since`` (a ``time.time()``): a SIGKILL after that
    forgets nothing done before ``since``. A trivial job submitted once the last save is
    :data:`SAVE_INTERVAL` old makes slurmctld save everything now."""
    state = job_state_file()

    def saved() -> bool:
        saved_at = state.stat().st_mtime
        if saved_at > since:
            return True
        if time.time() - max(saved_at, triggered[0]) > SAVE_INTERVAL + 0.5:
            subprocess.run(["sbatch", "--job-name=save-trigger", "--output=/dev/null", "--wrap=true"],
                           capture_output=True, check=True)
            triggered[0] = time.time()
        return False

    triggered = [0.0]
    wait_for(saved, 30, f"slurmctld saves {state}")


def wait_until_the_last_save_is_old(state: Path) -> None:
    """Until the next submission makes slurmctld save at once (its last save, ``state``, is old enough)."""
    time.sleep(max(0.0, state.stat().st_mtime + SAVE_INTERVAL + 0.5 - time.time()))


def test_a_job_id_the_controller_forgot_and_reused_is_never_taken_for_ours(workdir: Path,
                                                                           controller_back: None) -> None:
    """slurmctld dies (SIGKILL) before it saved a pending job: the job is forgotten and its id goes to
    the next job, somebody else's. The future must still resolve, as JobDied, and the stranger's job
    must be left alone (cfut matches ids and its ``--comment``).

    slurmctld saves its state at once after a submission when its last save is 5 s old, else later:
    once the last save is old, a stranger's job submitted just before makes that save (with every
    earlier test's jobs as they are), so cfut's job, submitted right after, is in none when
    slurmctld is killed."""
    strangers: list[str] = []
    ours: list[str] = []
    attempts: list[str] = []
    state = job_state_file()
    try:
        for _attempt in range(3):
            with cfut.SlurmExecutor(workdir=workdir, additional_setup_lines=["#SBATCH --begin=now+1hour"],
                                    submit_linger=0, **FAST) as executor:
                wait_until_the_last_save_is_old(state)
                began = time.monotonic()
                strangers.append(sbatch_later("saved"))
                future = executor.submit(sleep_then, 0, "never")
                assert future.job_id is not None
                ours.append(future.job_id)
                os.kill(int(Path("/run/slurm/slurmctld.pid").read_text()), signal.SIGKILL)
                save_age = time.time() - state.stat().st_mtime
                attempts.append(f"saved {strangers[-1]}, ours {ours[-1]}, killed after "
                                f"{time.monotonic() - began:.2f} s, last save {save_age:.2f} s before")
                fault("kill-ctld", "cfut", "--now")
                fault("start-ctld", "cfut")
                # ids go on from the last save: when it came before "saved" too, the first
                # stranger takes that id, the next ours
                while True:
                    strangers.append(sbatch_later("stranger"))
                    if int(strangers[-1]) >= int(future.job_id) or len(strangers) > 20:
                        break
                attempts[-1] += f", then a stranger got {strangers[-1]}"
                if strangers[-1] == future.job_id:
                    with pytest.raises(cfut.JobDied):
                        future.result(timeout=180)
                    assert squeue_states([strangers[-1]]).get(strangers[-1]) == "PENDING", \
                        "the stranger's job was left alone"
                    return
                future.cancel()  # saved after all: nothing was forgotten
            # (the executor has shut down: its scancel is done) a save from now on holds the
            # cancellation; else the next kill forgets it, and the job is back
            wait_for_state_save(time.time())
        pytest.skip(f"slurmctld saved cfut's job before SIGKILL in 3 attempts: no id was reused ({attempts})")
    finally:
        subprocess.run(["scancel", *strangers], capture_output=True)
        wait_for_state_save(time.time())  # before anyone kills slurmctld again
        assert not squeue_states(strangers + ours, all_states=False), "no job is left"
