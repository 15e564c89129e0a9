"""What happens to an executor's jobs when the submitting process is interrupted or ends.

With ``cancel_on_exit=True`` (the default) an executor's jobs do not outlive the process that
submitted them, whatever way it ends short of SIGKILL:

* **Ctrl-C** raises ``KeyboardInterrupt`` in the main thread; leaving a ``with`` block that way
  cancels the executor's queued *and running* jobs at once, without waiting for them (the stdlib
  executors would wait for every running job: hours on a cluster);
* **SIGTERM** (``kill``, a batch system ending the submitting job, a closed session's manager):
  a handler, installed by the first executor made in the main thread when SIGTERM still has its
  default action, cancels every such executor's jobs and then lets SIGTERM end the process as it
  would have;
* **interpreter exit** (the script ended without ``shutdown()``, or an exception escaped): an
  ``atexit`` hook cancels what is still queued or running.

Each executor's jobs are cancelled once, with one cancel command, and a log line saying so; their
files are removed once the scheduler has them no more. With ``cancel_on_exit=False`` the jobs run
on; :meth:`cfut.SlurmExecutor.reattach` collects their results from another process.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import weakref
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._executor import ClusterExecutor

log = logging.getLogger("cfut")

_executors: weakref.WeakSet[ClusterExecutor] = weakref.WeakSet()
_lock = threading.Lock()
_installed = False


def register(executor: ClusterExecutor) -> None:
    """Cancel this executor's jobs when the process is interrupted or ends."""
    global _installed
    with _lock:
        _executors.add(executor)
        if _installed:
            return
        _installed = True
    atexit.register(terminate_all, "the Python interpreter is exiting")
    if threading.current_thread() is threading.main_thread():
        try:
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                signal.signal(signal.SIGTERM, _on_sigterm)
        except ValueError:  # pragma: no cover - not the main interpreter
            pass


def _forget_in_child() -> None:
    """A forked child does not own its parent's executors: its exit (or SIGTERM) must not cancel their
    jobs (a multiprocessing worker that exits normally ran this hook on the parent's jobs)."""
    global _lock
    _lock = threading.Lock()
    _executors.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def unregister(executor: ClusterExecutor) -> None:
    with _lock:
        _executors.discard(executor)


def terminate_all(reason: str) -> None:
    """Cancel the jobs of every registered executor (each once)."""
    with _lock:
        executors = list(_executors)
    for executor in executors:
        try:
            executor._terminate(reason)
        except Exception as exc:  # noqa: BLE001 - at exit, report and go on with the others
            log.error("cancelling the jobs of %r failed: %s", executor, exc)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    terminate_all("the process received SIGTERM")
    # Then end as SIGTERM would have: the parent sees the signal, not an exit code.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
