"""Resources: the typed sbatch keywords, cfut.Resources, HTCondor's request_* keys, #SBATCH lines.

Each bad value is refused when the executor (or an options view) is made, naming the keyword and the
value; good values are rendered as sbatch arguments or submit-description lines.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

import cfut
from cfut._resources import (
    SlurmOptions,
    check_directives,
    condor_job_options,
    memory_mb,
    sbatch_directives,
    slurm_options,
    slurm_time,
    time_seconds,
)
from cfut.fakes import FakeCondor, FakeSlurm


def sbatch_args(**keywords: object) -> list[str]:
    extra = {k: keywords.pop(k) for k in ("resources", "sbatch_options", "array_parallelism") if k in keywords}
    return slurm_options(keywords, **extra).sbatch_args()  # type: ignore[arg-type]


@pytest.mark.parametrize(("keyword", "value", "rendered"), [
    ("cpus_per_task", 2, "--cpus-per-task=2"),
    ("mem", "4G", "--mem=4G"),
    ("mem", "4gb", "--mem=4G"),
    ("mem", "4 GiB", "--mem=4G"),  # sbatch refuses "GiB"; cfut writes what it means
    ("mem", 4096, "--mem=4096"),
    ("mem", 0, "--mem=0"),  # sbatch: all the memory of each node
    ("mem_per_cpu", "512M", "--mem-per-cpu=512M"),
    ("time", "00:10:00", "--time=00:10:00"),
    ("time", "1-12", "--time=1-12"),
    ("time", 90, "--time=90"),
    ("time", datetime.timedelta(hours=1, seconds=30), "--time=0-01:00:30"),
    ("time", "INFINITE", "--time=INFINITE"),
    ("partition", "debug,long", "--partition=debug,long"),
    ("gpus", 2, "--gpus=2"),
    ("gpus", "a100:2", "--gpus=a100:2"),
    ("gres", "gpu:a100:1,nvme:1", "--gres=gpu:a100:1,nvme:1"),
    ("nodes", 2, "--nodes=2"),
    ("ntasks_per_node", 4, "--ntasks-per-node=4"),
    ("account", "proj1", "--account=proj1"),
    ("qos", "high", "--qos=high"),
    ("constraint", "intel&ib", "--constraint=intel&ib"),
    ("exclude", "node[1-3]", "--exclude=node[1-3]"),
    ("job_name", "my job", "--job-name=my job"),
])
def test_typed_keywords_render_as_sbatch_options(keyword: str, value: object, rendered: str) -> None:
    assert sbatch_args(**{keyword: value}) == [rendered]


@pytest.mark.parametrize(("keyword", "value"), [
    ("cpus_per_task", 0), ("cpus_per_task", -1), ("cpus_per_task", 2.5), ("cpus_per_task", True),
    ("cpus_per_task", "2"),
    ("mem", "1.5G"), ("mem", "4X"), ("mem", "4 G G"), ("mem", -1), ("mem", "lots"),
    ("mem_per_cpu", 0),
    ("time", "1:2:3:4"), ("time", "abc"), ("time", " 10"), ("time", "1.5"), ("time", -5),
    ("time", datetime.timedelta(0)),
    ("partition", "two words"), ("partition", ""), ("account", "a\nb"),
    ("gpus", 0), ("gpus", "many"), ("gres", "gpu:2 x"),
    ("gres", "gpu:a100:x"), ("gres", "gpu:a:b:1"),  # sbatch: Invalid generic resource (gres) specification
    ("max_poll_interval", 0.1),  # below poll_interval's 0.5 s
    ("nodes", 0), ("ntasks_per_node", "4"),
    ("job_name", "line\nbreak"),
])
def test_bad_values_are_refused_naming_keyword_and_value(keyword: str, value: object, tmp_path: Path) -> None:
    with pytest.raises(cfut.InvalidArgumentError) as info:
        cfut.SlurmExecutor(runner=FakeSlurm(), workdir=tmp_path, **{keyword: value})  # type: ignore[arg-type]
    assert keyword in str(info.value) and repr(value) in str(info.value)


def test_slurm_time_formats_are_slurms() -> None:
    """The formats sbatch 22.05 accepted and refused on the real cluster (``sbatch --test-only --time=``)."""
    for good in ("10", "10:75", "25:00:00", "1-25", "1-2:3", "1-2:3:4", "0", "-1", "INFINITE", "unlimited"):
        assert slurm_time(good, "time") == good
    for bad in ("abc", "1:2:3:4", " 10", "1.5"):
        with pytest.raises(cfut.InvalidArgumentError, match="not a time Slurm accepts"):
            slurm_time(bad, "time")
    assert time_seconds("1-2:03:04") == 93784 and time_seconds("10") == 600 and time_seconds("INFINITE") is None


def test_memory_units_are_powers_of_1024_and_kilobytes_round_up() -> None:
    assert memory_mb("4G", "m") == 4096 and memory_mb("1T", "m") == 1024 * 1024 and memory_mb("1500K", "m") == 2
    assert memory_mb(512, "m") == 512


def test_mem_and_mem_per_cpu_exclude_each_other_and_a_later_one_replaces() -> None:
    with pytest.raises(cfut.InvalidArgumentError, match="only one of --mem, --mem-per-cpu"):
        slurm_options({"mem": "4G", "mem_per_cpu": "1G"})
    base = slurm_options({"mem": "4G", "cpus_per_task": 2})
    merged = base.merged(slurm_options({"mem_per_cpu": "1G"}))
    assert merged.sbatch_args() == ["--cpus-per-task=2", "--mem-per-cpu=1G"]
    assert base.merged(slurm_options({"cpus_per_task": 8})).sbatch_args() == ["--mem=4G", "--cpus-per-task=8"]


def test_sbatch_options_take_other_options_and_refuse_cfuts_own_and_typed_ones() -> None:
    args = sbatch_args(sbatch_options={"mail_type": "END", "--reservation": "r1", "exclusive": True,
                                       "hold": False, "begin": None})
    assert args == ["--mail-type=END", "--reservation=r1", "--exclusive"]
    for name, message in [("output", "future.log_path"), ("array", "array_parallelism"), ("comment", "comment"),
                          ("mem", "use the keyword mem="), ("cpus-per-task", "cpus_per_task="),
                          ("no_such_option", "no option --no-such-option"), ("requeue", "requeue=")]:
        with pytest.raises(cfut.InvalidArgumentError, match=message):
            sbatch_args(sbatch_options={name: "x"})
    with pytest.raises(cfut.InvalidArgumentError, match="includes ALL"):
        sbatch_args(sbatch_options={"export": "NONE"})
    assert sbatch_args(sbatch_options={"export": "ALL,FOO=1"}) == ["--export=ALL,FOO=1"]


def test_array_parallelism_is_a_positive_throttle() -> None:
    assert slurm_options({}, array_parallelism=5).array_parallelism == 5
    with pytest.raises(cfut.InvalidArgumentError, match="array_parallelism"):
        slurm_options({}, array_parallelism=0)


def test_resources_map_to_slurm_options_and_refuse_a_second_spelling() -> None:
    resources = cfut.Resources(cpus=2, memory="4G", time=datetime.timedelta(minutes=10), gpus=1, job_name="n",
                               partition="debug")
    assert sbatch_args(resources=resources) == ["--cpus-per-task=2", "--mem=4G", "--time=0-00:10:00", "--gpus=1",
                                                "--job-name=n", "--partition=debug"]
    with pytest.raises(cfut.InvalidArgumentError, match=r"Resources\(cpus=\) and cpus_per_task="):
        sbatch_args(cpus_per_task=4, resources=cfut.Resources(cpus=2))


@pytest.mark.parametrize(("fields", "message"), [
    ({"cpus": 0}, "cpus"), ({"memory": "4 lots"}, "memory"), ({"time": 600}, "bare number"),
    ({"time": "forever"}, "time"), ({"gpus": -1}, "gpus"), ({"job_name": ""}, "job_name"),
    ({"partition": "a b"}, "partition"),
])
def test_resources_refuse_bad_values(fields: dict[str, object], message: str) -> None:
    with pytest.raises(cfut.InvalidArgumentError, match=message):
        cfut.Resources(**fields)  # type: ignore[arg-type]


def test_resources_map_to_htcondor_and_refuse_a_partition() -> None:
    options = condor_job_options(resources=cfut.Resources(cpus=2, memory="4G", time="01:00:00", gpus=1,
                                                          job_name="mine"))
    assert dict(options.resources) == {"request_cpus": "2", "request_memory": "4096", "request_gpus": "1",
                                       "allowed_execute_duration": "3600"}
    assert options.batch_name == "mine"
    with pytest.raises(cfut.InvalidArgumentError, match="HTCondor has no partitions"):
        condor_job_options(resources=cfut.Resources(partition="debug"))


@pytest.mark.parametrize(("keyword", "value", "message"), [
    ("request_memory", "4 lots", "a bare number is MB"),
    ("request_memory", 0, "more than 0 MB"),
    ("request_disk", "-1G", "a bare number is KiB"),
    ("request_cpus", 0, "request_cpus"),
    ("request_cpus", "two", "request_cpus"),
    ("request_gpus", -1, "request_gpus"),
])
def test_condor_request_keywords_are_checked_with_their_units(keyword: str, value: object, message: str,
                                                              tmp_path: Path) -> None:
    with pytest.raises(cfut.InvalidArgumentError, match=message):
        cfut.CondorExecutor(runner=FakeCondor(), workdir=tmp_path, **{keyword: value})  # type: ignore[arg-type]


def test_sbatch_directives_are_read_as_sbatch_reads_them() -> None:
    lines = ["#SBATCH --mem=4G -c 2", "#SBATCH --time 10 --job-n=x  # a comment", "#SBATCH -pdebug",
             "#SBATCHED --mem=1", "module load python", "#SBATCH --qos=late"]
    found = [(d.option, d.value) for d in sbatch_directives(lines)]
    assert found == [("mem", "4G"), ("cpus-per-task", "2"), ("time", "10"), ("job-name", "x"),
                     ("partition", "debug")], "after the first command #SBATCH is a comment"


@pytest.mark.parametrize(("line", "message"), [
    ("#SBATCH --mem=8G", "sets --mem, and so does mem="),
    ("#SBATCH --mem-per-cpu=1G", None),  # not contradicted: mem= is not mem-per-cpu
    ("#SBATCH -c 4", "sets --cpus-per-task, and so does cpus_per_task="),
    ("#SBATCH --output=x.log", "future.log_path"),
    ("#SBATCH --array=0-3", "cfut makes the array"),
    ("#SBATCH --no-requeue", "requeue="),
    ("#SBATCH --export=NONE", "includes ALL"),
    ("#SBATCH --job-name=x", None),
])
def test_sbatch_lines_that_contradict_typed_options_are_refused(line: str, message: str | None,
                                                                tmp_path: Path) -> None:
    def make() -> cfut.SlurmExecutor:
        return cfut.SlurmExecutor(runner=FakeSlurm(), workdir=tmp_path, mem="4G", cpus_per_task=2,
                                  additional_setup_lines=[line])

    if message is None:
        make()
    else:
        with pytest.raises(cfut.InvalidArgumentError, match=message):
            make()


def test_an_sbatch_job_name_line_is_the_users_job_name_unless_job_name_is_given() -> None:
    assert check_directives(["#SBATCH -J mine"], SlurmOptions()) == "mine"
    with pytest.raises(cfut.InvalidArgumentError, match="names the job, and so does job_name="):
        check_directives(["#SBATCH -J mine"], slurm_options({"job_name": "other"}))
