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
    assert not (tmp_path / "work").exists(), "the demo leaves no empty work directory behind"


@pytest.mark.parametrize("command", ["jobs", "clean"])
def test_a_work_directory_that_is_missing_or_not_private_is_one_line(command: str, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    for workdir, says in ((shared, "open to other users"), (tmp_path / "missing", "missing")):
        status = main([command, str(workdir)])
        err = capsys.readouterr().err
        assert (status, err.count("\n")) == (2, 1), err
        assert err.startswith(f"python -m cfut {command}: ") and (says in err or "no journal" in err), err


def test_demo_with_a_work_directory_open_to_others_says_so_in_one_line(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    shared = tmp_path / "work"
    shared.mkdir()
    shared.chmod(0o755)
    monkeypatch.setenv("CFUT_DIR", str(shared))
    assert main(["demo", "--fake", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m cfut demo: ") and err.count("\n") == 1 and "Traceback" not in err, err
