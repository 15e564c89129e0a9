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

from backends import Backend, FakeBackend, RealBackend  # noqa: E402

from tests.support.real_slurm import require as require_real_slurm  # noqa: E402
from tests.support.real_slurm import required  # noqa: E402,F401 - test_differential imports it from here


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
