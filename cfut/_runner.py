"""The one seam between cfut and a scheduler's command-line tools.

Everything cfut asks a scheduler goes through :class:`CommandRunner.run`: an argv in, an exit code
and the two output streams out. Production uses :class:`SubprocessRunner`, the only module of cfut
that imports :mod:`subprocess`; tests pass an in-process fake (:class:`cfut.fakes.FakeSlurm`) as the
executor's ``runner=`` argument instead. Nothing is monkeypatched.

Two small, explicit hooks serve the pytest plugin (:mod:`cfut.pytest_plugin`) and anyone else who
wants a fake to stand in for a whole block of code:

* :func:`use_default_runner` pushes the runner an executor of one scheduler uses when it is created
  without ``runner=`` (``SlurmExecutor()`` inside a ``fake_slurm`` test uses the fake);
  :func:`default_runner` is what :class:`cfut.ClusterExecutor` consults.
* :func:`refuse_real_commands` makes :class:`SubprocessRunner` refuse to run scheduler commands
  (raising :class:`RealCommandRefused`) unless they resolve into an allowed directory, such as the
  fake commands' own ``bin`` directory.

Both are process-wide (an executor may be made in any thread) and nest as a stack.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ._errors import CommandNotFoundError, CommandTimeoutError, InvalidArgumentError, RealCommandRefused


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


@dataclass(frozen=True)
class _Refusal:
    names: frozenset[str]
    prefixes: tuple[str, ...]
    allowed_dirs: tuple[str, ...]
    reason: str
    on_refuse: Callable[[tuple[str, ...]], None] | None

    def refuses(self, argv: tuple[str, ...], env: Mapping[str, str] | None) -> bool:
        name = os.path.basename(argv[0])
        if name not in self.names and not name.startswith(self.prefixes):
            return False
        if not self.allowed_dirs:
            return True
        path = argv[0] if "/" in argv[0] else shutil.which(argv[0], path=(env or os.environ).get("PATH"))
        if path is None:
            return True
        return os.path.dirname(os.path.realpath(path)) not in self.allowed_dirs


_hook_lock = threading.Lock()
_default_runners: list[tuple[str, CommandRunner]] = []
_refusals: list[_Refusal] = []


def default_runner(scheduler: str) -> CommandRunner:
    """The runner an executor for ``scheduler`` ("Slurm", "HTCondor") uses without ``runner=``: the
    innermost :func:`use_default_runner` for it, else a new :class:`SubprocessRunner`."""
    with _hook_lock:
        for name, runner in reversed(_default_runners):
            if name == scheduler:
                return runner
    return SubprocessRunner()


@contextlib.contextmanager
def use_default_runner(scheduler: str, runner: CommandRunner) -> Iterator[CommandRunner]:
    """Within the block, executors for ``scheduler`` created without ``runner=`` use ``runner``."""
    entry = (scheduler, runner)
    with _hook_lock:
        _default_runners.append(entry)
    try:
        yield runner
    finally:
        with _hook_lock:
            _default_runners.remove(entry)


@contextlib.contextmanager
def refuse_real_commands(
    names: Sequence[str] = (),
    *,
    prefixes: Sequence[str] = (),
    allowed_dirs: Sequence[str] = (),
    reason: str = "a fake scheduler is active",
    on_refuse: Callable[[tuple[str, ...]], None] | None = None,
) -> Iterator[None]:
    """Within the block, :class:`SubprocessRunner` raises :class:`RealCommandRefused` for commands
    named in ``names`` (or starting with one of ``prefixes``) unless the program resolves (through
    the ``PATH`` it would run with) into one of ``allowed_dirs``. ``on_refuse(argv)`` is called first."""
    refusal = _Refusal(frozenset(names), tuple(prefixes),
                       tuple(os.path.realpath(d) for d in allowed_dirs), reason, on_refuse)
    with _hook_lock:
        _refusals.append(refusal)
    try:
        yield
    finally:
        with _hook_lock:
            _refusals.remove(refusal)


def _check_refused(argv: tuple[str, ...], env: Mapping[str, str] | None) -> None:
    with _hook_lock:
        refusals = list(_refusals)
    for refusal in refusals:
        if refusal.refuses(argv, env):
            if refusal.on_refuse is not None:
                refusal.on_refuse(argv)
            raise RealCommandRefused(argv, refusal.reason)


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
            full_env = {**os.environ, **env}
        if _refusals:
            _check_refused(argv, full_env)
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
