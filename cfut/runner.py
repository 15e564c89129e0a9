"""The one seam between cfut and a scheduler's command-line tools.

Everything cfut asks a scheduler goes through :class:`CommandRunner.run`: an argv in, an exit code
and the two output streams out. Production uses :class:`SubprocessRunner`, the only module of cfut
that imports :mod:`subprocess`; tests pass an in-process fake (:class:`cfut.fakes.FakeSlurm`) as the
executor's ``runner=`` argument instead. Nothing is monkeypatched.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, Protocol, runtime_checkable

from .errors import CommandNotFoundError, CommandTimeoutError, InvalidArgumentError


@dataclass(frozen=True)
class CommandResult:
    """What a command did: its argv, exit code, and output decoded as text."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@runtime_checkable
class CommandRunner(Protocol):
    """Runs one command to completion."""

    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
    ) -> CommandResult: ...


def start_process(
    argv: Sequence[str],
    *,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
    new_session: bool = True,
) -> subprocess.Popen[bytes]:
    """Start a process without waiting for it: the fake schedulers run jobs' scripts this way,
    so that this module stays the only one in cfut that imports :mod:`subprocess`."""
    return subprocess.Popen(
        list(argv), cwd=cwd, env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL,
        stdout=stdout, stderr=stderr, start_new_session=new_session,
    )


#: For ``stderr=`` of :func:`start_process`: send it where stdout goes.
STDOUT = subprocess.STDOUT

#: Raised by ``Popen.wait(timeout)`` of a process from :func:`start_process`.
WaitTimeout = subprocess.TimeoutExpired


class SubprocessRunner:
    """Runs real commands with :func:`subprocess.run`.

    ``env`` entries are added to this process's environment rather than replacing it, since the
    scheduler tools need ``PATH``, ``SLURM_CONF`` and friends. A missing program raises
    :class:`~cfut.errors.CommandNotFoundError` naming it; an expired timeout raises
    :class:`~cfut.errors.CommandTimeoutError`.
    """

    def __init__(self, default_timeout: float | None = 120.0) -> None:
        self.default_timeout = default_timeout

    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        argv = tuple(argv)
        if not argv:
            raise InvalidArgumentError("cannot run an empty command")
        full_env = None
        if env is not None:
            import os

            full_env = {**os.environ, **env}
        limit = timeout if timeout is not None else self.default_timeout
        try:
            done = subprocess.run(
                argv,
                input=input,
                env=full_env,
                cwd=cwd,
                timeout=limit,
                capture_output=True,
                text=True,
                errors="replace",
                check=False,
            )
        except FileNotFoundError as exc:
            # Also raised for a missing cwd; name whichever is missing.
            if cwd is not None and exc.filename == cwd:
                raise InvalidArgumentError(f"working directory {cwd!r} does not exist") from exc
            raise CommandNotFoundError(argv[0]) from exc
        except subprocess.TimeoutExpired as exc:
            raise CommandTimeoutError(argv, limit or 0.0) from exc
        return CommandResult(argv, done.returncode, done.stdout, done.stderr)

    def __repr__(self) -> str:
        return f"SubprocessRunner(default_timeout={self.default_timeout!r})"
