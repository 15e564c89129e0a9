"""How scheduler adapters run commands: through the runner, counted, with failures made explicit.

Every command an adapter issues goes through :class:`SchedulerCommands`, which counts it (for
``statistics()``), logs it at DEBUG level, and turns the ways a command can fail to answer (a
timeout, an ``OSError`` such as ``E2BIG``: "Argument list too long") into a failed command instead
of an exception escaping into the monitor. Adapters then choose: :meth:`run` (look at the result
yourself), :meth:`check` (a status command: failure raises :class:`~cfut.CommandFailedError`) or
:meth:`submit` (a submission: failure raises :class:`~cfut.SubmissionError`, marked transient when
the adapter says the output means "busy or unreachable").
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from ._errors import CommandFailedError, CommandNotFoundError, CommandTimeoutError, SubmissionError
from ._runner import CommandResult, CommandRunner

log = logging.getLogger("cfut")

#: The exit code of a command that could not be run or did not answer in time.
NO_ANSWER = -1


class SchedulerCommands:
    """A :class:`~cfut.CommandRunner` with counting and failure handling for one executor."""

    def __init__(self, runner: CommandRunner) -> None:
        self.runner = runner
        self._lock = threading.Lock()
        #: Commands run, by program name.
        self.counts: Counter[str] = Counter()
        #: Commands that failed (non-zero exit, timeout, could not run), by program name.
        self.failures: Counter[str] = Counter()

    def run(self, argv: Sequence[str], *, input: str | None = None,
            env: Mapping[str, str] | None = None) -> CommandResult:
        """Run one command and return what it did. A timeout or an OSError (other than the program
        missing, which raises :class:`~cfut.CommandNotFoundError`) comes back as a result with exit
        code :data:`NO_ANSWER` whose stderr says what happened."""
        name = os.path.basename(argv[0])
        with self._lock:
            self.counts[name] += 1
        try:
            result = self.runner.run(argv, input=input, env=dict(env) if env is not None else None)
        except CommandNotFoundError:
            with self._lock:
                self.failures[name] += 1
            raise
        except CommandTimeoutError as exc:
            result = CommandResult(tuple(argv), NO_ANSWER, "", f"{exc}\n")
        except OSError as exc:  # E2BIG, EACCES, ...: the command did not run
            result = CommandResult(tuple(argv), NO_ANSWER, "", f"cannot run {name}: {exc}\n")
        if result.returncode != 0:
            with self._lock:
                self.failures[name] += 1
            if result.returncode == NO_ANSWER:
                log.warning("%s", result.stderr.strip())
        log.debug("ran %s -> %d %r %r", list(argv)[:8], result.returncode, result.stdout[:200], result.stderr[:200])
        return result

    def check(self, argv: Sequence[str], *,
              accept: Callable[[CommandResult], bool] = lambda result: False) -> CommandResult:
        """Run a status command; a failure ``accept`` does not excuse raises CommandFailedError."""
        result = self.run(argv)
        if result.returncode != 0 and not accept(result):
            raise CommandFailedError(argv, result.returncode, result.stderr, result.stdout)
        return result

    def submit(self, argv: Sequence[str], *, input: str | None = None, env: Mapping[str, str] | None = None,
               transient: Callable[[CommandResult], bool]) -> CommandResult:
        """Run a submit command; its failure raises SubmissionError (``transient`` when the adapter
        says the output means the scheduler was only busy or unreachable, or there was no answer)."""
        result = self.run(argv, input=input, env=env)
        if result.returncode != 0:
            raise SubmissionError(argv, result.returncode, result.stderr, result.stdout,
                                  transient=result.returncode == NO_ANSWER or transient(result))
        return result
