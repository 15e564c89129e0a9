"""Contract tests: FakeSlurm and real Slurm must give the same normalised reports for the same actions.

Both backends are checked against the reports recorded on the real cluster
(``tests/golden/slurm-22.05/contract/``, re-recorded by ``tests/golden/record_slurm.py``). When the
fake's report differs, the fake is wrong: fix it, never the expectation.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from backends import Backend, FakeBackend, RealBackend
from scenarios import SCENARIOS, SLOW, unmet

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "slurm-22.05"


def check(backend: Backend, name: str) -> None:
    if isinstance(backend, RealBackend):
        reason = unmet(backend.config, name)
        if reason is not None:
            pytest.skip(reason)  # a site difference, never a failure
    expected = (GOLDEN / "contract" / f"{name}.txt").read_text()
    report = SCENARIOS[name](backend)
    if report != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), report.splitlines(True),
                                            "real Slurm (golden)", backend.name))
        pytest.fail(f"{backend.name} differs from real Slurm in {name}:\n{diff}", pytrace=False)


@pytest.mark.parametrize("name", [n for n in SCENARIOS if n not in SLOW])
def test_scenario(slurm_backend: Backend, name: str) -> None:
    check(slurm_backend, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SLOW))
def test_slow_scenario(slurm_backend: Backend, name: str) -> None:
    check(slurm_backend, name)


@pytest.mark.fake
def test_sacct_without_accounting(tmp_path: Path) -> None:
    """Recorded with the cluster switched to CFUT_SLURM_ACCOUNTING=none (see the golden README)."""
    backend = FakeBackend(tmp_path, accounting=False)
    try:
        expected = (GOLDEN / "sacct-disabled.stderr").read_text()
        for argv in (("sacct", "-j", "227"), ("sacct", "--parsable2", "-j", "227", "-o", "JobID,State"),
                     ("sacct", "-X", "-n", "-P", "-j", "227,228", "-o", "JobID,State,ExitCode"), ("sacct",)):
            result = backend.run(*argv)
            assert (result.returncode, result.stdout, result.stderr) == (1, "", expected)
    finally:
        backend.close()


@pytest.mark.fake
def test_low_job_ids_skip_with_the_reason(tmp_path: Path) -> None:
    """A cluster numbering jobs from 1 (new, or restarted without its state) cannot be compared, since
    its ids look like every other small number in a report: the scenario skips, saying so."""
    backend = FakeBackend(tmp_path, first_job_id=1)
    try:
        with pytest.raises(pytest.skip.Exception, match="job id 1: .*FirstJobId=1000"):
            SCENARIOS["sbatch_replies"](backend)
    finally:
        backend.cleanup_jobs()
        backend.close()
