"""The work directory: its checks, the names of the files one submission uses, and their I/O.

A *batch* is one scheduler submission; it runs one or more *tasks* (a plain job, or array tasks);
each task runs one or more *calls*, each call being one ``fn(*args, **kwargs)`` with its own future.
All names derive from random keys chosen here, never from scheduler ids, so the files exist before
the scheduler has answered::

    <batch>.sh             the batch script / executable (when one is needed)
    <batch>.fn             the batch's functions, each pickled once
    <task>.in              the task's payload: its calls (function index, pickled arguments)
    <task>.started         written by the worker when it starts (RUNNING without asking the scheduler)
    <task>.log             the task's stdout and stderr
    <call>.out             one call's result, written atomically by the worker

where ``<task>`` is ``<batch>`` for a plain job and ``<batch>.<index>`` for an array task, and
``<call>`` is ``<task>.<position>``. Formats are in :mod:`cfut._wire`; everything read back is
verified with the user's key before it is unpickled.
"""

from __future__ import annotations

import os
import stat

from . import _wire
from ._errors import (
    CfutError,
    DependencyFailed,
    IntegrityError,
    InvalidArgumentError,
    RemoteException,
    RemoteTraceback,
    SerializationError,
)

TYPE_CHECKING = False  # (a worker imports this module: it pays for every import at each job start)
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

DIR_MODE = 0o700
CFUT_DIR_ENV = "CFUT_DIR"
DEFAULT_DIR = ".cfut"

PAYLOAD_SUFFIX = ".in"
FUNCTIONS_SUFFIX = ".fn"
RESULT_SUFFIX = ".out"
STARTED_SUFFIX = ".started"
LOG_SUFFIX = ".log"
SCRIPT_SUFFIX = ".sh"
LOG_TAIL_LINES = 20
#: The worker's line before each call of a task of several calls (then the call's id).
RUNNING_PREFIX = "cfut worker: running call "


def new_key() -> str:
    """A short random name, unique enough for files in one work directory."""
    return os.urandom(8).hex()  # what secrets.token_hex(8) does, without importing secrets


def task_key(batch_key: str, index: int | None) -> str:
    return batch_key if index is None else f"{batch_key}.{index}"


def default_workdir() -> str:
    """``$CFUT_DIR``, else ``.cfut`` (relative to the current directory), as in clusterfutures 0.5."""
    return os.environ.get(CFUT_DIR_ENV) or DEFAULT_DIR


def prepare_workdir(path: str | os.PathLike[str] | None) -> str:
    """Create (0700) or check the work directory; return its absolute path.

    An existing directory must belong to us and be closed to group and others. Raises
    :class:`~cfut.InvalidArgumentError` naming the directory and what is wrong with it.
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


def tail(path: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a text file (at most its last 64 KiB); "" if it cannot be read."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read()
    except OSError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


class JobDir:
    """One private work directory and the key that signs what is written into it."""

    def __init__(self, path: str | os.PathLike[str] | None, key: bytes) -> None:
        self.path = prepare_workdir(path)
        self._key = key

    def __repr__(self) -> str:
        return f"JobDir({self.path!r})"

    # -- names

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def payload(self, task_key: str) -> str:
        return self.file(task_key + PAYLOAD_SUFFIX)

    def functions(self, batch_key: str) -> str:
        return self.file(batch_key + FUNCTIONS_SUFFIX)

    def result(self, call_id: str) -> str:
        return self.file(call_id + RESULT_SUFFIX)

    def started(self, task_key: str) -> str:
        return self.file(task_key + STARTED_SUFFIX)

    def log(self, task_key: str) -> str:
        return self.file(task_key + LOG_SUFFIX)

    def script(self, batch_key: str) -> str:
        return self.file(batch_key + SCRIPT_SUFFIX)

    # -- writing

    def write_functions(self, batch_key: str, functions: Sequence[bytes]) -> None:
        _wire.write_frame(self._key, _wire.FUNCTIONS, self.functions(batch_key), _wire.encode_functions(functions))

    def write_payload(self, task_key: str, batch_key: str, calls: Iterable[_wire.CallSpec]) -> None:
        payload = _wire.Payload(os.path.basename(self.functions(batch_key)), tuple(calls))
        _wire.write_frame(self._key, _wire.PAYLOAD, self.payload(task_key), _wire.encode_payload(payload))

    def write_text(self, path: str, text: str, *, executable: bool = False) -> None:
        _wire.write_private(path, text.encode())
        if executable:
            os.chmod(path, 0o700)

    # -- reading

    def scan(self) -> frozenset[str]:
        """The names in the directory (one ``listdir``); OSError when it cannot be read."""
        return frozenset(os.listdir(self.path))

    def read_outcome(self, call_id: str, depth: int = 0) -> tuple[bool, Any, float]:
        """A call's outcome from its result file: ``(True, value, seconds)`` or ``(False, exception to
        raise, seconds)``, ``seconds`` being how long the call ran on the node.

        Raises OSError when the file cannot be opened (it is not there yet, or not visible yet).
        A file that fails verification gives ``(False, IntegrityError, 0.0)``: nothing in it is unpickled.
        """
        path = self.result(call_id)
        try:
            record = _wire.decode_result(_wire.read_frame(self._key, _wire.RESULT, path), path)
        except IntegrityError as exc:
            return False, exc, 0.0
        ok, value = _outcome(record, path)
        if isinstance(value, DependencyFailed) and depth < 50:
            # the worker found the dependency failed (its job exited 0, so Slurm started this one):
            # its error, read from its result file (kept until this call ran), is the cause here too
            try:
                dependency_ok, cause, _ = self.read_outcome(value.dependency, depth + 1)
            except OSError:
                pass
            else:
                if not dependency_ok and isinstance(cause, BaseException):
                    value.__cause__ = cause
        return ok, value, record.seconds

    def starts(self, task_key: str) -> int:
        """How many times the task's worker started (one line each in ``<task>.started``)."""
        try:
            with open(self.started(task_key), "rb") as handle:
                return handle.read().count(b"\n")
        except OSError:
            return 0

    def begun_calls(self, task_key: str) -> list[str]:
        """Ids of the calls the task's log says its worker began, in order (tasks of several calls)."""
        return [line[len(RUNNING_PREFIX):].strip() for line in tail(self.log(task_key), 10_000).splitlines()
                if line.startswith(RUNNING_PREFIX)]

    def claimed_results(self, task_key: str) -> set[str]:
        """Result files the task's log says its worker wrote (``cfut worker: wrote result PATH``)."""
        prefix = "cfut worker: wrote result "
        return {line[len(prefix):].strip() for line in tail(self.log(task_key), 10_000).splitlines()
                if line.startswith(prefix)}

    # -- cleanup

    def remove(self, paths: Iterable[str]) -> None:
        """Remove files that may or may not exist; problems other than absence are logged."""
        for path in paths:
            if not path:
                continue
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                import logging

                logging.getLogger("cfut").warning("cannot remove %s: %s", path, exc)


def _outcome(record: _wire.ResultRecord, path: str) -> tuple[bool, Any]:
    if record.ok:
        if record.data is None:
            return False, CfutError(f"result file {path!r} says the call succeeded but holds no value")
        try:
            return True, _wire.loads(record.data)
        except Exception as exc:
            return False, SerializationError(
                f"the job's result could not be unpickled here: {type(exc).__name__}: {exc}")
    exc_obj: object = None
    if record.data is not None:
        try:
            exc_obj = _wire.loads(record.data)
        except Exception:
            exc_obj = None
    if isinstance(exc_obj, BaseException):
        exc_obj.__cause__ = RemoteTraceback(record.traceback)
        return False, exc_obj
    return False, RemoteException(record.traceback, record.type_name)
