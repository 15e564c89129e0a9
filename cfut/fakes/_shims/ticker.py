"""The one ticker: a thread that lets a fake progress on its own, as a real controller does.

Every ``interval`` real seconds it calls :meth:`FakeScheduler.tick` (reap job processes that ended,
start what their CPUs allow, end inline jobs whose time came), so that a job submitted from a
shell runs without anyone polling. A fake on the realtime clock starts one for itself; the pytest
plugin and ``python -m cfut.fakes`` start one for the immediate clock too.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Protocol


class _Tickable(Protocol):
    def tick(self) -> None: ...


class Ticker:
    """Calls ``fake.tick()`` every ``interval`` real seconds between :meth:`start` and :meth:`close`."""

    def __init__(self, fake: _Tickable, interval: float = 0.05) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval!r}")
        self.fake = fake
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cfut-fake-ticker", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(Exception):  # a failing job must not stop the clock
                self.fake.tick()

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop ticking; returns once the thread has ended (unless called from the thread itself)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def __enter__(self) -> Ticker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
