"""SlurmExecutor end to end on a real Slurm cluster, with the default SubprocessRunner."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cloudpickle
import pytest

import cfut

# The workers cannot import this test module, so its functions travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

FAST = dict(poll_interval=0.2, max_poll_interval=2.0)
LATER = "#SBATCH --begin=now+1hour"  # keeps a job PENDING (reason BeginTime)


def sleep_then(seconds: float, value: object) -> object:
    time.sleep(seconds)
    return value


@pytest.mark.slow
def test_time_limit_gives_job_timeout(workdir: Path) -> None:
    # --time is in minutes; Slurm checks limits about every 30 s, so this takes 60-100 s.
    with cfut.SlurmExecutor(workdir=workdir, additional_setup_lines=["#SBATCH --time=1"], **FAST) as executor:
        with pytest.raises(cfut.JobTimeout) as info:
            executor.submit(sleep_then, 300, "late").result(timeout=240)
    assert info.value.state == "TIMEOUT"
    assert "TIME LIMIT" in info.value.log_tail

