"""Coalescing: calls submitted in a burst with the same options go to the scheduler as one array job.

A loop of ``submit`` (a comprehension, calls from several threads) would otherwise be one ``sbatch``
per call, each paying the scheduler's per-job cost. Instead, ``submit`` pickles the call (so an
unpicklable argument still raises at once), puts it in the *bucket* of its options and returns its
future; a bucket goes out as one submission (one array job of one task per call; a plain job when it
holds one call) when

* the **linger window** has passed since its first call (``submit_linger`` seconds, a few
  milliseconds by default: a lone ``submit`` is not delayed measurably next to ``sbatch``'s own
  tens of milliseconds), or
* somebody **waits** for one of its futures (``result()``/``exception()``), or the executor shuts
  down, or
* it holds :data:`MAX_BUCKET` calls.

A bucket whose calls are all of one function is spread over as many tasks as the cluster has free
job slots (one wave), or one call a task when the function is known to run for seconds: a loop of
300 tiny ``submit`` calls costs 16 job starts on a 16-slot cluster, not 300. Calls of different
functions each get a task of their own. Calls that share a task share its process: one that kills
it (``os._exit``, a segfault, the memory limit) fails the calls after it in that task with
JobDied too, saying they never ran (the calls before it keep their results); ``submit_linger=0``
gives every call a job.

With ``background_polling=False`` (tests that drive time themselves) there is no linger thread:
buckets go out at ``poll_once()``, a wait, shutdown, or when full, so nothing depends on real time.

Asking a lingering future for its ``job_id`` or ``call_id`` sends its bucket at once, like waiting
for it, so code that reads the job id right after ``submit`` sees one. The contract differs from an
uncoalesced submit in one way, documented on the executor: a submission that fails (the scheduler
refused it) fails the bucket's futures with the :class:`~cfut.SubmissionError` instead of raising
from ``submit``. ``submit_linger=0`` turns coalescing off.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import _wire
from ._future import ClusterFuture
from ._records import JobStore
from ._resources import JobOptions
from ._submitter import Pending, Submitter, qualified_name

if TYPE_CHECKING:
    from ._executor import ClusterExecutor

log = logging.getLogger("cfut")


#: Calls a bucket holds before it goes out without waiting (the submission splits it into batches
#: of the cluster's MaxArraySize, asked only then).
MAX_BUCKET = 1000

#: What calls must share to go out together: setup lines and scheduler options.
BucketKey = tuple[tuple[str, ...], "JobOptions | None"]


@dataclass
class _Bucket:
    created: float
    functions: list[bytes] = field(default_factory=list)
    by_identity: dict[int, tuple[object, int]] = field(default_factory=dict)  # id(fn) -> (fn, index)
    calls: list[Pending] = field(default_factory=list)

    def function_index(self, fn: object, pickled: Callable[[], bytes]) -> int:
        """One pickled copy of each function in a batch (held strongly here, so ids cannot be reused)."""
        known = self.by_identity.get(id(fn))
        if known is not None:
            return known[1]
        self.functions.append(pickled())
        self.by_identity[id(fn)] = (fn, len(self.functions) - 1)
        return len(self.functions) - 1


class Coalescer:
    """The buckets of one executor, and the thread that sends them when their linger window ends."""

    def __init__(self, submitter: Submitter, store: JobStore, owner: weakref.ref[ClusterExecutor], *,
                 linger: float, timed: bool = True, spread: Callable[[set[str], int], int] | None = None) -> None:
        self.submitter = submitter
        self.store = store
        self.linger = linger
        #: Whether a thread sends buckets when their window passes; without it (an executor with
        #: ``background_polling=False``) buckets go at ``poll_once()``, a wait, shutdown or when full.
        self.timed = timed
        #: How many tasks a bucket's calls go in (``ClusterExecutor._auto_tasks``); one each without it.
        self._spread = spread
        self._owner = owner
        self._cond = threading.Condition(threading.Lock())
        self._buckets: dict[BucketKey, _Bucket] = {}
        self._queued: dict[int, tuple[BucketKey, ClusterFuture]] = {}  # id(future) -> its bucket key
        self._thread: threading.Thread | None = None
        self._flushing = threading.Lock()  # buckets go out one at a time, in order

    def add(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
            setup_lines: tuple[str, ...], options: JobOptions | None = None) -> ClusterFuture:
        """Queue one call; its future comes back at once. Raises SerializationError for what cannot be
        pickled (nothing is queued then)."""
        what = f"function {getattr(fn, '__qualname__', fn)!r}"
        arguments = _wire.dumps((args, kwargs), f"arguments of {what}")
        future = ClusterFuture()
        owner = self._owner()
        assert owner is not None
        future._queue(owner)
        full = None
        key = (setup_lines, options)
        with self._cond:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(time.monotonic())
                self.store.begin_submission()
            index = bucket.function_index(fn, lambda: _wire.dumps(fn, what))
            bucket.calls.append(Pending(index, arguments, future, qualified_name(fn)))
            self._queued[id(future)] = (key, future)
            if len(bucket.calls) >= MAX_BUCKET:
                full = self._buckets.pop(key)
            elif not self.timed:
                pass
            elif self._thread is None:
                self._thread = threading.Thread(target=self._run, name="cfut-coalesce", daemon=True)
                self._thread.start()
            else:
                self._cond.notify()
        if full is not None:
            self._send(key, full)
        return future

    def flush(self) -> None:
        """Send every bucket now (someone waits for a future, or the executor shuts down)."""
        with self._cond:
            buckets = list(self._buckets.items())
            self._buckets.clear()
        for key, bucket in buckets:
            self._send(key, bucket)
        with self._flushing:  # and wait for a bucket the linger thread is sending right now
            pass

    def cancel(self, future: ClusterFuture) -> bool:
        """Cancel a call still in its bucket (nothing was submitted for it); False if it went out."""
        with self._cond:
            entry = self._queued.pop(id(future), None)
            if entry is None:
                return False
            bucket = self._buckets.get(entry[0])
            if bucket is not None:
                bucket.calls = [p for p in bucket.calls if p.future is not future]
        if not future.done():
            self.store.cancel_queued(future)
        return True

    def cancel_all(self) -> int:
        with self._cond:
            futures = [future for _, future in self._queued.values()]
        return sum(self.cancel(future) for future in futures)

    def queued(self, future: ClusterFuture) -> bool:
        with self._cond:
            return id(future) in self._queued

    def _run(self) -> None:
        """The linger thread: send each bucket once its window has passed; end when none is left."""
        while True:
            with self._cond:
                while True:
                    if not self._buckets:
                        self._thread = None
                        return
                    oldest = min(b.created for b in self._buckets.values())
                    left = oldest + self.linger - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                due = [(k, b) for k, b in self._buckets.items() if b.created + self.linger <= time.monotonic()]
                for key, _ in due:
                    del self._buckets[key]
            for key, bucket in due:
                try:
                    self._send(key, bucket)
                except BaseException:  # noqa: BLE001 - the futures carry it; this thread goes on
                    log.exception("sending a coalesced submission failed")

    def _send(self, key: BucketKey, bucket: _Bucket) -> None:
        with self._flushing:
            with self._cond:
                live = [p for p in bucket.calls if p.future is not None and id(p.future) in self._queued]
                for pending in live:
                    self._queued.pop(id(pending.future), None)
            try:
                if live:
                    # only calls of one function share tasks (a loop of submit is a map written
                    # out); unrelated calls each get a task, so one's crash never takes another
                    names = {p.name for p in live}
                    tasks = self._spread(names, len(live)) if self._spread and len(names) == 1 else len(live)
                    size = -(-len(live) // max(1, tasks))
                    chunks = [live[i:i + size] for i in range(0, len(live), size)]
                    self.submitter.submit_chunks(bucket.functions, chunks, key[0], array=len(live) > 1,
                                                 options=key[1])
            except BaseException as exc:
                for pending in live:
                    if pending.future is not None:
                        self.store.fail_queued(pending.future, exc)
                if not isinstance(exc, Exception):
                    raise
            finally:
                self.store.end_submission()
