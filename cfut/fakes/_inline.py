"""Inline execution (``execution="inline"``): a tiny shell, and the one way a job's worker runs in-process.

:func:`run_worker_in_process` runs ``python -m cfut.remote ARGS`` (that is, :func:`cfut._worker.main`)
in the test's own process as a job would run it in its own, and puts the test process back as it
was afterwards; both fakes use it. The rest of this module is the shell around it:

It knows just enough POSIX shell for the scripts cfut writes and for small test scripts: comments,
blank lines and ``;`` between commands, ``set -e``/``-u``/``-o pipefail``, ``:``/``true``/``false``,
``echo``, ``sleep``, ``exit``, an ``exec`` prefix, ``$NAME``/``${NAME}`` from the job's environment, and the cfut worker
``PYTHON -m cfut.remote ARGS...``, which runs in this process. Quoting follows the shell: single
quotes are literal, double quotes expand variables, a backslash escapes, and a quoted word may span
lines. Everything else - pipes, redirections, ``cd``, ``export``, command substitution, globbing,
other programs - raises :class:`FakeUnsupported` when the script is *submitted*, so a test learns at
once that it needs ``execution="subprocess"``.

Time is not spent here: a fake adds up the ``sleep`` arguments (:attr:`InlineScript.sleep_seconds`)
to decide when the job ends, and only then runs the script, all at once; a job killed before then runs
the part its script had reached (``run_inline(until=...)``, :meth:`InlineScript.timeline`).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import os
import re
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TextIO

from ._errors import FakeUnsupported

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Characters with no meaning to the shell inside an unquoted word (the tokenizer takes runs of them at once).
_ORDINARY = re.compile(r"[^ \t\n\\'\"$;|&<>()`*?\[{}]+")
# Shell programs whose behaviour on the subset above is the same. bash and dash differ on `echo`
# with backslashes, which is refused below for that reason.
_SHELLS = frozenset({"sh", "bash", "dash"})
# Flags of `set` (and of the shebang line) that change nothing the interpreter models, or that it
# models: -e stops at the first failing command, -u makes an unset variable an error.
_SET_FLAGS = frozenset("eu")
_SET_OPTIONS = {"errexit": "e", "nounset": "u", "pipefail": ""}
# Options python accepts before -m that do not change what the worker does in-process.
_HARMLESS_PYTHON_FLAGS = frozenset({"-u", "-B", "-s", "-E", "-I", "-O", "-OO", "-q"})
_BUILTINS = frozenset({":", "true", "false", "echo", "sleep", "exit", "set"})
_SUBPROCESS_HINT = 'run it with execution="subprocess"'


@dataclass(frozen=True)
class Var:
    """A variable reference inside a word; ``quoted`` when it stood inside double quotes."""

    name: str
    quoted: bool


Part = str | Var
Word = tuple[Part, ...]


@dataclass(frozen=True)
class ScriptCommand:
    """One simple command: its words (not yet expanded), where it starts, and its source text."""

    words: tuple[Word, ...]
    line: int
    source: str

    def literal(self, index: int) -> str | None:
        """The word at ``index`` when it holds no variable, else None."""
        word = self.words[index]
        if all(isinstance(part, str) for part in word):
            return "".join(part for part in word if isinstance(part, str))
        return None


def _unsupported(what: str, line: int, source: str, hint: str = _SUBPROCESS_HINT) -> FakeUnsupported:
    text = source.strip().replace("\n", "\\n")
    return FakeUnsupported(f"the inline shell does not model {what} (script line {line}: {text!r}); {hint}")


class _Tokenizer:
    """Splits a script into simple commands of words, the way sh does for the modelled subset."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.line = 1
        self.commands: list[ScriptCommand] = []
        self.words: list[Word] = []
        self.word: list[Part] | None = None
        self.command_start = 0
        self.command_line = 1

    def fail(self, what: str) -> FakeUnsupported:
        end = self.text.find("\n", self.i)
        source = self.text[self.command_start: end if end >= 0 else len(self.text)]
        return _unsupported(what, self.command_line, source)

    def add(self, part: Part) -> None:
        if self.word is None:
            self.word = []
        if isinstance(part, str) and self.word and isinstance(self.word[-1], str):
            self.word[-1] += part
        else:
            self.word.append(part)

    def end_word(self) -> None:
        if self.word is not None:
            self.words.append(tuple(self.word))
            self.word = None

    def end_command(self) -> None:
        self.end_word()
        if self.words:
            source = self.text[self.command_start: self.i]
            self.commands.append(ScriptCommand(tuple(self.words), self.command_line, source))
        self.words = []

    def begin_if_new(self) -> None:
        if not self.words and self.word is None:
            self.command_start = self.i
            self.command_line = self.line

    def variable(self, quoted: bool) -> None:
        """At a ``$``: a plain ``$NAME`` or ``${NAME}``, or something not modelled."""
        text, i = self.text, self.i + 1
        if i < len(text) and text[i] == "{":
            close = text.find("}", i)
            name = text[i + 1: close] if close >= 0 else ""
            if not _NAME.fullmatch(name):
                raise self.fail("parameter expansion other than ${NAME}")
            self.add(Var(name, quoted))
            self.i = close + 1
            return
        match = _NAME.match(text, i)
        if match:
            self.add(Var(match.group(), quoted))
            self.i = match.end()
            return
        if i >= len(text) or text[i] in " \t\n\"'":
            self.add("$")  # a lone dollar sign is literal
            self.i = i
            return
        raise self.fail(f"the special parameter or substitution ${text[i]}")

    def single_quoted(self) -> None:
        close = self.text.find("'", self.i + 1)
        if close < 0:
            raise self.fail("an unterminated quoted string (sh: Syntax error)")
        chunk = self.text[self.i + 1: close]
        self.add(chunk)
        self.line += chunk.count("\n")
        self.i = close + 1

    def double_quoted(self) -> None:
        text = self.text
        self.add("")  # "" is an empty word, not no word
        self.i += 1
        while True:
            if self.i >= len(text):
                raise self.fail("an unterminated quoted string (sh: Syntax error)")
            c = text[self.i]
            if c == '"':
                self.i += 1
                return
            if c == "\\" and self.i + 1 < len(text) and text[self.i + 1] in '$`"\\\n':
                if text[self.i + 1] == "\n":
                    self.line += 1  # backslash-newline inside double quotes disappears
                else:
                    self.add(text[self.i + 1])
                self.i += 2
            elif c == "$":
                self.variable(quoted=True)
            elif c == "`":
                raise self.fail("command substitution")
            else:
                if c == "\n":
                    self.line += 1
                self.add(c)
                self.i += 1

    def run(self) -> list[ScriptCommand]:
        text = self.text
        while self.i < len(text):
            c = text[self.i]
            if c == "\n":
                self.end_command()
                self.i += 1
                self.line += 1
                continue
            if c in " \t":
                self.end_word()
                self.i += 1
                continue
            if c == "#" and self.word is None:
                end = text.find("\n", self.i)
                self.i = end if end >= 0 else len(text)
                continue
            self.begin_if_new()
            if c == "\\":
                if self.i + 1 < len(text) and text[self.i + 1] == "\n":
                    self.line += 1  # line continuation
                elif self.i + 1 < len(text):
                    self.add(text[self.i + 1])
                self.i += 2
            elif c == "'":
                self.single_quoted()
            elif c == '"':
                self.double_quoted()
            elif c == "$":
                self.variable(quoted=False)
            elif c == ";" and text[self.i + 1: self.i + 2] != ";":
                self.end_command()  # `a; b` runs like two lines
                self.i += 1
            elif c in "|&;<>()":
                raise self.fail(f"the shell operator {c!r} (pipes, lists, redirections, subshells)")
            elif c == "`":
                raise self.fail("command substitution")
            elif c in "*?[":
                raise self.fail(f"pathname expansion (unquoted {c!r})")
            elif c in "{}":
                raise self.fail(f"braces (unquoted {c!r})")
            elif c == "~" and self.word is None:
                raise self.fail("tilde expansion")
            else:  # a run of ordinary characters at once (a `#` or `~` inside a word is one of them)
                run = _ORDINARY.match(text, self.i + 1)
                stop = run.end() if run else self.i + 1
                self.add(text[self.i: stop])
                self.i = stop
        self.end_command()
        return self.commands


# A line of plain words: runs of ordinary characters, '...' and "$NAME" / "${NAME}" pieces, separated by
# blanks (what cfut's own scripts are made of); anything else goes through the whole tokenizer.
# (One ordinary character per repetition: a run of them can be matched one way only, so a line that
# is not plain fails in linear time, never by catastrophic backtracking.)
_ORDINARY_CHAR = r"""[^\s'"\\$`;|&<>(){}*?\[#~]"""
_QUOTED = r"'[^'\n]*'|" + r'"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?"'
_WORD = rf"(?:{_ORDINARY_CHAR}|{_QUOTED})+"
_PLAIN_LINE = re.compile(rf"[ \t]*(?:{_WORD}(?:[ \t]+{_WORD})*)?[ \t]*")
_PIECES = re.compile(rf"{_ORDINARY_CHAR}+|{_QUOTED}")
_WORDS = re.compile(_WORD)


def _plain_words(line: str) -> tuple[Word, ...]:
    """The words of a plain line, exactly as the tokenizer makes them."""
    words: list[Word] = []
    for chunk in _WORDS.findall(line):
        parts: list[Part] = []
        for piece in _PIECES.findall(chunk):
            if piece.startswith('"'):
                if not parts or not isinstance(parts[-1], str):
                    parts.append("")  # "" is an empty word, not no word (as the tokenizer has it)
                parts.append(Var(piece.strip('"${}'), True))
                continue
            text = piece[1:-1] if piece.startswith("'") else piece
            if parts and isinstance(parts[-1], str):
                parts[-1] += text
            else:
                parts.append(text)
        words.append(tuple(parts))
    return tuple(words)


def tokenize(text: str) -> list[ScriptCommand]:
    """The simple commands of a script (comments and blank lines dropped). Scripts made of plain
    lines only (cfut's own) are split line by line, at once; any other goes through the tokenizer."""
    commands = []
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not _PLAIN_LINE.fullmatch(line):
            return _Tokenizer(text).run()
        commands.append(ScriptCommand(_plain_words(line), number, line))
    return commands


def _sleep_seconds(args: Sequence[str]) -> float | None:
    """GNU sleep's operands: NUMBER[smhd], added up; None when one is not valid."""
    if not args:
        return None
    total = 0.0
    for arg in args:
        match = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)([smhd]?)", arg)
        if not match:
            return None
        total += float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return total


def _set_flags(args: Sequence[str]) -> str | None:
    """The flags a ``set`` line turns on (e.g. ``"eu"``), or None when it asks for more than modelled."""
    flags = ""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("-") and len(arg) > 1 and arg != "-o":
            letters = arg[1:]
            if "o" in letters:
                # `set -euo pipefail`: the option name follows
                if not letters.endswith("o") or i + 1 >= len(args):
                    return None
                letters = letters[:-1]
                option = _SET_OPTIONS.get(args[i + 1])
                if option is None:
                    return None
                flags += option
                i += 1
            if not set(letters) <= _SET_FLAGS:
                return None
            flags += letters
        elif arg == "-o" and i + 1 < len(args) and args[i + 1] in _SET_OPTIONS:
            flags += _SET_OPTIONS[args[i + 1]]
            i += 1
        else:
            return None
        i += 1
    return flags


def is_python(name: str) -> bool:
    """Whether a command name is a python interpreter (any path whose basename starts with python)."""
    return os.path.basename(name).startswith("python")


def worker_args(argv: Sequence[str]) -> list[str] | None:
    """For ``PYTHON [harmless flags] -m cfut.remote ARGS``, the ARGS; None for any other python use."""
    i = 1
    while i < len(argv) and argv[i] in _HARMLESS_PYTHON_FLAGS:
        i += 1
    if argv[i: i + 2] == ["-m", "cfut.remote"]:
        return list(argv[i + 2:])
    return None



@dataclass(frozen=True)
class InlineScript:
    """A batch script checked to be within the modelled subset, ready to run at the job's end."""

    text: str
    commands: tuple[ScriptCommand, ...]
    errexit: bool

    def timeline(self, worker_seconds: float) -> list[tuple[ScriptCommand, float, float, bool]]:
        """Each command with the script time (seconds) it starts and ends at when ``sleep`` takes its
        operands and a worker ``worker_seconds`` (everything else no time), and whether it is a worker."""
        now, spans = 0.0, []
        for command in self.commands:
            first = 1 if command.literal(0) == "exec" and len(command.words) > 1 else 0
            name = command.literal(first)
            worker = name not in _BUILTINS  # the one other command the subset allows (or $PYTHON ...)
            took = worker_seconds if worker else 0.0
            if name == "sleep":
                took = _sleep_seconds([command.literal(i) or "" for i in range(first + 1, len(command.words))]) or 0.0
            spans.append((command, now, now + took, worker))
            now += took
        return spans

    def reaches_worker(self, until: float, worker_seconds: float) -> bool:
        """Whether, killed ``until`` seconds after it started, the script had run a worker to its end
        (what it ran then cannot be replayed without running user code)."""
        return any(worker and end <= until for _, _, end, worker in self.timeline(worker_seconds))

    @functools.cached_property
    def sleep_seconds(self) -> float:
        """How long the script's ``sleep`` commands take (they run back to back); computed once."""
        total = 0.0
        for command in self.commands:
            first = 1 if command.literal(0) == "exec" and len(command.words) > 1 else 0
            if command.literal(first) == "sleep":
                args = [command.literal(i) or "" for i in range(first + 1, len(command.words))]
                total += _sleep_seconds(args) or 0.0
        return total


def _check_shebang(text: str) -> bool:
    """The script's interpreter is a POSIX shell; returns whether it runs with -e."""
    first = text.split("\n", 1)[0]
    words = first[2:].split()
    if words and os.path.basename(words[0]) == "env":
        words = words[1:]
    if not words or os.path.basename(words[0]) not in _SHELLS:
        raise FakeUnsupported(
            f"the inline interpreter runs shell scripts only, not {first!r}; {_SUBPROCESS_HINT}"
        )
    flags = _set_flags(words[1:])
    if flags is None:
        raise FakeUnsupported(f"the shebang options in {first!r} are not modelled; {_SUBPROCESS_HINT}")
    return "e" in flags


def _check_command(command: ScriptCommand) -> None:
    """Refuse, at submission, any command the interpreter could not run faithfully."""
    words = [command.literal(i) for i in range(len(command.words))]
    if words[0] == "exec":
        words = words[1:]
        if not words:
            raise _unsupported("exec without a command (redirections of the shell)", command.line, command.source)
    name = words[0]
    if name is None:
        raise _unsupported("a command name taken from a variable", command.line, command.source)
    if name in _BUILTINS:
        args = words[1:]
        if name in ("sleep", "exit", "set") and any(a is None for a in args):
            raise _unsupported(f"a variable in the arguments of {name}", command.line, command.source)
        if name == "sleep" and _sleep_seconds([a or "" for a in args]) is None:
            raise _unsupported("sleep without valid NUMBER[smhd] operands", command.line, command.source)
        if name == "exit" and (len(args) > 1 or (args and not (args[0] or "").isdigit())):
            raise _unsupported("exit with a non-numeric or extra operand", command.line, command.source)
        if name == "set" and _set_flags([a or "" for a in args]) is None:
            raise _unsupported("set options other than -e, -u, -o pipefail", command.line, command.source,
                               "use only those, or run it with execution=\"subprocess\"")
        if name == "echo" and args and args[0] in ("-e", "-E"):
            raise _unsupported("echo -e/-E (sh and bash differ)", command.line, command.source)
        if name == "echo" and any(a is not None and "\\" in a for a in args):
            raise _unsupported("echo with a backslash (sh and bash differ)", command.line, command.source)
        return
    if is_python(name):
        if any(w is None for w in words[:3]) or worker_args([w or "" for w in words]) is None:
            raise _unsupported("python other than `PYTHON -m cfut.remote ARGS...`", command.line, command.source)
        return
    if name in ("export", "cd", "source", ".", "unset", "umask", "ulimit", "trap", "wait"):
        raise _unsupported(f"the shell builtin {name!r}", command.line, command.source)
    raise _unsupported(f"the program {name!r}", command.line, command.source)


def parse_inline(text: str) -> InlineScript:
    """Check a batch script against the modelled subset; raise :class:`FakeUnsupported` if outside it."""
    if not text.startswith("#!"):
        raise FakeUnsupported("a batch script must start with #! (sbatch refuses it before this point)")
    errexit = _check_shebang(text)
    commands = tuple(tokenize(text))
    for command in commands:
        _check_command(command)
    return InlineScript(text, commands, errexit)


class _ScriptError(Exception):
    """The shell itself failed (e.g. an unset variable under ``set -u``): exit with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _expand(command: ScriptCommand, env: Mapping[str, str], nounset: bool, script_name: str) -> list[str]:
    argv: list[str] = []
    for word in command.words:
        text = ""
        for part in word:
            if isinstance(part, str):
                text += part
                continue
            if part.name not in env and nounset:
                # dash's wording; bash says "NAME: unbound variable"
                raise _ScriptError(2, f"{script_name}: {command.line}: {part.name}: parameter not set\n")
            value = env.get(part.name, "")
            if not part.quoted and (not value or any(c in value for c in " \t\n*?[")):
                raise _unsupported(f"an unquoted ${part.name} that is empty or needs field splitting",
                                   command.line, command.source, "quote it, or use execution=\"subprocess\"")
            text += value
        argv.append(text)
    return argv


def run_inline(
    script: InlineScript,
    *,
    env: Mapping[str, str],
    out: TextIO,
    err: TextIO,
    run_worker: Callable[[list[str]], int],
    exec_worker: Callable[[list[str]], int] | None = None,
    script_name: str = "/bin/sh",
    until: float | None = None,
    worker_seconds: float = 0.0,
) -> int:
    """Run the script's commands now; return its exit status as the shell would (negative: the
    script was killed by that signal). ``run_worker(args)`` runs the cfut worker and returns its
    status in the same form (see :func:`run_worker_in_process`); ``exec_worker(args)``, when given,
    runs it for ``exec PYTHON -m cfut.remote ARGS`` (the worker replaces the shell).

    ``until`` (seconds): the script was killed that long after it started; run only what it had
    reached by then, counting each ``sleep`` and ``worker_seconds`` for each worker as spent (a
    worker still running then is not run; see :meth:`InlineScript.reaches_worker`)."""
    status = 0
    errexit, nounset = script.errexit, False
    for command, _, end, _ in script.timeline(worker_seconds):
        if until is not None and end > until:
            return status  # killed before this command ended (in its sleep or worker) or began
        try:
            argv = _expand(command, env, nounset, script_name)
        except _ScriptError as exc:
            err.write(str(exc))
            return exc.status
        replace = argv[0] == "exec"
        if replace:
            argv = argv[1:]
        name, args = argv[0], argv[1:]
        if name in (":", "true", "sleep"):
            status = 0
        elif name == "false":
            status = 1
        elif name == "echo":
            newline = not (args and args[0] == "-n")
            if not newline:
                args = args[1:]
            if any("\\" in a for a in args):
                raise _unsupported("echo with a backslash (sh and bash differ)", command.line, command.source)
            out.write(" ".join(args) + ("\n" if newline else ""))
            status = 0
        elif name == "exit":
            return int(args[0]) & 0xFF if args else status
        elif name == "set":
            flags = _set_flags(args) or ""
            errexit = errexit or "e" in flags
            nounset = nounset or "u" in flags
            status = 0
        else:
            args_of_worker = worker_args(argv)
            assert args_of_worker is not None  # checked at submission
            runner = exec_worker if replace and exec_worker is not None else run_worker
            status = runner(args_of_worker)
            if status < 0:
                # Killed by a signal: a non-interactive shell waiting for a child that died of SIGINT
                # or SIGQUIT kills itself with it (bash's "wait and cooperative exit"), and `exec`
                # made the worker the batch step itself; either way the script ends by that signal.
                return status
            status &= 0xFF
        if replace or (errexit and status != 0):
            return status
    return status


# ---------------------------------------------------------------------- the in-process worker


class _ProcessExit(KeyboardInterrupt):
    """``os._exit(status)`` called by an in-process job: it ends the job, not the test process.

    It derives from KeyboardInterrupt because the worker lets exactly that through when it catches
    what a user's function raises (``cfut._worker``: everything else becomes the call's result),
    and ``os._exit`` must end the worker at once, without a result, as it does a real job.
    """

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _raise_exit(status: int) -> NoReturn:
    raise _ProcessExit(status)


class _ThreadStream:
    """``sys.stdout`` (or ``sys.stderr``) while an inline job runs: what the job's thread writes goes
    to the job's file, what any other thread of the test process writes goes where it went before
    (the standard streams are process-wide; a job runs in one thread of the test process)."""

    def __init__(self, job: TextIO, other: TextIO) -> None:
        self._job = job
        self._other = other
        self._thread = threading.get_ident()

    def _target(self) -> TextIO:
        return self._job if threading.get_ident() == self._thread else self._other

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:
        if name in ("_job", "_other", "_thread"):  # not set up (a copy): no recursion through _target
            raise AttributeError(name)
        return getattr(self._target(), name)


#: The streams inline jobs installed lately, kept alive after their job: ``print`` in another thread
#: holds ``sys.stdout`` by a borrowed reference (CPython 3.11), so a stream swapped out and freed
#: while that thread writes through it would crash the test process.
_RETIRED_STREAMS: collections.deque[_ThreadStream] = collections.deque(maxlen=256)


@contextlib.contextmanager
def _job_process_state(stdout: TextIO, stderr: TextIO) -> Iterator[None]:
    """While the block runs, ``sys.stdout``/``sys.stderr`` send the job thread's writes to the job's
    files (:class:`_ThreadStream`) and ``os._exit`` raises :class:`_ProcessExit`; afterwards the umask,
    ``sys.path``, working directory, ``os.environ`` and standard streams of this process are what they
    were (a real job changes only its own)."""
    saved_path = list(sys.path)
    saved_umask = os.umask(0o077)
    os.umask(saved_umask)
    saved_cwd = os.getcwd()
    # CPython keeps os.environ's encoded items in a plain dict: a copy and a comparison of it cost a
    # few microseconds, where going through the mapping decodes every variable (10,000 jobs add up)
    environ = getattr(os.environ, "_data", None)
    saved_env = dict(environ) if isinstance(environ, dict) else dict(os.environ)
    saved_streams = sys.stdout, sys.stderr
    saved_exit = os._exit
    os._exit = _raise_exit
    streams = _ThreadStream(stdout, saved_streams[0]), _ThreadStream(stderr, saved_streams[1])
    _RETIRED_STREAMS.extend(streams)
    sys.stdout, sys.stderr = streams
    try:
        yield
    finally:
        os._exit = saved_exit
        for stream in (stdout, stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        sys.stdout, sys.stderr = saved_streams
        sys.path[:] = saved_path
        os.umask(saved_umask)
        if os.getcwd() != saved_cwd:
            os.chdir(saved_cwd)
        now_env = environ if isinstance(environ, dict) else dict(os.environ)
        if now_env != saved_env:
            os.environ.clear()
            os.environ.update({os.fsdecode(k): os.fsdecode(v) for k, v in saved_env.items()}
                              if isinstance(environ, dict) else saved_env)


_FAKES = os.path.dirname(os.path.abspath(__file__))


def uncaught_traceback(exc: BaseException) -> str:
    """The traceback the interpreter prints for an uncaught exception, from the worker's frames on:
    the fakes' frames that stand in for ``python -m`` are left out."""
    tb = exc.__traceback__
    while tb is not None and os.path.dirname(os.path.abspath(tb.tb_frame.f_code.co_filename)) == _FAKES:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def run_worker_in_process(args: Sequence[str], *, stdout: TextIO, stderr: TextIO) -> int:
    """Run ``python -m cfut.remote ARGS`` in this process; its exit status as a process would have it.

    ``stdout``/``stderr`` are the job's output files: what the worker logs and what the user's
    function prints (through ``sys.stdout``/``sys.stderr``) goes there. The result is the status
    ``Popen.returncode`` would show: ``0``..``255``, or ``-signal`` when the process would have died
    of a signal. As in a real interpreter, an uncaught ``KeyboardInterrupt`` kills it by SIGINT
    (``-2``), ``SystemExit(n)`` and ``os._exit(n)`` exit with ``n``, and any other exception prints
    its traceback and exits with 1; nothing of it propagates to the caller.
    """
    from .. import _worker

    with _job_process_state(stdout, stderr):
        try:
            return _worker.main(list(args), log=stderr) & 0xFF
        except _ProcessExit as exc:
            return exc.status & 0xFF
        except KeyboardInterrupt as exc:
            stderr.write(uncaught_traceback(exc))
            return -signal.SIGINT  # Python 3.8+ dies of SIGINT on an uncaught KeyboardInterrupt
        except SystemExit as exc:  # argparse's usage errors, or sys.exit outside a call
            code = exc.code
            if code is None or isinstance(code, int):
                return (code or 0) & 0xFF
            stderr.write(f"{code}\n")
            return 1
        except BaseException as exc:  # noqa: BLE001 - the interpreter prints any other exception and exits 1
            stderr.write(uncaught_traceback(exc))
            return 1
