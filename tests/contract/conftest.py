"""Contract tests: the same test code against FakeSlurm (``fake``) and a real Slurm (``real``).

The real backend is skipped with the reason when no cluster answers locally, except when ``CI=true``
or ``CFUT_REQUIRE_SLURM=1``: then a missing cluster fails the run (as in tests/integration).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from backends import Backend, FakeBackend, RealBackend, real_slurm_available  # noqa: E402

_REASON = ("no Slurm cluster answers: sbatch/squeue missing or the controller is down "
           "(start one with: sudo bash ci/slurm-docker/start-slurm.sh start)")


def required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("CFUT_REQUIRE_SLURM") == "1"


def require_real_slurm() -> None:
    if real_slurm_available():
        return
    if required():
        pytest.fail(f"{_REASON}; CI=true or CFUT_REQUIRE_SLURM=1 makes this a failure", pytrace=False)
    pytest.skip(_REASON)


@pytest.fixture(params=[pytest.param("fake", marks=pytest.mark.fake),
                        pytest.param("real", marks=pytest.mark.slurm)])
def slurm_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    directory = tmp_path / "jobs"
    directory.mkdir()
    backend: Backend
    if request.param == "real":
        require_real_slurm()
        backend = RealBackend(directory)
    else:
        backend = FakeBackend(directory)
    try:
        yield backend
    finally:
        backend.cleanup_jobs()
        backend.close()
