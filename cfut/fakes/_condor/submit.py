"""The submit description language, as far as the fake HTCondor models it, and its jobs.

:func:`parse_description` reads a description; :func:`materialize` turns its ``queue`` statements
into the jobs (ClassAds and what it takes to run them) that condor_submit queues.

Modelled (``condor_submit(1)``, reference section 1.3): ``key = value`` lines with case-insensitive
keys, ``#`` comments, ``\\`` continuation lines, ``+Attr = expr`` / ``MY.Attr = expr``, macros
(``$(Cluster)``/``$(ClusterId)``, ``$(Process)``/``$(ProcId)``, ``$(JobId)``, ``$(Step)``,
``$(ItemIndex)``/``$(Row)``, ``$(Item)``, ``$(DOLLAR)``, loop variables and any user-defined
``name = value``; ``$$(...)`` is left for match time), ``queue`` statements (``queue [N]``,
``queue [N] [vars] in (...)``, ``queue [N] [vars] from (...)`` or a file; several statements, a new
``executable`` starting a new cluster), and both argument syntaxes. Keys whose behaviour the fake does
not model (``periodic_remove``, ``transfer_input_files``, ``max_retries``, ...) raise
:class:`FakeUnsupported` rather than being silently ignored.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from .. import _host
from .._errors import FakeUnsupported
from .._inline import InlineScript, is_python, parse_inline, worker_args
from . import classad
from .schedd import CondorJob, Schedd


class SubmitError(Exception):
    """A description condor_submit rejects; ``message`` is its stderr text without the ERROR prefix."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


#: Keys that change behaviour the fake does not model: refused, so a test cannot pass by accident.
UNMODELLED_KEYS = frozenset({
    "periodic_remove", "periodic_hold", "periodic_release", "periodic_vacate", "on_exit_remove", "on_exit_hold",
    "max_retries", "retry_until", "success_exit_code", "leave_in_queue", "transfer_input_files",
    "transfer_output_files", "transfer_executable", "transfer_output_remaps", "log_xml", "docker_image",
    "container_image", "max_materialize", "max_idle", "deferral_time", "cron_minute", "allowed_job_duration",
    "allowed_execute_duration", "input", "job_max_vacate_time", "kill_sig",
    "noop_job", "coresize", "nice_user", "next_job_start_delay", "job_lease_duration",
})
#: Keys whose meaning the fake models (read by :func:`materialize`); other keys are accepted and
#: have no effect on the fake's jobs, as most of them have none on a job that runs at once.
MODELLED_KEYS = ("executable", "arguments", "args", "initialdir", "iwd", "universe", "log", "output", "error",
                 "getenv", "environment", "env", "request_cpus", "request_memory", "request_disk", "request_gpus",
                 "requirements", "batch_name", "hold", "stream_output", "stream_error", "+Attr", "MY.Attr")
#: stream_output/stream_error (dask-jobqueue's HTCondorCluster sends them): the fake's jobs write their
#: output files where they run, on the filesystem they share with the submitter, as streamed output is
#: written while the job runs; the fake takes the keys whatever their value.
_UNIVERSES = frozenset({"standard", "vanilla", "scheduler", "local", "grid", "java", "vm", "parallel", "docker",
                        "container"})


@dataclass
class QueueStatement:
    count: int
    variables: tuple[str, ...]
    items: list[tuple[str, ...]] | None  # None: plain "queue N"
    line: int
    #: The key = value assignments in force at this statement (later ones do not apply to it).
    settings: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class Description:
    queues: list[QueueStatement]


_MACRO = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.]*)\)")
_QUEUE = re.compile(r"queue\b(.*)", re.IGNORECASE | re.DOTALL)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        out.append((start, pending + line))
        pending = ""
    if pending:
        out.append((start, pending))
    return out


def _split_items(body: str) -> list[str]:
    """Items of ``in (a, b, c)`` (commas and whitespace) or lines of ``from ( ... )``."""
    return [part.strip() for part in re.split(r"[,\s]+", body.strip()) if part.strip()]


def parse_description(text: str, read_file: object = None) -> Description:
    """Parse a description; a file for ``queue ... from FILE`` is read with ``read_file(name)``."""
    lines = _logical_lines(text)
    settings: dict[str, str] = {}
    attributes: dict[str, str] = {}
    queues: list[QueueStatement] = []
    i = 0
    while i < len(lines):
        number, line = lines[i]
        i += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        queue = _QUEUE.fullmatch(stripped)
        if queue and not re.match(r"queue\s*=", stripped, re.IGNORECASE):
            rest = queue.group(1).strip()
            if rest.endswith("(") or ("(" in rest and ")" not in rest):
                collected = [rest]
                while i < len(lines) and ")" not in lines[i][1]:
                    collected.append(lines[i][1])
                    i += 1
                if i < len(lines):
                    collected.append(lines[i][1])
                    i += 1
                rest = "\n".join(collected)
            queues.append(_parse_queue(rest, number, settings, attributes, read_file))
            continue
        match = re.fullmatch(r"(\+|MY\.)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)", stripped, re.IGNORECASE | re.DOTALL)
        if not match:
            raise SubmitError(f"Failed to parse command file (line {number}).", number)
        plus, key, value = match.groups()
        if plus:
            attributes[key] = value.strip()
            continue
        lower = key.lower()
        if lower in UNMODELLED_KEYS:
            raise FakeUnsupported(f"the fake condor_submit does not model {key!r} (line {number})")
        settings[lower] = value.strip()
    return Description(queues)


def _parse_queue(rest: str, number: int, settings: dict[str, str], attributes: dict[str, str],
                 read_file: object) -> QueueStatement:
    snapshot = dict(settings), dict(attributes)
    count = 1
    match = re.match(r"(\d+)\s*(.*)", rest, re.DOTALL)
    if match:
        count, rest = int(match.group(1)), match.group(2).strip()
    if not rest:
        return QueueStatement(count, (), None, number, *snapshot)
    match = re.match(r"(?:([A-Za-z_][A-Za-z0-9_]*(?:\s*,\s*[A-Za-z_][A-Za-z0-9_]*)*)\s+)?(in|from|matching)\b\s*(.*)",
                     rest, re.IGNORECASE | re.DOTALL)
    if not match:
        raise SubmitError(f"Failed to parse command file (line {number}).", number)
    names, mode, source = match.groups()
    variables = tuple(v.strip() for v in (names or "Item").split(","))
    mode = mode.lower()
    if mode == "matching":
        raise FakeUnsupported(f"the fake condor_submit does not model 'queue ... matching' (line {number})")
    if source.startswith("["):
        raise FakeUnsupported(f"the fake condor_submit does not model queue slices (line {number})")
    if source.startswith("("):
        if not source.rstrip().endswith(")"):
            raise SubmitError(f"Failed to parse command file (line {number}).", number)
        body = source.strip()[1:-1]
        raw_items = _split_items(body) if mode == "in" else [ln.strip() for ln in body.splitlines() if ln.strip()]
    elif mode == "from":
        if source.endswith("|"):
            raise FakeUnsupported(f"the fake condor_submit does not run programs for 'queue from' (line {number})")
        if not callable(read_file):
            raise SubmitError(f"Failed to open command file ({source}) (No such file or directory)", number)
        raw_items = [ln.strip() for ln in read_file(source.strip()).splitlines() if ln.strip()]
    else:
        raw_items = _split_items(source)
    items: list[tuple[str, ...]] = []
    for raw in raw_items:
        if len(variables) == 1:
            items.append((raw,))
        else:
            parts = [p.strip() for p in re.split(r"[,\s]+", raw, maxsplit=len(variables) - 1)]
            parts += [""] * (len(variables) - len(parts))
            items.append(tuple(parts))
    return QueueStatement(count, variables, items, number, *snapshot)


def expand(value: str, macros: dict[str, str], depth: int = 0) -> str:
    """Expand ``$(name)`` macros (names case-insensitive); undefined ones become empty, as in
    condor_submit. ``$$(...)`` is kept for match time; ``$(DOLLAR)`` is a literal ``$``."""
    if depth > 20:
        raise SubmitError(f"Macro expansion too deep in {value!r}")
    out = []
    pos = 0
    while pos < len(value):
        if value.startswith("$$(", pos):
            close = value.find(")", pos)
            out.append(value[pos: close + 1] if close >= 0 else value[pos:])
            pos = close + 1 if close >= 0 else len(value)
            continue
        match = _MACRO.match(value, pos)
        if match:
            name = match.group(1).lower()
            if name == "dollar":
                out.append("\0DOLLAR\0")
            else:
                raw = macros.get(name, "")
                out.append(expand(raw, macros, depth + 1))
            pos = match.end()
            continue
        if value.startswith("$(", pos):
            raise FakeUnsupported(f"the fake condor_submit does not model the macro form in {value[pos:]!r}")
        following = value.find("$", pos + 1)  # the text up to the next $ is literal: take it at once
        end = following if following >= 0 else len(value)
        out.append(value[pos:end])
        pos = end
    text = "".join(out)
    return text.replace("\0DOLLAR\0", "$") if depth == 0 else text


def split_new_syntax(value: str) -> list[str]:
    """Arguments (or environment entries) in the new syntax, the value without its outer quotes:
    whitespace separates, ``'...'`` groups, ``''`` inside quotes is ``'``, ``""`` is ``"``."""
    args: list[str] = []
    current: list[str] | None = None
    i = 0
    quoted = False
    while i < len(value):
        c = value[i]
        if c == '"':
            if value[i + 1: i + 2] == '"':
                current = (current or []) + ['"']
                i += 2
                continue
            raise SubmitError(f'Found illegal unescaped double-quote: {value}')
        if quoted:
            if c == "'":
                if value[i + 1: i + 2] == "'":
                    current = (current or []) + ["'"]
                    i += 2
                    continue
                quoted = False
            else:
                current = (current or []) + [c]
        elif c == "'":
            quoted = True
            current = current or []
        elif c in " \t":
            if current is not None:
                args.append("".join(current))
                current = None
        else:
            current = (current or []) + [c]
        i += 1
    if quoted:
        raise SubmitError(f"Unbalanced single quote starting here: {value}")
    if current is not None:
        args.append("".join(current))
    return args


def split_arguments(value: str) -> tuple[list[str], bool]:
    """(arguments, new syntax?) for the value of ``arguments``."""
    stripped = value.strip()
    if stripped.startswith('"'):
        if not stripped.endswith('"') or len(stripped) < 2:
            raise SubmitError(f"Unterminated double-quote in arguments: {stripped}")
        return split_new_syntax(stripped[1:-1]), True
    # Old syntax: whitespace separates, \" is a literal double quote.
    return [part.replace('\\"', '"') for part in stripped.split()], False


def split_environment(value: str) -> dict[str, str]:
    stripped = value.strip()
    if stripped.startswith('"'):
        entries = split_new_syntax(stripped[1:-1])
    else:
        entries = [e for e in stripped.split(";") if e.strip()]
    env = {}
    for entry in entries:
        name, sep, val = entry.partition("=")
        if not sep:
            raise SubmitError(f"Invalid environment entry: {entry!r}")
        env[name.strip()] = val
    return env


def check_universe(value: str) -> None:
    universe = value.strip().lower() or "vanilla"
    if universe not in _UNIVERSES:
        raise SubmitError(f"I don't know about the '{value.strip()}' universe.")
    if universe != "vanilla":
        raise FakeUnsupported(f"the fake HTCondor runs vanilla universe jobs only, not {value.strip()!r}")


def parse_memory_mb(value: str) -> int:
    """request_memory: a number in MB, or with a unit (K, M, G, T, optional B)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*", value, re.IGNORECASE)
    if not match:
        raise FakeUnsupported(f"request_memory expression {value!r} (only numbers with K/M/G/T units)")
    number, unit = float(match.group(1)), match.group(2).upper()
    factor = {"": 1, "K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}[unit]
    return int(number * factor + 0.999999)


def parse_disk_kb(value: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*", value, re.IGNORECASE)
    if not match:
        raise FakeUnsupported(f"request_disk expression {value!r} (only numbers with K/M/G/T units)")
    number, unit = float(match.group(1)), match.group(2).upper()
    factor = {"": 1, "K": 1, "M": 1024, "G": 1024 * 1024, "T": 1024 ** 3}[unit]
    return int(number * factor + 0.999999)


# ---------------------------------------------------------------------- the jobs of a description


def materialize(description: Description, base: str, submitter_env: Mapping[str, str],
                schedd: Schedd) -> list[CondorJob]:
    """The jobs of every ``queue`` statement, numbered as condor_submit numbers them (a new
    ``executable`` starts a new cluster); raises :class:`SubmitError` with condor_submit's text."""
    jobs: list[CondorJob] = []
    cluster = None
    last_executable = None
    proc = 0
    for statement in description.queues:
        settings = statement.settings
        if "executable" not in settings:
            raise SubmitError("No 'executable' parameter was provided")
        if cluster is None or settings["executable"] != last_executable:
            cluster = schedd.new_cluster()
            proc = 0
            last_executable = settings["executable"]
        items = statement.items if statement.items is not None else [()]
        for item_index, item in enumerate(items):
            for step in range(statement.count):
                macros = dict(settings)
                macros.update({"cluster": str(cluster), "clusterid": str(cluster), "process": str(proc),
                               "procid": str(proc), "jobid": f"{cluster}.{proc}", "step": str(step),
                               "itemindex": str(item_index), "row": str(item_index)})
                for var, value in zip(statement.variables, item):
                    macros[var.lower()] = value
                jobs.append(_make_job(cluster, proc, macros, statement.attributes, base, submitter_env, schedd))
                proc += 1
    return jobs


def _make_job(cluster: int, proc: int, macros: dict[str, str], attributes: Mapping[str, str], base: str,
              submitter_env: Mapping[str, str], schedd: Schedd) -> CondorJob:
    def get(key: str, default: str = "") -> str:
        return expand(macros[key], macros).strip() if key in macros else default

    check_universe(get("universe", "vanilla"))
    iwd = get("initialdir") or get("iwd") or base
    iwd = os.path.join(base, iwd)
    if not os.path.isdir(iwd):
        raise SubmitError(f"No such directory: {iwd}")

    def path(key: str) -> str | None:
        value = get(key)
        return os.path.join(iwd, value) if value else None

    executable = os.path.join(iwd, get("executable"))
    if not os.path.exists(executable):
        raise SubmitError(f"Executable file {executable} does not exist")
    if os.path.getsize(executable) == 0:
        raise SubmitError(f"Executable file {executable} has zero length")
    raw_args = macros.get("arguments", macros.get("args", ""))
    arguments, new_syntax = split_arguments(expand(raw_args, macros))
    getenv = get("getenv", "false")
    env: dict[str, str] = {}
    if getenv.lower() in ("true", "yes", "1"):
        env.update(submitter_env)
    elif getenv.lower() not in ("false", "no", "0", ""):
        patterns = [p.strip() for p in getenv.replace(",", " ").split() if p.strip()]
        env.update({k: v for k, v in submitter_env.items() if any(fnmatch.fnmatchcase(k, p) for p in patterns)})
    if "environment" in macros or "env" in macros:
        env.update(split_environment(expand(macros.get("environment", macros.get("env", "")), macros)))
    env.setdefault("PATH", "/usr/bin:/bin")
    cpus_text = get("request_cpus", "1") or "1"
    if not cpus_text.isdigit():  # e.g. dask-jobqueue's RequestCpus = MY.DaskWorkerCores
        raise FakeUnsupported(f"request_cpus = {cpus_text}: only a number of CPUs is modelled, not an expression")
    cpus = int(cpus_text)
    ad: dict[str, classad.Value | None] = {
        "ClusterId": cluster, "ProcId": proc, "Owner": schedd.cluster.user, "Cmd": executable, "Iwd": iwd,
        "JobUniverse": 5, "RequestCpus": cpus, "NumJobStarts": 0, "JobBatchName": get("batch_name") or None,
        "UserLog": path("log"), "Out": path("output") or "/dev/null",
        "Err": path("error") or "/dev/null", "GlobalJobId": f"{schedd.name}#{cluster}.{proc}#0",
    }
    ad["Arguments" if new_syntax else "Args"] = " ".join(shlex.quote(a) for a in arguments)
    if "request_memory" in macros:
        ad["RequestMemory"] = parse_memory_mb(get("request_memory"))
    if "request_disk" in macros:
        ad["RequestDisk"] = parse_disk_kb(get("request_disk"))
    if "request_gpus" in macros:
        ad["RequestGPUs"] = int(get("request_gpus"))
    if "requirements" in macros:
        ad["Requirements"] = classad.Expr(get("requirements"))
    for name, value in attributes.items():
        ad[name] = attribute_value(expand(value, macros))
    inline, real = None, schedd.execution == "subprocess"
    if schedd.execution == "inline":
        inline = _check_inline(executable, arguments)
    elif schedd.execution == "process":
        try:
            inline = _check_inline(executable, arguments)
        except FakeUnsupported:  # outside what the shell models: a real process, as under "subprocess"
            real = True
    return CondorJob(cluster=cluster, proc=proc, executable=executable, arguments=arguments, iwd=iwd,
                     env=env, log=path("log"), output=path("output"), error=path("error"), cpus=cpus,
                     ad={k: v for k, v in ad.items() if v is not None}, inline=inline, real=real,
                     sys_path=_host.sys_path() if schedd.execution == "process" and not real else (),
                     umask=_host.umask(), hold_at_submit=get("hold", "false").lower() in ("true", "yes", "1"))


def _check_inline(executable: str, arguments: list[str]) -> InlineScript | None:
    """Refuse at submission what inline execution could not run faithfully; the checked shell
    script, or None for the cfut worker run directly."""
    if is_python(executable):
        if worker_args([executable, *arguments]) is None:
            raise FakeUnsupported(f"inline jobs run `python -m cfut.remote ...` only, not {arguments!r}; "
                                  'use execution="subprocess"')
        return None
    with open(executable, errors="replace") as handle:
        text = handle.read()
    if arguments:
        raise FakeUnsupported("inline shell scripts cannot take arguments (no $1/$@ in the inline shell); "
                              'use execution="subprocess"')
    return parse_inline(text)


def attribute_value(text: str) -> classad.Value:
    """A ``+Attr = value`` literal as a Python value; anything else stays an expression."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return classad.Expr(text)
