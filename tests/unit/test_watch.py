"""DirectoryWatch: a new file is reported, a hold-off defers the report (never loses it), wake() ends a
wait at once, by inotify and by the stat loop alike. Nothing here waits for time to pass: every wait
returns on an event (a file, a wake) or at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cfut import _watch
from cfut._watch import DirectoryWatch


@pytest.fixture(params=["inotify", "stat"])
def watch(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DirectoryWatch]:
    if request.param == "stat":  # as on a network filesystem
        monkeypatch.setattr(_watch, "filesystem_type", lambda path: "nfs")
    watching = DirectoryWatch(str(tmp_path))
    if watching.mode != request.param:
        pytest.skip(f"{request.param} is not available here (the watch uses {watching.mode})")
    watching.wait(0)  # the first wait reports a rescan: start from a scanned directory
    yield watching
    watching.close()


def test_a_held_off_change_is_reported_after_the_hold(watch: DirectoryWatch, tmp_path: Path) -> None:
    (tmp_path / "early.out").write_text("x")
    watch.hold_off(3600)
    assert watch.wait(0) is False, "held: not reported yet"
    watch.wake()
    assert watch.wait(3600) is False, "wake() ends a held wait at once"
    watch.hold_off(0)
    assert watch.wait(60) is True, "the change seen during the hold is reported once it is over"


def test_a_new_file_is_reported(watch: DirectoryWatch, tmp_path: Path) -> None:
    (tmp_path / "result.out").write_text("x")
    assert watch.wait(60) is True
