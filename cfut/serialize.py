"""Serialisation of functions, arguments and results, and the private files that carry them.

Everything cfut pickles or unpickles goes through this module, so that authenticating payloads
before they are unpickled (a planned change) touches one place. Files are written atomically: to a
temporary name in the same directory, then renamed, so a reader never sees half a file. They are
created with mode 0600.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import cloudpickle

from ._errors import SerializationError

FILE_MODE = 0o600


def dumps(obj: Any, what: str = "object") -> bytes:
    """Serialise ``obj`` with cloudpickle, naming ``what`` failed if it cannot be."""
    try:
        return cloudpickle.dumps(obj, protocol=pickle.DEFAULT_PROTOCOL)
    except Exception as exc:  # cloudpickle raises many types: PicklingError, TypeError, ...
        raise SerializationError(f"cannot serialise the {what}: {type(exc).__name__}: {exc}") from exc


def loads(data: bytes) -> Any:
    return pickle.loads(data)


def write_private(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, as a file only its owner can read.

    There is no fsync: what makes the file visible whole on a shared filesystem (NFS) is
    close-to-open consistency and the atomic rename, not durability on the server's disk; a crash
    of the writing machine loses the job's result either way. Syncing every payload and result
    was the largest cost of simulating many jobs (see bench/bench_fake_slurm.py)."""
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_text_private(path: str, text: str) -> None:
    write_private(path, text.encode())


def read(path: str) -> Any:
    with open(path, "rb") as handle:
        return loads(handle.read())
