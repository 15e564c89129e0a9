"""The fault matrix: what the real world does to a submitting process and its jobs, and what every
future must end as. Each test runs on FakeSlurm (in the unit suite) and, where it can be done to a real
cluster, on real Slurm (``.ci/run``).

Faults of the submitting process (SIGINT, SIGTERM, interpreter exit, SIGKILL then ``reattach``) run
a real child process: on the fake, it talks to this process's FakeSlurm through the fake commands on
``PATH``. Every test asserts that each future resolved exactly once with its expected value or error
type, that no job is left in the queue, and which files remain.
"""

from __future__ import annotations

import json
import os
import pickle
import select
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

import cfut
from cfut.fakes import FakeSlurm
from cfut.fakes._shims.server import FakeCommandServer
from tests.executor.harness import SLURM_LATER, wait_until
from tests.support import real_slurm

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def square(x: int) -> int:
    return x * x


# ---------------------------------------------------------------- a cluster a child process can use


@dataclass
class Cluster:
    name: str
    env: dict[str, str]  # for child processes: PATH finds sbatch & co.
    fake: FakeSlurm | None
    workdir: Path
    children: list[subprocess.Popen[str]] = field(default_factory=list)

    def close(self) -> None:
        """Child processes a failed test left: killed, their pipes closed."""
        for child in self.children:
            if child.poll() is None:
                child.kill()
            child.wait()
            for stream in (child.stdin, child.stdout, child.stderr):
                if stream is not None:
                    stream.close()

    @property
    def real(self) -> bool:
        return self.fake is None

    def executor(self, **options: Any) -> cfut.SlurmExecutor:
        options.setdefault("submit_linger", 0)
        if self.fake is not None:
            options.setdefault("background_polling", False)
            return cfut.SlurmExecutor(runner=self.fake, workdir=self.workdir, **options)
        options.setdefault("poll_interval", 0.2)
        return cfut.SlurmExecutor(workdir=self.workdir, **options)

    def reattach(self, **options: Any) -> Any:
        if self.fake is not None:
            return cfut.SlurmExecutor.reattach(self.workdir, runner=self.fake, background_polling=False, **options)
        return cfut.SlurmExecutor.reattach(self.workdir, poll_interval=0.2, **options)

    def let_time_pass(self, seconds: float) -> None:
        if self.fake is not None:
            self.fake.advance(seconds)
        else:
            time.sleep(seconds)

    def settle(self, executor: cfut.ClusterExecutor, futures: list[cfut.ClusterFuture], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not all(f.done() for f in futures):
            assert time.monotonic() < deadline, [f for f in futures if not f.done()]
            if self.fake is not None:
                self.fake.advance(1)
                executor.poll_once()
            else:
                time.sleep(0.2)

    def queue(self) -> list[str]:
        """Our jobs still pending or running: their batch script lies in our work directory."""
        if self.fake is not None:
            return [j.job_id for j in self.fake.jobs() if j.state in ("PENDING", "RUNNING", "COMPLETING")
                    and str(j.argv[-1]).startswith(str(self.workdir))]
        out = subprocess.run(["squeue", "--noheader", "--array", "--format=%i|%o"], capture_output=True, text=True,
                             check=True).stdout
        return [line.split("|", 1)[0] for line in out.splitlines()
                if "|" in line and line.split("|", 1)[1].startswith(str(self.workdir))]

    def drained(self) -> list[str]:
        """:meth:`queue` once jobs whose results are in have exited (on real Slurm a job stays listed
        for a moment after its worker wrote the result; up to 30 s under load)."""
        deadline = time.monotonic() + (0 if self.fake is not None else 30)
        while (left := self.queue()) and time.monotonic() < deadline:
            time.sleep(0.25)
        return left

    def run_child(self, body: str, **kwargs: Any) -> subprocess.Popen[str]:
        """A child Python process running ``body`` with this cluster's commands on PATH."""
        source = textwrap.dedent("""
            import json, os, sys, time
            import cfut
            WORKDIR = sys.argv[1]
        """) + textwrap.dedent(body)
        child = subprocess.Popen([sys.executable, "-c", source, str(self.workdir)], env=self.env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
        self.children.append(child)
        return child


def _fake_cluster(workdir: Path) -> Iterator[Cluster]:
    fake = FakeSlurm(progression="manual")
    with FakeCommandServer(fake) as server:
        env = {**os.environ, "PATH": server.path_with_commands()}
        cluster = Cluster("slurm-fake", env, fake, workdir)
        try:
            yield cluster
        finally:
            cluster.close()
    fake.close()


@pytest.fixture(params=[pytest.param("slurm-fake", id="slurm-fake"),
                        pytest.param("slurm-real", id="slurm-real", marks=pytest.mark.slurm)])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """The fake (its commands on PATH for child processes) and, marked ``slurm``, the real cluster."""
    if request.param == "slurm-real":
        real_slurm.require()
        cluster = Cluster("slurm-real", dict(os.environ), None, tmp_path / "work")
        try:
            yield cluster
        finally:
            cluster.close()
        return
    yield from _fake_cluster(tmp_path / "work")


@pytest.fixture
def fake_cluster(tmp_path: Path) -> Iterator[Cluster]:
    yield from _fake_cluster(tmp_path / "work")


def read_line(child: subprocess.Popen[str], timeout: float = 60) -> Any:
    """The child's next line of JSON on stdout."""
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line, f"the child said nothing; stderr: {child.stderr.read() if child.stderr else ''}"
    return json.loads(line)


# ---------------------------------------------------------------- the submitting process ends


SUBMIT_AND_WAIT = """
    later = {later!r}
    ex = cfut.SlurmExecutor(workdir=WORKDIR, poll_interval=0.2, cancel_on_exit={cancel_on_exit}, submit_linger=0)
    running = [ex.submit(time.sleep, 120) for _ in range(2)]
    queued = [ex.submit(pow, 2, n, additional_setup_lines=later) for n in range(3)]
    print(json.dumps({{"running": [f.job_id for f in running], "queued": [f.job_id for f in queued]}}), flush=True)
"""


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "exit"])
def test_interrupt_or_exit_cancels_queued_and_running_jobs(cluster: Cluster, how: str) -> None:
    """SIGINT (Ctrl-C) in a ``with`` block, SIGTERM, or the end of a script that never shut down: its
    queued and running jobs leave the queue at once (the first Ctrl-C does not wait for running jobs),
    and their files go."""
    later = [SLURM_LATER] if cluster.real else []
    body = textwrap.dedent(SUBMIT_AND_WAIT).format(later=later, cancel_on_exit=True)
    if how == "exit":
        body += "sys.stdin.readline()\n"  # then the script ends without shutdown()
    else:
        body += textwrap.dedent("""
            with ex:
                running[0].result()  # hours on a real cluster: interrupted
        """)
    child = cluster.run_child(body, stdin=subprocess.PIPE)
    ids = read_line(child)
    if cluster.fake is not None:
        cluster.fake.advance(0.5)  # the first two start; the fake's inline jobs run until their end time
        for job_id in ids["running"]:
            cluster.fake.set_outcome(job_id, "COMPLETED")  # (would end at 1 s: keep them running)
    else:
        wait_until(lambda: all(_state(j) == "RUNNING" for j in ids["running"]), 60, "two jobs run")
    assert sorted(cluster.queue()) == sorted(ids["running"] + ids["queued"])
    if how == "exit":
        assert child.stdin is not None
        child.stdin.write("\n")
        child.stdin.flush()
    else:
        child.send_signal(getattr(signal, how))
    _, err = child.communicate(timeout=60)
    if cluster.real:  # cancelled running jobs are COMPLETING for KillWait (2 s here) before they leave
        wait_until(lambda: cluster.queue() == [], 30, "the cancelled jobs left the queue")
    assert cluster.queue() == [], err
    assert "cancelling 5 job(s)" in err, err
    if how == "SIGTERM":
        assert child.returncode == -signal.SIGTERM, "it still ends as SIGTERM ends a process"
    assert sorted(os.listdir(cluster.workdir)) == [], "their files are removed, the journal too"


def _state(job_id: str) -> str:
    out = subprocess.run(["squeue", "--noheader", "--states=all", f"--jobs={job_id}", "--format=%T"],
                         capture_output=True, text=True).stdout
    return out.strip()


def test_sigkill_then_reattach_collects_every_result(cluster: Cluster) -> None:
    """The submitting process dies at once (SIGKILL: no handler runs) after submitting calls and a map;
    ``reattach`` in a new process gets futures for every call, in order, and resolves them."""
    child = cluster.run_child("""
        ex = cfut.SlurmExecutor(workdir=WORKDIR, poll_interval=0.2, background_polling=False, submit_linger=0)
        single = [ex.submit(pow, 2, n) for n in range(3)]
        mapped = ex.map_futures(abs, [-4, -5])
        print(json.dumps([f.call_id for f in single + mapped]), flush=True)
        os.kill(os.getpid(), 9)
    """)
    call_ids = read_line(child)
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    futures = cluster.reattach()
    assert [f.call_id for f in futures] == call_ids
    cluster.settle(futures.executor, futures)
    assert [f.result() for f in futures] == [1, 2, 4, 4, 5]
    futures.executor.shutdown()
    assert cluster.drained() == [] and os.listdir(cluster.workdir) == []


def test_reattach_leaves_a_running_process_alone(fake_cluster: Cluster) -> None:
    cluster = fake_cluster
    child = cluster.run_child("""
        ex = cfut.SlurmExecutor(workdir=WORKDIR, background_polling=False, submit_linger=0, cancel_on_exit=False)
        future = ex.submit(pow, 2, 5)
        print(json.dumps([future.call_id]), flush=True)
        sys.stdin.readline()
    """, stdin=subprocess.PIPE)
    read_line(child)
    assert cluster.reattach() == [], "its owner still runs: nothing is taken over"
    child.communicate("\n", timeout=60)
    futures = cluster.reattach()
    assert len(futures) == 1
    cluster.settle(futures.executor, futures)
    assert futures[0].result() == 32


PIPELINE = """
    ex = cfut.SlurmExecutor(workdir=WORKDIR, poll_interval=0.2, background_polling=False, submit_linger=0,
                            cancel_on_exit=False)

    def first(x):
        if x < 0:
            raise ValueError(f"negative: {x}")
        return x + 1

    def add(x, y):
        return x + y

    a = ex.submit(first, int(sys.argv[2]))
    b = ex.submit(first, a)
    c = ex.submit(add, a, b)
    print(json.dumps([f.call_id for f in (a, b, c)]), flush=True)
    if sys.stdin.readline().strip() == "collect a":
        deadline = time.monotonic() + 120
        while not a.done() and time.monotonic() < deadline:
            ex.poll_once()
            time.sleep(0.05)
        print(json.dumps([repr(a.exception(timeout=0)), [f.call_id for f in (a, b, c) if f.done()]]), flush=True)
"""


@pytest.mark.parametrize("first_process", ["submits only", "collects a"])
def test_a_pipeline_outlives_its_submitter_and_reattach_collects_it(cluster: Cluster, first_process: str) -> None:
    """``a = submit(first, 1); b = submit(first, a); c = submit(add, a, b)`` from a process that exits
    (``cancel_on_exit=False``) right after submitting, or after it collected ``a`` while ``b`` waits:
    ``reattach`` restores the links from the journal, ``c`` is 5, and ``a``'s result file, kept for
    ``b`` and ``c``, goes once they ran."""
    child = cluster.run_child(PIPELINE.replace("sys.argv[2]", "1"), stdin=subprocess.PIPE)
    call_ids = read_line(child)
    if first_process == "collects a":
        assert child.stdin is not None
        child.stdin.write("collect a\n")
        child.stdin.flush()
        if cluster.fake is not None:
            # a tenth of a job's virtual second per step, until the child says what it collected:
            # b and c (a second each after a) cannot end before the child sees a
            for _ in range(6000):
                if child.poll() is not None or select.select([child.stdout], [], [], 0.01)[0]:
                    break
                cluster.fake.advance(0.1)
        error, collected = read_line(child)
        assert error == "None" and call_ids[0] in collected and call_ids[2] not in collected
    else:
        collected = []
    child.communicate("\n", timeout=120)
    assert child.returncode == 0, child.stderr
    futures = cluster.reattach()
    assert [f.call_id for f in futures] == [c for c in call_ids if c not in collected]
    cluster.settle(futures.executor, futures)
    values = dict(zip(call_ids, [2, 3, 5]))
    assert [f.result() for f in futures] == [values[f.call_id] for f in futures]
    futures.executor.shutdown()
    assert cluster.drained() == [] and os.listdir(cluster.workdir) == []


def test_a_failing_pipeline_fails_its_dependants_after_reattach(cluster: Cluster) -> None:
    """The same pipeline with ``a`` raising: after reattach ``a`` raises, ``b`` and ``c`` fail with
    DependencyFailed without running, and no job is left in the queue."""
    child = cluster.run_child(PIPELINE.replace("sys.argv[2]", "-1"), stdin=subprocess.PIPE)
    call_ids = read_line(child)
    child.communicate("\n", timeout=120)
    assert child.returncode == 0, child.stderr
    futures = cluster.reattach()
    assert [f.call_id for f in futures] == call_ids
    cluster.settle(futures.executor, futures)
    a, b, c = futures
    with pytest.raises(ValueError, match="negative: -1"):
        a.result()
    for dependant in (b, c):
        with pytest.raises(cfut.DependencyFailed) as info:
            dependant.result()
        assert isinstance(info.value.__cause__, ValueError)
    futures.executor.shutdown()
    assert cluster.drained() == [] and os.listdir(cluster.workdir) == []


# ---------------------------------------------------------------- submissions that go wrong


class Interrupting:
    """A runner on a fake whose sbatch is accepted by the fake, then interrupted (Ctrl-C) before the
    answer arrives, or answered with an extra line cfut cannot parse."""

    def __init__(self, fake: FakeSlurm, fault: str) -> None:
        self.fake, self.fault = fake, fault
        self.clock, self.sleep = fake.clock, fake.sleep

    def run(self, argv: list[str], **kwargs: Any) -> cfut.CommandResult:
        result = self.fake.run(argv, **kwargs)
        if argv[0] == "sbatch" and self.fault:
            fault, self.fault = self.fault, ""
            if fault == "interrupt":
                raise KeyboardInterrupt
            return cfut.CommandResult(result.argv, 0, result.stdout + "sbatch: warning: something odd\n", "")
        return result


def test_ctrl_c_while_sbatch_runs_leaves_no_job_behind(tmp_path: Path) -> None:
    """shared/cases/09: Ctrl-C lands while sbatch runs, after Slurm accepted the job: the interrupt
    propagates, the job is found by its unique name and cancelled, and its files then go."""
    fake = FakeSlurm(progression="manual")
    ex = cfut.SlurmExecutor(runner=Interrupting(fake, "interrupt"), workdir=tmp_path, background_polling=False,
                            submit_linger=0)
    with pytest.raises(KeyboardInterrupt):
        ex.submit(square, 3)
    assert len(fake.jobs()) == 1, "Slurm did make the job"
    assert fake.queue() == [] and fake.jobs()[0].state == "CANCELLED"
    ex.poll_once()
    assert os.listdir(tmp_path) == []


def test_an_unreadable_sbatch_answer_adopts_the_job(tmp_path: Path) -> None:
    fake = FakeSlurm(progression="manual")
    ex = cfut.SlurmExecutor(runner=Interrupting(fake, "garble"), workdir=tmp_path, background_polling=False,
                            submit_linger=0)
    future = ex.submit(square, 3)
    assert future.job_id == fake.jobs()[0].job_id and len(fake.jobs()) == 1
    for _ in range(5):
        fake.advance(1)
        ex.poll_once()
    assert future.result(timeout=0) == 9


class SubmitLimit:
    """sbatch refuses a submission once the user has ``limit`` jobs (QOSMaxSubmitJobPerUserLimit)."""

    MESSAGE = ("sbatch: error: QOSMaxSubmitJobPerUserLimit\nsbatch: error: Batch job submission failed: "
               "Job violates accounting/QOS policy (job submit limit, user's size and/or time limits)\n")

    def __init__(self, fake: FakeSlurm, limit: int) -> None:
        self.fake, self.limit = fake, limit
        self.clock, self.sleep = fake.clock, fake.sleep

    def run(self, argv: list[str], **kwargs: Any) -> cfut.CommandResult:
        if argv[0] == "sbatch" and any(a.startswith("--array=") for a in argv):
            size = int(next(a for a in argv if a.startswith("--array=")).split("-")[-1]) + 1
            if len(self.fake.queue()) + size > self.limit:
                return cfut.CommandResult(tuple(argv), 1, "", self.MESSAGE)
        return self.fake.run(argv, **kwargs)


def test_a_map_rejected_half_way_leaves_nothing_behind(tmp_path: Path) -> None:
    """shared/cases/05: a 1,500-item map is two arrays; the second is refused by a submit limit.
    ``map`` raises SubmissionError quoting Slurm at once, and the first array's 1,000 tasks are
    cancelled: no job, no file is left."""
    fake = FakeSlurm(progression="manual")
    ex = cfut.SlurmExecutor(runner=SubmitLimit(fake, 1200), workdir=tmp_path, background_polling=False)
    with pytest.raises(cfut.SubmissionError, match="QOSMaxSubmitJobPerUserLimit"):
        with ex:
            ex.map(square, range(1500), chunksize=1)  # one task per item, as in the report
    assert fake.queue() == [], "the accepted half was cancelled"
    assert ex.statistics().commands["sbatch"] == 2 and fake.command_counts["scancel"] == 1
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- files someone else wrote


class Bomb:
    """Unpickling this creates a file: the proof that something was unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return (os.system, (f"touch {self.path}",))


def test_a_forged_result_is_refused_without_being_unpickled(tmp_path: Path) -> None:
    """Someone who can write into the work directory but cannot read the key forges a well-formed
    result record: the future fails with IntegrityError naming the file, and nothing is unpickled."""
    from cfut import _wire

    fake = FakeSlurm(progression="manual")
    ex = cfut.SlurmExecutor(runner=fake, workdir=tmp_path / "w", background_polling=False, submit_linger=0)
    future = ex.submit(square, 3)
    marker = tmp_path / "unpickled"
    record = _wire.encode_result(_wire.ResultRecord(True, pickle.dumps(Bomb(str(marker)))))
    path = os.path.join(ex.workdir, f"{future.call_id}.out")
    _wire.write_frame(b"\0" * 32, _wire.RESULT, path, record)  # the right format, the wrong key
    ex.poll_once()
    error = future.exception(timeout=0)
    assert isinstance(error, cfut.IntegrityError) and error.path == path
    assert not marker.exists(), "nothing was unpickled"
    for _ in range(3):
        fake.advance(1)
        ex.poll_once()
    assert fake.queue() == []


def test_a_tampered_payload_is_refused_by_the_worker(cluster: Cluster, tmp_path: Path) -> None:
    """A payload changed after submission: the worker refuses it before unpickling anything; the job
    fails (its log says why) and the future gets JobDied."""
    from cfut import _wire

    marker = tmp_path / "unpickled"
    ex = cluster.executor(additional_setup_lines=[SLURM_LATER] if cluster.real else [], result_grace=1)
    future = ex.submit(square, 3)
    payload = os.path.join(ex.workdir, f"{future.call_id.rsplit('.', 1)[0]}.in") if future.call_id else ""
    body = _wire.encode_payload(_wire.Payload("x.fn", (_wire.CallSpec("c", 0, pickle.dumps(Bomb(str(marker)))),)))
    _wire.write_frame(b"\0" * 32, _wire.PAYLOAD, payload, body)
    if cluster.real:
        subprocess.run(["scontrol", "update", f"jobid={future.job_id}", "StartTime=now"], check=True)
    cluster.settle(ex, [future])
    error = future.exception()
    assert isinstance(error, cfut.JobDied) and error.exit_code == 2, error
    assert "does not carry this user's signature" in error.log_tail
    assert not marker.exists(), "nothing was unpickled"
    ex.shutdown()


def test_a_map_pickles_its_function_once(tmp_path: Path) -> None:
    """shared/cases/17: a map over a function holding a 10 MB object writes it once, not per item."""
    blob = os.urandom(10 * 2**20)

    def uses_blob(i: int) -> int:
        return len(blob) + i

    fake = FakeSlurm(progression="manual")
    ex = cfut.SlurmExecutor(runner=fake, workdir=tmp_path, background_polling=False, submit_linger=0)
    ex.map_futures(uses_blob, range(40))
    written = sum(os.path.getsize(tmp_path / n) for n in os.listdir(tmp_path))
    assert 10 * 2**20 < written < 11 * 2**20, written
    ex.shutdown(wait=False, cancel_futures=True)


def test_cli_lists_and_cleans_what_a_gone_process_left(cluster: Cluster) -> None:
    """``python -m cfut jobs WORKDIR`` says what a killed submitter left; ``clean`` cancels its jobs
    (only those: another executor's job in the same directory is untouched) and removes its files."""
    later = [SLURM_LATER] if cluster.real else []
    child = cluster.run_child(f"""
        ex = cfut.SlurmExecutor(workdir=WORKDIR, background_polling=False, submit_linger=0)
        futures = [ex.submit(pow, 2, n, additional_setup_lines={later!r}) for n in range(3)]
        print(json.dumps([f.job_id for f in futures]), flush=True)
        os.kill(os.getpid(), 9)
    """)
    job_ids = read_line(child)
    child.communicate(timeout=60)
    bystander = cluster.executor(additional_setup_lines=later)
    other = bystander.submit(square, 5)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cfut", *args, str(cluster.workdir)], env=cluster.env,
                              capture_output=True, text=True, timeout=120)

    listed = cli("jobs")
    assert listed.returncode == 0, listed.stderr
    assert "(gone)" in listed.stdout and "(running)" in listed.stdout, listed.stdout
    assert all(f"job {job_id}, 1 task(s): 1 pending" in listed.stdout for job_id in job_ids), listed.stdout
    cleaned = cli("clean")
    assert cleaned.returncode == 0, cleaned.stderr
    assert "3 call(s) of gone processes" in cleaned.stdout
    if cluster.real:
        wait_until(lambda: not set(job_ids) & set(cluster.queue()), 30, "the gone process's jobs left")
    assert cluster.queue() == [other.job_id], "only the gone process's jobs were cancelled"
    assert other.cancel()
    bystander.shutdown()
    assert os.listdir(cluster.workdir) == []


def test_eleven_thousand_outstanding_tasks_stay_within_the_argument_limit(tmp_path: Path) -> None:
    """shared/cases/03: 11,000 outstanding array tasks with 8-digit job ids, the fake's commands really
    exec'd from PATH (so Linux's 131,072-byte limit on one argument applies): status commands keep
    working, and a task cancelled from outside fails its future with JobDied."""
    fake = FakeSlurm(cpus_per_node=4, progression="manual", job_duration=3600, first_job_id=10_000_000)
    with FakeCommandServer(fake) as server:
        runner = cfut.SubprocessRunner()
        env = {"PATH": server.path_with_commands()}

        class OnPath:  # the executor runs the real programs found on PATH: the fake's commands
            def run(self, argv: list[str], **kwargs: Any) -> cfut.CommandResult:
                kwargs["env"] = {**(kwargs.get("env") or {}), **env}
                return runner.run(argv, **kwargs)

        ex = cfut.SlurmExecutor(runner=OnPath(), workdir=tmp_path, background_polling=False, result_grace=0)
        futures = ex.map_futures(square, range(11_000), chunksize=1)
        assert ex.statistics().submitted_jobs == 11, "one array per 1,000 tasks"
        fake.advance(1)
        assert fake.run(["scancel", futures[5].job_id or ""]).returncode == 0  # a pending task, from outside
        ex.poll_once()
        ex.poll_once()
        assert isinstance(futures[5].exception(timeout=0), cfut.JobDied)
        stats = ex.statistics()
        assert stats.query_failures == 0 and stats.monitor_errors == 0
        assert not any(f.done() for f in futures[6:])
        ex.shutdown(wait=False, cancel_futures=True)
        assert fake.queue() == [f.job_id for f in futures[:4]], "the running tasks remain, the rest left"
        for job_id in fake.queue():
            fake.end_job(job_id, "CANCELLED")
        fake.advance(1)
        ex.poll_once()
        assert all(f.done() for f in futures)
    fake.close()


@pytest.mark.slurm
def test_a_job_that_can_never_start_fails_and_leaves_the_queue(tmp_path: Path) -> None:
    """``--cpus-per-task=999`` on a small partition: real Slurm accepts it and leaves it PENDING
    (PartitionConfig) for ever; cfut fails the future with JobUnschedulable after
    ``unschedulable_timeout`` and cancels the job. (The fake side: tests/unit/test_slurm_executor.py.)"""
    real_slurm.require()
    with cfut.SlurmExecutor(workdir=tmp_path, poll_interval=0.2, unschedulable_timeout=2,
                            additional_setup_lines=["#SBATCH --cpus-per-task=999"]) as ex:
        future = ex.submit(square, 2)
        error = future.exception(timeout=60)
    assert isinstance(error, cfut.JobUnschedulable) and error.reason == "PartitionConfig", error
    assert "could never start" in str(error)
    out = subprocess.run(["squeue", "--noheader", f"--jobs={future.job_id}", "--format=%T"], capture_output=True,
                         text=True).stdout
    assert out.strip() in ("", "CANCELLED"), out
