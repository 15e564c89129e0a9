"""FakeCondor's tools: ``condor_submit``, ``condor_q``, ``condor_history``, ``condor_rm``, ``condor_status``.

Each takes an argv and the schedd and returns (exit code, stdout, stderr). ``condor_q``,
``condor_history`` and ``condor_rm`` read their arguments with one parser (:func:`parse`) driven by
each tool's option table, which follows the tool's own matching: an option may be abbreviated to
at least its minimum prefix (HTCondor's ``is_dash_arg_prefix``), one or two leading dashes, options
tried in the tool's order; a missing value or an unknown option gets the tool's own message and
exit code 1 (:mod:`.messages`), and a real option the fake does not model raises
:class:`~cfut.fakes.FakeUnsupported`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .. import _host
from .._errors import FakeUnsupported
from . import classad, messages
from .schedd import REMOVED, RUNNING, CondorJob, Schedd
from .submit import SubmitError, materialize, parse_description

Reply = tuple[int, str, str]


@dataclass(frozen=True)
class ToolOption:
    """One option of a tool: its name, the shortest prefix the tool accepts (-1: the whole name),
    how many values follow (-1: attributes up to the next ``-word``), whether the fake models it,
    and the tool's message when its values are missing (``{arg}`` is the option as given)."""

    name: str
    min_prefix: int
    values: int = 0
    modelled: bool = False
    missing: str = ""
    colon: bool = False  # accepts ``-name:qualifiers`` (``-af:jt``, ``-long:json``)
    dash_value: bool = True  # a value may start with "-" (else it counts as missing)


@dataclass(frozen=True)
class ToolSpec:
    """A tool's options in the order it tries them, and its complaint about an unknown option."""

    name: str
    options: tuple[ToolOption, ...]
    unknown: str
    usage: str = ""


@dataclass
class Given:
    """What :func:`parse` found: options (with their values and ``:qualifiers``) and plain words."""

    options: list[tuple[ToolOption, str, list[str], str]] = field(default_factory=list)
    words: list[str] = field(default_factory=list)


class ToolError(Exception):
    """The tool refuses its arguments: print ``stderr``, exit 1."""

    def __init__(self, stderr: str) -> None:
        super().__init__(stderr)
        self.stderr = stderr


def _o(name: str, min_prefix: int, values: int = 0, missing: str = "", *, modelled: bool = False,
       colon: bool = False, dash_value: bool = True) -> ToolOption:
    return ToolOption(name, min_prefix, values, modelled, missing, colon, dash_value)


# condor_q's options in queue.cpp's order (the modelled ones, then real ones refused as not modelled)
CONDOR_Q = ToolSpec("condor_q", (
    _o("long", 1, modelled=True, colon=True),
    _o("xml", 3), _o("json", 2, modelled=True),
    _o("limit", 3, 1, messages.Q_LIMIT_MISSING, modelled=True),
    _o("pool", 1, 1), _o("name", 1, 1), _o("direct", 1, 1), _o("submitter", 1, 1),
    _o("constraint", 1, 1, messages.Q_CONSTRAINT_MISSING, modelled=True),
    _o("slotconstraint", 5, 1), _o("mconstraint", 2, 1), _o("machine", 2, 1), _o("address", 1, 1),
    _o("autocluster", 2, colon=True), _o("group-by", 2, colon=True), _o("factory", 4, colon=True),
    _o("jobset", 5, colon=True), _o("attributes", 2, 1),
    _o("format", 1, 2, messages.Q_FORMAT_MISSING, modelled=True),
    _o("autoformat", 5, -1, messages.Q_AUTOFORMAT_MISSING, modelled=True, colon=True, dash_value=False),
    _o("af", 2, -1, messages.Q_AUTOFORMAT_MISSING, modelled=True, colon=True, dash_value=False),
    _o("print-format", 2, 1, colon=True), _o("global", 1), _o("allusers", 2), _o("all-users", 2),
    _o("schedd-constraint", 5, 1), _o("help", 1), _o("better-analyze", 2, colon=True), _o("analyze", 2, colon=True),
    _o("nobatch", -1), _o("batch", -1), _o("totals", -1), _o("dag", -1), _o("run", -1), _o("hold", -1),
    _o("wide", -1, colon=True), _o("goodput", -1), _o("io", -1), _o("cputime", -1), _o("currentrun", -1),
    _o("stream-results", -1), _o("version", -1),
), messages.Q_UNRECOGNIZED)

# condor_history's, in history.cpp's order
CONDOR_HISTORY = ToolSpec("condor_history", (
    _o("long", 1, modelled=True), _o("xml", 3), _o("jsonl", 5), _o("json", 4, modelled=True),
    _o("backwards", 1, modelled=True), _o("nobackwards", 3), _o("forwards", 4), _o("wide", 1, colon=True),
    _o("match", 1, 1, messages.H_MATCH_MISSING, modelled=True),
    _o("limit", 3, 1, messages.H_MATCH_MISSING, modelled=True),
    _o("scanlimit", 4, 1), _o("file", 2, 1), _o("userlog", 1, 1), _o("local", 2), _o("startd", 3),
    _o("schedd", 3), _o("attributes", 2, 1), _o("help", 1),
    _o("format", 1, 2, messages.H_FORMAT_MISSING, modelled=True),
    _o("af", 2, -1, messages.H_AUTOFORMAT_MISSING, modelled=True, colon=True, dash_value=False),
    _o("autoformat", 5, -1, messages.H_AUTOFORMAT_MISSING, modelled=True, colon=True, dash_value=False),
    _o("print-format", 2, 1, colon=True), _o("epochs", 2, colon=True), _o("type", 1, 1), _o("directory", 3),
    _o("search", 3, 1), _o("constraint", 1, 1, messages.H_CONSTRAINT_MISSING, modelled=True),
    _o("since", 4, 1), _o("completedsince", 3, 1), _o("extract", 2, 1), _o("debug", 3, colon=True),
    _o("name", 1, 1), _o("pool", 1, 1),
), messages.H_UNKNOWN)

# condor_rm's, in rm.cpp's order
CONDOR_RM = ToolSpec("condor_rm", (
    _o("debug", 1, colon=True), _o("long", 1), _o("totals", 3),
    _o("constraint", 1, 1, messages.RM_REQUIRES_ARGUMENT, modelled=True, dash_value=False),
    _o("all", 1, modelled=True), _o("addr", 2, 1, messages.RM_REQUIRES_ARGUMENT, dash_value=False),
    _o("reason", 1, 1, messages.RM_REQUIRES_ARGUMENT, modelled=True), _o("subcode", 1, 1),
    _o("forcex", 1), _o("fast", 2), _o("name", 1, 1), _o("pool", 1, 1), _o("version", 1), _o("help", 1),
), messages.RM_UNRECOGNIZED, messages.RM_USAGE)

#: condor_submit's arguments the fake models (a submit file, or ``-`` or nothing for standard input).
SUBMIT_OPTIONS = ("-terse", "-verbose", "-v")
#: ``-af`` qualifiers modelled (``-af:jt``).
AUTOFORMAT_QUALIFIERS = "jlVr,tng"

# condor_status's: only what the fake models, each by its whole name. Its messages for unknown
# options and missing values are not in the reference, so the fake refuses those (FakeUnsupported)
# rather than invent them.
CONDOR_STATUS = ToolSpec("condor_status", (
    _o("constraint", -1, 1, modelled=True, dash_value=False),
    _o("autoformat", -1, -1, modelled=True, colon=True, dash_value=False),
    _o("af", -1, -1, modelled=True, colon=True, dash_value=False),
), "")

#: Every tool's option table, for docs/fidelity.md.
TABLES = {spec.name: spec for spec in (CONDOR_Q, CONDOR_HISTORY, CONDOR_RM, CONDOR_STATUS)}


def _prefix_of(arg: str, option: ToolOption) -> str | None:
    """The ``:qualifiers`` if ``arg`` names ``option`` (``-name``, ``--na``, ``-af:j``), else None."""
    if not arg.startswith("-"):
        return None
    body = arg[2:] if arg.startswith("--") else arg[1:]
    qualifiers = ""
    if option.colon and ":" in body:
        body, qualifiers = body.split(":", 1)
    if not body:
        return None
    if option.min_prefix < 0:
        return qualifiers if body == option.name else None
    return qualifiers if option.name.startswith(body) and len(body) >= option.min_prefix else None


def parse(spec: ToolSpec, args: Sequence[str]) -> Given:
    """Read a tool's arguments as the tool does; raises :class:`ToolError` with its message, or
    :class:`FakeUnsupported` for a real option not modelled."""
    given = Given()
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-") or arg == "-":
            given.words.append(arg)
            continue
        for option in spec.options:
            qualifiers = _prefix_of(arg, option)
            if qualifiers is not None:
                break
        else:
            raise ToolError(spec.unknown.format(arg=arg) + spec.usage)
        if not option.modelled:
            raise FakeUnsupported(f"{spec.name} option {arg!r} (-{option.name}) is not modelled by FakeCondor")
        values: list[str] = []
        if option.values < 0:  # attribute names up to the next -option
            while i < len(args) and not args[i].startswith("-"):
                values.append(args[i])
                i += 1
            if i < len(args) and args[i] == "-":  # a lone "-" ends the list and is eaten
                i += 1
            if not values:
                raise ToolError(option.missing.format(arg=arg))
        else:
            for _ in range(option.values):
                if i >= len(args) or (not option.dash_value and args[i].startswith("-")):
                    raise ToolError(option.missing.format(arg=arg))
                values.append(args[i])
                i += 1
        given.options.append((option, arg, values, qualifiers))
    return given


def _atoi(text: str) -> int:
    """C's atoi: leading blanks, a sign and digits; 0 when there are none."""
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else 0


# ---------------------------------------------------------------------- condor_q, condor_history


def condor_q(schedd: Schedd, argv: tuple[str, ...]) -> Reply:
    return _select(schedd, argv, schedd.sorted_queue(), CONDOR_Q)


def condor_history(schedd: Schedd, argv: tuple[str, ...]) -> Reply:
    return _select(schedd, argv, list(reversed(schedd.history)), CONDOR_HISTORY)  # newest first


def _select(schedd: Schedd, argv: tuple[str, ...], jobs: list[CondorJob], spec: ToolSpec) -> Reply:
    try:
        given = parse(spec, argv[1:])
    except ToolError as exc:
        return 1, "", exc.stderr
    history = spec is CONDOR_HISTORY
    constraint = None
    mode = None
    af_attrs: list[str] = []
    af_opts = ""
    formats: list[tuple[str, str]] = []
    limit: int | None = None
    for option, _, values, qualifiers in given.options:
        name = option.name
        if name == "constraint":
            try:
                constraint = classad.compile_constraint(values[0])
            except classad.ConstraintError:
                return 1, "", messages.CONSTRAINT_PARSE_ERROR.format(expr=values[0])
        elif name in ("af", "autoformat"):
            mode, af_opts = "af", qualifiers
            af_attrs += values
        elif name == "format":
            mode = "format"
            formats.append((values[0], values[1]))
        elif name == "long":
            if qualifiers:
                raise FakeUnsupported(f"{spec.name} -long:{qualifiers} is not modelled")
            mode = "long"
        elif name == "json":
            mode = "json"
        elif name in ("limit", "match"):
            if history:
                limit = _atoi(values[0])  # history.cpp: atoi; 0 (or less) means no limit
                limit = limit if limit > 0 else None
            else:
                if not re.fullmatch(r"\s*[+-]?\d*", values[0]):
                    return 1, "", messages.Q_LIMIT_NOT_A_NUMBER.format(value=values[0])
                limit = _atoi(values[0])
                if limit <= 0:
                    return 1, "", messages.Q_LIMIT_NOT_VALID.format(value=limit)
    if mode is None:
        raise FakeUnsupported(f"{argv[0]}'s default table output; use -af, -format, -long or -json")
    selected = []
    wanted = _id_filter(schedd, given.words)
    for job in jobs:
        if wanted is not None and not wanted(job):
            continue
        if constraint is not None and not classad.matches(constraint, job.ad):
            continue
        selected.append(job)
        if limit is not None and len(selected) >= limit:
            break
    ads = [dict(job.ad) for job in selected]
    if mode == "long":
        return 0, classad.long_form(ads), ""
    if mode == "json":
        return 0, classad.json_form(ads, empty_brackets=history), ""
    if mode == "format":
        return 0, "".join("".join(t for f, a in formats
                                  if (t := classad.format_one(f, classad.lookup(ad, a))) is not None)
                          for ad in ads), ""
    return 0, _autoformat(ads, af_attrs, af_opts), ""


def _id_filter(schedd: Schedd, words: list[str]) -> Callable[[CondorJob], bool] | None:
    """Whether a job is one the words name (``C.P``, a cluster ``C``, an owner); None: no words.
    Ids are looked up in sets, so that asking for 10,000 jobs by id costs one pass over the queue."""
    if not words:
        return None
    procs = {w for w in words if "." in w}
    clusters = {int(w) for w in words if "." not in w and w.isdigit()}
    # an owner name: only ours owns jobs here
    owner = schedd.cluster.user if schedd.cluster.user in words else None
    return lambda job: (job.job_id in procs or job.cluster in clusters
                        or (owner is not None and job.ad.get("Owner") == owner))


def _autoformat(ads: list[dict[str, classad.Value]], attrs: list[str], opts: str) -> str:
    unknown = set(opts) - set(AUTOFORMAT_QUALIFIERS)
    if unknown or ("n" in opts and "," in opts):
        raise FakeUnsupported(f"-af qualifiers {opts!r}")
    sep = "\t" if "t" in opts else " "
    lines = []
    for ad in ads:
        fields = []
        if "j" in opts:
            fields.append(f"{ad['ClusterId']}.{ad['ProcId']}")
        for attr in attrs:
            text = classad.af_text(classad.lookup(ad, attr), quoted="V" in opts, raw="r" in opts)
            fields.append(f"{attr} = {text}" if "l" in opts else text)
        if "," in opts:
            fields = [f + "," for f in fields]
        lines.append(("\n" if "n" in opts else sep).join(fields) + "\n")
    return ("\n" if "g" in opts else "").join(lines)


# ---------------------------------------------------------------------- condor_status


def condor_status(schedd: Schedd, argv: tuple[str, ...]) -> Reply:
    """The pool's slot ads, as ``-af`` lines: each node is one partitionable slot (``slot1@NODE``,
    Unclaimed, its free CPUs as ``Cpus``) followed by one dynamic slot per job running on it
    (``slot1_N@NODE``, Claimed, the job's CPUs), the way a pool with ``NUM_SLOTS_TYPE_1 = 1`` and
    ``SLOT_TYPE_1_PARTITIONABLE = True`` shows itself. Only ``-af``/``-autoformat`` and ``-constraint``
    are modelled; anything else raises :class:`~cfut.fakes.FakeUnsupported`."""
    try:
        given = parse(CONDOR_STATUS, argv[1:])
    except ToolError as exc:
        raise FakeUnsupported(f"condor_status {' '.join(argv[1:])!r}: only -af/-autoformat ATTR... and "
                              f"-constraint EXPR, spelled out, are modelled") from exc
    if given.words:
        raise FakeUnsupported(f"condor_status with host or slot names ({given.words!r}) is not modelled")
    attrs: list[str] = []
    opts = ""
    constraint = None
    for option, _, values, qualifiers in given.options:
        if option.name == "constraint":
            try:
                constraint = classad.compile_constraint(values[0])
            except classad.ConstraintError as exc:
                raise FakeUnsupported(f"condor_status -constraint {values[0]!r}: the fake cannot parse it, "
                                      "and condor_status's message for it is not modelled") from exc
            _slot_attributes(classad.attributes(constraint), f"-constraint {values[0]!r}")
        else:
            _slot_attributes(values, "-af")
            if "j" in qualifiers:
                raise FakeUnsupported(f"condor_status -af:{qualifiers}: the j qualifier (job ids) is condor_q's")
            attrs += values
            opts = qualifiers
    if not attrs:
        raise FakeUnsupported("condor_status's default table output; use -af")
    ads = [ad for ad in slot_ads(schedd) if constraint is None or classad.matches(constraint, ad)]
    return 0, _autoformat(ads, attrs, opts), ""


#: The slot ad attributes the fake models; a real slot has many more (Memory, Disk, Start, ...),
#: which the fake refuses rather than print ``undefined`` for.
SLOT_ATTRIBUTES = ("Name", "Machine", "State", "Activity", "Cpus", "TotalSlotCpus", "TotalCpus", "SlotType",
                   "PartitionableSlot")


def _slot_attributes(names: Iterable[str], where: str) -> None:
    modelled = {name.lower() for name in SLOT_ATTRIBUTES}
    for name in names:
        if name.lower() not in modelled:
            raise FakeUnsupported(f"condor_status {where}: {name!r} is not a slot attribute the fake models "
                                  f"({', '.join(SLOT_ATTRIBUTES)}; expressions are not evaluated)")


def slot_ads(schedd: Schedd) -> list[dict[str, classad.Value]]:
    """The startd ads of the fake pool, in condor_status's order (by machine, then slot name)."""
    running: dict[str, list[CondorJob]] = {}
    for job in sorted(schedd.queue.values(), key=lambda j: j.slot):
        if job.status == RUNNING and job.nodes:
            running.setdefault(job.nodes[0], []).append(job)
    ads: list[dict[str, classad.Value]] = []
    for node in schedd.cluster.nodes:
        common: dict[str, classad.Value] = {"Machine": node.name, "TotalSlotCpus": node.cpus,
                                             "TotalCpus": node.cpus}
        ads.append({"Name": f"slot1@{node.name}", **common, "SlotType": "Partitionable",
                    "PartitionableSlot": True, "State": "Unclaimed", "Activity": "Idle",
                    "Cpus": max(0, min(node.free, node.cpus))})  # (a cpu_share above 1 is Slurm's)
        for job in running.get(node.name, ()):
            ads.append({"Name": f"slot1_{job.slot}@{node.name}", **common, "SlotType": "Dynamic",
                        "PartitionableSlot": False, "State": "Claimed", "Activity": "Busy", "Cpus": job.cpus,
                        "TotalSlotCpus": job.cpus})
    return ads


# ---------------------------------------------------------------------- condor_rm


def condor_rm(schedd: Schedd, argv: tuple[str, ...]) -> Reply:
    if len(argv) < 2:
        return 1, "", messages.RM_NO_JOBS_SPECIFIED + messages.RM_USAGE
    try:
        given = parse(CONDOR_RM, argv[1:])
    except ToolError as exc:
        return 1, "", exc.stderr
    reason = None
    constraints: list[str] = []
    everything = False
    for option, _, values, _ in given.options:
        if option.name == "reason":
            reason = values[0]
        elif option.name == "constraint":
            constraints.append(values[0])
        elif option.name == "all":
            if constraints or given.words:
                return 1, "", messages.RM_MIX_ALL
            everything = True
    if everything and given.words:
        return 1, "", messages.RM_USAGE  # rm.cpp: any job id after -all is a usage error
    if not constraints and not everything and not given.words:
        return 1, "", messages.RM_NO_JOBS_SPECIFIED + messages.RM_USAGE
    if len(constraints) > 1 or (constraints and given.words):
        raise FakeUnsupported("condor_rm with several -constraint, or -constraint with job ids, is not modelled")
    user_reason = reason or messages.REMOVE_REASON.format(user=schedd.cluster.user)
    if everything or constraints:
        return _remove_matching(schedd, constraints[0] if constraints else None, user_reason)
    return _remove_ids(schedd, given.words, user_reason)


def _remove_matching(schedd: Schedd, expr: str | None, reason: str) -> Reply:
    if expr is None:
        targets = list(schedd.queue.values())
        ok_text, what = messages.RM_ALL_MARKED, "all jobs"
    else:
        try:
            tree = classad.compile_constraint(expr)
        except classad.ConstraintError:
            raise FakeUnsupported(f"condor_rm -constraint with an expression the fake cannot parse: {expr!r}") from None
        targets = [j for j in schedd.queue.values() if classad.matches(tree, j.ad)]
        ok_text = messages.RM_CONSTRAINT_MARKED.format(expr=expr)
        what = f"all jobs matching constraint ({expr})"
    if not schedd.queue:
        return 0, "", messages.RM_NO_JOBS_IN_QUEUE
    if not targets:
        return 1, "", messages.RM_COULD_NOT_REMOVE.format(what=what)
    for job in targets:
        schedd.remove(job, reason)
    return 0, ok_text + "\n", ""


def _remove_ids(schedd: Schedd, words: Sequence[str], reason: str) -> Reply:
    out: list[str] = []
    err: list[str] = []
    for arg in words:
        if "." in arg:
            found = schedd.queue.get(arg)
            if found is None:
                err.append(messages.RM_NOT_FOUND.format(job=arg))
            elif found.status == REMOVED:
                err.append(messages.RM_ALREADY_MARKED.format(job=arg))
            else:
                schedd.remove(found, reason)
                out.append(messages.RM_MARKED.format(job=arg))
        elif arg.isdigit():
            if not schedd.queue:
                return 0, "", messages.RM_NO_JOBS_IN_QUEUE
            targets = [j for j in schedd.queue.values() if j.cluster == int(arg)]
            if not targets:
                err.append(messages.RM_CLUSTER_NOT_FOUND.format(cluster=arg))
            else:
                for job in targets:
                    schedd.remove(job, reason)
                out.append(messages.RM_CLUSTER_MARKED.format(cluster=arg))
        else:
            raise FakeUnsupported(f"condor_rm by owner or other forms ({arg!r})")
    # The (usually empty) error stack comes first on stderr when any id failed (rm.cpp).
    stderr = ("\n" + "\n".join(err) + "\n") if err else ""
    return (1 if err else 0), "".join(line + "\n" for line in out), stderr


# ---------------------------------------------------------------------- condor_submit


def condor_submit(schedd: Schedd, argv: tuple[str, ...], stdin: str | None, env: Mapping[str, str] | None,
                  cwd: str | None, descriptions: list[str]) -> Reply:
    terse = verbose = False
    path: str | None = None
    for arg in argv[1:]:
        if arg == SUBMIT_OPTIONS[0]:
            terse = True
        elif arg in SUBMIT_OPTIONS[1:]:
            verbose = True
        elif arg == "-" or not arg.startswith("-"):
            if path is not None:
                raise FakeUnsupported("more than one submit file")
            path = arg
        else:
            raise FakeUnsupported(f"the fake condor_submit does not model the option {arg!r}")
    implied_verbose = path == "-" and not terse
    verbose = (verbose or implied_verbose) and not terse
    prefix = "" if terse or implied_verbose else messages.SUBMITTING
    base = cwd or os.getcwd()
    if path is None or path == "-":
        text, name = stdin or "", "(stdin)"
    else:
        try:
            with open(os.path.join(base, path)) as handle:
                text = handle.read()
        except OSError as exc:
            return 1, prefix, messages.OPEN_FAILED.format(path=path, reason=exc.strerror)
        name = path
    submitter_env = _host.environ()
    submitter_env.update(env or {})

    def read_file(name: str) -> str:
        with open(os.path.join(base, name)) as handle:
            return handle.read()

    try:
        description = parse_description(text, read_file=read_file)
        if not description.queues:
            return 1, prefix, messages.NO_QUEUE.format(name=name)
        jobs = materialize(description, base, submitter_env, schedd)
    except SubmitError as exc:
        extra = messages.PARSE_FAILED_AT.format(line=exc.line) if exc.line and \
            not exc.message.startswith("Failed to parse") else ""
        return 1, prefix, messages.SUBMIT_ERROR.format(message=exc.message) + extra
    descriptions.append(text)
    schedd.enqueue(jobs)
    clusters: dict[int, list[CondorJob]] = {}
    for job in jobs:
        clusters.setdefault(job.cluster, []).append(job)
    if terse:
        out = "".join(f"{c}.{js[0].proc} - {c}.{js[-1].proc}\n" for c, js in clusters.items())
    elif verbose:
        out = prefix + "".join(f"\n** Proc {j.job_id}:\n" + classad.long_form([dict(j.ad)]).rstrip("\n") + "\n"
                               for j in jobs) + "\n"
    else:
        out = prefix + "." * len(jobs) + "\n" + "".join(
            messages.SUBMITTED_CLUSTER.format(count=len(js), cluster=c) for c, js in clusters.items())
    return 0, out, messages.EMPTY_QUEUES.format(name=name) if not jobs and not terse else ""
