"""The Slurm backend's argv builders and parsers, against outputs recorded from real Slurm."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cfut import JobStatus, Phase
from cfut._errors import InvalidArgumentError, JobCancelled, JobDied, JobTimeout, SchedulerOutputError
from cfut._runner import CommandResult
from cfut._schedulers import slurm
from cfut._status import NOT_CFUT

GOLDEN = Path(__file__).parent.parent / "golden" / "slurm-22.05"


def golden(name: str) -> str:
    return (GOLDEN / name).read_text()


def test_squeue_golden() -> None:
    statuses = slurm.parse_squeue(["squeue"], golden("squeue-status.txt"))
    assert statuses["97"].state == "COMPLETED" and statuses["97"].phase is Phase.FINISHED
    assert statuses["98"].reason == "NonZeroExitCode"
    assert statuses["99"].state == "CANCELLED"
    assert set(statuses) == {"97", "98", "99"}


def test_sacct_golden_cancelled_by_uid_and_exit_codes() -> None:
    statuses = slurm.parse_sacct(["sacct"], golden("sacct-allocations.txt"))
    assert statuses["98"].exit_code == 3 and statuses["98"].signal == 0
    assert statuses["99"].state == "CANCELLED" and statuses["99"].reason == "by 0"


def test_sacct_skips_steps() -> None:
    assert set(slurm.parse_sacct(["sacct"], golden("sacct-steps.txt"))) == {"97"}


def test_scontrol_golden() -> None:
    statuses = slurm.parse_scontrol(["scontrol"], golden("scontrol-oneliner-failed.txt"))
    # a job without cfut's comment (every job cfut submits has one) is marked as nobody's of cfut
    assert statuses == {"98": JobStatus("FAILED", Phase.FINISHED, "NonZeroExitCode", 3, 0, batch_key=NOT_CFUT)}


def test_scontrol_array_task_id() -> None:
    line = "JobId=13 ArrayJobId=12 ArrayTaskId=1 JobName=x JobState=TIMEOUT Reason=TimeLimit ExitCode=0:15\n"
    assert slurm.parse_scontrol(["scontrol"], line)["12_1"].signal == 15


def test_scontrol_takes_first_field_not_a_lying_path() -> None:
    line = "JobId=5 JobState=RUNNING Reason=None ExitCode=0:0 WorkDir=/x JobState=COMPLETED\n"
    assert slurm.parse_scontrol(["scontrol"], line)["5"].state == "RUNNING"


@pytest.mark.parametrize("text", ["Submitted batch job 12\n", "", "abc\n"])
def test_unparsable_sbatch_output_quotes_command_and_output(text: str) -> None:
    with pytest.raises(SchedulerOutputError) as info:
        slurm.parse_sbatch(["sbatch", "--parsable"], CommandResult(("sbatch",), 0, text, ""))
    assert "sbatch --parsable" in str(info.value) and repr(text) in str(info.value)


def test_sbatch_parsable_with_cluster_and_warnings() -> None:
    result = CommandResult(("sbatch",), 0, "sbatch: warning: something\n42;cluster\n", "")
    assert slurm.parse_sbatch(["sbatch"], result) == "42"


@pytest.mark.parametrize("parser", [slurm.parse_squeue, slurm.parse_sacct, slurm.parse_scontrol])
def test_garbage_raises_scheduler_output_error(parser) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SchedulerOutputError):
        parser(["cmd"], "this is not slurm\n")


def test_states_map_to_phases_and_errors() -> None:
    assert slurm.phase_of("PENDING") is Phase.QUEUED
    assert slurm.phase_of("COMPLETING") is Phase.RUNNING
    assert slurm.phase_of("OUT_OF_MEMORY") is Phase.FINISHED
    assert slurm.error_class("TIMEOUT") is JobTimeout
    assert slurm.error_class("CANCELLED") is JobCancelled
    assert slurm.error_class("FAILED") is JobDied


def test_output_pattern_escapes_percent_and_refuses_backslash() -> None:
    assert slurm.escape_filename_pattern("/a/50%/x.log") == "/a/50%%/x.log"
    with pytest.raises(InvalidArgumentError, match="backslash"):
        slurm.escape_filename_pattern("/a\\b/x.log")


def test_batch_script_quotes_every_path(tmp_path: Path) -> None:
    """The generated script must run as written with spaces, quotes and newlines in paths."""
    weird = tmp_path / "it's a \"dir\"\nwith newline $HOME `x`"
    weird.mkdir()
    payload = str(weird / "k.in")
    script = slurm.batch_script("/bin/echo", payload, ["#SBATCH --time=1", "X=1"], [str(weird)])
    assert script.startswith("#!/bin/sh\n")
    assert script.index("#SBATCH --time=1") < script.index("exec ")
    path = weird / "s.sh"
    path.write_text(script)
    out = subprocess.run(["/bin/sh", str(path)], capture_output=True, text=True, check=True).stdout
    assert out == f"-m cfut.remote {payload} --import-path {weird}\n"


def test_only_the_runner_and_the_fakes_process_module_import_subprocess() -> None:
    root = Path(__file__).parent.parent.parent / "cfut"
    allowed = {"_runner.py", "fakes/_process.py"}
    offenders = [
        str(path.relative_to(root)) for path in root.rglob("*.py")
        if str(path.relative_to(root)) not in allowed and any(
            line.strip().startswith(("import subprocess", "from subprocess"))
            for line in path.read_text().splitlines()
        )
    ]
    assert offenders == [], f"only {sorted(allowed)} may import subprocess: {offenders}"
    assert all((root / name).exists() for name in allowed)


@pytest.mark.parametrize(("stderr", "transient"), [
    ("sbatch: error: Batch job submission failed: Socket timed out on send/recv operation\n", True),
    ("slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n", True),
    ("sbatch: error: Batch job submission failed: Invalid partition name specified\n", False),
])
def test_transient_failures_are_told_apart(stderr: str, transient: bool) -> None:
    assert slurm.SlurmScheduler.is_transient(CommandResult(("sbatch",), 1, "", stderr)) is transient


def test_squeue_with_names_knows_whose_job_it_is() -> None:
    statuses = slurm.parse_squeue(["squeue"], golden("squeue-status-named.txt"))
    assert set(statuses) == {"100294", "100293_0", "100293_1", "100293_3"}, "a cancelled pending task vanishes"
    assert statuses["100293_0"].batch_key == "0123456789abcdef" and statuses["100293_0"].reason == "JobHeldUser"
    assert statuses["100294"].batch_key is None, "not a name cfut gives"


def test_sacct_with_names_and_a_pending_array_record() -> None:
    statuses = slurm.parse_sacct(["sacct"], golden("sacct-named.txt"))
    assert statuses["100294"].exit_code == 3 and statuses["100294"].batch_key is None
    assert statuses["100293_[0-1,3]"].batch_key == "0123456789abcdef"


def test_a_pending_array_task_cancelled_by_index_is_gone_not_a_failure(tmp_path: Path) -> None:
    """shared/cases/19: real Slurm answers ``scontrol show job A_2`` with "Job A_2 not found" on stdout
    (exit 1) and ``squeue --jobs=A_2`` with nothing (exit 0): the task is gone, and lookup says so."""
    from cfut._commands import SchedulerCommands
    from cfut._jobdir import JobDir

    answers = {
        "squeue": CommandResult(("squeue",), 0, "", ""),
        "sacct": CommandResult(("sacct",), 0, "", ""),
        "scontrol": CommandResult(("scontrol",), 1, golden("scontrol-array-task-not-found.stdout"), ""),
    }

    class RealAnswers:
        def run(self, argv: list[str], **kwargs: object) -> CommandResult:
            return answers[argv[0]]

    scheduler = slurm.SlurmScheduler(SchedulerCommands(RealAnswers()), JobDir(tmp_path, b"k" * 32))
    assert scheduler.query(["100293_2"]) == {}
    assert scheduler.lookup(["100293_2"]) == {}, "not found: gone, not an error to retry"


def test_compact_ids_ask_for_whole_arrays_and_chunks_fit_one_argument() -> None:
    assert slurm.compact_ids(["7", "9_1", "9_2", "10_4", "7"]) == ["7", "9", "10_4"]
    ids = [f"{10_000_000 + n}" for n in range(20_000)]
    chunks = slurm.id_chunks(ids)
    assert [i for chunk in chunks for i in chunk] == ids
    assert all(len(",".join(chunk)) <= slurm.MAX_IDS_TEXT for chunk in chunks) and len(chunks) > 1


def test_status_of_more_jobs_than_one_argument_holds_asks_for_the_users_jobs(tmp_path: Path) -> None:
    """shared/cases/03: 15,000 separate jobs would make ``--jobs=...`` longer than Linux allows one
    argument (131,072 bytes); squeue is then asked for every job of the user (``--me``), once."""
    from cfut._commands import SchedulerCommands
    from cfut._jobdir import JobDir

    seen: list[list[str]] = []

    class Runner:
        def run(self, argv: list[str], **kwargs: object) -> CommandResult:
            seen.append(list(argv))
            return CommandResult(tuple(argv), 0, "10000001|RUNNING|None|cfut.k\n99|RUNNING|None|x\n", "")

    scheduler = slurm.SlurmScheduler(SchedulerCommands(Runner()), JobDir(tmp_path, b"k" * 32))
    ids = [f"{10_000_000 + n}" for n in range(15_000)]
    statuses = scheduler.query(ids)
    assert len(seen) == 1 and "--me" in seen[0] and all(len(a) < 131_072 for a in seen[0])
    assert set(statuses) == {"10000001"}, "only the jobs asked about"


@pytest.mark.parametrize(("output", "slots"), [
    ("debug*|0/4/0/4|FORCE:4\nlong|0/4/0/4|FORCE:4\n", 16),  # the CI cluster: 4 jobs per CPU
    ("batch*|10/6/0/16|NO\n", 6),
    ("batch*|16/0/0/16|EXCLUSIVE\n", 16),  # none idle: one wave as they free up
    ("gpu|0/8/0/8|NO\n", None),  # no default partition listed
])
def test_free_job_slots_from_sinfo(output: str, slots: int | None) -> None:
    assert slurm.parse_sinfo_slots(output) == slots
