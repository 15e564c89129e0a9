"""What a command started from this process inherits from it: environment, umask, ``sys.path``.

The fakes answer commands in the test process itself, so what a real ``sbatch`` or
``condor_submit`` would inherit from its parent is read here, cheaply: a test may submit thousands
of jobs.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_environ_cache: tuple[dict[bytes, bytes], dict[str, str]] | None = None


def environ() -> dict[str, str]:
    """A copy of ``os.environ``, decoded once for as long as it does not change (CPython keeps the
    encoded variables in a plain dict that compares in microseconds; decoding them all does not)."""
    global _environ_cache
    data = getattr(os.environ, "_data", None)
    if not isinstance(data, dict):
        return dict(os.environ)
    with _lock:
        cached = _environ_cache
        if cached is not None and cached[0] == data:
            return dict(cached[1])
        decoded = dict(os.environ)
        _environ_cache = (dict(data), decoded)
        return dict(decoded)


_caller = threading.local()


@contextlib.contextmanager
def thread_setting(local: threading.local, name: str, value: object) -> Iterator[None]:
    """``local.<name>`` is ``value`` in this thread while within, what it was (or None) afterwards."""
    previous = getattr(local, name, None)
    setattr(local, name, value)
    try:
        yield
    finally:
        setattr(local, name, previous)


def caller_umask(mask: int | None) -> contextlib.AbstractContextManager[None]:
    """While a fake answers a command from another process (the commands on ``PATH``), that
    process's umask (``mask``, None: unknown) is what :func:`umask` gives in this thread: a real
    ``sbatch`` or ``condor_submit`` passes its own on to the job."""
    return thread_setting(_caller, "umask", mask)


def umask() -> int:
    """The umask of the command's caller: this process's, read without changing it where Linux
    shows it (``/proc/self/status``), since another thread may be creating files meanwhile; or the
    umask of the process that ran a command on ``PATH`` (see :func:`caller_umask`)."""
    mask: int | None = getattr(_caller, "umask", None)
    if mask is not None:
        return mask
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def sys_path() -> tuple[str, ...]:
    """This process's ``sys.path`` (the empty entry made absolute, each directory once): a job of the
    fakes' process execution imports what the test could, its modules by reference included."""
    return tuple(dict.fromkeys(p if p else os.getcwd() for p in sys.path))


def children(pid: int) -> list[int]:
    """The children of process ``pid`` (``/proc/PID/task/TID/children``, Linux); none where Linux
    does not say."""
    found: list[int] = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in threads:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as listing:
                found += [int(word) for word in listing.read().split()]
        except (OSError, ValueError):
            continue
    return found
