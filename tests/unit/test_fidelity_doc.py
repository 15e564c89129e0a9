"""docs/fidelity.md is generated from the tables of FakeSlurm and FakeCondor; the committed file must be current."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfut.fakes.fidelity import render

pytestmark = pytest.mark.fake


def test_fidelity_doc_is_up_to_date() -> None:
    path = Path(__file__).resolve().parents[2] / "docs" / "fidelity.md"
    assert path.read_text() == render(), "regenerate: python -m cfut.fakes.fidelity > docs/fidelity.md"


def test_fidelity_doc_covers_both_fakes() -> None:
    text = render()
    for heading in ("## FakeSlurm (Slurm 22.05)", "## FakeCondor (HTCondor)", "#### sbatch", "#### condor_q",
                    "#### condor_history", "#### condor_rm", "### Job environment"):
        assert f"\n{heading}\n" in text, heading
    assert "`SLURM_ARRAY_TASK_ID`" in text and "`-constraint (from -c)`" in text
    assert "`Q_FORMAT_MISSING`: `Error: -format requires format and attribute parameters`" in text
