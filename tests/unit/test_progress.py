"""Progress bars: counts by state from the futures, a bar drawn in a real pseudo-terminal, and a clear
message without tqdm. No scheduler command is run for a bar."""

from __future__ import annotations

import concurrent.futures
import fcntl
import io
import os
import pty
import struct
import subprocess
import sys
import termios
import textwrap
from pathlib import Path

import pytest

import cfut
from cfut import _progress
from cfut.fakes import FakeSlurm


def test_counts_by_state() -> None:
    futures: list[concurrent.futures.Future[int]] = [concurrent.futures.Future() for _ in range(5)]
    futures[1].set_running_or_notify_cancel()
    futures[2].set_result(1)
    futures[3].set_exception(ValueError("x"))
    futures[4].cancel()
    assert _progress.counts(futures) == {"queued": 1, "running": 1, "done": 1, "failed": 2}


def test_progress_follows_futures_and_writes_the_final_counts(tmp_path: Path) -> None:
    fake = FakeSlurm()
    out = io.StringIO()
    with cfut.SlurmExecutor(runner=fake, workdir=tmp_path, poll_interval=0.01) as ex:
        futures = ex.map_futures(abs, [-1, -2, -3])
        commands = len(fake.calls)
        bar = cfut.progress(futures, desc="squares", file=out)
        assert bar.wait(timeout=60) == futures
        assert [f.result() for f in futures] == [1, 2, 3]
    text = out.getvalue()
    assert "squares" in text and "3/3" in text and "done=3" in text and "failed=0" in text
    assert bar.counts() == {"queued": 0, "running": 0, "done": 3, "failed": 0}
    assert commands <= len(fake.calls), "the bar itself runs nothing"


def test_iterating_progress_yields_futures_as_they_complete(tmp_path: Path) -> None:
    with cfut.SlurmExecutor(runner=FakeSlurm(), workdir=tmp_path, poll_interval=0.01) as ex:
        futures = ex.map_futures(abs, [-4, -5])
        seen = list(cfut.progress(futures, file=io.StringIO()))
    assert sorted(f.result() for f in seen) == [4, 5]


def test_without_tqdm_progress_says_how_to_install_it_and_nothing_is_submitted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now raises ImportError
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    fake = FakeSlurm()
    with cfut.SlurmExecutor(runner=fake, workdir=tmp_path) as ex:
        with pytest.raises(ModuleNotFoundError, match=r"pip install 'clusterfutures\[progress\]'"):
            ex.map(abs, [1, 2], progress=True)
        with pytest.raises(ModuleNotFoundError, match="tqdm"):
            cfut.progress([])
    assert fake.calls == [], "refused before anything was submitted"


SCRIPT = textwrap.dedent("""
    import cfut
    from cfut.fakes import FakeSlurm

    # Jobs as processes: the inline runner points this process's stdout and stderr at the job's log
    # while a job runs, which would send the bar there.
    fake = FakeSlurm(cpus_per_node=8, execution="subprocess")
    with cfut.SlurmExecutor(runner=fake, workdir={workdir!r}, poll_interval=0.01) as ex:
        print("results", sum(ex.map(abs, range(-20, 0), progress=True)))
""")


def test_map_with_progress_draws_a_bar_in_a_terminal(tmp_path: Path) -> None:
    """The child's standard error is a pseudo-terminal, as in an interactive shell: tqdm draws a bar
    (redrawn with carriage returns) with the counts, and the results are unchanged."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a 120-column terminal
    child = subprocess.Popen([sys.executable, "-c", SCRIPT.format(workdir=str(tmp_path / "w"))],
                             stdin=secondary, stdout=secondary, stderr=secondary, close_fds=True,
                             env={**os.environ, "COLUMNS": "120", "TERM": "xterm"})
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(primary)
    assert child.wait(timeout=120) == 0, b"".join(chunks).decode(errors="replace")
    screen = b"".join(chunks).decode(errors="replace")
    assert "results 210" in screen
    assert "\r" in screen and "20/20" in screen and "100%" in screen, screen
    assert "done=20" in screen and "failed=0" in screen and "queued=0" in screen, screen
    assert "█" in screen or "#" in screen, "a bar, not only numbers"
