"""docs/fidelity.md is generated from FakeSlurm's tables; the committed file must be current."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfut.fakes.fidelity import render

pytestmark = pytest.mark.fake


def test_fidelity_doc_is_up_to_date() -> None:
    path = Path(__file__).resolve().parents[2] / "docs" / "fidelity.md"
    assert path.read_text() == render(), "regenerate: python -m cfut.fakes.fidelity > docs/fidelity.md"
