"""Progress bars over futures: a live tqdm bar with counts by state (queued, running, done, failed).

The counts come from the futures' own states, which the executor's monitor sets from what it already
learns (its one status command per poll, the work directory's started markers and results): drawing
a bar runs no scheduler command. tqdm is an optional extra (``pip install 'clusterfutures[progress]'``);
``tqdm.auto`` draws a notebook widget in Jupyter and a text bar in a terminal.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import IO, Any

#: Seconds between redraws of the counts (a finished call redraws at once).
REFRESH = 0.25

Future = concurrent.futures.Future[Any]


def require_tqdm() -> Any:
    """tqdm's bar class (``tqdm.auto.tqdm``); ModuleNotFoundError saying how to install it."""
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:
        raise ModuleNotFoundError(
            "progress bars need tqdm, an optional dependency: pip install 'clusterfutures[progress]'",
            name="tqdm") from exc
    return tqdm


def counts(futures: Iterable[Future]) -> dict[str, int]:
    """How many futures are queued (not started), running, done (with a value) and failed (an
    exception, or cancelled)."""
    result = {"queued": 0, "running": 0, "done": 0, "failed": 0}
    for future in futures:
        if future.done():
            failed = future.cancelled() or future.exception(timeout=0) is not None
            result["failed" if failed else "done"] += 1
        elif future.running():
            result["running"] += 1
        else:
            result["queued"] += 1
    return result


class ProgressBar:
    """A tqdm bar over ``futures`` that redraws itself from a small thread until :meth:`close`."""

    def __init__(self, futures: Iterable[Future], *, desc: str | None = None, file: IO[str] | None = None) -> None:
        tqdm = require_tqdm()
        self.futures = list(futures)
        self._bar = tqdm(total=len(self.futures), desc=desc or "cfut", unit="call", file=file, dynamic_ncols=True)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._closed = False
        for future in self.futures:
            future.add_done_callback(lambda _: self._wake.set())
        self._thread = threading.Thread(target=self._loop, name="cfut-progress", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.update()
            if all(f.done() for f in self.futures):
                return
            self._wake.wait(REFRESH)
            self._wake.clear()

    def update(self) -> dict[str, int]:
        """Redraw the bar with the current counts; returns them."""
        now = counts(self.futures)
        with self._lock:
            if not self._closed:
                self._bar.n = now["done"] + now["failed"]
                self._bar.set_postfix(now, refresh=False)
                self._bar.refresh()
        return now

    def close(self) -> None:
        """Draw the final counts and stop redrawing (idempotent)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        self.update()
        with self._lock:
            if not self._closed:
                self._closed = True
                self._bar.close()


class Progress:
    """What :func:`cfut.progress` returns: iterate it for the futures as they complete, or
    :meth:`wait` for all of them; the bar closes when either ends (or on :meth:`close`)."""

    def __init__(self, futures: Iterable[Future], *, desc: str | None = None, file: IO[str] | None = None) -> None:
        self._bar = ProgressBar(futures, desc=desc, file=file)
        self.futures = self._bar.futures

    def __iter__(self) -> Iterator[Future]:
        try:
            yield from concurrent.futures.as_completed(self.futures)
        finally:
            self.close()

    def wait(self, timeout: float | None = None) -> list[Future]:
        """Wait until every future is done (at most ``timeout`` seconds), close the bar, return the
        futures. Raises :class:`TimeoutError` when some are still pending after ``timeout``."""
        try:
            _, pending = concurrent.futures.wait(self.futures, timeout=timeout)
        finally:
            self.close()
        if pending:
            raise TimeoutError(f"{len(pending)} of {len(self.futures)} futures still pending after {timeout} s")
        return self.futures

    def counts(self) -> dict[str, int]:
        """The current counts: ``{"queued": ..., "running": ..., "done": ..., "failed": ...}``."""
        return counts(self.futures)

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def progress(futures: Iterable[Future], *, desc: str | None = None, file: IO[str] | None = None) -> Progress:
    """Show a live progress bar over ``futures`` (any :class:`concurrent.futures.Future`, such as
    those of :meth:`~cfut.ClusterExecutor.map_futures`).

    The bar counts calls finished out of all, with the numbers queued, running, done and failed
    (failed: an exception, or cancelled). The states come from the futures, which the executor's
    monitor keeps up to date from its own polls: no scheduler command is run for the bar. In a
    Jupyter notebook it is tqdm's notebook widget.

    Iterate the result for the futures as they complete
    (``for f in cfut.progress(futures): ...``), or call ``.wait()`` to wait for all of them.

    Args:
        futures: the futures to follow.
        desc: the text before the bar (default ``"cfut"``).
        file: where a text bar goes (default standard error, as tqdm does).

    Raises:
        ModuleNotFoundError: tqdm is not installed (``pip install 'clusterfutures[progress]'``).
    """
    return Progress(futures, desc=desc, file=file)
