"""The user's surface on every cluster (FakeSlurm, FakeCondor, real Slurm): typed resources reach the
job as ``scontrol show job`` reports it, through the executor and through ``options(...)``; the
scheduler-neutral ``cfut.Resources``; a job's output on its future; a map longer than the cluster's
MaxArraySize."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

import cfut
from cfut.fakes import FakeSlurm
from tests.executor.harness import Harness, RealSlurmHarness
from tests.support import real_slurm

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def shout(x: int) -> int:
    print(f"out {x}", flush=True)
    print(f"err {x}", file=sys.stderr, flush=True)
    return x * 10


RESOURCES: dict[str, Any] = dict(cpus_per_task=2, mem="4G", time="00:10:00", partition="debug", job_name="myjob")
SHOWN = {"CPUs/Task": "2", "MinMemoryNode": "4G", "TimeLimit": "00:10:00", "Partition": "debug",
         "JobName": "myjob"}


def default_partition(harness: Harness) -> str:
    """The cluster's default partition (sinfo marks it ``*``): 'debug' on the fakes and the CI cluster,
    'batch' on the second CI cluster."""
    if not harness.real:
        return "debug"
    names = subprocess.run(["sinfo", "--noheader", "--format=%P"], capture_output=True, text=True,
                           check=True).stdout.split()
    return next(name.rstrip("*") for name in names if name.endswith("*"))


def resources(harness: Harness) -> tuple[dict[str, Any], dict[str, str]]:
    """RESOURCES and what scontrol shows for them, in the cluster's default partition."""
    partition = default_partition(harness)
    return {**RESOURCES, "partition": partition}, {**SHOWN, "Partition": partition}


def show_job(harness: Harness, job_id: str) -> dict[str, str]:
    """``scontrol --oneliner show job ID`` on the harness's cluster, as a dict of its fields."""
    argv = ["scontrol", "--oneliner", "show", "job", job_id]
    if harness.real:
        text = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    else:
        result = harness.fake.run(argv)  # type: ignore[attr-defined]
        assert result.returncode == 0, result.stderr
        text = result.stdout
    return dict(re.findall(r"(\S+?)=(\S*)", text))


def shown(harness: Harness, future: cfut.ClusterFuture) -> dict[str, str]:
    fields = show_job(harness, future.job_id or "")
    return {key: fields.get(key, "") for key in SHOWN}


@pytest.mark.slurm_only
def test_typed_resources_are_what_scontrol_shows(harness: Harness) -> None:
    options, expected = resources(harness)
    ex = harness.executor(**options, additional_setup_lines=harness.pending_lines())
    future = ex.submit(shout, 1)
    assert shown(harness, future) == expected
    future.cancel()
    with pytest.raises(cfut.InvalidArgumentError, match=r"time.*'ten minutes'"):
        harness.executor(time="ten minutes")


@pytest.mark.slurm_only
def test_the_same_through_options_for_one_call_and_one_map(harness: Harness) -> None:
    ex = harness.executor()
    options, expected = resources(harness)
    view = ex.options(**options, additional_setup_lines=harness.pending_lines())
    futures = [view.submit(shout, 1), *view.map_futures(shout, [2, 3])]
    assert [shown(harness, f) for f in futures] == [expected] * 3
    for future in futures:
        assert future.cancel()
    with pytest.raises(cfut.InvalidArgumentError, match=r"cpus_per_task.*0"):
        ex.options(cpus_per_task=0)


def test_resources_and_logs_on_every_scheduler(harness: Harness) -> None:
    """``cfut.Resources`` means the same on Slurm and HTCondor; ``future.log()`` is what the job
    printed, stdout and stderr, kept until the executor shuts down."""
    ex = harness.executor(processes=True)
    view = ex.options(resources=cfut.Resources(cpus=1, memory="256M", job_name="cfut-surface"))
    futures = [view.submit(shout, 4), *view.map_futures(shout, [5, 6])]
    harness.settle(ex, futures)
    assert [f.result() for f in futures] == [40, 50, 60]
    for future, x in zip(futures, [4, 5, 6]):
        text = future.log()
        assert f"out {x}" in text and f"err {x}" in text, text
    paths = [f.log_path for f in futures]
    assert len(set(paths)) == 3 and all(p and os.path.exists(p) for p in paths)
    ex.shutdown()
    assert not any(p and os.path.exists(p) for p in paths), "a successful job's log goes at shutdown"


# ---------------------------------------------------------------- MaxArraySize


OTHER_CONF = "/etc/slurm-other/slurm.conf"


def test_a_150_item_map_on_a_fake_with_max_array_size_101(tmp_path: Path) -> None:
    with cfut.SlurmExecutor(runner=FakeSlurm(max_array_size=101, cpus_per_node=64), workdir=tmp_path,
                            poll_interval=0.01) as ex:
        assert list(ex.map(shout, range(150))) == [x * 10 for x in range(150)]


@pytest.mark.slurm
def test_a_150_item_map_on_a_real_cluster_with_max_array_size_101(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """On the second CI cluster (``other``, MaxArraySize=101, reached with SLURM_CONF): the map is split
    at the limit the cluster reports, not at Slurm's default of 1001."""
    real_slurm.require()
    if not os.path.exists(OTHER_CONF):
        pytest.skip(f"no second cluster with MaxArraySize=101 here ({OTHER_CONF} is missing)")
    monkeypatch.setenv("SLURM_CONF", OTHER_CONF)
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True)
    if "UP" not in ping.stdout:
        pytest.skip(f"the second cluster ({OTHER_CONF}) does not answer: {ping.stdout.strip()} {ping.stderr.strip()}")
    harness = RealSlurmHarness(tmp_path)
    try:
        ex = harness.executor(cpus_per_task=1, mem="100M")
        assert ex.limits().max_array_size == 101  # type: ignore[attr-defined]
        assert list(ex.map(shout, range(150), timeout=600, chunksize=1)) == [x * 10 for x in range(150)]
        assert ex.statistics().submitted_jobs == 2
    finally:
        harness.close()
