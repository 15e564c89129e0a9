"""The worker a job runs: ``python -m cfut.remote PAYLOAD [--import-path DIR]...``.

It writes a started marker, unpickles each call of the task, runs it, and writes each call's result
atomically next to the payload. An exception raised by a call becomes that call's result (with its
formatted traceback), so the exit code is 0 whenever every result was written; it is non-zero only
when the payload itself cannot be read.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
import traceback
from collections.abc import Sequence
from typing import Any, TextIO

from . import files, serialize


def _format_exception(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _outcome(call_bytes: bytes) -> tuple[bool, bytes | None, str, str]:
    """Run one pickled call; return (ok, pickled value or exception, traceback text, type name)."""
    try:
        fn, args, kwargs = serialize.loads(call_bytes)
        value = fn(*args, **kwargs)
    except BaseException as exc:  # the user's code may raise anything, SystemExit included
        if isinstance(exc, KeyboardInterrupt):
            raise
        tb = _format_exception(exc)
        type_name = f"{type(exc).__module__}.{type(exc).__qualname__}"
        try:
            return False, serialize.dumps(exc, "exception"), tb, type_name
        except Exception:
            return False, None, tb, type_name
    try:
        return True, serialize.dumps(value, "result"), "", ""
    except Exception as exc:
        tb = _format_exception(exc)
        return False, None, f"the function returned a value that cannot be pickled:\n{tb}", type(exc).__name__


def run_payload(payload_path: str, log: TextIO) -> int:
    """Run every call in the payload file, writing results beside it. Returns an exit code."""
    directory = os.path.dirname(os.path.abspath(payload_path))
    stem = os.path.basename(payload_path)
    if stem.endswith(files.PAYLOAD_SUFFIX):
        stem = stem[: -len(files.PAYLOAD_SUFFIX)]
    started = os.path.join(directory, stem + files.STARTED_SUFFIX)
    serialize.write_text_private(started, f"{socket.gethostname()} {os.getpid()} {time.time():.3f}\n")
    try:
        calls: list[tuple[str, bytes]] = serialize.read(payload_path)
    except Exception as exc:
        print(f"cfut worker: cannot read payload {payload_path!r}: {exc!r}", file=log)
        return 2
    for call_id, call_bytes in calls:
        ok, data, tb, type_name = _outcome(call_bytes)
        if not ok:
            print(f"cfut worker: call {call_id} raised:\n{tb}", file=log)
        result_path = os.path.join(directory, call_id + files.RESULT_SUFFIX)
        serialize.write_private(result_path, serialize.dumps((ok, data, tb, type_name), "result"))
        print(f"cfut worker: wrote result {result_path}", file=log)
    log.flush()
    return 0


def main(argv: Sequence[str] | None = None, *, log: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cfut.remote", description=__doc__)
    parser.add_argument("payload", help="the task's payload file (.in)")
    parser.add_argument("--import-path", action="append", default=[], metavar="DIR",
                        help="prepend DIR to sys.path before unpickling (repeatable)")
    options = parser.parse_args(argv)
    sys.path[:0] = list(options.import_path)
    os.umask(0o077)
    return run_payload(options.payload, log if log is not None else sys.stderr)


def decode_result(data: Any) -> tuple[bool, bytes | None, str, str]:
    """Check the shape of a result record read from a ``.out`` file."""
    ok, value, tb, type_name = data
    return bool(ok), value, str(tb), str(type_name)


if __name__ == "__main__":
    sys.exit(main())
