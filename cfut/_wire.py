"""The on-disk formats of the work directory: what a job reads and what it writes back.

Every file cfut unpickles travels in one frame::

    b"CFUT" | version (1 byte) | kind (1 byte) | HMAC-SHA256 (32 bytes) | body

The MAC covers the version, the kind, the file's *name* and the body, under a secret key that is
never stored in the work directory (see :mod:`cfut._keys`). A file that does not verify is refused
before anything in it is unpickled (:class:`~cfut.IntegrityError`), so whoever can write into the
work directory but cannot read the key can neither run code in the submitting process (by forging
a result) nor in a job (by forging a payload), nor move a genuine file to another name.

Kinds of file, all written by :func:`write_frame` (atomically, mode 0600):

``F`` functions   ``<batch>.fn``   the batch's functions, each pickled once (a map pickles its
                                  function once, however many items it has)
``P`` payload     ``<task>.in``    the task's calls: ``(call id, function index, pickled (args, kwargs))``
``R`` result      ``<call>.out``   one call's :class:`ResultRecord`

This is the only module that imports :mod:`pickle`; cloudpickle serialises, plain pickle loads.
"""

from __future__ import annotations

import hmac
import os
import pickle
import sys
from hashlib import sha256
from typing import NamedTuple

from ._errors import IntegrityError, SerializationError

TYPE_CHECKING = False  # (a worker imports this module: it pays for every import at each job start)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

MAGIC = b"CFUT"
#: Version of the frame and of the records inside it. A worker and a submitter of different versions
#: refuse each other's files with a message that says so, instead of misreading them.
VERSION = 1
FUNCTIONS, PAYLOAD, RESULT = b"F", b"P", b"R"
_KINDS = {FUNCTIONS: "functions", PAYLOAD: "payload", RESULT: "result"}
_HEADER = len(MAGIC) + 2 + sha256().digest_size
FILE_MODE = 0o600


class DependencyRef:
    """Stands, in a call's pickled arguments, for the value of another call (by its id): the worker
    reads that call's result file and passes the value (see :mod:`cfut._deps`)."""

    __slots__ = ("call_id",)

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id

    def __reduce__(self) -> tuple[type[DependencyRef], tuple[str]]:
        return (DependencyRef, (self.call_id,))

    def __repr__(self) -> str:
        return f"DependencyRef({self.call_id!r})"


class CallSpec(NamedTuple):
    """One call in a payload: its id (the result file's stem), which function, its arguments."""

    call_id: str
    function: int  # index into the batch's function file
    arguments: bytes  # pickled (args, kwargs)


class Payload(NamedTuple):
    """A task's payload: the name of its batch's function file (in the same directory) and its calls."""

    functions: str
    calls: tuple[CallSpec, ...]


class ResultRecord(NamedTuple):
    """What one call produced: ``ok`` with the pickled value, or not ok with the pickled exception
    (``None`` when it could not be pickled), its formatted traceback and its qualified type name, and
    how long the call ran (seconds of wall time on the node)."""

    ok: bool
    data: bytes | None
    traceback: str = ""
    type_name: str = ""
    seconds: float = 0.0


def dumps(obj: Any, what: str = "object", *, plain_first: bool = False) -> bytes:
    """Serialise ``obj`` with cloudpickle; :class:`~cfut.SerializationError` names ``what`` failed.

    ``plain_first`` (a worker's results): while cloudpickle is not loaded in this process, try
    :mod:`pickle` first and cloudpickle only when it fails, so that a job whose function and
    arguments came by reference never imports cloudpickle (20 ms of a worker's start). Once
    cloudpickle is loaded (a function or argument came by value, or the job's code imported it, for
    example to ``register_pickle_by_value``), cloudpickle alone writes, so that its by-value rules
    hold. Without cloudpickle loaded no module is registered by value and no class was rebuilt by
    value, so what pickle writes by reference is what cloudpickle would write; a value pickle cannot
    write (a lambda made by the call) is serialised twice, first by pickle up to where it fails. Not
    for the submitting side, where plain pickle would save a ``__main__`` function by reference."""
    if plain_first and "cloudpickle" not in sys.modules:
        try:
            return pickle.dumps(obj, protocol=pickle.DEFAULT_PROTOCOL)
        except Exception:  # noqa: S110 - cloudpickle below says what is wrong, if anything is
            pass
    import cloudpickle  # here, not at the top: see plain_first

    try:
        data: bytes = cloudpickle.dumps(obj, protocol=pickle.DEFAULT_PROTOCOL)
    except Exception as exc:  # cloudpickle raises many types: PicklingError, TypeError, ...
        raise SerializationError(f"cannot serialise the {what}: {type(exc).__name__}: {exc}") from exc
    return data


def loads(data: bytes) -> Any:
    """Unpickle bytes that came out of a verified frame (never call it on anything else)."""
    return pickle.loads(data)


def _mac(key: bytes, kind: bytes, name: str, body: bytes) -> bytes:
    mac = hmac.new(key, digestmod=sha256)
    mac.update(bytes([VERSION]) + kind)
    encoded = name.encode("utf-8", "surrogateescape")
    mac.update(len(encoded).to_bytes(4, "big") + encoded)
    mac.update(body)
    return mac.digest()


def frame(key: bytes, kind: bytes, name: str, body: bytes) -> bytes:
    """The bytes of a file called ``name`` of this ``kind`` holding ``body``."""
    return MAGIC + bytes([VERSION]) + kind + _mac(key, kind, name, body) + body


def unframe(key: bytes, kind: bytes, path: str, data: bytes) -> bytes:
    """The body of a frame read from ``path``, after checking it; raises IntegrityError naming the file."""
    what = _KINDS[kind]
    if len(data) < _HEADER or not data.startswith(MAGIC):
        raise IntegrityError(path, f"not a cfut {what} file (no cfut header; written by another program, "
                                   "or by clusterfutures 0.5)")
    version, got_kind = data[len(MAGIC)], data[len(MAGIC) + 1:len(MAGIC) + 2]
    if version != VERSION:
        raise IntegrityError(path, f"written in cfut's format version {version}; this cfut reads version "
                                   f"{VERSION} (the submitting process and the job run different cfut versions)")
    if got_kind != kind:
        raise IntegrityError(path, f"holds a {_KINDS.get(got_kind, 'unknown')} record, not a {what}")
    body = data[_HEADER:]
    expected = _mac(key, kind, os.path.basename(path), body)
    if not hmac.compare_digest(expected, data[len(MAGIC) + 2:_HEADER]):
        raise IntegrityError(path, f"its {what} does not carry this user's signature: it was not written by "
                                   "cfut under this user's key, or it was changed or renamed since")
    return body


def write_frame(key: bytes, kind: bytes, path: str, body: bytes) -> None:
    """Write a framed file atomically (a temporary name, then a rename) with mode 0600.

    There is no fsync: what makes the file visible whole on a shared filesystem (NFS) is
    close-to-open consistency and the atomic rename, not durability on the server's disk."""
    write_private(path, frame(key, kind, os.path.basename(path), body))


def read_frame(key: bytes, kind: bytes, path: str) -> bytes:
    """Read and verify a framed file; OSError if it cannot be read, IntegrityError if it does not verify."""
    with open(path, "rb") as handle:
        return unframe(key, kind, path, handle.read())


def write_private(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, as a file only its owner can read (mode 0600)."""
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


# ---------------------------------------------------------------- records


def encode_functions(functions: Sequence[bytes]) -> bytes:
    return dumps(tuple(functions), "function list")


def decode_functions(body: bytes, path: str) -> tuple[bytes, ...]:
    value = loads(body)
    if not isinstance(value, tuple) or not all(isinstance(item, bytes) for item in value):
        raise IntegrityError(path, "the function file does not hold a list of pickled functions")
    return value


def encode_payload(payload: Payload) -> bytes:
    return dumps(tuple(payload), "payload")


def decode_payload(body: bytes, path: str) -> Payload:
    value = loads(body)
    try:
        functions, calls = value
        return Payload(str(functions), tuple(CallSpec(str(c), int(f), bytes(a)) for c, f, a in calls))
    except (TypeError, ValueError) as exc:
        raise IntegrityError(path, f"the payload does not have the shape of version {VERSION}: {exc}") from None


def encode_result(record: ResultRecord) -> bytes:
    return dumps(tuple(record), "result record", plain_first=True)


def decode_result(body: bytes, path: str) -> ResultRecord:
    value = loads(body)
    try:
        ok, data, tb, type_name, seconds = value
    except (TypeError, ValueError):
        raise IntegrityError(path, f"the result record does not have the shape of version {VERSION}") from None
    if data is not None and not isinstance(data, bytes):
        raise IntegrityError(path, "the result record's value is not pickled bytes")
    return ResultRecord(bool(ok), data, str(tb), str(type_name), float(seconds))
