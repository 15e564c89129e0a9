"""Writing a task's payload and reading its results by hand, in cfut's signed format (for fake tests)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from cfut import _keys, _wire
from cfut._jobdir import JobDir


def write_task(directory: str | os.PathLike[str], task: str,
               calls: Sequence[tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, Any]]]) -> str:
    """Write ``<task>.fn`` and ``<task>.in`` for these ``(call id, fn, args, kwargs)``; the payload's path."""
    jobdir = JobDir(directory, _keys.load_key())
    jobdir.write_functions(task, [_wire.dumps(fn) for _, fn, _, _ in calls])
    jobdir.write_payload(task, task, [_wire.CallSpec(call_id, index, _wire.dumps((args, kwargs)))
                                      for index, (call_id, _, args, kwargs) in enumerate(calls)])
    return jobdir.payload(task)


def read_result(directory: str | os.PathLike[str], call_id: str) -> _wire.ResultRecord:
    """The verified result record a worker wrote for ``call_id``."""
    path = os.path.join(os.fspath(directory), call_id + ".out")
    return _wire.decode_result(_wire.read_frame(_keys.load_key(), _wire.RESULT, path), path)
