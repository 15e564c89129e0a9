"""Real Python clients of Slurm, unmodified, against the fake commands on PATH (the pytest plugin's).

What the popular clients send, read from their sources (and modelled by FakeSlurm):

* submitit (``submitit/slurm/slurm.py``): ``sbatch SCRIPT`` (the id read from "Submitted batch job N"),
  ``#SBATCH`` lines ``--job-name --time --nodes --ntasks-per-node --cpus-per-task --mem --gpus-per-node
  --signal=USR2@90 --open-mode=append --wckey --output/--error`` with ``%j``/``%A_%a`` and
  ``--array=0-N%P``, the step ``srun --unbuffered --output OUT --error ERR python -u -m ...``, status by
  ``sacct -o JobID,State,NodeList --parsable2 -j ID`` (with its header), ``scancel ID [--signal SIG]``
  and ``scontrol requeue ID``. Run here for real.
* simple_slurm (``simple_slurm/core.py``, ``squeue.py``): the script on ``sbatch``'s standard input
  (``sbatch << EOF``) with padded ``#SBATCH --option    value`` lines, and ``squeue --me -o
  '"%i","%j","%t","%M","%L","%D","%C","%m","%b","%R"'``. Run here for real.
* dask-jobqueue (``dask_jobqueue/slurm.py``): ``sbatch SCRIPT`` with ``#SBATCH -J -e -o (%J) -p -A -n 1
  --cpus-per-task --mem=NG -t`` and ``scancel ID``; too large a dependency (dask, distributed) for a
  test: its command lines are reproduced in ``test_dask_jobqueue_command_lines``.
* snakemake-executor-plugin-slurm: ``sbatch --parsable --job-name UUID --output LOG --export=ALL
  --comment C -A ACCOUNT -p PART -t MIN --mem N --ntasks=1 --cpus-per-task=N -D DIR --wrap="..."``,
  ``sacct -X --parsable2 --clusters all --noheader --format=JobIdRaw,State --starttime T --endtime now
  --name UUID``, ``sinfo -o %P`` for the default partition,
  ``scancel IDS``. Reproduced in ``test_snakemake_and_parsl_command_lines``.
* Parsl's SlurmProvider: ``sbatch SCRIPT`` (``--exclusive --partition --account --qos --constraint
  --mem=Ng --cpus-per-task``), ``squeue --noheader --format='%i %t' --job 'IDS'``, ``scancel IDS``.
  Newer releases first try ``sacct -X`` and, when it succeeds, poll with ``sacct -X --noheader
  --format=jobid,state%20 --job 'IDS'`` instead; with ``clusters=NAME`` the script gets ``#SBATCH
  --clusters=NAME`` and sacct/squeue/scancel ``--clusters=NAME`` right after the command's name.
  Reproduced in ``test_parsl_command_lines_with_clusters``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cloudpickle
import pytest

from cfut.fakes import FakeSlurm
from cfut.fakes._shims.server import FakeCommandServer
from cfut.pytest_plugin import PluginFakeSlurm

pytestmark = pytest.mark.fake

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def add(a: int, b: int) -> int:
    return a + b


def fail() -> None:
    raise ValueError("failed on purpose")


def shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """What the clients do: a command line through the shell, the fake commands first on PATH."""
    return subprocess.run(command, shell=True, capture_output=True, text=True, cwd=cwd, check=False, timeout=60)


@pytest.mark.fake_slurm(execution="subprocess")
def test_submitit_runs_unmodified(fake_slurm: PluginFakeSlurm, tmp_path: Path) -> None:
    import submitit

    executor = submitit.AutoExecutor(folder=tmp_path / "logs", cluster="slurm")
    executor.update_parameters(timeout_min=5, slurm_partition="debug", cpus_per_task=1, mem_gb=1)
    job = executor.submit(add, 2, 3)
    assert job.result() == 5
    failing = executor.submit(fail)
    with pytest.raises(Exception, match="failed on purpose"):
        failing.result()
    jobs = executor.map_array(add, [1, 2, 3], [10, 20, 30])
    assert [j.result() for j in jobs] == [11, 22, 33]
    assert fake_slurm.join(timeout=30)  # the results are in; the job processes may still be exiting
    fake_slurm.tick()
    # what sacct tells submitit
    assert [j.get_info(mode="force")["State"] for j in (job, jobs[0])] == ["COMPLETED", "COMPLETED"]
    sbatch = [argv for argv in fake_slurm.calls if argv[0] == "sbatch"]
    assert len(sbatch) == 3 and all(len(argv) == 2 for argv in sbatch), "sbatch SCRIPT, options in the script"
    assert fake_slurm.job(jobs[0].job_id).state == "COMPLETED"
    assert [s.argv[:2] for s in fake_slurm.steps][:1] == [(sys.executable, "-u")], "the srun step ran the worker"


@pytest.mark.fake_slurm(execution="subprocess")
def test_simple_slurm_runs_unmodified(fake_slurm: PluginFakeSlurm, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from simple_slurm import Slurm
    from simple_slurm.squeue import SlurmSqueueWrapper

    os.chdir(tmp_path)
    # held (--hold), so that squeue surely lists it before it runs
    slurm = Slurm(job_name="simple", output=str(tmp_path / "simple-%j.out"), time="0:05:00", mem="100M",
                  cpus_per_task=1, hold=True)
    job_id = slurm.sbatch("echo hello from $SLURM_JOB_ID", verbose=False)
    squeue = SlurmSqueueWrapper()
    squeue.update_squeue()
    assert job_id in squeue.jobs and squeue.jobs[job_id]["NAME"] == "simple"
    assert (squeue.jobs[job_id]["ST"], squeue.jobs[job_id]["MIN_MEMORY"], squeue.jobs[job_id]["TIME_LEFT"]) == (
        "PD", "100M", "5:00")
    assert shell(f"scontrol release {job_id}", tmp_path).returncode == 0
    assert fake_slurm.join(timeout=30)
    deadline = time.monotonic() + 30
    while fake_slurm.job(job_id).state != "COMPLETED" and time.monotonic() < deadline:
        fake_slurm.tick()
        fake_slurm.join(timeout=1)
    assert (tmp_path / f"simple-{job_id}.out").read_text() == f"hello from {job_id}\n"


@pytest.mark.fake_slurm(execution="subprocess")
def test_dask_jobqueue_command_lines(fake_slurm: PluginFakeSlurm, tmp_path: Path) -> None:
    """dask_jobqueue.SLURMJob's script and commands, as its job_script() writes them."""
    script = tmp_path / "worker.sh"
    script.write_text("#!/usr/bin/env bash\n\n#SBATCH -J dask-worker\n#SBATCH -e logs/dask-worker-%J.err\n"
                      "#SBATCH -o logs/dask-worker-%J.out\n#SBATCH -p debug\n#SBATCH -A myproject\n#SBATCH -n 1\n"
                      "#SBATCH --cpus-per-task=2\n#SBATCH --mem=2G\n#SBATCH -t 00:30:00\n\n"
                      "JOB_ID=${SLURM_JOB_ID%;*}\necho worker $JOB_ID; sleep 300\n")
    (tmp_path / "logs").mkdir()
    submitted = shell(f"sbatch {script}", tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.split()[-1]
    assert submitted.stdout == f"Submitted batch job {job_id}\n"
    shown = shell(f"scontrol show job {job_id}", tmp_path).stdout
    assert "Account=myproject" in shown and "TimeLimit=00:30:00" in shown and "MinMemoryNode=2G" in shown
    assert shell(f"scancel {job_id}", tmp_path).returncode == 0
    assert fake_slurm.join(timeout=30)
    fake_slurm.tick()
    assert fake_slurm.job(job_id).state == "CANCELLED"


@pytest.mark.fake_slurm(execution="subprocess")
def test_snakemake_and_parsl_command_lines(fake_slurm: PluginFakeSlurm, tmp_path: Path) -> None:
    """The command lines of snakemake-executor-plugin-slurm and Parsl's SlurmProvider, verbatim."""
    assert shell("sinfo -o %P", tmp_path).stdout == "PARTITION\ndebug*\n"
    run_uuid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    log = tmp_path / "slurm_logs" / "%j.log"
    log.parent.mkdir()
    call = (f"sbatch --parsable --job-name {run_uuid} --output '{log}' --export=ALL --comment rule_a -A 'lab' "
            f"-p debug -t 10 --mem 1000 --ntasks=1 --cpus-per-task=1 -D {tmp_path} --wrap=\"echo rule a\"")
    submitted = shell(call, tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip().split(";")[0]
    assert fake_slurm.join(timeout=30)
    fake_slurm.tick()
    status = shell(f"sacct -X --parsable2 --clusters all --noheader --format=JobIdRaw,State "
                   f"--starttime 2020-01-01T00:00 "
                   f"--endtime now --name {run_uuid}", tmp_path)
    assert status.stdout == f"{job_id}|COMPLETED\n", status.stderr
    assert (tmp_path / "slurm_logs" / f"{job_id}.log").read_text() == "rule a\n"
    parsl = tmp_path / "parsl.sh"
    parsl.write_text("#!/bin/bash\n#SBATCH --job-name=parsl.slurm.1\n#SBATCH --output=parsl.stdout\n"
                     "#SBATCH --nodes=1\n#SBATCH --time=10\n#SBATCH --ntasks-per-node=1\n\n#SBATCH --exclusive\n"
                     "#SBATCH --partition=debug\n#SBATCH --mem=1g\n#SBATCH --cpus-per-task=1\n"
                     "export PARSL_CORES=1\nsleep 300\n")
    block = shell(f"sbatch {parsl}", tmp_path).stdout.split()[-1]
    states = shell(f"squeue --noheader --format='%i %t' --job '{block},{job_id}'", tmp_path)
    assert states.stdout.split("\n")[0].split() in ([block, "R"], [block, "PD"])
    assert shell(f"scancel {block}", tmp_path).returncode == 0
    assert fake_slurm.join(timeout=30)


@pytest.mark.fake_slurm(gpus_per_node=2, memory_per_node=4096, execution="subprocess")
def test_gpu_nodes_from_the_marker(fake_slurm: PluginFakeSlurm, tmp_path: Path) -> None:
    """The plugin's marker gives the fake's nodes GPUs and memory; jobs see them as on GRES nodes."""
    assert shell("sinfo --noheader --format='%P %c %m %G'", tmp_path).stdout == "debug* 4 4096 gpu:2\n"
    submitted = shell("sbatch --parsable --gres=gpu:2 --mem=1G --output=gpu.out "
                      "--wrap='echo $CUDA_VISIBLE_DEVICES $SLURM_GPUS_ON_NODE $SLURM_MEM_PER_NODE'", tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    refused = shell("sbatch --gres=gpu:3 --wrap=true", tmp_path)
    assert (refused.returncode, refused.stderr) == (
        1, "sbatch: error: Batch job submission failed: Requested node configuration is not available\n")
    too_big = shell("sbatch --mem=5G --wrap=true", tmp_path)
    assert too_big.stderr.startswith("sbatch: error: Memory specification can not be satisfied\n")
    assert fake_slurm.join(timeout=30)
    fake_slurm.tick()
    assert (tmp_path / "gpu.out").read_text() == "0,1 2 1024\n"


@pytest.mark.fake_slurm(execution="subprocess")
def test_a_command_on_path_passes_its_own_umask_to_the_job(fake_slurm: PluginFakeSlurm, tmp_path: Path) -> None:
    """Real sbatch passes its caller's umask to the job (observed on Slurm 22.05: under umask 077 the
    job's log is 0600 and the job's own umask is 0077), not the umask of the process that owns the fake."""
    previous = os.umask(0o022)  # the process that owns the fake: 022; the shell that runs sbatch: 077
    try:
        submitted = shell("umask 077; sbatch --parsable --output=job.log --wrap='umask'", tmp_path)
    finally:
        os.umask(previous)
    assert submitted.returncode == 0, submitted.stderr
    assert fake_slurm.join(timeout=30)
    fake_slurm.tick()
    log = tmp_path / "job.log"
    assert (oct(log.stat().st_mode & 0o777), log.read_text()) == ("0o600", "0077\n")


HANDLER = """import signal, sys, time
def got(signum, frame):
    print("got", signal.Signals(signum).name, flush=True)
    sys.exit(0)
signal.signal(signal.SIGUSR2, got)
print("ready", flush=True)
time.sleep(60)
print("not signalled", flush=True)
"""


@pytest.mark.fake_slurm(execution="subprocess")
def test_scancel_signal_reaches_srun_steps_only(fake_slurm: PluginFakeSlurm, tmp_path: Path) -> None:
    """scancel --signal (no --batch, no --full) reaches the tasks of the job's steps (submitit's
    interrupt), not the batch script's own children, and srun goes on (observed on Slurm 22.05);
    a step still running when its job is cancelled ends CANCELLED 0:15."""
    (tmp_path / "h.py").write_text(HANDLER)
    step = shell(f"sbatch --parsable -o step.out --wrap '{sys.executable} -c pass; srun {sys.executable} h.py; "
                 "echo srun said $?'", tmp_path).stdout.strip()
    plain = shell(f"sbatch --parsable -o plain.out --wrap '{sys.executable} h.py & wait'", tmp_path).stdout.strip()
    for name in ("step.out", "plain.out"):
        deadline = time.monotonic() + 30
        while "ready" not in ((tmp_path / name).read_text() if (tmp_path / name).exists() else ""):
            assert time.monotonic() < deadline, f"{name} never got ready"
            time.sleep(0.05)  # waits for the job's process to say it is ready: an event
    assert shell(f"scancel --signal=USR2 {step} {plain}", tmp_path).returncode == 0
    deadline = time.monotonic() + 30
    while "srun said" not in (tmp_path / "step.out").read_text():
        assert time.monotonic() < deadline, (tmp_path / "step.out").read_text()
        time.sleep(0.05)
    assert (tmp_path / "step.out").read_text() == "ready\ngot SIGUSR2\nsrun said 0\n"
    assert (tmp_path / "plain.out").read_text() == "ready\n", "the batch script's own child is no step"
    assert shell(f"scancel {plain}", tmp_path).returncode == 0
    assert fake_slurm.join(timeout=30)
    fake_slurm.tick()
    long_step = shell(f"sbatch --parsable -o long.out --wrap 'srun {sys.executable} h.py'", tmp_path).stdout.strip()
    deadline = time.monotonic() + 30
    while "ready" not in ((tmp_path / "long.out").read_text() if (tmp_path / "long.out").exists() else ""):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert shell(f"scancel {long_step}", tmp_path).returncode == 0
    assert fake_slurm.join(timeout=30)
    fake_slurm.tick()
    steps = shell(f"sacct --noheader --parsable2 --jobs={long_step} --format=JobID,State,ExitCode", tmp_path).stdout
    assert f"{long_step}.0|CANCELLED|0:15" in steps.splitlines(), steps



def _serving_threads() -> list[threading.Thread]:
    """The fake command server's threads answering a command (socketserver names them so)."""
    return [t for t in threading.enumerate() if "process_request_thread" in t.name]


@pytest.mark.fake_slurm(progression="manual", execution="subprocess")
def test_sbatch_wait_on_path_prints_at_submission_and_exits_when_the_job_ends(fake_slurm: PluginFakeSlurm,
                                                                              tmp_path: Path) -> None:
    """sbatch --wait through the fake command prints its submission line at once (a client reading its
    output learns the job id while the job runs) and exits with the job's exit code when it ends, as on
    Slurm 22.05."""
    waiting = subprocess.Popen(["sbatch", "--wait", "--wrap", "sleep 100"], cwd=tmp_path, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert waiting.stdout is not None and waiting.stderr is not None
        assert waiting.stdout.readline() == "Submitted batch job 1\n"
        fake_slurm.advance(1)
        assert shell("squeue --noheader --format='%i %T' --jobs=1", tmp_path).stdout == "1 RUNNING\n"
        assert waiting.poll() is None, "sbatch waits for its job"
        fake_slurm.end_job(1, "FAILED", exit_code=3)
        assert waiting.wait(timeout=30) == 3
        assert (waiting.stdout.read(), waiting.stderr.read()) == ("", "")
    finally:
        waiting.kill()
        waiting.communicate()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.fake_slurm(progression="manual", execution="subprocess")
def test_sbatch_wait_on_path_killed_leaves_its_job_and_the_server_stops_waiting(
        fake_slurm: PluginFakeSlurm, tmp_path: Path, signum: signal.Signals) -> None:
    """sbatch --wait killed by SIGINT or SIGTERM while it waits dies of the signal, printing nothing more,
    and its job runs on (observed on Slurm 22.05); the fake command server stops waiting for the job."""
    waiting = subprocess.Popen(["sbatch", "--wait", "--wrap", "sleep 100"], cwd=tmp_path, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert waiting.stdout is not None
    assert waiting.stdout.readline() == "Submitted batch job 1\n"
    assert _serving_threads(), "the server waits for the job"
    waiting.send_signal(signum)
    assert (waiting.wait(timeout=30), *waiting.communicate()) == (-signum, "", "")
    deadline = time.monotonic() + 30
    while _serving_threads():  # the server notices the hang-up within its wait's poll
        assert time.monotonic() < deadline, "the server still waits for a killed sbatch --wait"
        time.sleep(0.02)
    fake_slurm.advance(1)
    assert shell("squeue --noheader --format='%i %T' --jobs=1", tmp_path).stdout == "1 RUNNING\n"
    assert shell("scancel 1", tmp_path).returncode == 0



def test_sbatch_wait_on_path_ends_when_the_fake_commands_stop(tmp_path: Path) -> None:
    """Closing the fake command server ends an sbatch --wait still waiting, with an error, not a hang."""
    with FakeSlurm(progression="manual") as fake:
        server = FakeCommandServer(fake).start()
        try:
            waiting = subprocess.Popen(["sbatch", "--wait", "--wrap", "sleep 100"], cwd=tmp_path, text=True,
                                       env={**os.environ, "PATH": server.path_with_commands()},
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            assert waiting.stdout is not None
            assert waiting.stdout.readline() == "Submitted batch job 1\n"
        finally:
            server.close()
        assert (waiting.wait(timeout=30), *waiting.communicate()) == (
            1, "", "sbatch: error: the fake cluster stopped while sbatch --wait waited for its job\n")
        assert [job.state for job in fake.jobs()] == ["PENDING"], "the job is left as it was"


#: Slurm states Parsl's SlurmProvider knows (its sacct and squeue translation tables' keys).
PARSL_SACCT_STATES = {"PENDING", "RUNNING", "CANCELLED", "COMPLETED", "FAILED", "NODE_FAIL", "BOOT_FAIL",
                      "DEADLINE", "TIMEOUT", "REVOKED", "OUT_OF_MEMORY", "SUSPENDED", "PREEMPTED", "REQUEUED"}
PARSL_SQUEUE_STATES = {"PD", "R", "CA", "CF", "CG", "CD", "F", "TO", "NF", "RV", "SE"}


def parsl_states(stdout: str) -> dict[str, str]:
    """What Parsl's SlurmProvider._status reads from sacct's or squeue's output: the first two words of
    each non-empty line, a job id and a state (a CLUSTER: line would be read as a job "CLUSTER:")."""
    return {words[0]: words[1] for words in (line.split() for line in stdout.split("\n") if line)}


@pytest.mark.fake_slurm(execution="subprocess")
def test_parsl_command_lines_with_clusters(fake_slurm: PluginFakeSlurm, tmp_path: Path) -> None:
    """Parsl's SlurmProvider(clusters=NAME, partition="debug", mem_per_node=1, cores_per_node=1), verbatim
    (parsl/providers/slurm/slurm.py): ``sacct -X`` decides the status command (sacct when it succeeds, else
    squeue; both are run here), ``#SBATCH --clusters=NAME`` in the script, ``--clusters=NAME`` on
    sacct/squeue/scancel. As on Slurm 22.05, sbatch says "Submitted batch job N on cluster NAME" (Parsl's
    regex takes N) and squeue --noheader prints no ``CLUSTER: NAME`` line (with a header it does)."""
    cluster = fake_slurm.cluster.name
    probe = shell("sacct -X", tmp_path)
    assert probe.returncode == 0, probe.stderr
    sacct = f"sacct --clusters={cluster} -X --noheader --format=jobid,state%20 --job '{{0}}'"
    squeue = f"squeue --clusters={cluster} --noheader --format='%i %t' --job '{{0}}'"
    job_name = "parsl.slurm.1754480000.123456"
    script = tmp_path / job_name
    script.write_text(f"#!/bin/bash\n\n#SBATCH --job-name={job_name}\n#SBATCH --output={script}.stdout\n"
                      f"#SBATCH --error={script}.stderr\n#SBATCH --nodes=1\n#SBATCH --time=10\n"
                      "#SBATCH --ntasks-per-node=1\n\n#SBATCH --exclusive\n#SBATCH --partition=debug\n"
                      f"#SBATCH --clusters={cluster}\n#SBATCH --mem=1g\n#SBATCH --cpus-per-task=1\n\n"
                      "export PARSL_MEMORY_GB=1\nexport PARSL_CORES=1\n\n\n"
                      f'export JOBNAME="{job_name}"\n\nsleep 300\n')
    submitted = shell(f"sbatch {script}", tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    assert submitted.stdout == f"Submitted batch job 1 on cluster {cluster}\n"
    matches = (re.match(r"Submitted batch job (?P<id>\S*)", line) for line in submitted.stdout.split("\n"))
    assert [m.group("id") for m in matches if m] == ["1"]
    other = shell("sbatch --parsable --wrap 'sleep 300'", tmp_path).stdout.strip()
    for command, known in ((sacct, PARSL_SACCT_STATES), (squeue, PARSL_SQUEUE_STATES)):
        polled = shell(command.format(f"1,{other}"), tmp_path)
        assert polled.returncode == 0, polled.stderr
        states = parsl_states(polled.stdout)
        assert sorted(states) == ["1", other] and set(states.values()) <= known, polled.stdout
    with_header = shell(f"squeue --clusters={cluster} --format='%i %t' --job '1'", tmp_path).stdout
    assert with_header.split("\n")[:2] == [f"CLUSTER: {cluster}", "JOBID ST"]
    assert shell(f"scancel --clusters={cluster} 1 {other}", tmp_path).returncode == 0
    assert fake_slurm.join(timeout=30)
    fake_slurm.tick()
    cancelled = shell(sacct.format(f"1,{other}"), tmp_path)
    assert cancelled.stdout.split("\n")[0].split() == ["1", "CANCELLED", "by", str(os.getuid())], cancelled.stdout
    assert parsl_states(cancelled.stdout) == {"1": "CANCELLED", other: "CANCELLED"}


@pytest.mark.fake_slurm(execution="subprocess")
@pytest.mark.parametrize("command", ["scancel $SLURM_JOB_ID", "scontrol requeue $SLURM_JOB_ID"])
def test_a_job_s_own_scancel_returns_before_the_job_is_signalled(fake_slurm: PluginFakeSlurm, tmp_path: Path,
                                                                 command: str) -> None:
    """A job that cancels or requeues itself (submitit's checkpoint) sees its command succeed, then
    slurmstepd's line and SIGTERM (observed on Slurm 22.05: "rc=0", the CANCELLED line, TERM, then the
    script goes on); the fake used to signal the command's own process group before it replied (rc=143)."""
    job = shell(f"sbatch --parsable -o self.out --wrap 'trap \"echo TERM\" TERM; {command}; echo rc=$?; "
                "sleep 1; echo after'", tmp_path).stdout.strip()
    deadline = time.monotonic() + 30
    while "after" not in ((tmp_path / "self.out").read_text() if (tmp_path / "self.out").exists() else ""):
        assert time.monotonic() < deadline, (tmp_path / "self.out").read_text()
        time.sleep(0.05)  # waits for the job's script to reach its end: an event
    lines = (tmp_path / "self.out").read_text().splitlines()
    assert lines[0] == "rc=0", lines
    assert lines[1].startswith(f"slurmstepd-node1: error: *** JOB {job} ON node1 CANCELLED AT "), lines
    assert lines[-2:] == ["TERM", "after"], lines
    shell(f"scancel {job}", tmp_path)
