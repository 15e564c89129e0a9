"""Every getopt table of FakeSlurm's commands, the subset of each the fake models, and ``#SBATCH``
directives read from a batch script.

Each table is the real command's whole option list (Slurm 22.05), so that unknown and abbreviated
names behave as on a real cluster; an option in the table but not in the modelled set raises
:class:`~cfut.fakes.FakeUnsupported`.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence

from ..._resources import SBATCH_LONG_OPTIONS
from .._errors import FakeUnsupported
from .._getopt import Arity, GetoptError, Option, OptionTable, Parsed
from . import messages

# Options the fake models; the rest of the table is real sbatch options it refuses to guess about.
SBATCH_MODELLED = frozenset({
    "account", "array", "begin", "chdir", "clusters", "comment", "constraint", "cpus-per-task", "dependency",
    "error", "exclude", "exclusive", "export", "gpus", "gpus-per-node", "gpus-per-task", "gres", "hold",
    "job-name", "kill-on-invalid-dep", "mail-type", "mail-user", "mem", "mem-per-cpu", "no-requeue", "nodes",
    "ntasks", "ntasks-per-node", "open-mode", "output", "parsable", "partition", "qos", "quiet", "requeue",
    "signal", "time", "wait", "wckey", "wrap",
})

_FLAGS = {
    "contiguous", "help", "hold", "ignore-pbs", "no-requeue", "overcommit", "oversubscribe", "parsable",
    "quiet", "reboot", "requeue", "spread-job", "test-only", "usage", "use-min-nodes", "verbose", "version",
    "wait",
}
_OPTIONAL = {"exclusive", "get-user-env", "nice", "no-kill", "propagate"}
_SHORT = {
    "array": "a", "account": "A", "begin": "b", "extra-node-info": "B", "cpus-per-task": "c",
    "constraint": "C", "dependency": "d", "chdir": "D", "error": "e", "nodefile": "F", "gpus": "G",
    "help": "h", "hold": "H", "input": "i", "job-name": "J", "no-kill": "k", "licenses": "L",
    "distribution": "m", "clusters": "M", "ntasks": "n", "nodes": "N", "output": "o", "overcommit": "O",
    "partition": "p", "qos": "q", "quiet": "Q", "oversubscribe": "s", "core-spec": "S", "time": "t",
    "verbose": "v", "version": "V", "nodelist": "w", "wait": "W", "exclude": "x",
}
# Every long option sbatch 22.05 knows (getopt_long's own list, by its "ambiguous" messages).
_ALL_LONG = SBATCH_LONG_OPTIONS


def _arity(name: str) -> Arity:
    return "none" if name in _FLAGS else "optional" if name in _OPTIONAL else "required"


SBATCH_OPTIONS = OptionTable(
    Option(name, _SHORT.get(name), _arity(name), "clusters" if name == "cluster" else None)
    for name in _ALL_LONG
)


def directive_words(script: str) -> list[str]:
    """The words of the ``#SBATCH`` lines before the first command, as sbatch reads them.

    sbatch stops at the first line that is neither blank nor a comment; ``#SBATCH`` lines after it
    are plain comments. Words are split with shell quoting, and ``#`` after a space starts a comment.
    """
    words: list[str] = []
    for line in script.split("\n")[1:]:
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            break
        if line.startswith("#SBATCH") and (len(line) == 7 or line[7] in " \t"):
            words.extend(shlex.split(line[7:], comments=True))
    return words


def last_values(parsed: Sequence[Parsed]) -> dict[str, Parsed]:
    """Each option's last occurrence wins, as in sbatch (command line after directives)."""
    return {p.option.long: p for p in parsed}


def _options(*specs: tuple[str, str | None, Arity] | tuple[str, str | None, Arity, str]) -> OptionTable:
    """A table from (long, short, arity[, the option it is another name of]), in the real table's order."""
    return OptionTable(Option(*spec) for spec in specs)


# The options of the other commands: each real option of Slurm 22.05 in its getopt table's order,
# with the names that are the same entry (so that abbreviations, unknown names and glibc's
# "ambiguous" lists behave as on a real cluster: read from each command's messages for --L and
# --L=x, every letter, and its --help), and the subset modelled; the rest are refused.
SQUEUE_OPTIONS = _options(
    ("accounts", "A", "required"), ("all", "a", "none"), ("array", "r", "none"), ("array-unique", None, "none"),
    ("cluster", "M", "required"), ("clusters", None, "required", "cluster"), ("format", "o", "required"),
    ("federation", None, "none"), ("help", None, "none"), ("hide", None, "none"), ("iterate", "i", "required"),
    ("jobs", "j", "optional"), ("json", None, "none"), ("local", None, "none"), ("long", "l", "none"),
    ("licenses", "L", "required"), ("me", None, "none"), ("name", "n", "required"), ("noconvert", None, "none"),
    ("node", None, "required", "nodelist"), ("nodes", None, "required", "nodelist"), ("nodelist", "w", "required"),
    ("noheader", "h", "none"), ("partitions", "p", "required"), ("priority", "P", "none"), ("qos", "q", "required"),
    ("reservation", "R", "required"), ("sib", None, "none"), ("sibling", None, "none", "sib"),
    ("sort", "S", "required"), ("start", None, "none"), ("steps", "s", "optional"), ("states", "t", "required"),
    ("usage", None, "none"), ("user", "u", "required"), ("users", None, "required", "user"),
    ("verbose", "v", "none"), ("version", "V", "none"), ("yaml", None, "none"), ("Format", "O", "required"),
)
SQUEUE_MODELLED = frozenset({"noheader", "states", "jobs", "format", "name", "user", "array", "me", "all",
                             "partitions", "hide", "cluster"})
SINFO_OPTIONS = _options(
    ("all", "a", "none"), ("cluster", "M", "required"), ("clusters", None, "required", "cluster"), ("dead", "d",
    "none"), ("exact", "e", "none"), ("federation", None, "none"), ("format", "o", "required"), ("help", None,
    "none"), ("hide", None, "none"), ("iterate", "i", "required"), ("json", None, "none"), ("local", None, "none"),
    ("long", "l", "none"), ("list-reasons", "R", "none"), ("nodes", "n", "required"), ("noconvert", None, "none"),
    ("noheader", "h", "none"), ("partition", "p", "required"), ("responding", "r", "none"), ("reservation", "T",
    "none"), ("summarize", "s", "none"), ("sort", "S", "required"), ("states", "t", "required"), ("usage", None,
    "none"), ("verbose", "v", "none"), ("version", "V", "none"), ("yaml", None, "none"), ("Format", "O",
    "required"), ("Node", "N", "none"),
)
SINFO_MODELLED = frozenset({"noheader", "format", "Node", "partition", "summarize", "all", "hide", "exact",
                            "responding"})
SACCT_OPTIONS = _options(
    ("allusers", "a", "none"), ("accounts", "A", "required"), ("allocations", "X", "none"), ("allclusters", "L",
    "none"), ("associations", "x", "required"), ("brief", "b", "none"), ("batch-script", "B", "none"),
    ("completion", "c", "none"), ("constraints", "C", "required"), ("cluster", None, "required", "clusters"),
    ("clusters", "M", "required"), ("delimiter", None, "required"), ("duplicates", "D", "none"), ("endtime", "E",
    "required"), ("env-vars", None, "none"), ("federation", None, "none"), ("file", "f", "required"), ("flags", "F",
    "required"), ("fields", None, "required"), ("format", "o", "required"), ("gid", "g", "required"), ("helpformat",
    "e", "none"), ("help", "h", "none"), ("jobs", "j", "required"), ("json", None, "none"), ("local", None, "none"),
    ("long", "l", "none"), ("name", None, "required"), ("nnodes", "i", "required"), ("ncpus", "I", "required"),
    ("nodelist", "N", "required"), ("noconvert", None, "none"), ("noheader", "n", "none"), ("parsable", "p",
    "none"), ("parsable2", "P", "none"), ("partition", "r", "required"), ("qos", "q", "required"), ("reason", "R",
    "required"), ("state", "s", "required"), ("starttime", "S", "required"), ("timelimit-min", "k", "required"),
    ("timelimit-max", "K", "required"), ("truncate", "T", "none"), ("units", None, "required"), ("uid", None,
    "required", "user"), ("use-local-uid", None, "none"), ("usage", None, "none"), ("user", "u", "required"),
    ("verbose", "v", "none"), ("version", "V", "none"), ("wckeys", "W", "required"), ("whole-hetjob", None,
    "optional"), ("yaml", None, "none"),
)
SACCT_MODELLED = frozenset({"noheader", "parsable2", "parsable", "allocations", "jobs", "format", "starttime",
                            "endtime", "user", "allusers", "state", "brief", "name", "delimiter", "clusters"})
SCANCEL_OPTIONS = _options(
    ("account", "A", "required"), ("batch", "b", "none"), ("ctld", None, "none"), ("cluster", None, "required",
    "clusters"), ("clusters", "M", "required"), ("full", "f", "none"), ("help", "h", "none"), ("hurry", "H",
    "none"), ("interactive", "i", "none"), ("jobname", None, "required"), ("me", None, "none"), ("name", "n",
    "required"), ("nodelist", "w", "required"), ("partition", "p", "required"), ("qos", "q", "required"), ("quiet",
    "Q", "none"), ("reservation", "R", "required"), ("sibling", None, "required"), ("signal", "s", "required"),
    ("state", "t", "required"), ("usage", None, "none"), ("user", "u", "required"), ("verbose", "v", "none"),
    ("version", "V", "none"), ("wckey", None, "required"),
)
SCANCEL_MODELLED = frozenset({"signal", "name", "user", "state", "partition", "batch", "full", "quiet", "me",
                              "hurry", "clusters"})
SCONTROL_OPTIONS = _options(
    ("all", "a", "none"), ("cluster", "M", "required"), ("clusters", None, "required", "cluster"), ("details", "d",
    "none"), ("federation", None, "none"), ("future", "F", "none"), ("help", "h", "none"), ("hide", None, "none"),
    ("local", None, "none"), ("oneliner", "o", "none"), ("quiet", "Q", "none"), ("sibling", None, "none"), ("uid",
    "u", "required"), ("usage", None, "none"), ("verbose", "v", "none"), ("version", "V", "none"),
)
SCONTROL_MODELLED = frozenset({"oneliner", "all", "quiet", "hide"})
#: The ``scontrol`` commands modelled (``show job [ID]``, ``hold``, ``release``, ``requeue``, and
#: ``show config`` with the lines of the configuration the fake models).
SCONTROL_VERBS = ("show job", "hold", "release", "requeue", "show config")

#: Every command's option table and modelled subset, for docs/fidelity.md.
TABLES: dict[str, tuple[OptionTable, frozenset[str]]] = {
    "sbatch": (SBATCH_OPTIONS, SBATCH_MODELLED),
    "squeue": (SQUEUE_OPTIONS, SQUEUE_MODELLED),
    "sacct": (SACCT_OPTIONS, SACCT_MODELLED),
    "scancel": (SCANCEL_OPTIONS, SCANCEL_MODELLED),
    "scontrol": (SCONTROL_OPTIONS, SCONTROL_MODELLED),
    "sinfo": (SINFO_OPTIONS, SINFO_MODELLED),
}


#: The input environment variables of the status and cancel commands: each command's own prefix (the
#: variables that stand for its options), with the ones the fake models, and the option each gives a
#: default for (observed: SQUEUE_FORMAT and SACCT_FORMAT are the format when none is given).
_INPUT_ENVIRONMENT: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
    "squeue": ("SQUEUE_", {"SQUEUE_FORMAT": ("format", "Format")}),
    "sacct": ("SACCT_", {"SACCT_FORMAT": ("format",)}),
    "sinfo": ("SINFO_", {}),
    "scancel": ("SCANCEL_", {}),
    "scontrol": ("SCONTROL_", {}),
}


def with_input_environment(command: str, argv: tuple[str, ...], table: OptionTable,
                           env: Mapping[str, str]) -> tuple[str, ...]:
    """``argv`` as the command's input environment ``env`` makes it: a modelled variable becomes the
    option it stands for, unless the command line gives it; any other variable of the command's own
    (``SQUEUE_SORT``, ``SINFO_FORMAT``, ...), ``SLURM_CLUSTERS`` and a ``SLURM_TIME_FORMAT`` other than
    ``standard`` change what the real command prints, and are refused (FakeUnsupported)."""
    prefix, modelled = _INPUT_ENVIRONMENT[command]
    for name, value in env.items():
        if (name.startswith(prefix) and name not in modelled) or name == "SLURM_CLUSTERS" or (
                name == "SLURM_TIME_FORMAT" and value != "standard"):
            raise FakeUnsupported(f"{command} input environment variable {name} is not modelled by FakeSlurm")
    extra: list[str] = []
    for name, options in modelled.items():
        if name not in env:
            continue
        try:
            parsed, _ = table.parse(argv[1:], permute=True)
        except GetoptError:
            return argv  # the command complains of its command line first
        if not any(p.option.long in options for p in parsed):
            extra.append(f"--{options[0]}={env[name]}")
    return (*argv, *extra)


def check_clusters(command: str, value: str, own: str, accounting: bool) -> tuple[str, bool]:
    """``--clusters``/``-M`` of squeue, sacct, scancel and sbatch: what the command prints on stderr
    for the list ``value``, and whether it then exits 1 (observed on Slurm 22.05). The cluster list
    comes from slurmdbd, which knows this cluster alone (and ``all``): each other name gets a line, and
    the command goes on with this cluster if the list names it; without accounting nothing can be reached."""
    if not accounting:
        reach = messages.NO_CLUSTER_REACHABLE if value.lower() == "all" else messages.CLUSTERS_UNREACHABLE
        return (messages.NO_CLUSTER_DATABASE + reach).format(command=command, clusters=value), True
    names = value.split(",")
    unknown = [name for name in names if name.lower() not in (own.lower(), "all")]
    stderr = "".join(messages.UNKNOWN_CLUSTER.format(command=command, cluster=name) for name in unknown)
    if len(unknown) < len(names):
        return stderr, False
    return stderr + messages.CLUSTERS_UNREACHABLE.format(command=command, clusters=value), True


def refuse_unmodelled(command: str, parsed: Iterable[Parsed], modelled: frozenset[str]) -> None:
    """Raise :class:`FakeUnsupported` naming the first real option given that the fake does not model."""
    for item in parsed:
        if item.option.long not in modelled:
            raise FakeUnsupported(f"{command} option {item.spelled!r} is not modelled by FakeSlurm")
