"""FakeSlurm on its own: every command form cfut issues, byte for byte as Slurm 22.05 prints it, and
the clock, scheduling, execution and fault-injection model behind them.

Expected outputs were taken from a real Slurm 22.05 cluster (the CI one). No test waits for wall-clock
time: virtual clocks are driven with ``advance()``, real processes with ``join()``.
"""

from __future__ import annotations

import os
import pickle
import re
import stat
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cfut._runner import CommandResult, CommandRunner
from cfut.fakes import FakeCluster, FakeSlurm, FakeUnsupported
from cfut.fakes._clock import FakeClock
from cfut.fakes._inline import parse_inline
from cfut.fakes._slurm.values import (
    compress_hostlist,
    hms_duration,
    index_ranges,
    parse_array,
    parse_time_limit,
    squeue_duration,
)
from tests.support.payloads import read_result, write_task

pytestmark = pytest.mark.fake

STATUS = ("squeue", "--noheader", "--states=all", "--array")


def run(fake: FakeSlurm, *argv: str, **kwargs: object) -> CommandResult:
    return fake.run(argv, **kwargs)  # type: ignore[arg-type]


def submit(fake: FakeSlurm, *options: str, wrap: str = "true", cwd: Path | None = None) -> str:
    result = run(fake, "sbatch", "--parsable", *options, f"--wrap={wrap}", cwd=str(cwd) if cwd else None)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def status(fake: FakeSlurm, *ids: str) -> dict[str, str]:
    """The executor's squeue: id → STATE|REASON."""
    result = run(fake, *STATUS, f"--jobs={','.join(ids)}", "--format=%i|%T|%r")
    assert result.returncode == 0, result.stderr
    return {line.split("|")[0]: line.split("|", 1)[1] for line in result.stdout.splitlines()}


@pytest.fixture
def manual(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlurm]:
    monkeypatch.chdir(tmp_path)
    with FakeSlurm(progression="manual") as fake:
        yield fake


# ------------------------------------------------------------------ the runner protocol


def test_is_a_command_runner_and_dispatches_on_basename(manual: FakeSlurm) -> None:
    assert isinstance(manual, CommandRunner)
    assert run(manual, "/usr/bin/sbatch", "--parsable", "--wrap=true").stdout == "1\n"
    assert run(manual, "squeue", "-h", "-o", "%i").stdout == "1\n"
    with pytest.raises(FakeUnsupported, match="sstat"):
        run(manual, "sstat")
    assert manual.calls == [("/usr/bin/sbatch", "--parsable", "--wrap=true"), ("squeue", "-h", "-o", "%i")]
    assert manual.command_counts == {"sbatch": 1, "squeue": 1}


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ValueError, match="progression"):
        FakeSlurm(progression="sometimes")
    with pytest.raises(ValueError, match="execution"):
        FakeSlurm(execution="remote")
    with pytest.raises(ValueError, match="min_job_age"):
        FakeSlurm(min_job_age=-1)


# ------------------------------------------------------------------ sbatch


def test_sbatch_forms_of_output(manual: FakeSlurm) -> None:
    assert run(manual, "sbatch", "--parsable", "--wrap=true").stdout == "1\n"
    assert run(manual, "sbatch", "--wrap=true").stdout == "Submitted batch job 2\n"
    assert run(manual, "sbatch", "-Q", "--wrap=true").stdout == ""
    assert manual.queue() == ["1", "2", "3"]


def test_sbatch_executor_form_with_script_file(manual: FakeSlurm, tmp_path: Path) -> None:
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    result = run(manual, "sbatch", "--parsable", "--job-name=cfut.abc", f"--output={tmp_path}/log.txt",
                 "--array=0-2", str(script))
    assert result == CommandResult(result.argv, 0, "1\n", "")
    job = manual.job("1_2")
    assert (job.name, job.output_path, job.array_job_id, job.array_task_id) == (
        "cfut.abc", f"{tmp_path}/log.txt", 1, 2)
    assert job.script == "#!/bin/sh\necho hi\n"


def test_sbatch_wrap_stdin_and_relative_script(manual: FakeSlurm, tmp_path: Path) -> None:
    submit(manual, wrap="echo x")
    assert manual.job("1").script == "#!/bin/sh\n# This script was created by sbatch --wrap.\n\necho x\n"
    assert manual.job("1").name == "wrap"
    run(manual, "sbatch", input="#!/bin/sh\ntrue\n")
    assert (manual.job("2").script, manual.job("2").name) == ("#!/bin/sh\ntrue\n", "sbatch")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "s.sh").write_text("#!/bin/bash\ntrue\n")
    assert run(manual, "sbatch", "s.sh", cwd=str(sub)).returncode == 0
    job = manual.job("3")
    assert (job.name, job.workdir, job.output_path) == ("s.sh", str(sub), f"{sub}/slurm-3.out")


def test_sbatch_directives_and_command_line_override(manual: FakeSlurm, tmp_path: Path) -> None:
    script = (
        "#!/bin/sh\n"
        "#SBATCH --job-name=from-script\n"
        "#SBATCH -t 5  # a comment\n"
        "\n"
        "# SBATCH --partition=ignored (not a directive)\n"
        "#SBATCH --output=%x-%j.log --comment='two words'\n"
        "true\n"
        "#SBATCH --time=99 (after the first command: ignored)\n"
    )
    run(manual, "sbatch", "-J", "from-cli", input=script)
    job = manual.job("1")
    assert (job.name, job.time_limit, job.comment) == ("from-cli", 5, "two words")
    assert job.output_path == f"{tmp_path}/from-cli-1.log"


def test_sbatch_option_spellings(manual: FakeSlurm) -> None:
    submit(manual, "-t5", "-c", "2", "--ntasks", "1", "--job=abbreviated", "-p", "debug", "--mem=2G",
           "--open-mode=append")
    job = manual.job("1")
    assert (job.time_limit, job.cpus, job.name, job.partition) == (5, 2, "abbreviated", "debug")


def test_input_environment_of_the_status_commands(manual: FakeSlurm) -> None:
    """SQUEUE_FORMAT and SACCT_FORMAT are the format when the command line gives none (as on Slurm);
    the variables the fake does not model are refused, never ignored."""
    job_id = submit(manual, "--hold")
    assert run(manual, "squeue", "-h", "-j", job_id, env={"SQUEUE_FORMAT": "%i %T"}).stdout == f"{job_id} PENDING\n"
    assert run(manual, "squeue", "-h", "-j", job_id, "-o", "%i", env={"SQUEUE_FORMAT": "%i %T"}).stdout == \
        f"{job_id}\n"
    assert run(manual, "sacct", "-X", "-n", "-P", "-j", job_id, env={"SACCT_FORMAT": "JobID,State"}).stdout == \
        f"{job_id}|PENDING\n"
    for command, name, value in (("squeue", "SQUEUE_SORT", "i"), ("sinfo", "SINFO_FORMAT", "%P"),
                                 ("sacct", "SLURM_TIME_FORMAT", "relative"), ("scancel", "SCANCEL_BATCH", "1")):
        with pytest.raises(FakeUnsupported, match=name):
            run(manual, command, *([job_id] if command == "scancel" else []), env={name: value})


def test_other_names_of_one_option(manual: FakeSlurm) -> None:
    """sbatch --cluster is --clusters, squeue -j takes its list from the next word, and an
    abbreviation of names that are one option is no ambiguity (observed on Slurm 22.05)."""
    named = manual.run(["sbatch", "--parsable", "--cluster=cluster", "--wrap=true"])
    assert (named.returncode, named.stdout) == (0, "1;cluster\n")
    assert manual.run(["squeue", "--noheader", "-j", "1", "--format=%i"]).stdout == "1\n"
    assert manual.run(["squeue", "--noheader", "--jobs", "--format=%i"]).stdout == "1\n"
    assert manual.run(["squeue", "--si=x"]).stderr.startswith("squeue: option '--sib' doesn't allow an argument\n")
    assert manual.run(["sbatch", "--clust=x"]).stderr.startswith(
        "sbatch: option '--clust=x' is ambiguous; possibilities: '--cluster-constraint' '--cluster' '--clusters'\n")


@pytest.mark.parametrize("spec, minutes, shown", [
    ("5", 5, "5:00"), ("0:30", 1, "1:00"), ("0:61", 2, "2:00"), ("1:00:01", 61, "1:01:00"),
    ("2-3", 3060, "2-03:00:00"), ("1-0:5", 1445, "1-00:05:00"), ("1-0:0:1", 1441, "1-00:01:00"),
    ("UNLIMITED", None, "UNLIMITED"), ("infinite", None, "UNLIMITED"),
])
def test_time_limits_round_seconds_up_to_minutes(manual: FakeSlurm, spec: str, minutes: int | None,
                                                 shown: str) -> None:
    job_id = submit(manual, f"--time={spec}")
    assert manual.job(job_id).time_limit == minutes
    assert run(manual, "squeue", "-h", "-o", "%l").stdout == shown + "\n"


@pytest.mark.parametrize("argv, returncode, stderr", [
    (["--time=abc"], 255, "sbatch: error: Invalid --time specification\n"),
    (["--foo"], 255, "sbatch: unrecognized option '--foo'\nTry \"sbatch --help\" for more information\n"),
    (["--foo=1"], 255, "sbatch: unrecognized option '--foo=1'\nTry \"sbatch --help\" for more information\n"),
    (["-y"], 255, "sbatch: invalid option -- 'y'\nTry \"sbatch --help\" for more information\n"),
    (["--par"], 255, "sbatch: option '--par' is ambiguous; possibilities: '--parsable' '--partition'\n"
                     "Try \"sbatch --help\" for more information\n"),
    (["--parsable=x"], 255, "sbatch: option '--parsable' doesn't allow an argument\n"
                            "Try \"sbatch --help\" for more information\n"),
    (["-p", "nope"], 1, "sbatch: error: invalid partition specified: nope\n"
                        "sbatch: error: Batch job submission failed: Invalid partition name specified\n"),
    (["--array=5-1"], 1, "sbatch: error: Batch job submission failed: Invalid job array specification\n"),
    (["--array=0-1001"], 1, "sbatch: error: Batch job submission failed: Invalid job array specification\n"),
    (["--array=x"], 1, "sbatch: error: Batch job submission failed: Invalid job array specification\n"),
    (["-c", "abc"], 1, 'sbatch: error: Invalid numeric value "abc" for --cpus-per-task.\n'),
    (["-n", "0"], 1, 'sbatch: error: Invalid numeric value "0" for --ntasks.\n'),
    (["-N", "abc"], 255, 'sbatch: error: "abc" is not a valid node count\n'),
    (["--mem=abc"], 255, "sbatch: error: Invalid --mem specification\n"),
    (["--open-mode=bad"], 255, "sbatch: error: Invalid --open-mode specification\n"),
    (["--open-mode="], 255, "sbatch: error: Invalid --open-mode specification\n"),
])
def test_sbatch_rejections_quote_slurm(manual: FakeSlurm, argv: list[str], returncode: int, stderr: str) -> None:
    result = run(manual, "sbatch", *argv, "--wrap=true")
    assert (result.returncode, result.stdout, result.stderr) == (returncode, "", stderr)
    assert manual.jobs() == []


def test_sbatch_rejects_scripts_as_sbatch_does(manual: FakeSlurm, tmp_path: Path) -> None:
    result = run(manual, "sbatch", input="echo hi\n")
    assert (result.returncode, result.stderr) == (1, (
        "sbatch: error: This does not look like a batch script.  The first\n"
        "sbatch: error: line must start with #! followed by the path to an interpreter.\n"
        "sbatch: error: For instance: #!/bin/sh\n"))
    assert run(manual, "sbatch").stderr == "sbatch: error: Batch script is empty!\n"
    assert run(manual, "sbatch", "missing.sh").stderr == "sbatch: error: Unable to open file missing.sh\n"
    assert run(manual, "sbatch", "--wrap=true", "x.sh").stderr == (
        "sbatch: error: Script arguments not permitted with --wrap option\n")
    assert run(manual, "sbatch", input="#!/bin/sh\r\ntrue\r\n").stderr == (
        "sbatch: error: Batch script contains DOS line breaks (\\r\\n)\n"
        "sbatch: error: instead of expected UNIX line breaks (\\n).\n")
    result = run(manual, "sbatch", "-t")
    assert (result.returncode, result.stderr) == (
        255, "sbatch: option requires an argument -- 't'\nTry \"sbatch --help\" for more information\n")
    assert manual.jobs() == []


def test_sbatch_refuses_what_it_does_not_model(manual: FakeSlurm) -> None:
    with pytest.raises(FakeUnsupported, match="--reservation"):
        run(manual, "sbatch", "--reservation=r1", "--wrap=true")
    plain = run(manual, "sbatch", "--parsable", "--wrap=true").stdout.strip()
    with pytest.raises(FakeUnsupported, match="aftercorr between arrays"):
        run(manual, "sbatch", "--array=0-1", f"--dependency=aftercorr:{plain}", "--wrap=true")
    with pytest.raises(FakeUnsupported, match="afterburstbuffer"):
        run(manual, "sbatch", f"--dependency=afterburstbuffer:{plain}", "--wrap=true")
    with pytest.raises(FakeUnsupported, match="'-F'"):  # a #SBATCH directive is refused like an option
        run(manual, "sbatch", input="#!/bin/sh\n#SBATCH -F nodes.txt\ntrue\n")
    with pytest.raises(FakeUnsupported, match="SBATCH_TIMELIMIT"):
        run(manual, "sbatch", "--wrap=true", env={"SBATCH_TIMELIMIT": "5"})
    assert [job.job_id for job in manual.jobs()] == [plain], "nothing refused made a job"


def test_the_inline_shell_refuses_what_it_does_not_model_where_process_jobs_run_a_real_shell(
        manual: FakeSlurm, tmp_path: Path) -> None:
    with FakeSlurm(progression="manual", execution="inline") as inline:
        with pytest.raises(FakeUnsupported, match=r"script line 2.*'cd /tmp'.*execution=\"subprocess\""):
            run(inline, "sbatch", input="#!/bin/sh\ncd /tmp\n")
        with pytest.raises(FakeUnsupported, match=r"operator '\|'"):
            submit(inline, wrap="echo a | cat")
        with pytest.raises(FakeUnsupported, match="shell scripts only"):
            run(inline, "sbatch", input="#!/usr/bin/env python3\nprint(1)\n")
        assert inline.jobs() == []
    # the default execution runs what the tiny shell does not model as a real process
    piped = submit(manual, wrap="echo a | tr a b", cwd=tmp_path)
    python = run(manual, "sbatch", "--parsable", input="#!/usr/bin/env python3\nprint(1)\n", cwd=str(tmp_path))
    manual.advance(0)
    assert manual.join(timeout=60)
    manual.advance(0)
    assert [manual.job(j).state for j in (piped, python.stdout.strip())] == ["COMPLETED", "COMPLETED"]
    assert (tmp_path / f"slurm-{piped}.out").read_text() == "b\n"


# ------------------------------------------------------------------ the inline shell


def test_inline_shell_subset(manual: FakeSlurm, tmp_path: Path) -> None:
    script = (
        "#!/bin/bash\n"
        "set -euo pipefail\n"
        ": nothing; true\n"
        "echo 'single $quoted'   \"job $SLURM_JOB_ID\" ${SLURM_JOB_NAME}\n"
        "echo -n \"a multi\n"
        "line argument\"\n"
        "echo\n"
        "sleep 2 0.5s\n"
        "exit 7\n"
        "echo never\n"
    )
    run(manual, "sbatch", "-J", "named", input=script)
    manual.advance(1 + 2.5 - 0.001)
    assert manual.job("1").state == "RUNNING", "job_duration plus the sleeps"
    manual.advance(0.002)
    job = manual.job("1")
    assert (job.state, job.exit_code, job.reason) == ("FAILED", 7, "NonZeroExitCode")
    assert (tmp_path / "slurm-1.out").read_text() == "single $quoted job 1 named\na multi\nline argument\n"


def test_output_and_error_files_open_mode(manual: FakeSlurm, tmp_path: Path) -> None:
    (tmp_path / "kept.out").write_text("before\n")
    (tmp_path / "cut.out").write_text("before\n")
    submit(manual, "-o", "kept.out", "--open-mode=append", wrap="echo appended")
    submit(manual, "-o", "cut.out", wrap="echo alone")
    submit(manual, "-o", "split.out", "-e", "split.err", "-t", "1", wrap="echo out\nsleep 100")
    manual.advance(61)
    assert (tmp_path / "kept.out").read_text() == "before\nappended\n"
    assert (tmp_path / "cut.out").read_text() == "alone\n"
    assert (tmp_path / "split.out").read_text() == "out\n", "what the script ran before its time limit, as on a node"
    assert "DUE TO TIME LIMIT" in (tmp_path / "split.err").read_text()
    assert manual.job("3").error_path == f"{tmp_path}/split.err"


def test_inline_errexit_and_exit_status(manual: FakeSlurm) -> None:
    submit(manual, wrap="false\ntrue")  # without -e the last command decides
    submit(manual, wrap="set -e\nfalse\ntrue")
    run(manual, "sbatch", input="#!/bin/sh -e\nfalse\ntrue\n")
    submit(manual, wrap="set -u\necho $UNSET_VARIABLE_OF_THE_FAKE")
    manual.advance(2)
    assert [(j.state, j.exit_code) for j in manual.jobs()] == [
        ("COMPLETED", 0), ("FAILED", 1), ("FAILED", 1), ("FAILED", 2)]


def test_inline_quoted_path_across_lines_and_unsupported_expansions() -> None:
    script = parse_inline(
        "#!/bin/sh\nexec /opt/py/bin/python3.11 -u -m cfut.remote '/a\nb/c.in' --import-path \"x y\"\n")
    assert [w for w in script.commands[0].words] == [
        ("exec",), ("/opt/py/bin/python3.11",), ("-u",), ("-m",), ("cfut.remote",), ("/a\nb/c.in",),
        ("--import-path",), ("x y",)]
    for line, what in [("echo $(date)", "substitution"), ("echo `date`", "command substitution"),
                       ("echo ${A:-b}", "parameter expansion"), ("ls *.py", "pathname"),
                       ("python3 script.py", "python other than"), ("export A=1", "builtin 'export'"),
                       ("echo 'open", "unterminated"), ("echo a > f", "operator"), ("set -x", "set options")]:
        with pytest.raises(FakeUnsupported, match=what):
            parse_inline(f"#!/bin/sh\n{line}\n")


def test_inline_worker_round_trip(manual: FakeSlurm, tmp_path: Path) -> None:
    payload = write_task(tmp_path, "task", [("call1", pow, (2, 10), {}), ("call2", int, ("x",), {})])
    script = f"#!/bin/sh\nexec {sys.executable} -m cfut.remote {payload}\n"
    run(manual, "sbatch", "--parsable", f"--output={tmp_path}/task.log", input=script)
    manual.advance(0.5)
    assert not (tmp_path / "task.started").exists(), "inline jobs run their script when they end"
    manual.advance(1)
    assert manual.job("1").state == "COMPLETED"
    ok, value, *_ = read_result(tmp_path, "call1")
    assert ok and value is not None and pickle.loads(value) == 1024
    ok, value, tb, type_name, _ = read_result(tmp_path, "call2")
    assert not ok and type_name == "builtins.ValueError" and "invalid literal" in tb
    log = (tmp_path / "task.log").read_text()
    assert f"cfut worker: wrote result {tmp_path}/call1.out" in log and "call call2 raised" in log
    assert (tmp_path / "task.started").exists()


def test_inline_worker_leaves_the_test_process_as_it_was(manual: FakeSlurm, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    payload = write_task(tmp_path, "p", [("c", print, ("from the job",), {})])
    path_before, umask_before = list(sys.path), os.umask(0o022)
    os.umask(umask_before)
    try:
        submit(manual, wrap=f"python -m cfut.remote {payload} --import-path /nonexistent/extra")
        manual.advance(2)
        assert (list(sys.path), os.umask(umask_before)) == (path_before, umask_before)
    finally:
        os.umask(umask_before)
    assert "from the job" in Path(manual.job("1").output_path).read_text(), "prints land in the job's log"
    assert capsys.readouterr().out == ""


def test_inline_worker_that_cannot_read_its_payload_fails_the_job(manual: FakeSlurm, tmp_path: Path) -> None:
    (tmp_path / "bad.in").write_bytes(b"not a payload")
    run(manual, "sbatch", input=f"#!/bin/sh\nexec python -m cfut.remote {tmp_path}/bad.in\n")
    manual.advance(2)
    job = manual.job("1")
    assert (job.state, job.exit_code) == ("FAILED", 2)
    assert "cannot read payload" in Path(job.output_path).read_text()


def test_inline_worker_without_a_payload_exits_quietly(manual: FakeSlurm, tmp_path: Path) -> None:
    """A task re-run after the submitter collected it (and removed its payload) has nothing to do."""
    run(manual, "sbatch", input=f"#!/bin/sh\nexec python -m cfut.remote {tmp_path}/gone.in\n")
    manual.advance(2)
    job = manual.job("1")
    assert (job.state, job.exit_code) == ("COMPLETED", 0)
    assert "is gone" in Path(job.output_path).read_text()


# ------------------------------------------------------------------ progression


def test_manual_progression(manual: FakeSlurm) -> None:
    assert manual.clock() == 0.0
    job_id = submit(manual)
    assert status(manual, job_id) == {"1": "PENDING|Priority"}, "nothing happens until time moves"
    manual.advance(0.5)
    assert status(manual, job_id) == {"1": "RUNNING|None"}
    assert manual.job(job_id).start_time == 0.0
    manual.advance(0.5)
    assert status(manual, job_id) == {"1": "COMPLETED|None"}
    assert manual.job(job_id).end_time == 1.0 and manual.clock() == 1.0
    manual.sleep(2)
    assert manual.clock() == 3.0


def test_immediate_progression_follows_the_polls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    fake = FakeSlurm(idle_tick=5)
    job_id = submit(fake, wrap="sleep 10")
    assert status(fake, job_id) == {"1": "RUNNING|None"}
    assert status(fake, job_id) == {"1": "COMPLETED|None"}
    assert 11 <= fake.clock() < 12, "jumped to the job's end"
    before = fake.clock()
    status(fake, job_id)
    assert 5 <= fake.clock() - before < 6, "nothing scheduled: one idle tick"
    fake.sleep(100)
    assert fake.clock() - before >= 105


def test_immediate_jumps_to_a_delayed_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    fake = FakeSlurm(start_delay=60)
    job_id = submit(fake)
    assert fake.job(job_id).reason == "BeginTime"
    assert status(fake, job_id) == {"1": "RUNNING|None"}, "nothing was due: the poll skipped to the start"
    assert fake.job(job_id).start_time == pytest.approx(fake.job(job_id).submit_time + 60)


def test_realtime_progression(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    fake = FakeSlurm(progression="realtime", job_duration=0)
    first = fake.clock()
    job_id = submit(fake)
    assert status(fake, job_id) == {"1": "COMPLETED|None"}
    assert fake.clock() > first
    with pytest.raises(RuntimeError, match="virtual"):
        fake.advance(1)


def test_fifo_scheduling_on_nodes_and_cpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    fake = FakeSlurm(progression="manual", nodes=2, cpus_per_node=2, first_job_id=100)
    ids = [submit(fake, "-c", "2"), submit(fake, "-c", "1"), submit(fake, "-c", "2"), submit(fake, "-c", "1")]
    assert ids == ["100", "101", "102", "103"]
    fake.advance(0.1)
    assert status(fake, *ids) == {"100": "RUNNING|None", "101": "RUNNING|None", "102": "PENDING|Resources",
                                  "103": "PENDING|Priority"}, "strict FIFO: 103 waits behind 102"
    assert [fake.job(i).nodes for i in ids[:2]] == [("node1",), ("node2",)]
    fake.advance(1)
    assert status(fake, *ids)["102"] == "RUNNING|None" and status(fake, *ids)["103"] == "RUNNING|None"
    assert fake.job("102").start_time == pytest.approx(1.0)


def test_finished_jobs_are_purged_after_min_job_age(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    fake = FakeSlurm(progression="manual", min_job_age=30)
    job_id = submit(fake)
    fake.advance(30.9)
    assert status(fake, job_id) == {"1": "COMPLETED|None"}
    assert run(fake, "scontrol", "-o", "show", "job", job_id).returncode == 0
    fake.advance(0.2)
    result = run(fake, *STATUS, f"--jobs={job_id}", "--format=%i|%T|%r")
    assert (result.returncode, result.stdout, result.stderr) == (
        1, "", "slurm_load_jobs error: Invalid job id specified\n")
    assert run(fake, "scontrol", "-o", "show", "job", job_id).stderr == (
        "slurm_load_jobs error: Invalid job id specified\n")
    assert run(fake, "scontrol", "show", "job").stdout == "No jobs in the system\n"
    sacct = run(fake, "sacct", "-n", "-P", "-X", f"--jobs={job_id}", "--format=JobID,State,ExitCode")
    assert sacct.stdout == "1|COMPLETED|0:0\n"


def test_time_limit_inline_job_times_out_with_what_it_ran(manual: FakeSlurm, tmp_path: Path) -> None:
    job_id = submit(manual, "-t", "0:30", wrap="echo ran\nsleep 100")
    manual.advance(59.9)
    assert status(manual, job_id)[job_id] == "RUNNING|None", "0:30 rounds up to one minute"
    manual.advance(0.2)
    job = manual.job(job_id)
    assert (job.state, job.exit_code, job.signal, job.reason, job.end_time) == ("TIMEOUT", 0, 0, "TimeLimit", 60)
    log = (tmp_path / "slurm-1.out").read_text()
    assert log.startswith("ran\nslurmstepd-node1: error: *** JOB 1 ON node1 CANCELLED AT "), log
    assert log.endswith(" DUE TO TIME LIMIT ***\n"), log
    assert run(manual, "sacct", "-P", "-n", "-j", job_id, "-o", "JobID,State,ExitCode").stdout == (
        "1|TIMEOUT|0:0\n1.batch|CANCELLED|0:15\n")


# ------------------------------------------------------------------ arrays


def test_array_ids_and_output_names(manual: FakeSlurm, tmp_path: Path) -> None:
    array = submit(manual, "--array=1,3,5", "-J", "arr")
    other = submit(manual)
    assert manual.queue() == ["1_1", "1_3", "1_5", "2"]
    manual.advance(0.1)
    snapshots = [manual.job(f"1_{i}") for i in (1, 3, 5)]
    assert [j.raw_job_id for j in snapshots] == [3, 4, 1], "new ids as tasks start; the last keeps the array's"
    assert [j.output_path for j in snapshots] == [f"{tmp_path}/slurm-1_{i}.out" for i in (1, 3, 5)]
    assert all(Path(j.output_path).exists() for j in snapshots), "created when the job starts"
    assert (array, other) == ("1", "2")
    submit(manual, "-o", "%A.%a.%j.%x.%u.%N.%%.%3a.out", "--array=7", "-J", "pat")
    manual.advance(1)
    user = manual.cluster.user
    assert manual.job("5_7").output_path == f"{tmp_path}/5.7.5.pat.{user}.node1.%.007.out"


def test_job_snapshots_name_one_task(manual: FakeSlurm) -> None:
    submit(manual, "--array=0-1")
    with pytest.raises(ValueError, match="names 2 array tasks"):
        manual.job("1")
    assert manual.job("1_1").job_id == "1_1" and manual.job("1_1").raw_job_id == 1
    assert [j.job_id for j in manual.jobs()] == ["1_0", "1_1"]
    with pytest.raises(KeyError):
        manual.job("abc")


def test_pending_array_collapses_unless_expanded(manual: FakeSlurm) -> None:
    fake = FakeSlurm(progression="manual", cpus_per_node=1)
    submit(fake, "--array=0-4%2")
    submit(fake)
    fake.advance(0.1)
    fmt = "--format=%i|%A|%F|%K|%T|%R"
    assert run(fake, "squeue", "-h", fmt).stdout == (
        "1_[1-4%2]|1|1|1-4%2|PENDING|(Resources)\n"
        "2|2|2|N/A|PENDING|(Priority)\n"
        "1_0|3|1|0|RUNNING|node1\n")
    assert run(fake, "squeue", "-h", "-r", fmt).stdout.splitlines()[:4] == [
        "1_1|1|1|1|PENDING|(Resources)", "1_2|1|1|2|PENDING|(Resources)",
        "1_3|1|1|3|PENDING|(Resources)", "1_4|1|1|4|PENDING|(Resources)"]
    big = FakeSlurm(progression="manual", cpus_per_node=8)
    submit(big, "--array=0-9:2%2")
    big.advance(0.1)
    assert run(big, "squeue", "-h", "-o", "%i %r").stdout == "1_[4,6,8%2] JobArrayTaskLimit\n1_0 None\n1_2 None\n"
    assert run(big, "sacct", "-n", "-X", "-P", "-o", "JobID,JobIDRaw,State").stdout == (
        "1_0|2|RUNNING\n1_2|3|RUNNING\n1_[4,6,8%2]|1|PENDING\n")


# ------------------------------------------------------------------ squeue


def test_squeue_default_format_and_header(manual: FakeSlurm) -> None:
    submit(manual, "-J", "a-very-long-job-name")
    submit(manual, "-J", "short")
    manual.advance(65)
    submit(manual, "-J", "late", "--array=0-1")
    user = manual.cluster.user
    assert run(manual, "squeue", "-t", "all").stdout == (
        "             JOBID PARTITION     NAME     USER ST       TIME  NODES NODELIST(REASON)\n"
        f"                 1     debug a-very-l {user[:8]:>8} CD       0:01      1 node1\n"
        f"                 2     debug    short {user[:8]:>8} CD       0:01      1 node1\n"
        f"           3_[0-1]     debug     late {user[:8]:>8} PD       0:00      1 (Priority)\n")


def test_squeue_format_widths_and_tokens(manual: FakeSlurm) -> None:
    submit(manual, "-J", "name", "-t", "90", wrap="sleep 3724")
    manual.advance(3725)
    result = run(manual, "squeue", "-h", "-t", "all", "-o", "x%5i|%.5i|%.1T|%2j|%M|%l|%D|%C|%P|%N|%t|%r")
    assert result.stdout == "x1    |    1|C|na|1:02:05|1:30:00|1|1|debug|node1|CD|None\n"
    for bad, match in [("%-5i", "'-' flag"), ("%%", "literal"), ("%z", "token %z")]:
        with pytest.raises(FakeUnsupported, match=match):
            run(manual, "squeue", "-o", bad)


def test_squeue_job_selection_and_errors(manual: FakeSlurm) -> None:
    submit(manual, "-J", "one")
    submit(manual, "-J", "two")
    manual.advance(0.5)
    fmt = "--format=%i"
    assert run(manual, "squeue", "-h", "--jobs=2,99", fmt).stdout == "2\n"
    result = run(manual, "squeue", "-h", "--jobs=99", fmt)
    assert (result.returncode, result.stderr) == (1, "slurm_load_jobs error: Invalid job id specified\n")
    assert run(manual, "squeue", "-j", "abc").stderr == "squeue: error: Invalid job id: abc\n"
    result = run(manual, "squeue", "-t", "foo")
    assert result.returncode == 1 and result.stderr.startswith(
        "squeue: error: Invalid job state specified: foo\nsqueue: error: Valid job states include: PENDING,")
    assert run(manual, "squeue", "-h", "-n", "two", fmt).stdout == "2\n"
    assert run(manual, "squeue", "-h", "--me", fmt).stdout == "1\n2\n"
    assert run(manual, "squeue", "-h", "-u", _other_user(), fmt) == CommandResult(
        ("squeue", "-h", "-u", _other_user(), fmt), 0, "", "")
    assert run(manual, "squeue", "-h", "-t", "PD,CD", fmt).stdout == ""
    assert run(manual, "squeue", "-h", "-t", "r", fmt).stdout == "1\n2\n"
    manual.advance(1)
    assert run(manual, "squeue", "-h", fmt).stdout == "", "finished jobs need --states"
    assert run(manual, "squeue", "-h", "-j", "1", fmt).stdout == "", "even when named"
    result = run(manual, "squeue", "--bogus")
    assert (result.returncode, result.stderr) == (
        1, "squeue: unrecognized option '--bogus'\nTry \"squeue --help\" for more information\n")
    with pytest.raises(FakeUnsupported, match="--sort"):
        run(manual, "squeue", "--sort=i")


# ------------------------------------------------------------------ sacct


def test_sacct_executor_form_and_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With PrologFlags=Contain (extern_step=True), sacct lists each job's .extern step too."""
    monkeypatch.chdir(tmp_path)
    with FakeSlurm(progression="manual", extern_step=True) as manual:
        _, _, cancelled, pending = submit(manual), submit(manual, wrap="exit 3"), submit(manual), submit(manual)
        manual.delay_start(pending, 1000)
        manual.advance(0.5)
        run(manual, "scancel", cancelled)
        manual.advance(1)
        executor_form = ("sacct", "--noheader", "--parsable2", "--allocations", "--jobs=1,2,3,4",
                         "--format=JobID,State,ExitCode")
        uid = os.getuid()
        assert run(manual, *executor_form).stdout == (
            f"1|COMPLETED|0:0\n2|FAILED|3:0\n3|CANCELLED by {uid}|0:0\n4|PENDING|0:0\n")
        assert run(manual, "sacct", "-n", "-p", "-j", "2,4", "-o", "JobID,State,ExitCode,Timelimit").stdout == (
            "2|FAILED|3:0|UNLIMITED|\n2.batch|FAILED|3:0||\n2.extern|COMPLETED|0:0||\n"
            "4|PENDING|0:0|Partition_Limit|\n")
        assert run(manual, "sacct", "-j", "3", "-o", "JobID,State%12,ExitCode,JobName%-6").stdout == (
            "JobID               State ExitCode JobNam \n"
            "------------ ------------ -------- ------ \n"
            "3            CANCELLED b+      0:0 wrap   \n"
            "3.batch         CANCELLED     0:15 batch  \n"
            "3.extern        CANCELLED      0:0 extern \n")
        default = run(manual, "sacct", "-j", "3", "-X").stdout.splitlines()
        assert default[0] == "JobID           JobName  Partition    Account  AllocCPUS      State ExitCode "
        assert default[2].endswith("CANCELLED+      0:0 "), "sacct records the cancel before the SIGTERM status"
        assert " ExitCode=0:15 " in run(manual, "scontrol", "-o", "show", "job", cancelled).stdout


def test_sacct_fields_and_errors(manual: FakeSlurm, tmp_path: Path) -> None:
    submit(manual, "-J", "fields", "-t", "2")
    manual.advance(2)
    fields = ("JobID,JobIDRaw,JobName,State,ExitCode,DerivedExitCode,Reason,Elapsed,NodeList,Partition,User,"
              "Timelimit,AllocCPUS,NNodes,WorkDir,UID")
    line = run(manual, "sacct", "-n", "-P", "-X", "-j", "1", "-o", fields).stdout
    user = manual.cluster.user
    assert line == (f"1|1|fields|COMPLETED|0:0|0:0|None|00:00:01|node1|debug|{user}|00:02:00|1|1|{tmp_path}"
                    f"|{os.getuid()}\n")
    assert run(manual, "sacct", "-n", "-X", "-P", "-o", "JobID", "-S", "now-1hour", "-E", "now").stdout == "1\n"
    assert run(manual, "sacct", "-o", "Bogus").stderr == 'sacct: error: Invalid field requested: "Bogus"\n'
    assert run(manual, "sacct", "-j", "abc").stderr == "sacct: fatal: Bad job/step specified: abc\n"
    assert run(manual, "sacct", "--foo").stderr == "sacct: unrecognized option '--foo'\n"
    with pytest.raises(FakeUnsupported, match="MaxRSS"):
        run(manual, "sacct", "-o", "MaxRSS")
    manual.set_accounting(False)
    result = run(manual, "sacct", "-j", "1")
    assert (result.returncode, result.stderr) == (1, "Slurm accounting storage is disabled\n")
    off = FakeSlurm(accounting=False)
    assert run(off, "sacct").stderr == "Slurm accounting storage is disabled\n"


def test_sacct_selection() -> None:
    # sacct without --jobs starts at 00:00 today: a wall clock that starts at 09:00 keeps the two
    # hours below on one day, whatever the hour the test runs at
    cluster = FakeCluster(progression="manual")
    nine = time.mktime(time.localtime()[:3] + (9, 0, 0, 0, 0, -1))
    cluster.clock = FakeClock("manual", wall=lambda: nine)
    manual = FakeSlurm(cluster=cluster)
    submit(manual, "-J", "early")
    manual.advance(7200)
    submit(manual, "-J", "late", wrap="exit 1")
    manual.advance(2)
    fmt = ("-n", "-P", "-X", "-o", "JobName")
    # (without -S, sacct starts at today's midnight: that boundary falls between the two jobs when the
    # test runs between 22:00 and midnight, so the window is given)
    assert run(manual, "sacct", *fmt, "-S", "now-3hours").stdout == "early\nlate\n"
    assert run(manual, "sacct", *fmt, "-S", "now-1hour").stdout == "late\n"
    assert run(manual, "sacct", *fmt, "-S", "now-3hours", "-E", "now-1hour").stdout == "early\n"
    assert run(manual, "sacct", *fmt, "-s", "F").stdout == "late\n"
    assert run(manual, "sacct", *fmt, "-S", "now-3hours", "--name=early").stdout == "early\n"
    assert run(manual, "sacct", *fmt, "-u", _other_user()).stdout == ""
    assert run(manual, "sacct", *fmt, "-S", "now-3hours", "-b").stdout == "early\nlate\n"
    assert run(manual, "sacct", "-n", "-X", "-b", "-p", "--delimiter=;", "-S", "now-3hours").stdout == (
        "1;COMPLETED;0:0;\n2;FAILED;1:0;\n")


# ------------------------------------------------------------------ scontrol


def test_scontrol_oneliner_fields_in_slurm_order(manual: FakeSlurm, tmp_path: Path) -> None:
    submit(manual, "-J", "sc", "-t", "1", "--array=0-1")
    manual.advance(0.5)
    result = run(manual, "scontrol", "--oneliner", "show", "job")
    lines = result.stdout.splitlines(keepends=True)
    assert len(lines) == 2 and all(line.endswith(" Power= \n") for line in lines)
    keys = [field.split("=")[0] for field in lines[0].split()]
    assert keys[:6] == ["JobId", "ArrayJobId", "ArrayTaskId", "JobName", "UserId", "GroupId"]
    assert keys.index("JobState") < keys.index("Reason") < keys.index("ExitCode") < keys.index("StdOut")
    assert lines[0].startswith("JobId=2 ArrayJobId=1 ArrayTaskId=0 JobName=sc ")
    assert lines[1].startswith("JobId=1 ArrayJobId=1 ArrayTaskId=1 JobName=sc ")
    assert " JobState=RUNNING Reason=None Dependency=(null) " in lines[0]
    assert f" StdOut={tmp_path}/slurm-1_0.out " in lines[0]
    assert " TimeLimit=00:01:00 " in lines[0] and " ExitCode=0:0 " in lines[0]
    assert run(manual, "scontrol", "-o", "show", "job", "1_1").stdout == lines[1]


def test_scontrol_multiline_form(manual: FakeSlurm) -> None:
    submit(manual, "--comment=hello world", "--mail-type=END")
    submit(manual)
    text = run(manual, "scontrol", "show", "job").stdout
    jobs = text.split("\n   \n\n")
    assert len(jobs) == 3 and jobs[2] == ""
    first = jobs[0].split("\n")
    assert first[0] == "JobId=1 JobName=wrap"
    assert all(line.startswith("   ") for line in first[1:])
    assert "   JobState=PENDING Reason=Priority Dependency=(null)" in first
    assert "   Comment=hello world " in first, "scontrol prints a space after the comment"
    assert first[-2:] == ["   Power=", f"   MailUser={manual.cluster.user} MailType=END"]


def test_scontrol_errors(manual: FakeSlurm) -> None:
    assert run(manual, "scontrol", "show", "job").stdout == "No jobs in the system\n"
    result = run(manual, "scontrol", "show", "job", "5")
    assert (result.returncode, result.stderr) == (1, "slurm_load_jobs error: Invalid job id specified\n")
    assert run(manual, "scontrol", "show", "job", "abc").stderr == (
        "scontrol_print_job error: Invalid job id specified\n")
    with pytest.raises(FakeUnsupported, match="show node"):
        run(manual, "scontrol", "show", "node")


# ------------------------------------------------------------------ scancel


def test_scancel_pending_running_unknown(manual: FakeSlurm) -> None:
    running, pending = submit(manual), submit(manual)
    manual.delay_start(pending, 100)
    manual.advance(0.5)
    result = run(manual, "scancel", running, pending, "999")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert [(j.state, j.exit_code, j.signal) for j in manual.jobs()] == [("CANCELLED", 0, 15), ("CANCELLED", 0, 0)]
    assert manual.job(pending).start_time is None
    assert run(manual, "scancel", running).returncode == 0, "finished: still silent"
    assert manual.queue() == []


def test_scancel_array_forms(manual: FakeSlurm) -> None:
    submit(manual, "--array=0-5")
    run(manual, "scancel", "1_0")
    run(manual, "scancel", "1_[2-3]")
    assert manual.queue() == ["1_1", "1_4", "1_5"]
    run(manual, "scancel", "1")
    assert manual.queue() == []
    assert run(manual, "scancel").stderr == "scancel: error: No job identification provided\n"


def test_scancel_comma_lists_and_bad_ids(manual: FakeSlurm) -> None:
    submit(manual)
    submit(manual, "--array=1-3")
    run(manual, "scancel", "1,2_[1,3]")
    assert manual.queue() == ["2_2"]
    assert run(manual, "scancel", "abc").stderr == "scancel: error: Invalid job id abc\n"


def test_launch_failures_end_in_0_53(manual: FakeSlurm, tmp_path: Path) -> None:
    bad_dir = submit(manual, "-D", str(tmp_path / "missing"))
    bad_out = submit(manual, "-o", str(tmp_path / "missing" / "x.out"))
    manual.advance(0.5)
    for job_id in (bad_dir, bad_out):
        job = manual.job(job_id)
        assert (job.state, job.exit_code, job.signal, job.reason) == ("FAILED", 0, 53, "JobLaunchFailure")


def test_scancel_signal_errors(manual: FakeSlurm) -> None:
    done = submit(manual)
    manual.advance(2)
    result = run(manual, "scancel", "-s", "USR1", done)
    assert (result.returncode, result.stderr) == (
        1, f"scancel: error: Kill job error on job id {done}: Invalid job id specified\n")
    result = run(manual, "scancel", "--signal=FOO", done)
    assert (result.returncode, result.stderr) == (1, "Unknown job signal: FOO\n")
    running = submit(manual)
    manual.advance(0.5)
    assert run(manual, "scancel", "-s", "USR1", running).returncode == 0
    assert manual.job(running).state == "RUNNING", "without --full the batch shell gets no signal"
    run(manual, "scancel", "-f", "-s", "TERM", running)
    job = manual.job(running)
    assert (job.state, job.exit_code, job.signal) == ("FAILED", 0, 15)


# ------------------------------------------------------------------ subprocess execution


@pytest.fixture
def subprocess_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlurm]:
    monkeypatch.chdir(tmp_path)
    with FakeSlurm(progression="manual", execution="subprocess", cluster_name="testcl", kill_wait=5) as fake:
        yield fake


def test_subprocess_environment(subprocess_fake: FakeSlurm, tmp_path: Path) -> None:
    fake = subprocess_fake
    names = ["SLURM_JOB_ID", "SLURM_JOBID", "SLURM_JOB_NAME", "SLURM_SUBMIT_DIR", "SLURM_JOB_NODELIST",
             "SLURMD_NODENAME", "SLURM_CPUS_ON_NODE", "SLURM_JOB_CPUS_PER_NODE", "SLURM_CPUS_PER_TASK",
             "SLURM_JOB_PARTITION", "SLURM_CLUSTER_NAME", "SLURM_JOB_NUM_NODES", "SLURM_ARRAY_JOB_ID",
             "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX",
             "SLURM_JOB_UID", "FROM_SBATCH"]
    script = "#!/bin/sh\n" + "".join(f'echo "{n}=${n}"\n' for n in names) + "pwd\n"
    run(fake, "sbatch", "-J", "envjob", "-c", "2", "--array=3-4", input=script, env={"FROM_SBATCH": "yes"})
    fake.advance(0.1)
    assert fake.join(timeout=30)
    values = dict(line.split("=", 1) for line in (tmp_path / "slurm-1_3.out").read_text().splitlines()[:-1])
    assert values == {
        "SLURM_JOB_ID": "2", "SLURM_JOBID": "2", "SLURM_JOB_NAME": "envjob", "SLURM_SUBMIT_DIR": str(tmp_path),
        "SLURM_JOB_NODELIST": "node1", "SLURMD_NODENAME": "node1", "SLURM_CPUS_ON_NODE": "2",
        "SLURM_JOB_CPUS_PER_NODE": "2", "SLURM_CPUS_PER_TASK": "2", "SLURM_JOB_PARTITION": "debug",
        "SLURM_CLUSTER_NAME": "testcl", "SLURM_JOB_NUM_NODES": "1", "SLURM_ARRAY_JOB_ID": "1",
        "SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "2", "SLURM_ARRAY_TASK_MIN": "3",
        "SLURM_ARRAY_TASK_MAX": "4", "SLURM_JOB_UID": str(os.getuid()), "FROM_SBATCH": "yes"}
    assert (tmp_path / "slurm-1_3.out").read_text().splitlines()[-1] == str(tmp_path)
    env = fake.job("1_3").env
    assert env is not None and env["SLURM_JOB_ID"] == "2"
    assert [(j.state, j.exit_code) for j in fake.jobs()] == [("COMPLETED", 0)] * 2


def test_subprocess_export_none_and_list(subprocess_fake: FakeSlurm, tmp_path: Path) -> None:
    fake = subprocess_fake
    script = '#!/bin/sh\necho "A=$A B=$B HOME=$HOME ID=$SLURM_JOB_ID"\n'
    run(fake, "sbatch", "--export=NONE", "-o", "none.out", input=script, env={"A": "1"})
    run(fake, "sbatch", "--export=A,B=2", "-o", "list.out", input=script, env={"A": "1"})
    run(fake, "sbatch", "--export=ALL,B=3", "-o", "all.out", input=script, env={"A": "1"})
    fake.advance(0.1)
    assert fake.join(timeout=30)
    home = os.environ.get("HOME", "")
    assert (tmp_path / "none.out").read_text() == "A= B= HOME= ID=1\n"
    assert (tmp_path / "list.out").read_text() == "A=1 B=2 HOME= ID=2\n"
    assert (tmp_path / "all.out").read_text() == f"A=1 B=3 HOME={home} ID=3\n"


def test_subprocess_exit_codes_and_signals(subprocess_fake: FakeSlurm) -> None:
    fake = subprocess_fake
    ids = [submit(fake, wrap="exit 3"), submit(fake, wrap="kill -9 $$"), submit(fake, wrap="true")]
    fake.advance(0.1)
    assert fake.join(timeout=30)
    assert status(fake, *ids) == {"1": "FAILED|NonZeroExitCode", "2": "FAILED|JobLaunchFailure",
                                  "3": "COMPLETED|None"}
    assert run(fake, "sacct", "-n", "-P", "-o", "JobID,State,ExitCode", "-j", "1,2").stdout == (
        "1|FAILED|3:0\n1.batch|FAILED|3:0\n"
        "2|FAILED|0:9\n2.batch|CANCELLED|0:9\n")


def test_subprocess_cancel_terminates_the_job(subprocess_fake: FakeSlurm) -> None:
    fake = subprocess_fake
    job_id = submit(fake, wrap="sleep 1000")
    fake.advance(0.1)
    assert not fake.join(timeout=0.01)
    run(fake, "scancel", job_id)
    assert status(fake, job_id)[job_id] in ("COMPLETING|None", "CANCELLED|None")
    assert fake.join(timeout=30)
    job = fake.job(job_id)
    assert (job.state, job.exit_code, job.signal, job.end_time) == ("CANCELLED", 0, 15, 0.1)
    assert "CANCELLED AT" in Path(job.output_path).read_text()


def test_subprocess_time_limit_sigterm_then_sigkill(subprocess_fake: FakeSlurm, tmp_path: Path) -> None:
    fake = subprocess_fake
    stubborn = "trap 'echo got TERM' TERM\nsleep 1000 &\nwait\nsleep 1000 &\nwait"
    job_id = submit(fake, "-t", "1", "-o", "limited.out", wrap=stubborn)
    fake.advance(59.9)
    assert status(fake, job_id) == {job_id: "RUNNING|None"}
    fake.advance(0.1)
    assert fake.job(job_id).state == "COMPLETING", "the script outlives SIGTERM"
    assert run(fake, "sacct", "-n", "-P", "-X", "-o", "State").stdout == "TIMEOUT\n"
    fake.advance(5)  # KillWait later: SIGKILL
    assert fake.join(timeout=30)
    job = fake.job(job_id)
    assert (job.state, job.exit_code, job.reason, job.end_time) == ("TIMEOUT", 0, "TimeLimit", 60.0)
    assert "DUE TO TIME LIMIT" in (tmp_path / "limited.out").read_text()


def test_subprocess_leftover_processes_are_killed_with_the_job(subprocess_fake: FakeSlurm,
                                                               tmp_path: Path) -> None:
    submit(subprocess_fake, wrap=f"sleep 1000 &\necho $! > {tmp_path}/pid")
    subprocess_fake.advance(0.1)
    assert subprocess_fake.join(timeout=30)
    pid = int((tmp_path / "pid").read_text())

    def dead() -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        return state in ("Z", "X")

    for _ in range(100_000):  # SIGKILL lands within moments; no clock involved
        if dead():
            break
        os.sched_yield()
    assert dead(), "the background sleep outlived its job"


def test_subprocess_spool_is_private_and_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    fake = FakeSlurm(progression="manual", execution="subprocess")
    submit(fake, wrap="sleep 1000")
    fake.advance(0.1)
    spool = fake.spool_dir
    assert spool is not None
    assert stat.S_IMODE(os.stat(spool).st_mode) == 0o700
    fake.close()
    assert not os.path.exists(spool)


# ------------------------------------------------------------------ fault injection


@pytest.mark.parametrize("command, argv, stderr", [
    ("sbatch", ["--wrap=true"],
     "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation\n"),
    ("squeue", [], "slurm_load_jobs error: Socket timed out on send/recv operation\n"),
    ("scontrol", ["show", "job"], "slurm_load_jobs error: Socket timed out on send/recv operation\n"),
    ("sacct", [], "sacct: error: Problem talking to the database: Connection refused\n"),
    ("scancel", ["7"], "scancel: error: Kill job error on job id 7: Socket timed out on send/recv operation\n"),
])
def test_fail_next_uses_slurms_words(manual: FakeSlurm, command: str, argv: list[str], stderr: str) -> None:
    manual.fail_next(command, times=2)
    for _ in range(2):
        assert run(manual, command, *argv) == CommandResult((command, *argv), 1, "", stderr)
    assert run(manual, command, *argv).returncode == 0
    assert manual.command_counts[command] == 3


def test_fail_next_options(manual: FakeSlurm) -> None:
    manual.fail_next("sbatch", submitted=True)
    assert run(manual, "sbatch", "--parsable", "--wrap=true").returncode == 1
    assert manual.queue() == ["1"], "the reply was lost, the job was not"
    manual.fail_next("squeue", stderr="custom\n", returncode=7)
    assert run(manual, "squeue") == CommandResult(("squeue",), 7, "", "custom\n")
    with pytest.raises(ValueError):
        manual.fail_next("sstat")
    with pytest.raises(ValueError):
        manual.fail_next("squeue", submitted=True)


@pytest.mark.parametrize("state, exit_code, sig, reason", [
    ("FAILED", 1, 0, "NonZeroExitCode"), ("TIMEOUT", 0, 0, "TimeLimit"), ("OUT_OF_MEMORY", 0, 125, "OutOfMemory"),
    ("CANCELLED", 0, 15, "None"), ("NODE_FAIL", 0, 0, "NodeDown"), ("PREEMPTED", 0, 0, "None"),
    ("BOOT_FAIL", 0, 0, "NodeDown"), ("COMPLETED", 0, 0, "None"), ("DEADLINE", 0, 0, "DeadLine"),
])
def test_end_job_defaults(manual: FakeSlurm, state: str, exit_code: int, sig: int, reason: str) -> None:
    job_id = submit(manual, wrap="echo never")
    manual.advance(0.5)
    manual.end_job(job_id, state)
    job = manual.job(job_id)
    assert (job.state, job.exit_code, job.signal, job.reason) == (state, exit_code, sig, reason)
    # what the script had run by then is there, as on a node (a job that failed to boot ran nothing)
    assert Path(job.output_path).read_text() == ("" if state == "BOOT_FAIL" else "never\n")
    line = run(manual, "sacct", "-n", "-P", "-X", "-j", job_id, "-o", "State,ExitCode").stdout
    if state == "CANCELLED":
        assert line == f"CANCELLED by {os.getuid()}|0:0\n", "as for scancel: recorded before the SIGTERM status"
    else:
        assert line == f"{state}|{exit_code}:{sig}\n"


def test_end_job_pending_and_explicit_values(manual: FakeSlurm) -> None:
    submit(manual, "--array=0-2")
    manual.end_job("1_1", "FAILED", exit_code=2, signal=0, reason="Custom")
    job = manual.job("1_1")
    assert (job.state, job.exit_code, job.reason, job.start_time) == ("FAILED", 2, "Custom", None)
    manual.end_job(1, "NODE_FAIL")
    assert manual.queue() == []
    with pytest.raises(ValueError, match="already ended"):
        manual.end_job("1_0", "FAILED")
    with pytest.raises(ValueError, match="state must be"):
        submit(manual)
        manual.end_job("2", "EXPLODED")
    with pytest.raises(KeyError):
        manual.job("42")


def test_end_job_kills_a_subprocess_job(subprocess_fake: FakeSlurm) -> None:
    job_id = submit(subprocess_fake, wrap="sleep 1000")
    subprocess_fake.advance(0.1)
    subprocess_fake.end_job(job_id, "OUT_OF_MEMORY")
    assert subprocess_fake.join(timeout=5)
    assert subprocess_fake.job(job_id).state == "OUT_OF_MEMORY"


def test_set_outcome_takes_effect_at_the_end(manual: FakeSlurm) -> None:
    job_id = submit(manual, wrap="echo ran")
    manual.set_outcome(job_id, "TIMEOUT")
    manual.advance(0.5)
    assert manual.job(job_id).state == "RUNNING"
    manual.advance(1)
    job = manual.job(job_id)
    assert (job.state, job.reason, job.end_time) == ("TIMEOUT", "TimeLimit", 1.0)
    assert Path(job.output_path).read_text() == "", "its script never ran"


def test_delay_start(manual: FakeSlurm) -> None:
    job_id = submit(manual)
    manual.delay_start(job_id, 30)
    manual.advance(29)
    assert status(manual, job_id) == {job_id: "PENDING|BeginTime"}
    assert run(manual, "squeue", "-h", "-o", "%R").stdout == "(BeginTime)\n"
    manual.advance(1)
    assert manual.job(job_id).start_time == 30
    delayed = FakeSlurm(progression="manual", start_delay=10)
    submit(delayed)
    delayed.advance(9)
    assert delayed.job("1").state == "PENDING"
    late = submit(delayed, "--begin=now+100")
    assert delayed.job(late).eligible_time == pytest.approx(9 + 100, abs=1)


def test_hide_results_until_the_filesystem_catches_up(manual: FakeSlurm, tmp_path: Path) -> None:
    payload = write_task(tmp_path, "t", [("c", abs, (-3,), {})])
    job_id = submit(manual, wrap=f"exec python3 -m cfut.remote {payload}")
    manual.hide_results(job_id, 6)
    manual.advance(1)
    assert manual.job(job_id).state == "COMPLETED"
    assert not (tmp_path / "c.out").exists()
    manual.advance(5.9)
    assert not (tmp_path / "c.out").exists()
    manual.advance(0.1)
    assert read_result(tmp_path, "c").ok is True


# ------------------------------------------------------------------ concurrency and sharing


def test_two_threads_issue_commands_concurrently(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    fake = FakeSlurm(cpus_per_node=64)
    errors: list[BaseException] = []
    submitted: list[str] = []

    def submitter() -> None:
        try:
            for _ in range(40):
                submitted.append(submit(fake))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def poller() -> None:
        try:
            for _ in range(40):
                assert run(fake, "squeue", "-h", "-t", "all", "-o", "%i|%T").returncode == 0
                run(fake, "sacct", "-n", "-P", "-X")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=submitter), threading.Thread(target=poller)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(submitted, key=int) == [str(i) for i in range(1, 41)]
    assert fake.command_counts["sbatch"] == 40 and len(fake.calls) == 40 + 80


def test_cluster_can_be_shared() -> None:
    cluster = FakeCluster(nodes=2, cpus_per_node=1, progression="manual", name="shared")
    one, two = FakeSlurm(cluster=cluster), FakeSlurm(cluster=cluster)
    assert one.clock is not None and one.cluster is two.cluster
    assert cluster.allocate(1, 2) == ("node1", "node2") and cluster.allocate(1) is None


# ------------------------------------------------------------------ the little languages


@given(st.integers(0, 5000), st.integers(0, 59))
def test_time_limit_minutes_and_seconds(minutes: int, seconds: int) -> None:
    total = minutes * 60 + seconds
    expected = -(-total // 60) or None
    assert parse_time_limit(f"{minutes}:{seconds}") == expected
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    assert parse_time_limit(f"{days}-{hours}:{rest // 60}:{rest % 60}") == expected


@given(st.sets(st.integers(0, 1000), min_size=1))
def test_array_spec_round_trips_through_slurms_range_notation(indices: set[int]) -> None:
    spec = parse_array(index_ranges(indices), max_array_size=1001)
    assert spec is not None and spec.indices == tuple(sorted(indices))


def test_formats_of_durations_and_hostlists() -> None:
    assert [squeue_duration(s) for s in (0, 61, 3600, 90061)] == ["0:00", "1:01", "1:00:00", "1-01:01:01"]
    assert [hms_duration(s) for s in (0, 3661, 90061)] == ["00:00:00", "01:01:01", "1-01:01:01"]
    assert compress_hostlist(["node1", "node2", "node3", "node7"]) == "node[1-3,7]"
    assert parse_array("0-9:3%2", 1001) is not None and parse_array("", 1001) is None
    spec = parse_array("1-3%0", 1001)  # observed on Slurm 22.05: %0 is no limit
    assert spec is not None and spec.throttle is None


def test_time_limit_is_enforced_at_the_next_periodic_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """slurmctld checks limits on a ~30 s pass: a 1-minute job started at 15 s dies at 90 s, not 75 s."""
    monkeypatch.chdir(tmp_path)  # slurm-%j.out goes to the working directory
    for check, killed_at in ((30.0, 90.0), (0.0, 75.0)):
        fake = FakeSlurm(progression="manual", job_duration=500, time_limit_check=check)
        job = fake.run(["sbatch", "--parsable", "--time=1", "--wrap=true"]).stdout.strip()
        fake.delay_start(job, 15)
        fake.advance(15)
        assert fake.job(job).start_time == 15.0
        fake.advance(killed_at - 15 - 0.5)
        assert fake.job(job).state == "RUNNING"
        fake.advance(0.5)
        assert (fake.job(job).state, fake.job(job).end_time) == ("TIMEOUT", killed_at)


def test_hold_release_and_priority_zero(manual: FakeSlurm) -> None:
    """sbatch --hold / scontrol hold|release (checked against real Slurm by the hold_and_release contract)."""
    held = submit(manual, "--hold")
    directive = run(manual, "sbatch", "--parsable", input="#!/bin/sh\n#SBATCH -H\ntrue\n").stdout.strip()
    manual.advance(10)
    assert status(manual, held, directive) == {held: "PENDING|JobHeldUser", directive: "PENDING|JobHeldUser"}
    assert "Priority=0 " in run(manual, "scontrol", "-o", "show", "job", held).stdout
    assert run(manual, "scontrol", "release", f"{held},{directive}").returncode == 0
    manual.advance(10)
    assert status(manual, held, directive) == {held: "COMPLETED|None", directive: "COMPLETED|None"}
    later = submit(manual, "--begin=now+1hour")
    assert run(manual, "scontrol", "hold", later).returncode == 0
    assert manual.job(later).reason == ("JobHeldAdmin" if os.getuid() == 0 else "JobHeldUser")
    result = run(manual, "scontrol", "release", held, "4000001")
    assert (result.returncode, result.stderr) == (1, "Job has already finished for job " + held
                                                  + "\nslurm_suspend error: Job has already finished\n"
                                                  "Invalid job id specified for job 4000001\n"
                                                  "slurm_suspend error: Invalid job id specified\n")
    assert run(manual, "scontrol", "release").stderr == "too few arguments for keyword:release\n"


@given(st.lists(st.text(alphabet="ab /._-'\"$X{}#\\;\n\t", max_size=40), min_size=1, max_size=4))
def test_plain_lines_split_as_the_tokenizer_splits_them(lines: list[str]) -> None:
    """The fast path for plain script lines (cfut's own scripts) gives the tokenizer's words, and a
    line it cannot take falls back to it (a quote left open, an expansion: linear time, no backtracking)."""
    from cfut.fakes._inline import _Tokenizer, tokenize

    text = "#!/bin/sh\n" + "\n".join(lines) + "\n"
    try:
        slow = [(c.words, c.line) for c in _Tokenizer(text).run()]
    except FakeUnsupported:
        with pytest.raises(FakeUnsupported):
            tokenize(text)
        return
    assert [(c.words, c.line) for c in tokenize(text)] == slow


def test_a_long_line_that_is_not_plain_falls_back_at_once() -> None:
    from cfut.fakes._inline import tokenize

    with pytest.raises(FakeUnsupported, match="unterminated"):  # catastrophic backtracking would hang here
        tokenize("#!/bin/sh\n" + "a" * 100_000 + "'\n")


def test_a_dependency_on_one_array_task_waits_for_that_task_alone(manual: FakeSlurm) -> None:
    """``afterok:A_1`` (what cfut sends for a map over a map split across arrays): the job starts
    once task 1 completed, while task 2 still runs; ``afterok:A_2`` of a failing task never can."""
    array = submit(manual, "--array=0-2", wrap="sleep 1000")
    after_one = submit(manual, f"--dependency=afterok:{array}_1")
    after_two = submit(manual, f"--dependency=afterok:{array}_2")
    manual.advance(1)
    listed = run(manual, "squeue", "--noheader", f"--jobs={after_one},{after_two}", "--format=%i|%T|%r|%E").stdout
    assert listed.splitlines() == [f"{after_one}|PENDING|Dependency|afterok:{array}_1(unfulfilled)",
                                   f"{after_two}|PENDING|Dependency|afterok:{array}_2(unfulfilled)"]
    manual.end_job(f"{array}_1", "COMPLETED", exit_code=0)
    manual.advance(1)  # task 1 is done, task 2 still runs
    state = run(manual, "squeue", "--noheader", "--array", f"--jobs={array},{after_one}", "--format=%i|%T").stdout
    assert f"{array}_2|RUNNING" in state and f"{after_one}|PENDING" not in state
    manual.end_job(f"{array}_2", "FAILED", exit_code=1)
    manual.advance(1)
    reason = run(manual, "squeue", "--noheader", f"--jobs={after_two}", "--format=%r|%E").stdout
    assert reason == f"DependencyNeverSatisfied|afterok:{array}_2(failed)\n"
    assert run(manual, "scancel", after_two, after_one, array).returncode == 0


def test_sbatch_wait_exits_as_its_job_did(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sbatch --wait (-W) prints its reply at submission and exits with the job's exit code, the highest
    of an array's tasks, 1 for a job killed by a signal (as recorded on Slurm 22.05, contract scenario
    output_modes_and_wait)."""
    monkeypatch.chdir(tmp_path)
    with FakeSlurm(progression="immediate") as fake:
        replies = [run(fake, "sbatch", "--wait", "--wrap=exit 3"),
                   run(fake, "sbatch", "-W", "--array=0-2", "--wrap=exit $((3-SLURM_ARRAY_TASK_ID))"),
                   run(fake, "sbatch", "--wait", "--wrap=kill -9 $$"),
                   run(fake, "sbatch", "--wait", "--quiet", "--wrap=exit 4"),
                   run(fake, "sbatch", "--parsable", input="#!/bin/sh\n#SBATCH --wait\ntrue\n")]
        assert [(r.returncode, r.stdout) for r in replies] == [
            (3, "Submitted batch job 1\n"), (3, "Submitted batch job 2\n"), (1, "Submitted batch job 5\n"),
            (4, ""), (0, "7\n")]  # (an array of 3 tasks takes 3 job ids, as on Slurm)
        assert all(job.state in ("COMPLETED", "FAILED") for job in fake.jobs())


def test_sbatch_wait_on_a_manual_clock_returns_when_another_thread_moves_the_clock(manual: FakeSlurm) -> None:
    replies: list[CommandResult] = []
    waiting = threading.Thread(target=lambda: replies.append(run(manual, "sbatch", "--wait", "--wrap=exit 5")))
    waiting.start()
    while not manual.jobs():
        waiting.join(0.01)
    manual.advance(manual.job_duration + 1)
    manual.join()
    while waiting.is_alive():  # the job's process has ended: the clock's next move settles it
        manual.advance(0.1)
        waiting.join(0.01)
    assert [(r.returncode, r.stdout) for r in replies] == [(5, "Submitted batch job 1\n")]


def test_sbatch_wait_on_a_manual_clock_nobody_moves_says_so(manual: FakeSlurm,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FakeSlurm, "MANUAL_WAIT_PATIENCE", 0.0)
    with pytest.raises(FakeUnsupported, match=r"job 1 has not ended and the manual clock stayed at 0 s .*advance"):
        run(manual, "sbatch", "--wait", "--wrap=true")
    assert [job.state for job in manual.jobs()] == ["PENDING"], "the job is left as it was"


def test_compress_counts_writes_runs_as_slurm_does() -> None:
    from cfut.fakes._slurm.values import compress_counts

    assert [compress_counts(c) for c in ((1,), (2, 1), (2, 2), (4, 4, 1), (1, 2, 2, 1))] == [
        "1", "2,1", "2(x2)", "4(x2),1", "1,2(x2),1"]


def _job_fields(fake: FakeSlurm, job: str, *names: str) -> str:
    record = run(fake, "scontrol", "-o", "show", "job", job).stdout.split()
    return " ".join(w for w in record if w.split("=", 1)[0] in names)


LAYOUT = "echo $SLURM_NNODES $SLURM_JOB_CPUS_PER_NODE $SLURM_TASKS_PER_NODE ${SLURM_MEM_PER_NODE-u} " \
         "${SLURM_MEM_PER_CPU-u} ${CUDA_VISIBLE_DEVICES-u}"
UNTIL_GO = f"{LAYOUT}; until [ -e go ]; do sleep 0.01; done"  # runs until the test creates ./go


def test_tasks_no_node_holds_are_spread_over_nodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--ntasks without --nodes, more than a node holds: whole tasks on each node (2+1 over 2-CPU
    nodes), NumNodes estimated while pending with TRES node=1; more than all nodes hold pends
    (PartitionConfig), as recorded in the contract scenario task_layout_and_sharing."""
    monkeypatch.chdir(tmp_path)
    with FakeSlurm(progression="manual", execution="subprocess", nodes=2, cpus_per_node=2,
                   memory_per_node=4000) as fake:
        spread = submit(fake, "--ntasks=3", "-o", "spread.out", wrap=UNTIL_GO)
        held = submit(fake, "--hold", "--ntasks=3", "--cpus-per-task=2")
        never = submit(fake, "--ntasks=5")
        per_node = submit(fake, "--ntasks=2", "--ntasks-per-node=1", "-o", "per-node.out", wrap=LAYOUT)
        assert _job_fields(fake, held, "NumNodes", "NumCPUs", "TRES") == \
            "NumNodes=3 NumCPUs=6 TRES=cpu=6,mem=6G,node=1,billing=6"
        fake.advance(0)
        assert _job_fields(fake, spread, "NodeList", "NumNodes", "NumCPUs", "TRES") == \
            "NodeList=node[1-2] NumNodes=2 NumCPUs=3 TRES=cpu=3,mem=3G,node=2,billing=3"
        assert [fake.cluster.node(n).used for n in ("node1", "node2")] == [2, 1]
        (tmp_path / "go").touch()
        for _ in range(2):  # the spread job, then the one waiting for its CPUs
            fake.join()
            fake.advance(1)
        assert status(fake, never) == {never: "PENDING|PartitionConfig"}
        assert (tmp_path / "spread.out").read_text() == "2 2,1 2,1 u 1024 u\n"
        assert (tmp_path / "per-node.out").read_text() == "2 1(x2) 1(x2) u 1024 u\n"
        assert _job_fields(fake, per_node, "JobState", "NodeList", "NumNodes") == \
            "JobState=COMPLETED NodeList=node[1-2] NumNodes=2"
        assert [n.used for n in fake.cluster.nodes] == [0, 0], "every CPU given back"


def test_whole_nodes_memory_and_gres_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--exclusive with a GPU gets all of the node's GPUs and CPUs (and memory per CPU for each);
    --exclusive=user and =mcs take CPUs as asked and show USER/MCS while pending (NO for the whole
    node); --mem=0 takes all of a node's memory and sets neither memory variable; --gres=none and
    gpu:0 ask for nothing (observed on Slurm 22.05, task_layout_and_sharing)."""
    monkeypatch.chdir(tmp_path)
    with FakeSlurm(progression="manual", execution="subprocess", nodes=1, cpus_per_node=2, memory_per_node=4000,
                   gpus_per_node=2) as fake:
        held = {value: submit(fake, "--hold", f"--exclusive={value}") for value in ("", "USER", "mcs")}
        assert [_job_fields(fake, job, "OverSubscribe") for job in held.values()] == [
            "OverSubscribe=NO", "OverSubscribe=USER", "OverSubscribe=MCS"]
        run(fake, "scancel", *held.values())
        result = run(fake, "sbatch", "--exclusive=bogus", "--wrap=true")
        assert (result.returncode, result.stderr) == (255, "sbatch: error: Invalid --exclusive specification\n")
        outputs = {}
        for name, args in (("gpu", ("--gres=gpu:1", "--exclusive")), ("user", ("--exclusive=user",)),
                           ("memory", ("--mem=0",)), ("none", ("--gres=none",)), ("zero", ("--gres=gpu:0",))):
            (tmp_path / "go").unlink(missing_ok=True)
            job = submit(fake, *args, "-o", f"{name}.out", wrap=UNTIL_GO)
            fake.advance(0)
            outputs[name] = _job_fields(fake, job, "NumCPUs", "TRES", "MinMemoryNode")
            if name == "memory":
                assert fake.cluster.nodes[0].mem_used == 4000, "all of the node's memory"
            (tmp_path / "go").touch()
            fake.join()
            fake.advance(1)
            outputs[name] += " | " + (tmp_path / f"{name}.out").read_text().strip()
        assert outputs == {
            "gpu": "NumCPUs=2 TRES=cpu=2,mem=2G,node=1,billing=2 | 1 2 2 u 1024 0,1",
            "user": "NumCPUs=1 TRES=cpu=1,mem=1G,node=1,billing=1 | 1 1 1 u 1024 u",
            "memory": "NumCPUs=1 TRES=cpu=1,mem=4000M,node=1,billing=1 MinMemoryNode=0 | 1 1 1 u u u",
            "none": "NumCPUs=1 TRES=cpu=1,mem=1G,node=1,billing=1 | 1 1 1 u 1024 u",
            "zero": "NumCPUs=1 TRES=cpu=1,mem=1G,node=1,billing=1 | 1 1 1 u 1024 u",
        }
        node = fake.cluster.nodes[0]
        assert (node.used, node.mem_used, node.gpus_used) == (0, 0, set())


# ------------------------------------------------------------------ job id and user forms (Slurm 22.05)


def _other_user() -> str:
    """A user of this machine's user database other than the one running the tests."""
    import pwd

    return next(p.pw_name for p in pwd.getpwall() if p.pw_uid != os.getuid())


NOSUCH = "cfut-nosuch-user"


def answer(fake: FakeSlurm, *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of one command."""
    result = run(fake, *argv)
    return result.returncode, result.stdout, result.stderr


def test_squeue_reads_job_ids_as_squeue_does(manual: FakeSlurm) -> None:
    """Each element is a number, then _ and an index, read with strtol: the rest is ignored, an index
    that is no number is 0, empty elements are skipped and an empty list lists nothing."""
    job = submit(manual, "--begin=now+1hour")
    array = submit(manual, "--array=0-3", "--begin=now+1hour")
    fmt = ("-h", "-o", "%i|%T")

    def listed(ids: str) -> tuple[int, str, str]:
        result = run(manual, "squeue", *fmt, f"--jobs={ids}")
        return result.returncode, result.stdout, result.stderr

    pending = f"{job}|PENDING\n"
    assert [listed(i) for i in (f"{job}.0", f"{job},", f",{job}", f"4000001,,{job}", f" {job}", f"{job}abc")] == [
        (0, pending, "")] * 6
    assert [listed(i) for i in (f"{job}_*", f"{job}_[1-2]", "", ",")] == [(0, "", "")] * 4
    assert listed("0") == (1, "", "squeue: error: Invalid job id: 0\n")
    assert listed(f"{job},0") == (1, "", "squeue: error: Invalid job id: 0\n")
    assert listed("4294967295") == (1, "", "squeue: error: Invalid job id: 4294967295\n")
    unknown = (1, "", "slurm_load_jobs error: Invalid job id specified\n")
    assert [listed(i) for i in ("4000001.0", "4000001,", "4000001_*", "4000001_[1-2]", ",4000001")] == [unknown] * 5
    assert listed(f"{array}_*") == listed(f"{array}_[1-2]") == (0, f"{array}_0|PENDING\n", "")
    assert listed(f"{array}_1,{array}") == (0, f"{array}_1|PENDING\n", "")
    assert listed(f"{array},{array}_1") == (0, f"{array}_[0-3]|PENDING\n", "")
    assert listed(f"{array}_1,{array}_2") == (0, f"{array}_[1-2]|PENDING\n", "")
    assert run(manual, "squeue", *fmt, "-j", f"{job}.0").stdout == pending


def test_squeue_and_sacct_users(manual: FakeSlurm) -> None:
    """squeue --user complains of each name that is no user and lists the jobs of the others; sacct
    refuses the first one (and an empty list, silently); a uid counts as its user."""
    import pwd

    me, uid = pwd.getpwuid(os.getuid()).pw_name, str(os.getuid())
    job = submit(manual)
    fmt = ("-h", "-o", "%i", f"--jobs={job}")
    complaint = f"squeue: error: Invalid user: {NOSUCH}\n\n"
    assert answer(manual, "squeue", *fmt, f"--user={NOSUCH}") == (0, "", complaint)
    assert answer(manual, "squeue", *fmt, "-u", f"{NOSUCH},{me}") == (0, f"{job}\n", complaint)
    assert answer(manual, "squeue", *fmt, "-u", f" {uid},") == (0, f"{job}\n", "")
    assert answer(manual, "squeue", *fmt, "-u", "") == (0, "", "")
    assert answer(manual, "squeue", *fmt, "-u", "3999999,x") == (
        0, "", "squeue: error: Invalid user: 3999999\n\nsqueue: error: Invalid user: x\n\n")
    manual.advance(2)
    acct = ("sacct", "-n", "-P", "-X", "-o", "JobID,State", f"--jobs={job}")
    assert answer(manual, *acct, f"--user={uid}") == (0, f"{job}|COMPLETED\n", "")
    assert answer(manual, *acct, "--uid", f"{me},") == (0, f"{job}|COMPLETED\n", "")
    assert answer(manual, *acct, "-u", f"{me},{NOSUCH}") == (1, "", f"sacct: error: Invalid user id: {NOSUCH}\n")
    assert answer(manual, *acct, "-u", "") == answer(manual, *acct, "-u", ",") == (1, "", "")
    # in getopt's order with --jobs, before the fields are checked
    assert run(manual, "sacct", "-j", "abc", "-u", NOSUCH).stderr == "sacct: fatal: Bad job/step specified: abc\n"
    assert run(manual, "sacct", "-u", NOSUCH, "-j", "abc").stderr == f"sacct: error: Invalid user id: {NOSUCH}\n"
    assert run(manual, "sacct", "-o", "Bogus", "-u", NOSUCH).stderr == f"sacct: error: Invalid user id: {NOSUCH}\n"


def test_scancel_state_takes_one_state_and_acts_on_it(manual: FakeSlurm) -> None:
    waiting = submit(manual, "--begin=now+1hour")
    running = submit(manual, wrap="sleep 100")
    manual.advance(0.5)
    invalid = "Invalid job state specified: {}\nValid job states are PENDING, RUNNING, and SUSPENDED\n"
    for state in ("BOGUS", "PENDING,RUNNING", "all", "", " PENDING", "PENDING,"):
        assert answer(manual, "scancel", f"--state={state}", "4000001") == (1, "", invalid.format(state))
    assert answer(manual, "scancel", "-Q", "-t", "bogus", waiting) == (1, "", invalid.format("bogus"))
    assert run(manual, "scancel", "-t", "CD", "4000001").stderr.startswith("scancel: error: Kill job error")
    assert run(manual, "scancel", "--state=RUNNING", waiting).returncode == 0
    assert run(manual, "scancel", "-t", "pd", running).returncode == 0
    assert status(manual, waiting, running) == {waiting: "PENDING|BeginTime", running: "RUNNING|None"}
    assert run(manual, "scancel", "-t", "pending", waiting, running).returncode == 0
    assert status(manual, waiting, running) == {waiting: "CANCELLED|BeginTime", running: "RUNNING|None"}
    assert run(manual, "scancel", "-t", "R", running).returncode == 0
    assert status(manual, running)[running].split("|")[0] in ("CANCELLED", "COMPLETING")


def test_scancel_user_is_one_user(manual: FakeSlurm) -> None:
    import pwd

    me = pwd.getpwuid(os.getuid()).pw_name
    job = submit(manual, "--begin=now+1hour")
    for user in (NOSUCH, "3999999", "", f"{me},", f"{me},{NOSUCH}", f" {me}"):
        assert answer(manual, "scancel", f"--user={user}", job) == (
            1, "", f"scancel: error: Invalid user name: {user}\n")
    assert run(manual, "scancel", "-u", NOSUCH, "abc").stderr == "scancel: error: Invalid job id abc\n"
    assert run(manual, "scancel", "-u", _other_user(), job).returncode == 0
    assert status(manual, job)[job].startswith("PENDING")
    assert run(manual, "scancel", "-u", str(os.getuid()), job).returncode == 0
    assert status(manual, job)[job].startswith("CANCELLED")


def test_scontrol_quiet_and_job_zero(manual: FakeSlurm) -> None:
    """--quiet silences every complaint and keeps the exit code; job id 0 is every job, and finding
    none is "Job 0 not found" (observed on a cluster without jobs)."""
    assert answer(manual, "scontrol", "show", "job", "0") == (1, "Job 0 not found\n", "")
    assert answer(manual, "scontrol", "show", "job") == (0, "No jobs in the system\n", "")
    assert answer(manual, "scontrol", "-Q", "show", "job") == (0, "", "")
    assert answer(manual, "scontrol", "-Q", "show", "job", "0") == (1, "", "")
    job = submit(manual, "--begin=now+1hour")
    array = submit(manual, "--array=0-1", "--begin=now+1hour")
    every = run(manual, "scontrol", "-o", "show", "job", "0")
    assert every.returncode == 0 and every.stdout == run(manual, "scontrol", "-o", "show", "job").stdout
    assert run(manual, "scontrol", "show", "job", f"{array}_7").stdout == f"Job {array}_7 not found\n"
    for words in (("show", "job", "4000001"), ("show", "job", "abc"), ("show", "job", f"{array}_7"),
                  ("requeue", "4000001"), ("requeue", job), ("requeue",), ("hold", "4000001"), ("release",),
                  ("release", "4000001_1")):
        assert answer(manual, "scontrol", "--quiet", *words) == (1, "", ""), words
        assert run(manual, "scontrol", *words).returncode == 1
    assert run(manual, "scontrol", "-Q", "-o", "show", "job", job).stdout.startswith(f"JobId={job} ")
    assert answer(manual, "scontrol", "-Q", "hold", job) == (0, "", "")


STEPD_LINE = "slurmstepd-node1: error: *** JOB {} ON node1 CANCELLED AT <T>{} ***\n"


def _log(path: Path) -> str:
    return re.sub(r"CANCELLED AT \S+", "CANCELLED AT <T>", path.read_text())


@pytest.mark.parametrize("execution", ["process", "inline"])
def test_a_job_killed_before_its_end_shows_what_its_script_had_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, execution: str) -> None:
    """On a node the script runs from the job's start: killed (scancel, time limit, requeue) after
    its first echo and before its sleep ends, the job's log has that echo, then slurmstepd's line;
    never the echo after the sleep (it used to be lost, or to come after the CANCELLED line)."""
    monkeypatch.chdir(tmp_path)
    with FakeSlurm(progression="manual", execution=execution) as fake:  # type: ignore[arg-type]
        cancelled = submit(fake, "-o", "cancelled.out", wrap="echo before; sleep 100; echo after")
        timed_out = submit(fake, "-t", "1", "-o", "timeout.out", wrap="echo before; sleep 100; echo after")
        requeued = submit(fake, "-o", "requeued.out", "--open-mode=append",
                          wrap="echo run $SLURM_JOB_ID; sleep 100; echo after")
        fake.advance(30)
        run(fake, "scancel", cancelled)
        assert run(fake, "scontrol", "requeue", requeued).returncode == 0
        fake.advance(60)
        assert {job: state.split("|")[0] for job, state in status(fake, cancelled, timed_out, requeued).items()} == {
            cancelled: "CANCELLED", timed_out: "TIMEOUT", requeued: "PENDING"}
        assert {name: _log(tmp_path / f"{name}.out") for name in ("cancelled", "timeout", "requeued")} == {
            "cancelled": "before\n" + STEPD_LINE.format(cancelled, ""),
            "timeout": "before\n" + STEPD_LINE.format(timed_out, " DUE TO TIME LIMIT"),
            "requeued": f"run {requeued}\n" + STEPD_LINE.format(requeued, " DUE TO JOB REQUEUE"),
        }


@pytest.mark.parametrize("execution", ["process", "inline"])
def test_a_job_cancelled_on_a_clock_that_moves_by_itself_shows_what_its_script_had_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, execution: str) -> None:
    monkeypatch.chdir(tmp_path)
    with FakeSlurm(progression="immediate", execution=execution) as fake:  # type: ignore[arg-type]
        job = submit(fake, "-o", "job.out", wrap="echo before; sleep 100; echo after")
        run(fake, "scancel", job)
        assert _log(tmp_path / "job.out") == "before\n" + STEPD_LINE.format(job, "")


def test_a_worker_a_killed_script_had_finished_runs_outside_the_test_process(
        manual: FakeSlurm, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Killed in the sleep after its worker ended, the script had run the worker: its result and
    prints are there, written by a warm process (execution="process"), not by the test process."""
    payload = write_task(tmp_path, "p", [("c", print, ("from the job",), {})])
    job = submit(manual, "-o", "job.out", wrap=f"echo start; python -m cfut.remote {payload}; sleep 100; echo end")
    manual.advance(manual.job_duration + 50)
    run(manual, "scancel", job)
    log = (tmp_path / "job.out").read_text()
    assert log.startswith("start\n") and "from the job\n" in log and "end" not in log, log
    assert log.rstrip("\n").splitlines()[-1].startswith(f"slurmstepd-node1: error: *** JOB {job} ON node1 CANCELLED")
    assert read_result(tmp_path, "c").ok
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(("value", "umask", "mode"), [
    ("0077", "0077", 0o600), ("0778", "0077", 0o600), ("22", "0022", 0o644), ("7", "0007", 0o660),
    ("abc", "0000", 0o666), ("999", "0000", 0o666), ("", "0000", 0o666)])
def test_slurm_umask_is_read_as_slurmstepd_reads_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str,
                                                    umask: str, mode: int) -> None:
    """SLURM_UMASK's leading octal digits, 0 without any (strtol base 8; observed on Slurm 22.05):
    the job's umask and its output file's mode; the job never sees the variable."""
    monkeypatch.chdir(tmp_path)
    with FakeSlurm(progression="immediate", execution="subprocess") as fake:
        result = run(fake, "sbatch", "--wait", "-o", "job.out", "--wrap=umask; echo ${SLURM_UMASK-unset}",
                     env={"SLURM_UMASK": value})
        assert result.returncode == 0, result.stderr
    assert ((tmp_path / "job.out").read_text(), stat.S_IMODE((tmp_path / "job.out").stat().st_mode)) == (
        f"{umask}\nunset\n", mode)


def test_a_job_setting_an_interpreter_start_up_variable_gets_a_fresh_interpreter(manual: FakeSlurm,
                                                                                 tmp_path: Path) -> None:
    """PYTHONHASHSEED (read once, at start-up) in a job's environment takes effect, as on a node: the
    warm server's children share its hash seed, so such a job execs a fresh interpreter. Every job's
    sys.orig_argv is its own command line."""
    import subprocess

    probe = "(hash('cfut'), __import__('sys').orig_argv[1:3])"
    seeded = subprocess.run([sys.executable, "-c", "print(hash('cfut'))"], env={**os.environ, "PYTHONHASHSEED": "0"},
                            capture_output=True, text=True, check=True).stdout.strip()
    for name, export in (("seeded", "ALL,PYTHONHASHSEED=0"), ("plain", "ALL")):
        payload = write_task(tmp_path, name, [(name, eval, (probe,), {})])
        submit(manual, f"--export={export}", wrap=f"python -m cfut.remote {payload}")
    manual.advance(manual.job_duration + 1)
    found = {name: pickle.loads(read_result(tmp_path, name).data or b"") for name in ("seeded", "plain")}
    assert found["seeded"] == (int(seeded), ["-m", "cfut.remote"])
    assert found["plain"][1] == ["-m", "cfut.remote"]


def test_sbatch_does_not_wait_for_other_jobs_scripts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sbatch shows no job's state, so it returns at once (after SUBMIT_PATIENCE), as the real one,
    while an earlier job's script runs on past its virtual end (status commands still give it
    PATIENCE to end there)."""
    from cfut.fakes import _pool

    monkeypatch.setattr(_pool, "PATIENCE", 120.0)
    go = tmp_path / "go"
    blocker = (f"[__import__('time').sleep(0.01) "
               f"for _ in iter(lambda: not __import__('os').path.exists({str(go)!r}), False)]")
    payload = write_task(tmp_path, "blocked", [("blocked", eval, (blocker,), {})])
    with FakeSlurm(progression="immediate", job_duration=0.0) as fake:
        first = submit(fake, wrap=f"python -m cfut.remote {payload}")
        replies: list[str] = []
        second = threading.Thread(target=lambda: replies.append(submit(fake)), daemon=True)
        second.start()
        second.join(30)
        returned = not second.is_alive()
        go.touch()
        second.join(60)
        assert returned, "sbatch waited for the first job's script"
        assert replies == [str(int(first) + 1)]
        assert fake.join(60)
        assert read_result(tmp_path, "blocked").ok


def test_clusters_option_without_accounting_and_for_unknown_clusters() -> None:
    """--clusters/-M asks slurmdbd: without accounting no name can be reached; with it, each name the
    database does not know gets a line, and the command fails when no known name is left (observed on
    Slurm 22.05 on the CI clusters, with and without slurmdbd)."""
    unreachable = ("{c}: error: '{n}' can't be reached now, or it is an invalid entry for --cluster.  "
                   "Use 'sacctmgr list clusters' to see available clusters.\n")
    unknown = "{c}: error: No cluster '{n}' known by database.\n"
    commands = (("squeue", "--clusters={}"), ("scancel", "--clusters={}", "5"),
                ("sbatch", "--clusters={}", "--wrap=true"))
    with FakeSlurm(progression="manual", accounting=False, cluster_name="other") as fake:
        for command, *args in commands:
            result = run(fake, command, *(a.format("other") for a in args))
            assert (result.returncode, result.stdout, result.stderr) == (
                1, "", f"{command}: error: Problem talking to database\n" + unreachable.format(c=command, n="other"))
        result = run(fake, "squeue", "-M", "all")
        assert (result.returncode, result.stderr) == (1, "squeue: error: Problem talking to database\nsqueue: error: "
                                                         "No clusters can be reached now. Contact your admin to "
                                                         "resolve the problem.\n")
        assert fake.jobs() == []
    with FakeSlurm(progression="manual", cluster_name="cfut") as fake:
        for command, *args in commands:
            result = run(fake, command, *(a.format("nosuch,zz") for a in args))
            assert (result.returncode, result.stdout, result.stderr) == (1, "", unknown.format(c=command, n="nosuch")
                                                                         + unknown.format(c=command, n="zz")
                                                                         + unreachable.format(c=command, n="nosuch,zz"))
        assert run(fake, "sbatch", "--clusters=cfut", "--wrap=true").stdout == "Submitted batch job 1 on cluster cfut\n"
        result = run(fake, "squeue", "--clusters=nosuch,cfut", "--noheader", "--format=%i")
        assert (result.returncode, result.stdout, result.stderr) == (0, "1\n", unknown.format(c="squeue", n="nosuch"))


def test_squeue_me_and_user_the_last_one_given_wins(manual: FakeSlurm) -> None:
    """squeue --me and -u/--user set the one user list: the last one given wins (observed on Slurm
    22.05: "--me -u daemon" lists daemon's jobs, "-u daemon --me" the caller's)."""
    import pwd

    other = next(p.pw_name for p in pwd.getpwall() if p.pw_uid != os.getuid())
    job = submit(manual, "--hold")
    listed = {order: run(manual, "squeue", "-h", "-o", "%i", *order).stdout
              for order in (("--me", "-u", other), ("-u", other, "--me"), ("--me",))}
    assert listed == {("--me", "-u", other): "", ("-u", other, "--me"): f"{job}\n", ("--me",): f"{job}\n"}


def test_a_job_id_with_a_plus_sign_is_the_job(manual: FakeSlurm) -> None:
    """Slurm reads job ids with strtol: "+ID" is ID for scontrol and scancel (observed on Slurm 22.05)."""
    job = submit(manual, "--hold")
    assert run(manual, "scontrol", "show", "job", f"+{job}").stdout.startswith(f"JobId={job} ")
    assert run(manual, "scancel", f"+{job}").returncode == 0
    assert manual.job(job).state == "CANCELLED"


# ------------------------------------------------------------------ formats and forms (observed on Slurm 22.05)


@pytest.fixture
def shaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlurm]:
    """Two nodes of 2 CPUs with 2 GPUs each, in partitions debug (the default) and long."""
    monkeypatch.chdir(tmp_path)
    with FakeSlurm(progression="manual", partition="debug", partitions=("long",), nodes=2, node_prefix="node",
                   cpus_per_node=2, memory_per_node=24105, gpus_per_node=2) as fake:
        yield fake


def test_sinfo_node_and_summarize_default_formats(shaped: FakeSlurm) -> None:
    """sinfo -N prints "%#N %.6D %#P %6t" (# is at least 9 wide: left-justified node, right-justified
    partition), sinfo -s "%9P %.5a %.10l %.16F %N"."""
    lines = run(shaped, "sinfo", "-N", "-p", "debug").stdout.splitlines()
    assert lines == ["NODELIST   NODES PARTITION STATE ", "node1          1    debug* idle  ",
                     "node2          1    debug* idle  "]
    assert run(shaped, "sinfo", "-s").stdout.splitlines()[:2] == [
        "PARTITION AVAIL  TIMELIMIT   NODES(A/I/O/T) NODELIST", "debug*       up   infinite          0/2/0/2 node[1-2]"]


def test_sinfo_merges_lines_whose_printed_fields_are_equal(shaped: FakeSlurm) -> None:
    """Without -N, sinfo merges the records of every partition whose printed fields match (each node
    counted once); with %P, or with -N, the partitions stay apart."""
    def lines(*argv: str) -> list[str]:
        return run(shaped, "sinfo", "-h", *argv).stdout.splitlines()

    assert lines("-o", "%c %m %G") == ["2 24105 gpu:2"]
    assert lines("-o", "%N %C") == ["node[1-2] 0/4/0/4"]
    assert lines("-o", "%D %t") == ["2 idle"]
    assert lines("-o", "%D %t", "-p", "long") == ["2 idle"]
    assert lines("-o", "%N %c %P") == ["node[1-2] 2 debug*", "node[1-2] 2 long"]
    assert lines("-N", "-o", "%D %t") == ["1 idle"] * 4


@pytest.mark.parametrize(("spec", "shown", "throttle"), [
    ("%2", "0%2", "2"), ("1-3%", "1-3", None), ("1-3%-1", "1-3", None), ("1-3%0", "1-3", None),
    ("1-3%x", "1-3", None), ("1-3%2x", "1-3%2", "2"), ("1-3% 2", "1-3%2", "2"), ("3%", "3", None),
    ("1-3%99999999999", "1-3%1215752191", "1215752191"),
])
def test_array_throttle_forms(manual: FakeSlurm, spec: str, shown: str, throttle: str | None) -> None:
    """sbatch reads the %N of --array with strtol into an int: a limit not above 0 is none, text after
    the number is ignored, and "%N" alone is index 0 (observed on Slurm 22.05)."""
    job = submit(manual, "--hold", f"--array={spec}")
    assert run(manual, "squeue", "-h", "-j", job, "-o", "%i|%T|%r").stdout == f"{job}_[{shown}]|PENDING|JobHeldUser\n"
    report = run(manual, "scontrol", "show", "job", job).stdout
    assert f" ArrayTaskId={shown} " in report
    assert re.search(r"ArrayTaskThrottle=(\d+)", report) is None if throttle is None else \
        f" ArrayTaskThrottle={throttle} " in report


def test_squeue_end_time_is_the_planned_end(manual: FakeSlurm) -> None:
    """squeue %e (observed on Slurm 22.05): start + limit while running, begin + limit (and %S the
    begin) for a --begin to come, NONE for those without a limit, N/A while held; the end once over."""
    jobs = [submit(manual, *options, wrap="sleep 600") for options in (
        ("-t", "5"), (), ("-t", "5", "--begin=now+1hour"), ("--begin=now+1hour",), ("--hold", "-t", "5"))]
    manual.advance(1)
    rows = dict(line.split("|", 1) for line in run(manual, "squeue", "-h", "-o", "%i|%S|%e").stdout.splitlines())
    started = {job: re.sub(r"\d\d:\d\d:\d\d", "T", rows[job]) for job in jobs}
    assert [rows[job].split("|")[1] == "NONE" for job in jobs] == [False, True, False, True, False]
    assert started[jobs[4]] == "N/A|N/A"
    for job in jobs[:4]:
        start, end = rows[job].split("|")
        assert start != "N/A" and end != "N/A"
    assert run(manual, "scontrol", "show", "job", jobs[0]).stdout.count(f"EndTime={rows[jobs[0]].split('|')[1]} ") == 1
    run(manual, "scancel", jobs[0])
    manual.advance(1)
    end = run(manual, "squeue", "-h", "-t", "all", "-j", jobs[0], "-o", "%e").stdout.strip()
    assert end not in ("N/A", "NONE") and f"EndTime={end} " in run(manual, "scontrol", "show", "job", jobs[0]).stdout


def test_node_counts_beyond_the_partition_pend_and_uneven_tasks_per_node(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """As on Slurm 22.05 (2 nodes of 2 CPUs): --nodes=3 is accepted and pends PartitionNodeLimit
    (NumNodes=3-3, TRES node=3); --ntasks=5 --ntasks-per-node=1 pends PartitionConfig (NumNodes=5,
    TRES node=1); --nodes=2 --ntasks=3 runs 2+1 (NumCPUs=3, SLURM_TASKS_PER_NODE=2,1)."""
    monkeypatch.chdir(tmp_path)
    with FakeSlurm(progression="manual", execution="subprocess", nodes=2, cpus_per_node=2) as fake:
        beyond = submit(fake, "--nodes=3")
        per_node = submit(fake, "--ntasks=5", "--ntasks-per-node=1")
        held = submit(fake, "--hold", "-N", "2", "-n", "3")
        uneven = submit(fake, "-N", "2", "-n", "3", "-o", "uneven.out", wrap=LAYOUT)
        fields = ("NumNodes", "NumCPUs", "NumTasks", "TRES")
        assert _job_fields(fake, held, *fields) == \
            "NumNodes=2-2 NumCPUs=3 NumTasks=3 TRES=cpu=3,mem=3G,node=2,billing=3"
        fake.advance(1)
        assert status(fake, beyond, per_node) == {beyond: "PENDING|PartitionNodeLimit",
                                                  per_node: "PENDING|PartitionConfig"}
        assert _job_fields(fake, beyond, *fields) == \
            "NumNodes=3-3 NumCPUs=3 NumTasks=3 TRES=cpu=3,mem=3G,node=3,billing=3"
        assert _job_fields(fake, per_node, *fields) == \
            "NumNodes=5 NumCPUs=5 NumTasks=5 TRES=cpu=5,mem=5G,node=1,billing=5"
        assert fake.join(30)
        fake.advance(1)
        assert _job_fields(fake, uneven, "JobState", *fields) == \
            "JobState=COMPLETED NumNodes=2 NumCPUs=3 NumTasks=3 TRES=cpu=3,mem=3G,node=2,billing=3"
        assert (tmp_path / "uneven.out").read_text() == "2 2,1 2,1 u 1024 u\n"


@pytest.mark.parametrize(("value", "accepted"), [
    ("99", True), ("65", True), ("1000", True), ("-1", True), ("USR1@", True), ("65@", True), ("B:USR1@0", True),
    ("0", False), ("99x", False), ("RTMIN", False), ("USR1@65536", False), ("USR1@-1", False), ("USR1@x", False)])
def test_sbatch_signal_forms_as_slurm_reads_them(manual: FakeSlurm, value: str, accepted: bool) -> None:
    """Any whole number but 0 is a signal to sbatch (kept in 16 bits), an empty time is 0, names are
    Slurm's (observed on Slurm 22.05)."""
    result = run(manual, "sbatch", "--hold", f"--signal={value}", "--wrap=true")
    assert (result.returncode, result.stderr) == ((0, "") if accepted else
                                                  (255, "sbatch: error: Invalid --signal specification\n"))


def test_sbatch_signal_that_is_no_signal_or_comes_at_0_seconds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """B:99 fails in slurmstepd, which says so in the job's file, and the job runs on; @0 sends nothing
    before the time limit (observed on Slurm 22.05)."""
    monkeypatch.chdir(tmp_path)
    with FakeSlurm(progression="manual", execution="subprocess") as fake:
        bad = submit(fake, "-t", "2", "--signal=B:99@50", "-o", "bad.out", wrap="exec sleep 300")
        never = submit(fake, "-t", "2", "--signal=B:USR1@0", "-o", "never.out",
                       wrap="trap 'echo got USR1' USR1; echo ready; sleep 300 & wait")
        deadline = time.monotonic() + 30
        while "ready" not in ((tmp_path / "never.out").read_text() if (tmp_path / "never.out").exists() else ""):
            assert time.monotonic() < deadline
            fake.advance(0)
            time.sleep(0.02)  # waits for the job's shell to set its trap: an event
        fake.advance(115)  # past 120 - 0 - 30 s (the time-limit pass's period), before the limit
        assert status(fake, bad, never) == {bad: "RUNNING|None", never: "RUNNING|None"}
        lines = (tmp_path / "bad.out").read_text().splitlines()
        assert len(lines) == 1 and re.fullmatch(
            rf"slurmstepd-node1: error: _handle_signal_container: failed signal 99 pid \d+ StepId={bad}\.batch "
            r"Invalid argument", lines[0]), lines
        assert (tmp_path / "never.out").read_text() == "ready\n"
        run(fake, "scancel", bad, never)


def test_a_dependency_named_twice_is_kept_once(manual: FakeSlurm) -> None:
    """The same condition twice is one (afterok:A:A); other kinds on the same job stay (observed on
    Slurm 22.05)."""
    first = submit(manual, "--hold")
    shown = {}
    for text in (f"afterok:{first}:{first}", f"afterok:{first}:{first},afterany:{first}"):
        job = submit(manual, f"--dependency={text}")
        shown[text] = run(manual, "squeue", "-h", "-j", job, "-o", "%E").stdout.strip()
    assert shown == {f"afterok:{first}:{first}": f"afterok:{first}(unfulfilled)",
                     f"afterok:{first}:{first},afterany:{first}":
                         f"afterok:{first}(unfulfilled),afterany:{first}(unfulfilled)"}


def test_any_of_dependencies_on_an_unknown_job_is_met(manual: FakeSlurm) -> None:
    """With ? (any one suffices) a condition on a job slurmctld does not know satisfies the dependency;
    with , (all) it is dropped (observed on Slurm 22.05)."""
    first = submit(manual, "--hold")
    any_of = submit(manual, f"--dependency=afterany:{first}?afterok:4000001")
    all_of = submit(manual, f"--dependency=afterany:{first},afterok:4000001")
    manual.advance(0.5)
    assert {job: state.split("|")[0] for job, state in status(manual, any_of, all_of).items()} == {
        any_of: "RUNNING", all_of: "PENDING"}
    assert run(manual, "squeue", "-h", "-j", all_of, "-o", "%E").stdout == f"afterany:{first}(unfulfilled)\n"


def test_a_begin_to_come_is_the_planned_start_and_end(manual: FakeSlurm) -> None:
    """scontrol show job of a pending --begin job: StartTime is the begin time, EndTime that plus the
    time limit, or Unknown without one (observed on Slurm 22.05)."""
    limited = submit(manual, "--begin=now+3600", "-t", "5")
    unlimited = submit(manual, "--begin=now+3600")
    manual.advance(1)
    begin = run(manual, "squeue", "-h", "-j", limited, "-o", "%S").stdout.strip()
    end = run(manual, "squeue", "-h", "-j", limited, "-o", "%e").stdout.strip()
    assert _job_fields(manual, limited, "StartTime", "EndTime") == f"StartTime={begin} EndTime={end}"
    assert _job_fields(manual, unlimited, "StartTime", "EndTime") == f"StartTime={begin} EndTime=Unknown"
    assert end > begin
