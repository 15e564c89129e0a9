"""Integration tests run against a real Slurm cluster (see ci/slurm-docker/).

Without one they are skipped with the reason, except when ``CI=true`` or ``CFUT_REQUIRE_SLURM=1``:
then a missing or broken cluster fails the run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import real_slurm
from tests.support.slurmtools import queued_jobs_named


@pytest.fixture
def slurm_cluster() -> None:
    real_slurm.require()


@pytest.fixture
def workdir(tmp_path: Path, slurm_cluster: None) -> Iterator[Path]:
    """A fresh, private work directory; jobs still ours in the queue afterwards fail the test."""
    path = tmp_path / "cfut-work"
    yield path
    # A job whose result is in may still be exiting; give it a moment, then none may be left.
    deadline = time.monotonic() + 20
    while (leftovers := queued_jobs_named("cfut.")) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert not leftovers, f"jobs left in the queue: {leftovers}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(pytest.mark.slurm)

