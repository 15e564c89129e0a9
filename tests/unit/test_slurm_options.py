"""SlurmExecutor's user surface over FakeSlurm: typed resources reach the job, options views, the
cluster's MaxArraySize, refusals that name a limit, job names and cfut's own identity, job logs.

The fake's virtual clock is driven by the tests (``progression="manual"``, ``poll_once()``).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

import cfut
from cfut._schedulers import slurm
from cfut._status import NOT_CFUT
from cfut.fakes import FakeSlurm
from tests.unit.test_slurm_executor import settle

cloudpickle.register_pickle_by_value(sys.modules[__name__])

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "slurm-22.05"


def shout(x: int) -> int:
    print(f"out {x}")
    print(f"err {x}", file=sys.stderr)
    return x * 10


def echo_kwargs(**kwargs: Any) -> dict[str, Any]:
    return kwargs


def show_job(fake: FakeSlurm, job_id: str) -> dict[str, str]:
    """``scontrol --oneliner show job ID`` as the user would run it, as a dict."""
    result = fake.run(["scontrol", "--oneliner", "show", "job", job_id])
    assert result.returncode == 0, result.stderr
    return dict(re.findall(r"(\S+?)=(\S*)", result.stdout))


def sbatch_calls(fake: FakeSlurm) -> list[tuple[str, ...]]:
    return [tuple(argv) for argv in fake.calls if argv[0] == "sbatch"]


@pytest.fixture
def fake() -> FakeSlurm:
    return FakeSlurm(progression="manual", cpus_per_node=4)


def executor(fake: FakeSlurm, tmp_path: Path, **options: Any) -> cfut.SlurmExecutor:
    options.setdefault("submit_linger", 0)
    return cfut.SlurmExecutor(runner=fake, workdir=tmp_path / "work", background_polling=False, **options)


# ---------------------------------------------------------------- typed resources reach the job


RESOURCES = dict(cpus_per_task=2, mem="4G", time="00:10:00", partition="debug", job_name="myjob")
SHOWN = {"CPUs/Task": "2", "MinMemoryNode": "4G", "TimeLimit": "00:10:00", "Partition": "debug",
         "JobName": "myjob"}


def test_typed_resources_are_what_scontrol_shows_of_the_job(fake: FakeSlurm, tmp_path: Path) -> None:
    ex = executor(fake, tmp_path, **RESOURCES)
    future = ex.submit(shout, 1)
    shown = show_job(fake, future.job_id or "")
    assert {k: shown[k] for k in SHOWN} == SHOWN
    assert shown["Comment"].startswith("cfut."), "cfut finds the job by its comment"
    settle(ex, fake, [future])
    assert future.result() == 10
    ex.shutdown()


def test_the_same_resources_through_options_for_one_call_and_one_map(fake: FakeSlurm, tmp_path: Path) -> None:
    ex = executor(fake, tmp_path)
    view = ex.options(**RESOURCES)
    plain = ex.submit(shout, 0)
    one = view.submit(shout, 1)
    many = view.map_futures(shout, [2, 3, 4])
    for future in [one, *many]:
        shown = show_job(fake, future.job_id or "")
        assert {k: shown[k] for k in SHOWN} == SHOWN, future.job_id
    assert show_job(fake, plain.job_id or "")["JobName"].startswith("cfut."), "the executor's own calls unchanged"
    assert "--cpus-per-task=2" not in sbatch_calls(fake)[0]
    settle(ex, fake, [plain, one, *many])
    assert [f.result() for f in [plain, one, *many]] == [0, 10, 20, 30, 40]
    ex.shutdown()


def test_bad_values_through_options_raise_at_the_call_naming_them(fake: FakeSlurm, tmp_path: Path) -> None:
    ex = executor(fake, tmp_path)
    with pytest.raises(cfut.InvalidArgumentError, match=r"mem.*'4 lots'"):
        ex.options(mem="4 lots")
    with pytest.raises(cfut.InvalidArgumentError, match="sets --time, and so does time="):
        ex.options(time="10", additional_setup_lines=["#SBATCH --time=20"])
    assert fake.calls == [], "nothing reached the scheduler"


def test_view_options_override_the_executors_and_stack(fake: FakeSlurm, tmp_path: Path) -> None:
    ex = executor(fake, tmp_path, cpus_per_task=1, mem="1G", partition="debug")
    view = ex.options(mem="2G").options(cpus_per_task=3)
    future = view.submit(shout, 1)
    (argv,) = sbatch_calls(fake)
    options = [a for a in argv if a.startswith(("--cpus", "--mem", "--partition"))]
    assert options == ["--partition=debug", "--mem=2G", "--cpus-per-task=3"], "each given once, the view's last"
    shown = show_job(fake, future.job_id or "")
    assert (shown["CPUs/Task"], shown["MinMemoryNode"]) == ("3", "2G")
    settle(ex, fake, [future])
    ex.shutdown()


def test_calls_with_different_options_never_share_an_array(fake: FakeSlurm, tmp_path: Path) -> None:
    ex = executor(fake, tmp_path)
    small, big = ex.options(cpus_per_task=1), ex.options(cpus_per_task=2)
    futures = small.map_futures(shout, range(3)) + big.map_futures(shout, range(3)) + [small.submit(shout, 9)]
    arrays = [argv for argv in sbatch_calls(fake)]
    assert len(arrays) == 3 and len({f.job_id.split("_")[0] for f in futures if f.job_id}) == 3
    settle(ex, fake, futures)
    ex.shutdown()


def test_a_views_submit_leaves_the_functions_keywords_alone(fake: FakeSlurm, tmp_path: Path) -> None:
    """0.5's ``submit(..., additional_setup_lines=)`` takes the keyword; a view's ``submit`` never does."""
    ex = executor(fake, tmp_path)
    mine = ex.options().submit(echo_kwargs, additional_setup_lines=["a"], x=1)
    legacy = ex.submit(echo_kwargs, additional_setup_lines=["echo 0.5"], x=1)
    settle(ex, fake, [mine, legacy])
    assert mine.result() == {"additional_setup_lines": ["a"], "x": 1}
    assert legacy.result() == {"x": 1}
    ex.shutdown()


# ---------------------------------------------------------------- job names and cfut's identity


def test_an_sbatch_job_name_line_names_the_job_and_cfut_still_finds_it(fake: FakeSlurm, tmp_path: Path) -> None:
    ex = executor(fake, tmp_path, additional_setup_lines=["#SBATCH --job-name=from-line"])
    fake.fail_next("sbatch", submitted=True)  # the job is made, its answer lost: found by its comment
    future = ex.submit(shout, 2)
    (argv,) = sbatch_calls(fake)
    assert not any(a.startswith("--job-name") for a in argv), "cfut's name would override the user's line"
    assert show_job(fake, future.job_id or "")["JobName"] == "from-line"
    assert ("squeue", "--noheader", "--me", "--format=%i|%k|%j") in [tuple(c) for c in fake.calls]
    settle(ex, fake, [future])
    assert future.result() == 20 and len(fake.jobs()) == 1
    ex.shutdown()


def test_status_parsers_find_cfuts_key_in_the_comment_or_the_name() -> None:
    """Recorded on Slurm 22.05: a user-named array (key in the comment), a job named and commented
    by cfut, and a stranger whose name and comment hold ``|``."""
    argv = slurm.squeue_argv(["1"])
    statuses = slurm.parse_squeue(argv, (GOLDEN / "squeue-status-comment.txt").read_text())
    assert statuses["101025_1"].batch_key == "0123456789abcdef"
    assert statuses["101026"].batch_key == "fedcba9876543210" and statuses["101026"].state == "FAILED"
    assert statuses["101027"].batch_key == NOT_CFUT, "squeue shows a stranger's comment: not cfut's job"
    sacct = slurm.parse_sacct(slurm.sacct_argv(["1"]), (GOLDEN / "sacct-comment.txt").read_text())
    assert sacct["101026"].batch_key == "fedcba9876543210" and sacct["101026"].exit_code == 3
    assert sacct["101025_[0-2]"].batch_key is None, "sacct 22.05 stores no comment: the user's name says nothing"
    assert sacct["101027"].batch_key is None
    scontrol = slurm.parse_scontrol(["scontrol"], (GOLDEN / "scontrol-oneliner-comment.txt").read_text())
    assert scontrol["101025_0"].batch_key == "0123456789abcdef"


# ---------------------------------------------------------------- the cluster's limits


def test_a_map_longer_than_max_array_size_is_split_at_the_clusters_limit(tmp_path: Path) -> None:
    fake = FakeSlurm(progression="manual", cpus_per_node=64, max_array_size=101)
    ex = executor(fake, tmp_path)
    futures = ex.map_futures(shout, range(150), chunksize=1)
    more = ex.map_futures(shout, range(150, 160), chunksize=1)
    arrays = [next(a for a in argv if a.startswith("--array=")) for argv in sbatch_calls(fake)]
    assert arrays == ["--array=0-100", "--array=0-48", "--array=0-9"]
    config = [argv for argv in fake.calls if list(argv) == ["scontrol", "show", "config"]]
    assert len(config) == 1, "asked once"
    settle(ex, fake, futures + more)
    assert [f.result() for f in futures] == [x * 10 for x in range(150)]
    assert ex.limits() == cfut.SlurmLimits(101, 10000, None, "scontrol show config")
    ex.shutdown()


def test_list_of_a_150_item_map_on_max_array_size_101_has_150_values(tmp_path: Path) -> None:
    fake = FakeSlurm(max_array_size=101, cpus_per_node=64)  # time moves by itself
    with cfut.SlurmExecutor(runner=fake, workdir=tmp_path, poll_interval=0.01) as ex:
        assert list(ex.map(shout, range(150), chunksize=1)) == [x * 10 for x in range(150)]


def test_an_explicit_max_array_size_wins_without_asking_the_cluster(fake: FakeSlurm, tmp_path: Path) -> None:
    ex = executor(fake, tmp_path, max_array_size=4)
    futures = ex.map_futures(shout, range(10), chunksize=1)
    assert [len(f) for f in [futures]] == [10] and len(sbatch_calls(fake)) == 3
    assert not any(argv[0] == "scontrol" for argv in fake.calls)
    settle(ex, fake, futures)
    ex.shutdown()


def test_a_refusal_that_names_maxarraysize_says_the_limit_and_the_setting(tmp_path: Path) -> None:
    fake = FakeSlurm(progression="manual", max_array_size=101)
    ex = executor(fake, tmp_path, max_array_size=200)  # wrong: the cluster allows 101
    with pytest.raises(cfut.SubmissionError) as info:
        ex.map_futures(shout, range(150), chunksize=1)
    message = str(info.value)
    assert "Invalid job array specification" in message, "the scheduler's own words first"
    assert "MaxArraySize is 200" in message and "max_array_size" in message
    assert info.value.hint and os.listdir(ex.workdir) == [f for f in os.listdir(ex.workdir) if "journal" in f]
    ex.shutdown()


def test_limits_come_from_scontrol_show_config_as_real_slurm_prints_it() -> None:
    config = slurm.parse_config((GOLDEN / "scontrol-show-config.txt").read_text())
    assert config["MaxArraySize"] == "1001" and config["MaxJobCount"] == "10000"
    assert config["AccountingStorageEnforce"] == "none"
    assert slurm.parse_assoc_limits((GOLDEN / "sacctmgr-assoc-nolimits.txt").read_text()) is None
    assert slurm.parse_assoc_limits("|\n5000|20000\n") == 5000
    assert slurm.SlurmLimits(1001, None, 500).tasks_per_array() == 500


def test_the_real_refusal_of_a_too_large_array_is_explained(tmp_path: Path) -> None:
    from cfut._commands import SchedulerCommands
    from cfut._jobdir import JobDir
    from cfut._runner import CommandResult

    stderr = (GOLDEN / "sbatch-array-too-large.stderr").read_text()
    config = "MaxArraySize            = 101\nMaxJobCount             = 10000\n"

    class Cluster:
        def run(self, argv: list[str], **kwargs: object) -> CommandResult:
            if argv[0] == "scontrol":
                return CommandResult(tuple(argv), 0, config, "")
            return CommandResult(tuple(argv), 1, "", stderr)

    scheduler = slurm.SlurmScheduler(SchedulerCommands(Cluster()), JobDir(tmp_path, b"k" * 32))
    error = cfut.SubmissionError(["sbatch"], 1, stderr)
    scheduler._explain(error, 151)
    assert "MaxArraySize is 101 (scontrol show config)" in str(error) and "151 tasks" in str(error)
    assert scheduler.max_tasks_per_batch == 101


# ---------------------------------------------------------------- job logs


def test_log_returns_what_a_successful_job_printed_until_shutdown(fake: FakeSlurm, tmp_path: Path) -> None:
    ex = executor(fake, tmp_path)
    future = ex.submit(shout, 7)
    assert future.log_path is not None and future.log() == "", "nothing written before the job runs"
    settle(ex, fake, [future])
    text = future.log()
    assert "out 7" in text and "err 7" in text, "stdout and stderr, as Slurm wrote them"
    assert os.path.exists(future.log_path), "kept after success while the executor lives"
    ex.shutdown()
    assert not os.path.exists(future.log_path)
    with pytest.raises(FileNotFoundError, match="keep_logs=True"):
        future.log()


def test_each_array_task_has_its_own_log_and_keep_logs_keeps_them(fake: FakeSlurm, tmp_path: Path) -> None:
    ex = executor(fake, tmp_path, keep_logs=True)
    futures = ex.map_futures(shout, [1, 2, 3])
    settle(ex, fake, futures)
    ex.shutdown()
    assert len({f.log_path for f in futures}) == 3
    assert [("out 1" in f.log(), "out 2" in f.log()) for f in futures] == [(True, False), (False, True),
                                                                          (False, False)]
    assert "out 3" in futures[2].log()
