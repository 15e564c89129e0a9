"""The journal: what an executor submitted, on disk, so that another process can take its jobs over.

Each executor appends to ``<workdir>/<executor key>.journal``, one signed JSON record a line
(``JSON<TAB>HMAC-SHA256 hex``, the MAC under the user's key, as every file cfut reads back):

================  ==========================================================================
``executor``      who writes: scheduler name, host, pid, the executor's key (first line, and
                  again whenever another process takes the journal over)
``batch``         a batch about to be submitted: its key, whether it is an array, its tasks
                  (task key, index, call ids), and for calls that take other calls' futures
                  as arguments, those calls' ids; written and fsynced *before* the submit command,
                  so a crash between the command and the next record is recovered by the
                  batch's unique job name
``accepted``      the scheduler's job id for a batch
``abandoned``     a batch that made no job (refused, or found not to exist)
``done``          a task whose calls are all resolved and whose files are gone
================  ==========================================================================

A clean ``shutdown`` with nothing left removes the journal. Whatever remains is what
:meth:`cfut.SlurmExecutor.reattach` (and ``python -m cfut jobs|clean``) read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ._errors import IntegrityError

log = logging.getLogger("cfut")

SUFFIX = ".journal"
VERSION = 1


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, b"J" + text.encode(), hashlib.sha256).hexdigest()


class Journal:
    """An append-only, fsynced record of one executor's batches."""

    def __init__(self, path: str, key: bytes, header: dict[str, Any]) -> None:
        self.path = path
        self._key = key
        self._header = header
        self._lock = threading.Lock()
        self._fd: int | None = None
        self.written = False
        self._open: set[str] = set()  # batches recorded and not yet done or abandoned

    def _line(self, record: dict[str, Any]) -> bytes:
        text = json.dumps(record, separators=(",", ":"), sort_keys=True)
        return f"{text}\t{_mac(self._key, text)}\n".encode()

    def _write(self, record: dict[str, Any], *, sync: bool) -> None:
        with self._lock:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0),
                                   0o600)
                # who writes (again, when another process takes the journal over)
                os.write(self._fd, self._line({"op": "executor", "v": VERSION, "host": socket.gethostname(),
                                               "pid": os.getpid(), "time": time.time(), **self._header}))
            os.write(self._fd, self._line(record))
            self.written = True
            if sync:
                os.fsync(self._fd)

    def follow(self, keys: list[str]) -> None:
        """This executor also follows what the executors with these keys left (reattach)."""
        with self._lock:
            self._header["follows"] = sorted(set(keys))

    def batch(self, key: str, array: bool, tasks: list[tuple[str, int | None, list[str]]],
              after: dict[str, list[str]] | None = None) -> None:
        """A batch about to be submitted; ``after``: call id -> the call ids whose results it takes."""
        with self._lock:
            self._open.add(key)
        record: dict[str, Any] = {"op": "batch", "batch": key, "array": array, "tasks": tasks}
        if after:
            record["after"] = after
        self._write(record, sync=True)

    def accepted(self, key: str, job_id: str) -> None:
        self._write({"op": "accepted", "batch": key, "job_id": job_id}, sync=True)

    def abandoned(self, key: str) -> None:
        if key in self._open:
            self._write({"op": "abandoned", "batch": key}, sync=False)
            self._finished(key)

    def done(self, task_key: str, batch_key: str, batch_done: bool) -> None:
        """A task is forgotten (results collected, files gone); ``batch_done``: its batch's last one."""
        self._write({"op": "done", "task": task_key}, sync=False)
        if batch_done:
            self._finished(batch_key)

    def _finished(self, key: str) -> None:
        """A batch needs no journal any more; with no batch left open, neither does the executor."""
        with self._lock:
            self._open.discard(key)
            idle = not self._open
        if idle:
            self.close(remove=True)

    def close(self, *, remove: bool) -> None:
        """Stop writing; ``remove``: nothing of it is needed any more (every batch is done)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            if remove:
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass


@dataclass
class JournalBatch:
    key: str
    array: bool
    tasks: list[tuple[str, int | None, list[str]]]
    job_id: str | None = None
    abandoned: bool = False
    #: call id -> the ids of the calls whose results it takes (futures passed as arguments)
    after: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class JournalState:
    """What a journal says: who wrote it and every batch not abandoned, in submission order."""

    path: str
    scheduler: str = ""
    key: str = ""
    host: str = ""
    pid: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    batches: dict[str, JournalBatch] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)

    def owner_alive(self) -> bool:
        """Whether the process that wrote it last still runs (on this host; elsewhere: assumed so)."""
        if self.host != socket.gethostname():
            return True
        if self.pid == os.getpid():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def read(path: str, key: bytes) -> JournalState:
    """Read and verify a journal; raises IntegrityError for a line that does not verify (naming it)."""
    state = JournalState(path)
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.endswith("\n"):
                break  # a record cut short by a crash: everything before it stands
            text, _, mac = line.rstrip("\n").rpartition("\t")
            if not hmac.compare_digest(_mac(key, text), mac):
                raise IntegrityError(path, f"line {number} does not carry this user's signature")
            record = json.loads(text)
            _apply(state, record)
    return state


def _apply(state: JournalState, record: dict[str, Any]) -> None:
    op = record.get("op")
    if op == "executor":
        if record.get("v") != VERSION:
            raise IntegrityError(state.path, f"written in journal version {record.get('v')}, not {VERSION}")
        state.scheduler, state.key = record["scheduler"], record["key"]
        state.host, state.pid = record["host"], int(record["pid"])
        state.extra = {k: v for k, v in record.items()
                       if k not in ("op", "v", "scheduler", "key", "host", "pid", "time")}
    elif op == "batch":
        tasks = [(str(t[0]), None if t[1] is None else int(t[1]), [str(c) for c in t[2]]) for t in record["tasks"]]
        after = {str(call): [str(d) for d in ids] for call, ids in record.get("after", {}).items()}
        state.batches[record["batch"]] = JournalBatch(record["batch"], bool(record["array"]), tasks, after=after)
    elif op == "accepted" and record["batch"] in state.batches:
        state.batches[record["batch"]].job_id = str(record["job_id"])
    elif op == "abandoned" and record["batch"] in state.batches:
        state.batches.pop(record["batch"])
    elif op == "done":
        state.done.add(record["task"])


def journals(workdir: str) -> Iterator[str]:
    """The journal files in a work directory, oldest first."""
    names = [n for n in os.listdir(workdir) if n.endswith(SUFFIX)]
    paths = [os.path.join(workdir, n) for n in names]
    yield from sorted(paths, key=lambda p: os.stat(p).st_mtime)
