"""HTCondor submit descriptions: quoting in the new argument syntax, macro escaping, the description.

Formats follow the condor_submit manual (the new syntax of ``arguments`` and ``environment``, and
``$(...)`` macro expansion everywhere in a value, ``$(DOLLAR)`` being a literal ``$``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..._errors import InvalidArgumentError, SchedulerOutputError

log = logging.getLogger("cfut")

#: Submit keys cfut writes itself; extra submit lines may not set them.
OWN_KEYS = frozenset({"universe", "executable", "arguments", "args", "environment", "env", "getenv", "initialdir",
                      "iwd", "log", "output", "error", "batch_name", "queue"})



def escape_macros(text: str) -> str:
    """condor_submit expands ``$(...)`` everywhere in a value; ``$(DOLLAR)`` is its literal ``$``."""
    return text.replace("$", "$(DOLLAR)")


def check_value(text: str, what: str) -> str:
    if "\n" in text or "\r" in text or "\0" in text:
        raise InvalidArgumentError(f"HTCondor submit descriptions cannot carry a line break in {what}: {text!r}")
    return text


def quote_argument(arg: str) -> str:
    """One argument in HTCondor's new argument syntax (the whole value goes in double quotes).

    Inside the double quotes, a single-quoted word keeps its spaces, ``''`` is a literal single quote
    and ``""`` a literal double quote; a backslash is an ordinary character.
    """
    check_value(arg, "an argument")
    doubled = arg.replace('"', '""')
    if arg and not any(c in arg for c in " \t'"):
        return doubled
    return "'" + doubled.replace("'", "''") + "'"


def arguments_value(args: Sequence[str]) -> str:
    """The value of ``arguments =`` (new syntax) for these arguments."""
    return '"' + " ".join(quote_argument(a) for a in args) + '"'


def environment_value(env: Mapping[str, str]) -> str:
    """The value of ``environment =`` in the new syntax: ``"A=1 B='x y'"``."""
    for name in env:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise InvalidArgumentError(f"not an environment variable name: {name!r}")
    return '"' + " ".join(quote_argument(f"{k}={v}") for k, v in env.items()) + '"'


@dataclass(frozen=True)
class SubmitSpec:
    """Everything one submit description says; :func:`submit_description` writes it."""

    executable: str  # already macro-escaped
    arguments: tuple[str, ...]  # already macro-escaped (may contain $(ProcId))
    log: str
    output: str
    initialdir: str
    count: int
    batch_key: str
    getenv: bool | str = True
    environment: tuple[tuple[str, str], ...] = ()
    resources: tuple[tuple[str, str], ...] = ()  # ("request_cpus", "2"), ...
    requirements: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()  # +Name = ClassAd expression
    extra_lines: tuple[str, ...] = ()
    batch_name: str | None = None  # the user's job name (already macro-escaped); default cfut.KEY


def submit_description(spec: SubmitSpec) -> str:
    """The submit description for one cluster of ``spec.count`` jobs (``queue N``)."""
    getenv = spec.getenv if isinstance(spec.getenv, str) else ("True" if spec.getenv else "False")
    lines = [
        "# Written by cfut: runs Python calls and writes their results.",
        "universe = vanilla",
        f"executable = {spec.executable}",
        f"arguments = {arguments_value(spec.arguments)}",
        f"getenv = {getenv}",
    ]
    if spec.environment:
        lines.append(f"environment = {environment_value(dict(spec.environment))}")
    lines += [
        f"initialdir = {spec.initialdir}",
        f"log = {spec.log}",
        f"output = {spec.output}",
        f"error = {spec.output}",
        f"batch_name = {spec.batch_name or 'cfut.' + spec.batch_key}",
        f'+CfutBatch = "{spec.batch_key}"',
    ]
    lines += [f"{key} = {value}" for key, value in spec.resources]
    if spec.requirements:
        lines.append(f"requirements = {spec.requirements}")
    lines += [f"+{name} = {value}" for name, value in spec.attributes]
    lines += list(spec.extra_lines)
    lines.append(f"queue {spec.count}")
    return "\n".join(lines) + "\n"


def check_extra_line(line: str) -> str:
    """An extra submit line must be one ``key = value`` (or comment) that does not redo cfut's own keys."""
    if not isinstance(line, str):
        raise InvalidArgumentError(f"extra submit lines must be strings, got {line!r}")
    check_value(line, "an extra submit line")
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return line
    key = re.split(r"[\s=]", stripped, maxsplit=1)[0].lower()
    if key in OWN_KEYS or key.startswith("queue"):
        raise InvalidArgumentError(f"cfut writes {key!r} itself; it cannot come from an extra submit line: {line!r}")
    if "=" not in stripped:
        raise InvalidArgumentError(f"an extra submit line must be 'key = value', got {line!r}")
    return line


def submit_argv() -> list[str]:
    return ["condor_submit", "-terse", "-"]


_TERSE = re.compile(r"(\d+)\.(\d+) - (\d+)\.(\d+)")


def parse_submit_terse(argv: Sequence[str], output: str) -> tuple[str, int]:
    """``-terse`` prints one ``C.P0 - C.Pn`` line per cluster; returns (cluster, number of procs)."""
    clusters = []
    for line in output.splitlines():
        match = _TERSE.fullmatch(line.strip())
        if match:
            c0, p0, c1, p1 = (int(g) for g in match.groups())
            if c0 != c1 or p1 < p0:
                raise SchedulerOutputError(argv, output, f"odd range {line.strip()!r}")
            clusters.append((str(c0), p1 - p0 + 1))
        elif line.strip():
            log.debug("condor_submit said: %s", line)
    if len(clusters) != 1:
        raise SchedulerOutputError(argv, output, f"expected one cluster, found {len(clusters)}")
    return clusters[0]
