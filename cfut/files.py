"""Names of the files one submission uses in the work directory, and the work directory itself.

A *batch* is one scheduler submission; it runs one or more *tasks* (a plain job, or array tasks);
each task runs one or more *calls*, each call being one ``fn(*args, **kwargs)`` with its own future.
All names derive from random keys chosen here, never from scheduler ids, so the files exist before
the scheduler has answered::

    <batch>.sh             the batch script / executable
    <task>.in              the task's payload: its calls, pickled
    <task>.started         written by the worker when it starts (RUNNING without asking the scheduler)
    <task>.log             the task's stdout and stderr
    <call>.out             one call's result, written atomically by the worker

where ``<task>`` is ``<batch>`` for a plain job and ``<batch>.<index>`` for an array task.
"""

from __future__ import annotations

import os
import secrets
import stat

from ._errors import InvalidArgumentError

DIR_MODE = 0o700
CFUT_DIR_ENV = "CFUT_DIR"
DEFAULT_DIR = ".cfut"

PAYLOAD_SUFFIX = ".in"
RESULT_SUFFIX = ".out"
STARTED_SUFFIX = ".started"
LOG_SUFFIX = ".log"
SCRIPT_SUFFIX = ".sh"


def new_key() -> str:
    """A short random name, unique enough for files in one work directory."""
    return secrets.token_hex(8)


def default_workdir() -> str:
    return os.environ.get(CFUT_DIR_ENV) or DEFAULT_DIR


def prepare_workdir(path: str | os.PathLike[str] | None) -> str:
    """Create (0700) or check the work directory; return its absolute path.

    An existing directory must belong to us and be closed to group and others, because payloads in
    it are unpickled and could run code.
    """
    raw = default_workdir() if path is None else os.fspath(path)
    if not isinstance(raw, str) or not raw:
        raise InvalidArgumentError(f"work directory must be a non-empty path, got {path!r}")
    workdir = os.path.abspath(raw)
    try:
        os.makedirs(workdir, mode=DIR_MODE, exist_ok=True)
        info = os.stat(workdir)
    except OSError as exc:
        raise InvalidArgumentError(f"cannot create work directory {workdir!r}: {exc.strerror}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise InvalidArgumentError(f"work directory {workdir!r} is not a directory")
    if info.st_uid != os.getuid():
        raise InvalidArgumentError(f"work directory {workdir!r} belongs to uid {info.st_uid}, not to us")
    if info.st_mode & 0o077:
        raise InvalidArgumentError(
            f"work directory {workdir!r} is open to other users (mode {stat.S_IMODE(info.st_mode):04o});"
            f" run: chmod 700 {workdir!r}"
        )
    if not os.access(workdir, os.W_OK | os.X_OK):
        raise InvalidArgumentError(f"work directory {workdir!r} is not writable")
    return workdir


def task_key(batch_key: str, index: int | None) -> str:
    return batch_key if index is None else f"{batch_key}.{index}"


def in_dir(workdir: str, name: str) -> str:
    return os.path.join(workdir, name)
