"""``python -m cfut demo`` on the embedded fake (jobs as real subprocesses)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfut.__main__ import main


def test_demo_on_the_embedded_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CFUT_DIR", str(tmp_path / "work"))
    assert main(["demo", "--fake", "2", "3"]) == 0
    out = capsys.readouterr().out
    assert "embedded FakeSlurm (as asked)" in out
    assert "results: [4, 9]" in out
