"""The worker a job runs: ``python -m cfut.remote PAYLOAD [--import-path DIR]...``.

It writes a started marker, verifies and reads the task's payload and its batch's function file
(:mod:`cfut._wire`), runs each call, and writes each call's result atomically next to the payload.
An exception raised by a call becomes that call's result (with its formatted traceback), so the
exit code is 0 whenever every result was written. A call whose result already exists (a requeued
task running again) is not run again. When the payload is gone, the submitting process has already
collected (or cancelled) the task: the worker says so and exits 0 without running anything.

``KeyboardInterrupt`` is not a result: it ends the process as SIGINT would, as for any program.
"""

from __future__ import annotations

import functools  # (pickle imports it anyway)
import os
import sys
import time

from . import _keys, _wire
from ._deps import substitute
from ._errors import CfutError, DependencyFailed, RemoteException
from ._jobdir import PAYLOAD_SUFFIX, RESULT_SUFFIX, RUNNING_PREFIX, STARTED_SUFFIX

# Every job starts this module: an import costs each job its time (100 one-call jobs on 2 CPUs paid
# about 2 s for typing, argparse, socket, concurrent.futures and cloudpickle, which a job that
# raises nothing and returns plain values never uses). Those load where they are needed.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
    from typing import Any, TextIO


def _format_exception(exc: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _run_call(fn: Callable[..., Any], arguments: bytes, dependencies: _Dependencies) -> _wire.ResultRecord:
    """Run one call; its value or exception, pickled, with the traceback text and type name."""
    try:
        args, kwargs = dependencies.resolve(_wire.loads(arguments))
    except DependencyFailed as exc:
        return _failure(exc)
    try:
        value = fn(*args, **kwargs)
    except BaseException as exc:  # the user's code may raise anything, SystemExit included
        if isinstance(exc, KeyboardInterrupt):
            raise
        return _failure(exc)
    try:
        return _wire.ResultRecord(True, _wire.dumps(value, "result", plain_first=True))
    except Exception as exc:
        tb = _format_exception(exc)
        return _wire.ResultRecord(False, None, f"the function returned a value that cannot be pickled:\n{tb}",
                                  type(exc).__name__)


def _failure(exc: BaseException) -> _wire.ResultRecord:
    tb = _format_exception(exc)
    type_name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    try:
        return _wire.ResultRecord(False, _wire.dumps(exc, "exception", plain_first=True), tb, type_name)
    except Exception:
        return _wire.ResultRecord(False, None, tb, type_name)


class _Dependencies:
    """Replaces each :class:`~cfut._wire.DependencyRef` in a call's arguments by the value of the call
    it names, read (and verified) from that call's result file in the work directory."""

    def __init__(self, key: bytes, directory: str) -> None:
        self._key = key
        self._directory = directory
        self._values: dict[str, Any] = {}

    def _value(self, ref: _wire.DependencyRef) -> Any:
        if ref.call_id in self._values:
            return self._values[ref.call_id]
        path = os.path.join(self._directory, ref.call_id + RESULT_SUFFIX)
        try:
            record = _wire.decode_result(_wire.read_frame(self._key, _wire.RESULT, path), path)
        except FileNotFoundError:
            raise DependencyFailed(ref.call_id, "has no result in the work directory") from None
        except (OSError, CfutError) as exc:
            raise DependencyFailed(ref.call_id, f"has a result that cannot be read: {exc}") from exc
        if not record.ok or record.data is None:
            cause: BaseException = RemoteException(record.traceback, record.type_name)
            try:
                loaded = _wire.loads(record.data) if record.data is not None else None
                if isinstance(loaded, BaseException):
                    cause = loaded
            except Exception:  # noqa: BLE001 - the traceback text stands in for it
                pass
            raise DependencyFailed(ref.call_id, f"raised {type(cause).__name__}: {cause}") from cause
        self._values[ref.call_id] = _wire.loads(record.data)
        return self._values[ref.call_id]

    def resolve(self, arguments: Any) -> Any:
        return substitute(arguments, self._value, lambda value: isinstance(value, _wire.DependencyRef))


class _Functions:
    """The batch's function file, read and verified once, each function unpickled when first used."""

    def __init__(self, key: bytes, path: str) -> None:
        self._path = path
        self._pickled = _wire.decode_functions(_wire.read_frame(key, _wire.FUNCTIONS, path), path)
        self._loaded: dict[int, Callable[..., Any]] = {}

    def get(self, index: int) -> Callable[..., Any]:
        if index not in self._loaded:
            self._loaded[index] = _wire.loads(self._pickled[index])
        return self._loaded[index]


def run_payload(payload_path: str, log: TextIO, key: bytes | None = None) -> int:
    """Run every call of the payload file, writing results beside it. Returns an exit code."""
    directory = os.path.dirname(os.path.abspath(payload_path))
    stem = os.path.basename(payload_path)
    if stem.endswith(PAYLOAD_SUFFIX):
        stem = stem[: -len(PAYLOAD_SUFFIX)]
    started = os.path.join(directory, stem + STARTED_SUFFIX)
    if not os.path.exists(payload_path):
        print(f"cfut worker: payload {payload_path!r} is gone: the submitting process already collected "
              "or cancelled this task; nothing to do", file=log)
        return 0
    # One line per start, appended: a requeued task's marker counts how often it started.
    fd = os.open(started, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as handle:
        handle.write(f"{os.uname().nodename} {os.getpid()} {time.time():.3f}\n")  # (socket.gethostname)
    try:
        key = key if key is not None else _keys.job_key()
        payload = _wire.decode_payload(_wire.read_frame(key, _wire.PAYLOAD, payload_path), payload_path)
        functions = _Functions(key, os.path.join(directory, payload.functions))
        dependencies = _Dependencies(key, directory)
    except (OSError, CfutError) as exc:
        print(f"cfut worker: cannot read payload {payload_path!r}: {exc}", file=log)
        return 2
    for call in payload.calls:
        result_path = os.path.join(directory, call.call_id + RESULT_SUFFIX)
        if os.path.exists(result_path):
            print(f"cfut worker: call {call.call_id} already has its result (the task ran before); skipped",
                  file=log)
            continue
        if len(payload.calls) > 1:
            # said (and flushed) before the call runs: if it ends the process, the executor can tell
            # the calls after it that they never ran (cfut._jobdir.JobDir.begun_calls)
            print(f"{RUNNING_PREFIX}{call.call_id}", file=log, flush=True)
        try:
            fn = functions.get(call.function)
        except Exception as exc:  # the function cannot be rebuilt here (a module missing on the node)
            record = _failure(exc)
        else:
            began = time.monotonic()
            record = _run_call(fn, call.arguments, dependencies)._replace(seconds=time.monotonic() - began)
        if not record.ok:
            print(f"cfut worker: call {call.call_id} raised:\n{record.traceback}", file=log)
        _wire.write_frame(key, _wire.RESULT, result_path, _wire.encode_result(record))
        print(f"cfut worker: wrote result {result_path}", file=log)
    log.flush()
    return 0


@functools.cache
def _parser() -> argparse.ArgumentParser:
    """Built once per process (building one looks up translations on disk: a fake's warm job
    processes run thousands of workers)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m cfut.remote",
        description="Run the calls of a cfut task's payload file and write each call's result beside it "
                    "(a job's batch script runs this; see cfut._worker).")
    parser.add_argument("payload", help="the task's payload file (.in)")
    parser.add_argument("--import-path", action="append", default=[], metavar="DIR",
                        help="prepend DIR to sys.path before unpickling (repeatable)")
    return parser


def _plain_arguments(argv: Sequence[str]) -> tuple[str, list[str]] | None:
    """``PAYLOAD [--import-path DIR]...`` as cfut's scripts write it, read without argparse (which
    costs a job's start more than the rest of this module); None for anything else, which goes to
    argparse for its help and its messages."""
    if not argv or argv[0].startswith("-"):
        return None
    paths = []
    rest = list(argv[1:])
    while rest:
        if len(rest) < 2 or rest[0] != "--import-path" or rest[1].startswith("-"):
            return None
        paths.append(rest[1])
        del rest[:2]
    return argv[0], paths


def main(argv: Sequence[str] | None = None, *, log: TextIO | None = None) -> int:
    """Parse the worker's command line and run the payload; returns the process's exit code."""
    plain = _plain_arguments(sys.argv[1:] if argv is None else argv)
    if plain is None:
        options = _parser().parse_args(argv)
        plain = options.payload, list(options.import_path)
    payload, import_paths = plain
    sys.path[:0] = import_paths
    os.umask(0o077)
    return run_payload(payload, log if log is not None else sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
