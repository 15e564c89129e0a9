"""What FakeSlurm and FakeCondor share through FakeScheduler, tested once over both: a job (in a
process of its own by default, or inline in the test process) leaves the test process as it was, a
job that interrupts, exits or crashes ends as a real job would, and advance / join / fail_next /
wait / refused mean the same on both fakes.

Time passes on the fakes' clocks only: the few real waits below wait for a real process to end
(an event), never for time to pass.
"""

from __future__ import annotations

import inspect
import os
import pickle
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from cfut.fakes import FakeCondor, FakeScheduler, FakeSlurm, FakeUnsupported
from tests.support.payloads import read_result, write_task

pytestmark = pytest.mark.fake

cloudpickle.register_pickle_by_value(sys.modules[__name__])


# ------------------------------------------------------------------ one way to drive both fakes


@dataclass(frozen=True)
class Ending:
    """How a job ended, in terms both schedulers report: an exit code, or the killing signal."""

    exit_code: int | None
    signal: int | None


@dataclass
class Backend:
    name: str
    make: Callable[..., FakeScheduler]
    status: tuple[str, ...]  # a status command that lists every job

    def submit_worker(self, fake: FakeScheduler, tmp: Path, payload: Path) -> str:
        """Submit a job whose script runs ``python -m cfut.remote PAYLOAD``; its id."""
        if self.name == "slurm":
            script = f"#!/bin/sh\nexec {sys.executable} -m cfut.remote {payload}\n"
            result = fake.run(["sbatch", "--parsable", f"--output={tmp}/job.out", f"--error={tmp}/job.err"],
                              input=script, cwd=str(tmp))
        else:
            # the job runs in a process of its own, with the environment the description gives it:
            # it finds the session's signing key as a real job would, through CFUT_KEY_FILE
            description = (f"executable = {sys.executable}\narguments = -m cfut.remote {payload}\n"
                           f"getenv = CFUT_KEY_FILE\n"
                           f"output = {tmp}/job.out\nerror = {tmp}/job.err\nlog = {tmp}/job.log\nqueue\n")
            result = fake.run(["condor_submit", "-terse", "-"], input=description, cwd=str(tmp))
        assert result.returncode == 0, result.stderr
        return result.stdout.split()[0].split(";")[0]

    def submit_script(self, fake: FakeScheduler, tmp: Path, body: str) -> str:
        """Submit a shell script (run as a real process under execution="subprocess")."""
        script = tmp / "job.sh"
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
        if self.name == "slurm":
            result = fake.run(["sbatch", "--parsable", str(script)], cwd=str(tmp))
        else:
            result = fake.run(["condor_submit", "-terse", "-"], cwd=str(tmp),
                              input=f"executable = {script}\nlog = {tmp}/job.log\nqueue\n")
        assert result.returncode == 0, result.stderr
        return result.stdout.split()[0].split(";")[0]

    def ending(self, fake: FakeScheduler, job_id: str) -> Ending:
        if isinstance(fake, FakeSlurm):
            job = fake.job(job_id)
            return Ending(None, job.signal) if job.signal else Ending(job.exit_code, None)
        assert isinstance(fake, FakeCondor)
        ad = fake.job(job_id).ad
        return Ending(None, int(ad["ExitSignal"])) if ad["ExitBySignal"] else Ending(int(ad["ExitCode"]), None)


BACKENDS = [
    Backend("slurm", FakeSlurm, ("squeue", "--noheader", "--states=all")),
    Backend("condor", FakeCondor, ("condor_q", "-af", "JobStatus")),
]


@pytest.fixture(params=BACKENDS, ids=lambda b: b.name)
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def make(backend: Backend) -> Iterator[Callable[..., FakeScheduler]]:
    made: list[FakeScheduler] = []

    def factory(**options: Any) -> FakeScheduler:
        fake = backend.make(**options)
        made.append(fake)
        return fake

    yield factory
    for fake in made:
        fake.close()


def write_payload(tmp: Path, fn: Callable[..., Any], *args: Any) -> Path:
    return Path(write_task(tmp, "task", [("call", fn, args, {})]))


# ------------------------------------------------------------------ job functions


def meddle(directory: str) -> str:
    """What a job may do to its own process: none of it may reach the test process."""
    print("printed by the job")
    print("complained by the job", file=sys.stderr)
    os.umask(0o000)
    sys.path.append("/added/by/the/job")
    os.chdir(directory)
    os.environ["CFUT_SET_BY_THE_JOB"] = "1"
    sys.stdout = sys.stderr
    return "done"


def interrupt() -> None:
    raise KeyboardInterrupt


def exit_three() -> None:
    raise SystemExit(3)


def hard_exit_three() -> None:
    os._exit(3)


def segfault() -> None:
    import ctypes

    ctypes.string_at(0)


def with_a_bystander() -> str:
    """Another thread of the process prints while the job runs (in the test process, for an inline job)."""
    bystander = threading.Thread(target=lambda: print("printed by another thread"))
    bystander.start()
    bystander.join()
    print("printed by the job")
    return "done"


# ------------------------------------------------------------------ isolation: processes by default, inline by choice


@pytest.mark.parametrize("execution", ["process", "inline"])
def test_a_job_leaves_the_test_process_as_it_was(backend: Backend, make: Callable[..., FakeScheduler], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str], execution: str) -> None:
    fake = make(progression="manual", execution=execution)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    job_id = backend.submit_worker(fake, tmp_path, write_payload(tmp_path, meddle, str(elsewhere)))
    umask = os.umask(0o022)
    os.umask(umask)
    before = (list(sys.path), os.getcwd(), dict(os.environ), sys.stdout, sys.stderr)
    fake.advance(0)
    fake.advance(5)
    assert fake.queue() == []
    assert os.umask(umask) == umask
    assert (list(sys.path), os.getcwd(), dict(os.environ), sys.stdout, sys.stderr) == before
    assert "printed by the job" in (tmp_path / "job.out").read_text(), "the job's prints land in its output file"
    assert "complained by the job" in (tmp_path / "job.err").read_text()
    assert capsys.readouterr() == ("", ""), "nothing reaches the test's own output"
    assert backend.ending(fake, job_id) == Ending(0, None)
    ok, value, *_ = read_result(tmp_path, "call")
    assert ok and value is not None and pickle.loads(value) == "done"


@pytest.mark.parametrize(("function", "ending", "result"), [
    (interrupt, Ending(None, 2), None),  # Python dies of SIGINT on an uncaught KeyboardInterrupt
    (exit_three, Ending(0, None), "builtins.SystemExit"),  # the worker makes it the call's result
    (hard_exit_three, Ending(3, None), None),  # os._exit ends the process at once, without a result
], ids=["KeyboardInterrupt", "SystemExit", "os._exit"])
@pytest.mark.parametrize("execution", ["process", "inline"])
def test_a_job_that_interrupts_or_exits_ends_as_a_real_job(backend: Backend, make: Callable[..., FakeScheduler],
                                                           tmp_path: Path, function: Callable[[], None],
                                                           ending: Ending, result: str | None, execution: str) -> None:
    fake = make(progression="manual", execution=execution)
    job_id = backend.submit_worker(fake, tmp_path, write_payload(tmp_path, function))
    fake.advance(0)  # it starts
    fake.cluster.clock.jump(10)  # its end is due; the next command lets it happen (in run())
    answer = fake.run(backend.status)
    assert answer.returncode == 0, answer.stderr
    assert fake.queue() == []
    assert backend.ending(fake, job_id) == ending
    if result is None:
        assert not (tmp_path / "call.out").exists()
    else:
        ok, _, _, type_name, _ = read_result(tmp_path, "call")
        assert (ok, type_name) == (False, result)
    if isinstance(fake, FakeSlurm) and ending.signal:
        job = fake.job(job_id)
        assert (job.state, job.exit_code_text) == ("FAILED", "0:2")  # a batch script killed by a signal
    if function is interrupt:  # the interpreter's traceback, from the worker on: nothing of the fake
        log = (tmp_path / "job.err").read_text()
        assert log.startswith("Traceback (most recent call last):\n") and log.endswith("KeyboardInterrupt\n"), log
        assert "cfut/fakes" not in log, log


# What cfut's executor reports for each on real Slurm 22.05 (checked by hand on the CI cluster, with
# the same functions) and on the fake HTCondor: the batch script is `exec python -m cfut.remote`, so a
# signal that kills the worker kills the batch step (FAILED 0:S, JobLaunchFailure).
REAL_ENDINGS = {
    "slurm": {"hard_exit_three": ("FAILED", 3, 0), "segfault": ("FAILED", 0, 11), "interrupt": ("FAILED", 0, 2)},
    "condor": {"hard_exit_three": ("COMPLETED", 3, None), "segfault": ("COMPLETED", None, 11),
               "interrupt": ("COMPLETED", None, 2)},
}


def test_default_jobs_are_processes_that_end_as_real_jobs(backend: Backend, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """With every default (an immediate clock, process execution), nothing a job does reaches the
    test process, and the futures resolve with what real Slurm gives."""
    import cfut

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    umask = os.umask(0o022)
    os.umask(umask)
    before = (list(sys.path), os.getcwd(), dict(os.environ), sys.stdout, sys.stderr, umask)
    fake = backend.make()
    executor_type = cfut.SlurmExecutor if backend.name == "slurm" else cfut.CondorExecutor
    with executor_type(runner=fake, workdir=tmp_path / "work") as executor:
        dying = {f.__name__: executor.submit(f) for f in (hard_exit_three, segfault, interrupt)}
        exiting = executor.submit(exit_three)
        meddling = executor.submit(meddle, str(elsewhere))
        print("printed by the test while jobs run")
        assert meddling.result(timeout=60) == "done"
        with pytest.raises(SystemExit):
            exiting.result(timeout=60)
        for name, future in dying.items():
            error = future.exception(timeout=60)
            assert isinstance(error, cfut.JobDied), (name, error)
            assert (error.state, error.exit_code, error.signal) == REAL_ENDINGS[backend.name][name], name
    fake.close()
    umask_after = os.umask(umask)
    assert (list(sys.path), os.getcwd(), dict(os.environ), sys.stdout, sys.stderr, umask_after) == before
    assert capsys.readouterr() == ("printed by the test while jobs run\n", ""), "nothing of the jobs, all of ours"


def leave_traces(module_dir: str) -> tuple[int, int, str, int, int, str, float]:
    """Change what a long-lived interpreter would carry to the next job, and report what this job
    found: every job on a real node starts a fresh Python, so each must find the pristine state."""
    import random
    import resource
    import time

    sys.path.insert(0, module_dir)
    import edited_module  # type: ignore[import-not-found]  # written by the test, edited between jobs

    seen = getattr(sys, "_cfut_jobs_seen", 0)
    sys._cfut_jobs_seen = seen + 1  # type: ignore[attr-defined]  # a module's global
    patched = os.getcwd.__name__  # a monkeypatch by a previous job would show here
    os.getcwd = lambda: "patched"
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    zone = time.tzname[0]
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    return seen, edited_module.VALUE, patched, soft, os.getppid(), zone, random.random()


def leave_a_process_behind() -> tuple[list[int], int]:
    """Start processes and end without waiting for them, one in the job's process group, one in a
    session of its own, one daemonized by a double fork: slurmstepd kills them all with the job."""
    import subprocess

    same = subprocess.Popen(["sleep", "300"])
    session = subprocess.Popen(["sleep", "301"], start_new_session=True)
    read, write = os.pipe()
    if os.fork() == 0:  # pragma: no cover - the daemon's parent: it forks and goes
        os.setsid()
        daemon = subprocess.Popen(["sleep", "302"])
        os.write(write, str(daemon.pid).encode())
        os._exit(0)
    os.close(write)
    daemon = int(os.read(read, 20))
    return [same.pid, session.pid, daemon], os.getppid()


def parent_pid() -> int:
    return os.getppid()


def import_path() -> list[str]:
    return list(sys.path)


def test_default_jobs_start_from_a_fresh_interpreter(backend: Backend, tmp_path: Path) -> None:
    """Jobs that run one after another on the default fake (where one warm server forks them all)
    find nothing of each other: module globals, an edited module, a monkeypatch, resource limits,
    the time zone and the random generator's state are each job's own, as on a real node."""
    import resource
    import time

    import cfut

    module = tmp_path / "modules" / "edited_module.py"
    module.parent.mkdir()
    module.write_text("VALUE = 1\n")
    fake = backend.make()
    executor_type = cfut.SlurmExecutor if backend.name == "slurm" else cfut.CondorExecutor
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    found = []
    with executor_type(runner=fake, workdir=tmp_path / "work") as executor:
        for value in (1, 2, 3):
            module.write_text(f"VALUE = {value}\n")
            os.utime(module, (time.time() + value, time.time() + value))  # a new mtime, whatever the clock
            found.append(executor.submit(leave_traces, str(module.parent)).result(timeout=60))
    fake.close()
    assert [(seen, value, patched, limit) for seen, value, patched, limit, *_ in found] == [
        (0, 1, "getcwd", soft), (0, 2, "getcwd", soft), (0, 3, "getcwd", soft)]
    assert {zone for *_, zone, _ in found} == {time.tzname[0]}, "each job's time zone is the test process's"
    assert len({number for *_, number in found}) == 3, "each job draws its own random numbers"
    assert len({parent for *_, parent, _, _ in found}) == 1, "one warm server forked them all"


def test_a_job_s_import_path_names_each_directory_once(backend: Backend, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's directory on its sys.path both as "" and by name is one entry in the job's."""
    import cfut

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", ["", str(tmp_path), *sys.path])
    fake = backend.make()
    executor_type = cfut.SlurmExecutor if backend.name == "slurm" else cfut.CondorExecutor
    with executor_type(runner=fake, workdir=tmp_path / "work") as executor:
        path = executor.submit(import_path).result(timeout=60)
    fake.close()
    assert str(tmp_path) in path
    assert len(path) == len(set(path)), path


def test_what_a_job_leaves_running_is_killed_and_the_server_stays(backend: Backend, tmp_path: Path) -> None:
    import cfut

    fake = backend.make()
    executor_type = cfut.SlurmExecutor if backend.name == "slurm" else cfut.CondorExecutor
    with executor_type(runner=fake, workdir=tmp_path / "work") as executor:
        first = executor.submit(parent_pid).result(timeout=60)
        assert isinstance(executor.submit(hard_exit_three).exception(timeout=60), cfut.JobDied)
        sleepers, second = executor.submit(leave_a_process_behind).result(timeout=60)
        third = executor.submit(parent_pid).result(timeout=60)
        assert fake.join(timeout=60)
    fake.close()
    for sleeper in sleepers:
        with pytest.raises(ProcessLookupError):  # killed and reaped when its job ended
            os.kill(sleeper, 0)
    assert first == second == third, "neither a job's os._exit nor its leftovers cost the warm server"


def test_an_inline_job_takes_only_its_own_thread_s_prints(backend: Backend, make: Callable[..., FakeScheduler],
                                                       tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake = make(progression="manual", execution="inline")
    job_id = backend.submit_worker(fake, tmp_path, write_payload(tmp_path, with_a_bystander))
    fake.advance(0)
    fake.advance(5)
    assert backend.ending(fake, job_id) == Ending(0, None)
    assert "printed by the job" in (tmp_path / "job.out").read_text()
    assert "printed by another thread" not in (tmp_path / "job.out").read_text()
    assert capsys.readouterr() == ("printed by another thread\n", ""), "the test process's other threads print"


# ------------------------------------------------------------------ one meaning on both fakes


def test_fail_next_has_one_signature_and_meaning(backend: Backend, make: Callable[..., FakeScheduler],
                                                 tmp_path: Path) -> None:
    base = inspect.signature(FakeScheduler.fail_next).parameters
    assert list(inspect.signature(backend.make.fail_next).parameters)[:len(base)] == list(base)
    fake = make(progression="manual")
    status = backend.status[0]
    fake.fail_next(status, 2, stderr="boom\n", returncode=7)
    for _ in range(2):
        failed = fake.run(backend.status)
        assert (failed.returncode, failed.stderr) == (7, "boom\n")
    assert fake.run(backend.status).returncode == 0
    fake.fail_next(fake.SUBMIT_COMMAND, lose_reply=True)
    with pytest.raises(ValueError, match="lose_reply"):
        fake.fail_next(status, lose_reply=True)
    with pytest.raises(ValueError, match="times must not be negative"):
        fake.fail_next(status, -1)
    with pytest.raises(ValueError, match="not 'bogus'"):
        fake.fail_next("bogus")
    script = tmp_path / "lost.sh"
    script.write_text("#!/bin/sh\ntrue\n")
    script.chmod(0o755)
    argv = (["sbatch", str(script)] if status == "squeue"
            else ["condor_submit", "-"])
    lost = fake.run(argv, input=f"executable = {script}\nqueue\n", cwd=str(tmp_path))
    assert lost.returncode == 1 and lost.stderr, "the reply is lost"
    assert len(fake.queue()) == 1, "but the job was queued"
    assert fake.command_counts[fake.SUBMIT_COMMAND] == 1 and fake.calls[-1] == tuple(argv)


def test_advance_moves_the_clock_and_the_jobs(backend: Backend, make: Callable[..., FakeScheduler],
                                              tmp_path: Path) -> None:
    fake = make(progression="manual")
    job_id = backend.submit_script(fake, tmp_path, "true")
    assert fake.clock() == 0
    fake.advance(0)
    assert fake.queue() == [job_id] and fake.job(job_id).state == "RUNNING"
    fake.advance(5)
    assert fake.clock() == 5 and fake.queue() == []
    fake.sleep(2)
    assert fake.clock() == 7
    with pytest.raises(ValueError, match="backwards"):
        fake.advance(-1)
    with pytest.raises(RuntimeError, match="virtual clock"):
        make(progression="realtime").advance(1)


def test_join_waits_for_job_processes(backend: Backend, make: Callable[..., FakeScheduler], tmp_path: Path) -> None:
    fake = make(progression="manual", execution="subprocess")
    assert fake.join(timeout=0) is True, "nothing to wait for"
    quick = backend.submit_script(fake, tmp_path, "exit 0")
    fake.advance(0)
    assert fake.join() is True
    assert fake.queue() == [] and fake.job(quick).state == "COMPLETED"
    slow = backend.submit_script(fake, tmp_path, "exec sleep 600")
    fake.advance(0)
    assert fake.join(timeout=0) is False, "the job still runs"
    assert fake.queue() == [slow]
    fake.close()  # kills it


def test_wait_is_virtual_time_for_the_monitor(backend: Backend, make: Callable[..., FakeScheduler],
                                              tmp_path: Path) -> None:
    event = threading.Event()
    manual = make(progression="manual")
    assert manual.wait(event, 0) is False and manual.clock() == 0, "a manual clock moves only when told"
    event.set()
    assert manual.wait(event, 3600) is True, "a set event returns at once"
    event.clear()
    immediate = make(progression="immediate")
    job_id = backend.submit_script(immediate, tmp_path, "true")
    before = immediate.clock()
    assert immediate.wait(event, 30) is False
    assert immediate.clock() >= before + 30, "no job process: the clock jumps"
    assert immediate.queue() == [] and immediate.job(job_id).state == "COMPLETED", "what fell due happened"


def test_wait_returns_when_a_job_process_ends(backend: Backend, make: Callable[..., FakeScheduler],
                                              tmp_path: Path) -> None:
    fake = make(progression="immediate", execution="subprocess")
    job_id = backend.submit_script(fake, tmp_path, "exit 0")
    fake.tick()  # it starts: a real process now runs
    event = threading.Event()
    assert fake.wait(event, 600) is False  # returns when the process ends, long before 600 s
    fake.join()
    assert fake.job(job_id).state == "COMPLETED"


def test_refusals_are_recorded(backend: Backend, make: Callable[..., FakeScheduler]) -> None:
    fake = make(progression="manual")
    with pytest.raises(FakeUnsupported):
        fake.run(["qsub", "job.sh"])
    bad_option = ["squeue", "--json"] if backend.name == "slurm" else ["condor_q", "-pool", "elsewhere"]
    with pytest.raises(FakeUnsupported):
        fake.run(bad_option)
    assert [argv for argv, _ in fake.refused] == [("qsub", "job.sh"), tuple(bad_option)]
    assert all(message.startswith("FakeUnsupported: ") for _, message in fake.refused)


EXIT_WITH_JOBS_RUNNING = """
import sys, time, cfut
from cfut.fakes import FakeSlurm

def slow(seconds):
    time.sleep(seconds)
    return seconds

executor = cfut.SlurmExecutor(runner=FakeSlurm(), workdir=sys.argv[1])
futures = [executor.submit(slow, 30) for _ in range(5)]
assert futures[0].job_id is not None
time.sleep(0.5)
executor.shutdown(wait=False)
print("left")
"""


def test_a_script_that_exits_while_fake_jobs_run_ends_quietly(tmp_path: Path) -> None:
    """The executor's exit hook cancels the jobs before the fakes' processes go: no monitor step
    fails on a closed process, nothing but the one line saying what was cancelled."""
    import subprocess

    script = tmp_path / "script.py"
    script.write_text(EXIT_WITH_JOBS_RUNNING)
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "work")], capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert (done.returncode, done.stdout) == (0, "left\n"), done.stderr
    assert "Traceback" not in done.stderr and "failed" not in done.stderr, done.stderr
    assert done.stderr.startswith("cancelling ") and done.stderr.count("\n") == 1, done.stderr


DYING_WITH_A_JOB_RUNNING = """
import os, sys, time, cfut
from cfut.fakes import FakeSlurm

def stay(path):
    with open(path, "w") as f:
        f.write(str(os.getpid()))
    time.sleep(300)

executor = cfut.SlurmExecutor(runner=FakeSlurm(), workdir=sys.argv[1])
future = executor.submit(stay, sys.argv[2])
while not os.path.exists(sys.argv[2]) or not open(sys.argv[2]).read():
    time.sleep(0.05)
os._exit(0)  # no exit hook runs: the test process is simply gone
"""


def test_a_job_ends_when_its_test_process_dies(tmp_path: Path) -> None:
    """A test process killed mid-run leaves no job process behind: the warm server sees its socket
    close and kills the job it runs."""
    import subprocess
    import time

    script = tmp_path / "script.py"
    script.write_text(DYING_WITH_A_JOB_RUNNING)
    pid_file = tmp_path / "job.pid"
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "work"), str(pid_file)],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    job = int(pid_file.read_text())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # waits for an event (the job's end), not for time to pass
        try:
            os.kill(job, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    with pytest.raises(ProcessLookupError):
        os.kill(job, 0)


PRINTING_WHILE_INLINE_JOBS_RUN = """
import sys, tempfile, cfut
from cfut.fakes import FakeSlurm

def job(i):
    for k in range(200):
        print("job", i, k)
    return i

with cfut.SlurmExecutor(runner=FakeSlurm(execution="inline"), workdir=sys.argv[1]) as executor:
    futures = [executor.submit(job, i) for i in range(40)]
    n = 0
    while not all(f.done() for f in futures):
        print("main", n)
        n += 1
print("results", sum(f.result() for f in futures), file=sys.stderr)
"""


def test_the_test_process_prints_while_inline_jobs_swap_its_streams(tmp_path: Path) -> None:
    """The main thread prints while inline jobs, in the monitor thread, install and remove their
    stream routers: it crashed the process (SIGSEGV: print holds sys.stdout borrowed, the swapped-out
    router was freed under it)."""
    import subprocess

    script = tmp_path / "script.py"
    script.write_text(PRINTING_WHILE_INLINE_JOBS_RUN)
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "work")], capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert (done.returncode, done.stderr) == (0, f"results {sum(range(40))}\n")
    assert "job " not in done.stdout, "the jobs' prints went to their logs"


def test_a_forked_child_of_the_test_process_owns_neither_the_pool_nor_the_executors(tmp_path: Path) -> None:
    """A child forked from the test process (a multiprocessing worker) that exits normally runs the
    exit hooks it inherited: they must not stop the warm servers (shared sockets) nor cancel the
    parent's jobs (on real Slurm, by scancel)."""
    import cfut
    from cfut import _lifecycle
    from cfut.fakes import _pool

    fake = FakeSlurm()
    with cfut.SlurmExecutor(runner=fake, workdir=tmp_path / "work") as executor:
        assert executor.submit(parent_pid).result(timeout=60) > 0  # the pool is warm
        assert _pool._pool is not None and len(_lifecycle._executors) >= 1
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports and exits at once
            os.write(write, f"{_pool._pool is None} {len(_lifecycle._executors)}".encode())
            os._exit(0)
        os.close(write)
        _, status = os.waitpid(pid, 0)
        seen = os.read(read, 100).decode()
        os.close(read)
        assert (status, seen) == (0, "True 0")
        assert executor.submit(parent_pid).result(timeout=60) > 0
    fake.close()


def test_the_pool_keeps_no_more_idle_servers_than_its_width() -> None:
    """After a burst of jobs that ran at once in more servers than the width, the extra servers stop."""
    from cfut.fakes._pool import WorkerPool

    pool = WorkerPool()
    try:
        servers = [pool._take() for _ in range(pool.width + 2)]
        for server in servers:
            assert server is not None
            pool.give_back(server)
        kept = [s for s in servers if s is not None and s.proc.poll() is None]
        assert len(kept) == pool.width == len(pool._idle)
        assert all(s.proc.returncode == 0 for s in servers if s is not None and s not in kept)
    finally:
        pool.close()


def start_a_thread(path: str) -> str:
    """Start a non-daemon thread that writes a file after the call returned: the interpreter waits
    for it before the process ends, so the job runs until it is done."""
    import threading
    import time

    def later() -> None:
        time.sleep(0.2)
        with open(path, "w") as handle:
            handle.write("written after the call returned")

    threading.Thread(target=later).start()
    return "returned"


def test_a_job_ends_once_its_non_daemon_threads_have(backend: Backend, tmp_path: Path) -> None:
    import cfut

    fake = backend.make()
    executor_type = cfut.SlurmExecutor if backend.name == "slurm" else cfut.CondorExecutor
    target = tmp_path / "late.txt"
    with executor_type(runner=fake, workdir=tmp_path / "work") as executor:
        assert executor.submit(start_a_thread, str(target)).result(timeout=60) == "returned"
        assert fake.join(timeout=60)
    fake.close()
    assert target.read_text() == "written after the call returned"
