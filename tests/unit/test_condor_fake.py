"""FakeCondor's command outputs against the reference's formats and odd behaviours, with ``classad2``
parsing its ``-long`` output and htcondor2 reading its logs."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest

from cfut.fakes import FakeCondor, FakeUnsupported
from tests.support.condor_checks import check_fake, classad2


@pytest.fixture
def fake(tmp_path: Path) -> FakeCondor:
    fake = FakeCondor(progression="manual")
    yield fake
    check_fake(fake)


def script(tmp_path: Path) -> str:
    path = tmp_path / "job.sh"
    path.write_text("#!/bin/sh\necho hello\n")
    path.chmod(0o755)
    return str(path)


def submit(fake: FakeCondor, tmp_path: Path, body: str, *flags: str) -> tuple[int, str, str]:
    text = f"executable = {script(tmp_path)}\nlog = {tmp_path}/e.log\n{body}"
    result = fake.run(["condor_submit", *flags, "-"] if "-file" not in flags else ["condor_submit"], input=text)
    return result.returncode, result.stdout, result.stderr


def test_default_terse_and_verbose_shapes(fake: FakeCondor, tmp_path: Path) -> None:
    sub = tmp_path / "a.sub"
    sub.write_text(f"executable = {script(tmp_path)}\nqueue 2\n")
    default = fake.run(["condor_submit", str(sub)])
    assert default.stdout == "Submitting job(s)..\n2 job(s) submitted to cluster 1.\n"
    assert submit(fake, tmp_path, "queue 3\n", "-terse")[1] == "2.0 - 2.2\n"
    code, out, _ = submit(fake, tmp_path, "queue 1\n")  # "-" implies -v, without the leading line
    assert code == 0 and out.startswith("\n** Proc 3.0:\n") and "job(s) submitted" not in out


def test_queue_forms_and_macros(tmp_path: Path) -> None:
    fake = FakeCondor(progression="manual", execution="subprocess")  # scripts with arguments
    body = "arguments = \"$(Item) $(Process) $(ClusterId) 'it''s' 'a b' \"\"q\"\"\"\nqueue 2 in (x, y)\n"
    code, out, err = submit(fake, tmp_path, body, "-terse")
    assert (code, out, err) == (0, "1.0 - 1.3\n", "")
    args = [fake.job(f"1.{p}").ad["Arguments"] for p in range(4)]
    assert args[0] == shlex.join(["x", "0", "1", "it's", "a b", '"q"'])
    assert args[3] == shlex.join(["y", "3", "1", "it's", "a b", '"q"'])
    check_fake(fake)


def test_submit_errors_are_verbatim(fake: FakeCondor, tmp_path: Path) -> None:
    result = fake.run(["condor_submit"], input=f"executable = {script(tmp_path)}\n")
    assert result.returncode == 1
    assert result.stderr == '\nERROR: "(stdin)" doesn\'t contain any "queue" commands -- no jobs queued\n'
    result = fake.run(["condor_submit", "-"], input="executable = /no/x\nqueue\n")
    assert result.stderr == "\nERROR: Executable file /no/x does not exist\n" and result.returncode == 1
    with pytest.raises(FakeUnsupported, match="periodic_remove"):
        fake.run(["condor_submit", "-"], input="executable = /bin/sh\nperiodic_remove = true\nqueue\n")


def test_streamed_output_as_dask_jobqueue_asks_it(fake: FakeCondor, tmp_path: Path) -> None:
    """dask-jobqueue's HTCondorCluster sends Stream_Output/Stream_Error = True: the job writes its
    output while it runs, which is what the fake's jobs do on the shared filesystem."""
    code, out, err = submit(fake, tmp_path, f"Stream_Output = True\nStream_Error = True\noutput = {tmp_path}/o\n"
                                             f"error = {tmp_path}/e\nqueue\n", "-terse")
    assert code == 0, err
    fake.advance(0)
    fake.advance(5)
    assert (tmp_path / "o").read_text() == "hello\n"


def test_condor_q_and_history_json_differ_on_no_match(fake: FakeCondor) -> None:
    assert fake.run(["condor_q", "99.0", "-json"]).stdout == ""
    assert fake.run(["condor_q", "99.0", "-af:j", "JobStatus"]) .stdout == ""
    assert fake.run(["condor_history", "99.0", "-json"]).stdout == "[\n]\n"
    assert fake.run(["condor_q", "99.0", "-af", "JobStatus"]).returncode == 0, "unknown ids are not errors"


def test_long_and_json_are_parseable(fake: FakeCondor, tmp_path: Path) -> None:
    submit(fake, tmp_path, 'requirements = OpSys == "LINUX"\n+Project = "p x"\nqueue 2\n', "-terse")
    long_text = fake.run(["condor_q", "-long"]).stdout
    assert long_text.endswith("\n\n")
    if classad2 is not None:
        ads = list(classad2.parseAds(long_text))
        assert [ad["ProcId"] for ad in ads] == [0, 1] and ads[0]["Project"] == "p x"
    data = json.loads(fake.run(["condor_q", "-json"]).stdout)
    assert [ad["ProcId"] for ad in data] == [0, 1]
    assert data[0]["Requirements"] == '/Expr(OpSys == "LINUX")/'
    fmt = fake.run(["condor_q", "-format", "%d.", "ClusterId", "-format", "%d\n", "ProcId", "-format", "%s",
                    "Missing"]).stdout
    assert fmt == "1.0\n1.1\n"
    only = fake.run(["condor_q", "-constraint", 'Project == "P X" && ProcId == 1', "-af", "ProcId"]).stdout
    assert only == "1\n", "== on strings ignores case"
    bad = fake.run(["condor_q", "-constraint", "ProcId ==", "-af", "ProcId"])
    assert bad.returncode == 1 and bad.stderr == '\n-- Parse error in constraint expression "ProcId =="\n'


def test_completed_jobs_leave_the_queue_for_history(fake: FakeCondor, tmp_path: Path) -> None:
    submit(fake, tmp_path, "queue 1\n", "-terse")
    fake.advance(0)
    assert fake.run(["condor_q", "-af:j", "JobStatus"]).stdout == "1.0 2\n"
    fake.advance(5)
    assert fake.run(["condor_q", "-af:j", "JobStatus"]).stdout == ""
    assert fake.run(["condor_history", "1.0", "-af:j", "JobStatus", "ExitCode"]).stdout == "1.0 4 0\n"
    assert (tmp_path / "e.log").exists()


def test_condor_rm_outcomes_and_exit_codes(fake: FakeCondor, tmp_path: Path) -> None:
    empty = fake.run(["condor_rm", "7"])
    assert (empty.returncode, empty.stdout, empty.stderr) == (0, "", "condor_rm:0:There are no jobs in the queue\n")
    submit(fake, tmp_path, "queue 2\n", "-terse")
    result = fake.run(["condor_rm", "1.0", "1.5"])
    assert result.returncode == 1 and result.stdout == "Job 1.0 marked for removal\n"
    assert result.stderr == "\nJob 1.5 not found\n"
    cluster = fake.run(["condor_rm", "9"])
    assert cluster.returncode == 1 and cluster.stderr == "\nCouldn't find/remove all jobs in cluster 9\n"
    whole = fake.run(["condor_rm", "1"])
    assert whole.stdout == "All jobs in cluster 1 have been marked for removal\n" and whole.returncode == 0
    assert fake.queue() == [] and fake.history() == ["1.0", "1.1"]
    assert os.path.exists(tmp_path / "e.log")


RM_USAGE_START = "Usage: condor_rm [options] [constraints]\n"


@pytest.mark.parametrize(("argv", "stderr"), [
    (["condor_q", "-format"], "Error: -format requires format and attribute parameters\n"),
    (["condor_q", "-format", "%d"], "Error: -format requires format and attribute parameters\n"),
    (["condor_q", "-constraint"], "Error: -constraint requires another parameter\n"),
    (["condor_q", "-af"], "Error: -autoformat requires at least one attribute parameter\n"),
    (["condor_q", "-af:j", "-long"], "Error: -autoformat requires at least one attribute parameter\n"),
    (["condor_q", "-limit"], "Error: -limit requires the max number of results as an argument.\n"),
    (["condor_q", "-limit", "x", "-af", "ProcId"], "Error: Unable to convert (x) to a number for -limit.\n"),
    (["condor_q", "-limit", "0", "-af", "ProcId"], "Error: 0 is not a valid for -limit.\n"),
    (["condor_q", "-bogus"], "Error: unrecognized argument -bogus\n"),
    (["condor_history", "-format", "%d"],
     "Error: Argument -format requires a spec and classad attribute name as parameters.\n"
     "\t\te.g. condor_history -format '%d' ClusterId\n"),
    (["condor_history", "-limit"], "Error: Argument -match requires a number value as a parameter.\n"),
    (["condor_history", "-constraint"], "Error: Argument -constraint requires another parameter\n"),
    (["condor_history", "-af:j"],
     "Error: Argument -af:j requires at least one attribute parameter\n\t\te.g. condor_history -af:j ClusterId\n"),
    (["condor_history", "-bogus"], "Error: Unknown argument -bogus\n"),
    (["condor_rm", "-constraint"], "condor_rm: -constraint requires another argument\n"),
    (["condor_rm", "-constraint", "-all"], "condor_rm: -constraint requires another argument\n"),
    (["condor_rm", "1", "-reason"], "condor_rm: -reason requires another argument\n"),
    (["condor_rm", "-constraint", "true", "-all"], "condor_rm: can't mix -all with other constraints\n"),
    (["condor_rm"], "You did not specify any jobs\n" + RM_USAGE_START),
    (["condor_rm", "-reason", "why"], "You did not specify any jobs\n" + RM_USAGE_START),
    (["condor_rm", "-bogus"], "Unrecognized option: -bogus\n" + RM_USAGE_START),
])
def test_bad_arguments_get_the_tools_own_error(fake: FakeCondor, argv: list[str], stderr: str) -> None:
    result = fake.run(argv)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(stderr)
    if "Usage:" in stderr:
        assert result.stderr.endswith("  -all                remove all jobs (cannot be used with other constraints)\n")
    else:
        assert result.stderr == stderr


def test_arguments_are_matched_as_the_tools_match_them(fake: FakeCondor, tmp_path: Path) -> None:
    submit(fake, tmp_path, "queue 3\n", "-terse")
    fake.advance(0)
    fake.advance(5)  # all three completed, newest last
    # condor_history -limit takes C's atoi: a word that is not a number means no limit
    assert fake.run(["condor_history", "-limit", "x", "-af", "ProcId"]).stdout == "2\n1\n0\n"
    assert fake.run(["condor_history", "-lim", "2", "-af", "ProcId"]).stdout == "2\n1\n"
    assert fake.run(["condor_history", "--match", "1", "-af", "ProcId"]).stdout == "2\n"
    # prefixes the tools accept: -const for -constraint, -l for -long, -f for -format
    assert fake.run(["condor_history", "-const", "ProcId == 1", "-f", "%d\n", "ProcId"]).stdout == "1\n"
    assert fake.run(["condor_history", "1.0", "-l"]).stdout.startswith("Args = \"\"\nClusterId = 1\n")
    with pytest.raises(FakeUnsupported, match="-pool"):
        fake.run(["condor_q", "-pool", "elsewhere", "-af", "ProcId"])
    with pytest.raises(FakeUnsupported, match="-forcex"):
        fake.run(["condor_rm", "-forcex", "1.0"])
    assert [argv[1] for argv, _ in fake.refused] == ["-pool", "-forcex"]
    fake.refused.clear()


def test_no_private_keys_in_the_job_ad(tmp_path: Path) -> None:
    fake = FakeCondor(progression="manual")  # inline: the script is kept on the job record, not in its ad
    submit(fake, tmp_path, "hold = true\nqueue 1\n", "-terse")
    ad = fake.job("1.0").ad
    assert fake.job("1.0").state == "HELD" and ad["HoldReasonCode"] == 15
    assert not [key for key in ad if key.startswith("_")]
    long_form = fake.run(["condor_q", "-long"]).stdout
    assert "_inline" not in long_form and "_hold" not in long_form
    fake.close()


# ---------------------------------------------------------------- condor_status


def test_condor_status_shows_partitionable_slots_and_a_dynamic_slot_per_running_job(tmp_path: Path) -> None:
    fake = FakeCondor(progression="manual", nodes=2, cpus_per_node=4)
    empty = fake.run(["condor_status", "-af", "Name", "State", "Cpus", "TotalSlotCpus"])
    assert (empty.returncode, empty.stdout, empty.stderr) == (
        0, "slot1@slot1 Unclaimed 4 4\nslot1@slot2 Unclaimed 4 4\n", "")
    assert submit(fake, tmp_path, "request_cpus = 3\nqueue 2\n")[0] == 0
    fake.advance(0)  # both start: one on each node (3 of 4 CPUs each)
    lines = fake.run(["condor_status", "-af", "Name", "State", "Activity", "Cpus"]).stdout.splitlines()
    assert lines == ["slot1@slot1 Unclaimed Idle 1", "slot1_1@slot1 Claimed Busy 3",
                     "slot1@slot2 Unclaimed Idle 1", "slot1_1@slot2 Claimed Busy 3"]
    free = fake.run(["condor_status", "-constraint", 'State == "Unclaimed"', "-af:t", "Machine", "Cpus"])
    assert free.stdout == "slot1\t1\nslot2\t1\n"
    assert fake.run(["condor_status", "-af", "State", "Cpus"]).stdout.split() == [
        "Unclaimed", "1", "Claimed", "3", "Unclaimed", "1", "Claimed", "3"]
    assert [fake.job(j).ad["RemoteHost"] for j in ("1.0", "1.1")] == ["slot1_1@slot1", "slot1_1@slot2"]
    fake.advance(0.5)
    assert submit(fake, tmp_path, "request_cpus = 1\nqueue 1\n")[0] == 0
    fake.advance(0)
    assert fake.job("2.0").ad["RemoteHost"] == "slot1_2@slot1"
    fake.advance(0.5)  # 1.x end, 2.0 (started later) runs on: its slot keeps its name
    assert fake.run(["condor_status", "-af", "Name", "Cpus"]).stdout.splitlines() == [
        "slot1@slot1 3", "slot1_2@slot1 1", "slot1@slot2 4"]
    fake.advance(10)
    assert fake.run(["condor_status", "-af", "Cpus"]).stdout == "4\n4\n", "ended jobs give their CPUs back"
    # =?= is "is identical to": case counts, unlike ==
    assert fake.run(["condor_status", "-constraint", 'State =?= "unclaimed"', "-af", "Name"]).stdout == ""
    assert fake.run(["condor_status", "-constraint", 'State == "unclaimed"', "-af", "Name"]).stdout == (
        "slot1@slot1\nslot1@slot2\n")
    check_fake(fake)


@pytest.mark.parametrize("argv", [
    ["condor_status"],  # the default table
    ["condor_status", "-total"],
    ["condor_status", "-autof", "Cpus"],  # an abbreviation: how condor_status matches it is not modelled
    ["condor_status", "-af"],  # a missing value: its message is not modelled
    ["condor_status", "-af:j", "Cpus"],
    ["condor_status", "-af", "Cpus", "-constraint", "State =="],
    ["condor_status", "slot1@slot1", "-af", "Cpus"],  # a host name
    ["condor_status", "-af", "Memory"],  # a real slot attribute the fake does not model
    ["condor_status", "-af", "Cpus*2"],  # an expression
    ["condor_status", "-af", "Cpus", "-constraint", "DynamicSlot"],
])
def test_condor_status_refuses_what_it_does_not_model(fake: FakeCondor, argv: list[str]) -> None:
    with pytest.raises(FakeUnsupported, match="condor_status"):
        fake.run(argv)


def test_condor_status_failure_is_the_collectors(fake: FakeCondor) -> None:
    fake.fail_next("condor_status")
    result = fake.run(["condor_status", "-af", "Cpus"])
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "Error: Couldn't contact the condor_collector on localhost.\n"


@pytest.mark.parametrize("execution", ["process", "inline"])
def test_a_job_stopped_before_its_end_shows_what_its_script_had_run(tmp_path: Path, execution: str) -> None:
    """condor_rm, a hold or an eviction of a running job after its script's first echo and before its
    sleep ends: the output has that echo, never the one after the sleep (it used to have neither)."""
    job = tmp_path / "sleeper.sh"
    job.write_text("#!/bin/sh\necho before\nsleep 100\necho after\n")
    job.chmod(0o755)
    with FakeCondor(progression="manual", execution=execution) as fake:  # type: ignore[arg-type]
        for name in ("removed", "held", "evicted"):
            result = fake.run(["condor_submit", "-"], input=f"executable = {job}\nlog = {tmp_path}/e.log\n"
                                                            f"output = {tmp_path}/{name}.out\nqueue\n")
            assert result.returncode == 0, result.stderr
        fake.advance(30)
        assert fake.run(["condor_rm", "1"]).returncode == 0
        fake.hold("2.0")
        fake.evict("3.0")
        fake.advance(30)
        assert {name: (tmp_path / f"{name}.out").read_text() for name in ("removed", "held", "evicted")} == {
            "removed": "before\n", "held": "before\n", "evicted": "before\n"}


def test_queue_0_warns_unless_terse(tmp_path: Path) -> None:
    """Only empty queue statements queue nothing, with a warning (reference: not under -terse)."""
    fake = FakeCondor(progression="manual")  # (not the checked fixture: htcondor2 queues no 0-job cluster)
    code, out, err = submit(fake, tmp_path, "queue 0\n")
    assert (code, err) == (0, '\nWARNING: "(stdin)" has only empty "queue" commands -- no jobs queued\n')
    assert submit(fake, tmp_path, "queue 0\n", "-terse") == (0, "", "")
    assert fake.jobs() == []
