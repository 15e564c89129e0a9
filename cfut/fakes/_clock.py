"""Time for the fake schedulers: virtual (driven by the test or by polling) or real.

Three progressions are modelled:

``"manual"``
    A virtual clock that starts at 0 and moves only when the test says so (``advance``/``sleep``).
``"immediate"``
    A virtual clock that follows the real monotonic clock *plus* every jump the fake made; a fake
    jumps it forward when nothing is due, so polling makes jobs progress without anyone waiting,
    while real processes (``execution="subprocess"``) still see their time limits pass in real time.
``"realtime"``
    The real monotonic clock; nothing jumps.

Virtual seconds are mapped onto wall-clock dates (for ``SubmitTime=...`` and friends) from the moment
the clock was made, so dates look like today's and move with the virtual clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

Progression = Literal["immediate", "manual", "realtime"]
PROGRESSIONS: tuple[Progression, ...] = ("immediate", "manual", "realtime")


class FakeClock:
    """Seconds as a float, on one of the three progressions above."""

    def __init__(
        self,
        progression: Progression = "immediate",
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if progression not in PROGRESSIONS:
            raise ValueError(f"progression must be one of {', '.join(PROGRESSIONS)}, not {progression!r}")
        self.progression: Progression = progression
        self._monotonic = monotonic
        self._origin = monotonic()
        self._wall_origin = wall()
        self._jumped = 0.0

    @property
    def virtual(self) -> bool:
        """True when the clock can be moved without waiting (manual and immediate)."""
        return self.progression != "realtime"

    def now(self) -> float:
        if self.progression == "manual":
            return self._jumped
        real = self._monotonic() - self._origin
        return real + self._jumped if self.progression == "immediate" else real

    def jump(self, seconds: float) -> None:
        """Move a virtual clock forward; a real clock cannot be moved."""
        if not self.virtual:
            raise RuntimeError("the realtime clock cannot jump; wait instead")
        if seconds < 0:
            raise ValueError(f"time does not go backwards (asked to jump {seconds} s)")
        self._jumped += seconds

    def wall(self, t: float) -> float:
        """Seconds since the epoch for clock time ``t``."""
        return self._wall_origin + t

    def from_wall(self, epoch: float) -> float:
        """Clock time for seconds since the epoch (the inverse of :meth:`wall`)."""
        return epoch - self._wall_origin
