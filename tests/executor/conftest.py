"""The ``harness`` fixture: every test of this directory runs on FakeSlurm, FakeCondor and real Slurm.

``@pytest.mark.fakes_only`` keeps a test on the fakes (it injects faults a real cluster cannot be
told to make); ``@pytest.mark.slurm_only`` on the Slurm harnesses. The real-Slurm parameter carries
the ``slurm`` mark and skips (or, in CI, fails) without a cluster. After each test no job of the
test may be left in the queue.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.executor.harness import HARNESSES, Harness
from tests.support import real_slurm


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fakes_only: run this executor test on the fake schedulers only")
    config.addinivalue_line("markers", "slurm_only: run this executor test on the Slurm harnesses only")
    config.addinivalue_line("markers", "not_on(harness, reason): skip this executor test on one harness, saying why")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "harness" not in metafunc.fixturenames:
        return
    names = list(HARNESSES)
    if metafunc.definition.get_closest_marker("fakes_only"):
        names = [n for n in names if n.endswith("-fake")]
    if metafunc.definition.get_closest_marker("slurm_only"):
        names = [n for n in names if n.startswith("slurm")]
    skips = {mark.args[0]: mark.args[1] for mark in metafunc.definition.iter_markers("not_on")}
    params = [pytest.param(n, id=n, marks=([pytest.mark.slurm] if n == "slurm-real" else [])
                           + ([pytest.mark.skip(reason=skips[n])] if n in skips else [])) for n in names]
    metafunc.parametrize("harness", params, indirect=True)


@pytest.fixture
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    name: str = request.param
    if name == "slurm-real":
        real_slurm.require()
    instance = HARNESSES[name](tmp_path)
    try:
        yield instance
        instance.close()
        # A job whose result is in may still be exiting on a real cluster; give it a moment.
        deadline = time.monotonic() + (20 if instance.real else 0)
        while (left := instance.queue()) and time.monotonic() < deadline:
            time.sleep(0.25)
        assert not left, f"jobs left in the queue: {left}"
    finally:
        instance.close()
        instance.dispose()
