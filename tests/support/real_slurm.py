"""Whether a real Slurm cluster answers, and what a test that needs one does without it.

Without a cluster such tests are skipped with the reason, except when ``CI=true`` or
``CFUT_REQUIRE_SLURM=1``: then a missing or broken cluster fails them (CI must never pass by
skipping the real thing).
"""

from __future__ import annotations

import functools
import os

import pytest

from cfut.__main__ import real_slurm_answers

REASON = ("no Slurm cluster answers: sbatch/squeue missing or the controller is down "
          "(start one with: sudo bash ci/slurm-docker/start-slurm.sh start)")


def required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("CFUT_REQUIRE_SLURM") == "1"


@functools.lru_cache(maxsize=1)
def available() -> bool:
    return real_slurm_answers()


def require() -> None:
    """Skip (or, in CI, fail) the calling test unless a real Slurm cluster answers."""
    if available():
        return
    if required():
        pytest.fail(f"{REASON}; CI=true or CFUT_REQUIRE_SLURM=1 makes this a failure", pytrace=False)
    pytest.skip(REASON)
