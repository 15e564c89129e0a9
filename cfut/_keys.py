"""The secret that signs payloads and results (see :mod:`cfut._wire`), kept out of the work directory.

Whoever can write into the work directory must not be able to read the key, or they could sign a
payload (code run in the job) or a result (code run in the submitting process). So the key lives in
a file only its owner can read, under the user's home, which compute nodes share on every cluster
we know of: ``$CFUT_KEY_FILE`` or ``$XDG_CONFIG_HOME/cfut/hmac.key`` (``~/.config/cfut/hmac.key``),
created with 32 random bytes (``os.urandom``, which :mod:`secrets` uses) on first use, mode 0600 in a 0700 directory.

A job finds the key in ``$CFUT_HMAC_KEY`` (hex) when its submitter put it in the job's environment
(Slurm: in ``sbatch``'s environment, never its argv, so neither ``ps`` nor ``scontrol show job``
shows it), else in the key file (HTCondor: the submit description names the file, since a job ad's
environment is visible to every user of the pool).
"""

from __future__ import annotations

import os
import stat

from ._errors import InvalidArgumentError

KEY_ENV = "CFUT_HMAC_KEY"
KEY_FILE_ENV = "CFUT_KEY_FILE"
KEY_BYTES = 32


def key_file() -> str:
    """Where the key lives: ``$CFUT_KEY_FILE``, else ``$XDG_CONFIG_HOME/cfut/hmac.key``."""
    explicit = os.environ.get(KEY_FILE_ENV)
    if explicit:
        return os.path.abspath(explicit)
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(config, "cfut", "hmac.key")


def _check_private(path: str, info: os.stat_result) -> None:
    if info.st_uid != os.getuid():
        raise InvalidArgumentError(f"the key file {path!r} belongs to uid {info.st_uid}, not to us")
    if info.st_mode & 0o077:
        raise InvalidArgumentError(
            f"the key file {path!r} is readable by others (mode {stat.S_IMODE(info.st_mode):04o}); "
            "anyone who can read it can run code in your jobs. Remove it (a new one is made) or run: "
            f"chmod 600 {path!r}"
        )


def load_key(path: str | None = None, *, create: bool = True) -> bytes:
    """Read the key (creating it when ``create`` and it does not exist yet); raises InvalidArgumentError
    when the file is not private or not a key."""
    path = path or key_file()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        if not create:
            raise InvalidArgumentError(f"no cfut key file at {path!r} (set ${KEY_ENV} or ${KEY_FILE_ENV})") from None
        return _create(path)
    except OSError as exc:
        raise InvalidArgumentError(f"cannot read the cfut key file {path!r}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as handle:
        _check_private(path, os.fstat(handle.fileno()))
        key = handle.read()
    if len(key) != KEY_BYTES:
        raise InvalidArgumentError(f"the cfut key file {path!r} holds {len(key)} bytes, not {KEY_BYTES}")
    return key


def _create(path: str) -> bytes:
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    key = os.urandom(KEY_BYTES)  # secrets.token_bytes, without importing secrets (a worker imports this module)
    tmp = f"{path}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(tmp, path)  # never replaces a key another process made meanwhile
    except FileExistsError:
        os.unlink(tmp)
        return load_key(path, create=False)
    os.unlink(tmp)
    return key


def job_key() -> bytes:
    """The key inside a job: ``$CFUT_HMAC_KEY`` (hex) if set, else the key file (never created here)."""
    text = os.environ.get(KEY_ENV)
    if text:
        try:
            key = bytes.fromhex(text)
        except ValueError:
            raise InvalidArgumentError(f"${KEY_ENV} is not a hex key") from None
        if len(key) != KEY_BYTES:
            raise InvalidArgumentError(f"${KEY_ENV} holds {len(key)} bytes, not {KEY_BYTES}")
        return key
    return load_key(create=False)
