"""Every getopt table of FakeSlurm's commands, the subset of each the fake models, and ``#SBATCH``
directives read from a batch script.

Each table is the real command's whole option list (Slurm 22.05), so that unknown and abbreviated
names behave as on a real cluster; an option in the table but not in the modelled set raises
:class:`~cfut.fakes.FakeUnsupported`.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence

from ..._resources import SBATCH_LONG_OPTIONS
from .._errors import FakeUnsupported
from .._getopt import Arity, Option, OptionTable, Parsed

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
_OPTIONAL = {"exclusive", "export", "get-user-env", "nice", "no-kill", "propagate"}
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
    Option(name, _SHORT.get(name), _arity(name))
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


def _options(*specs: tuple[str, str | None, Arity]) -> OptionTable:
    return OptionTable(Option(long, short, arity) for long, short, arity in specs)


# The options of the other commands: each real option of Slurm 22.05 (so that abbreviations and
# unknown names behave as on a real cluster), and the subset modelled; the rest are refused.
SQUEUE_OPTIONS = _options(
    ("noheader", "h", "none"), ("states", "t", "required"), ("jobs", "j", "required"),
    ("format", "o", "required"), ("name", "n", "required"), ("user", "u", "required"),
    ("array", "r", "none"), ("me", None, "none"), ("all", "a", "none"), ("partition", "p", "required"),
    ("hide", None, "none"),
    ("Format", "O", "required"), ("long", "l", "none"), ("sort", "S", "required"),
    ("iterate", "i", "required"), ("clusters", "M", "required"), ("steps", "s", "optional"),
    ("verbose", "v", "none"), ("nodelist", "w", "required"), ("account", "A", "required"),
    ("qos", "q", "required"), ("reservation", "R", "required"), ("licenses", "L", "required"),
    ("priority", "P", "none"), ("start", None, "none"), ("version", "V", "none"), ("help", None, "none"),
    ("usage", None, "none"), ("array-unique", None, "none"), ("federation", None, "none"),
    ("local", None, "none"), ("sibling", None, "none"), ("json", None, "none"), ("yaml", None, "none"),
    ("noconvert", None, "none"), ("only-job-state", None, "none"),
)
SQUEUE_MODELLED = frozenset({"noheader", "states", "jobs", "format", "name", "user", "array", "me", "all",
                             "partition", "hide"})
SINFO_OPTIONS = _options(
    ("noheader", "h", "none"), ("format", "o", "required"), ("Format", "O", "required"),
    ("Node", "N", "none"), ("partition", "p", "required"), ("summarize", "s", "none"), ("all", "a", "none"),
    ("long", "l", "none"), ("nodes", "n", "required"), ("states", "t", "required"), ("exact", "e", "none"),
    ("dead", "d", "none"), ("responding", "r", "none"), ("list-reasons", "R", "none"), ("sort", "S", "required"),
    ("iterate", "i", "required"), ("clusters", "M", "required"), ("verbose", "v", "none"), ("version", "V", "none"),
    ("help", None, "none"), ("usage", None, "none"), ("hide", None, "none"), ("json", None, "none"),
    ("yaml", None, "none"), ("local", None, "none"), ("federation", None, "none"), ("noconvert", None, "none"),
    ("future", "F", "none"),
)
SINFO_MODELLED = frozenset({"noheader", "format", "Node", "partition", "summarize", "all", "hide", "exact",
                            "responding"})
SACCT_OPTIONS = _options(
    ("noheader", "n", "none"), ("parsable2", "P", "none"), ("parsable", "p", "none"),
    ("allocations", "X", "none"), ("jobs", "j", "required"), ("format", "o", "required"),
    ("starttime", "S", "required"), ("endtime", "E", "required"), ("user", "u", "required"),
    ("allusers", "a", "none"), ("state", "s", "required"), ("brief", "b", "none"),
    ("name", None, "required"), ("delimiter", None, "required"),
    ("batch-script", "B", "none"), ("long", "l", "none"), ("allclusters", "L", "none"),
    ("duplicates", "D", "none"), ("clusters", "M", "required"), ("helpformat", "e", "none"),
    ("truncate", "T", "none"), ("array", None, "none"), ("accounts", "A", "required"),
    ("nodelist", "N", "required"), ("verbose", "v", "none"), ("units", None, "required"),
    ("json", None, "none"), ("yaml", None, "none"), ("help", "h", "none"), ("usage", None, "none"),
    ("version", "V", "none"), ("env-vars", None, "none"), ("qos", "q", "required"),
    ("partition", "r", "required"), ("timelimit-min", "k", "required"), ("timelimit-max", "K", "required"),
    ("completion", "c", "none"), ("whole-hetjob", None, "optional"), ("local", None, "none"),
    ("federation", None, "none"), ("gid", "g", "required"), ("group", None, "required"),
    ("wckeys", "W", "required"), ("reason", "R", "required"), ("cpus", None, "required"),
    ("nnodes", "i", "required"), ("constraints", "C", "required"), ("flags", "F", "required"),
    ("noconvert", None, "none"), ("starttime-only", None, "none"), ("x", "x", "required"),
)
SACCT_MODELLED = frozenset({"noheader", "parsable2", "parsable", "allocations", "jobs", "format", "starttime",
                            "endtime", "user", "allusers", "state", "brief", "name", "delimiter"})
SCANCEL_OPTIONS = _options(
    ("signal", "s", "required"), ("name", "n", "required"), ("user", "u", "required"),
    ("state", "t", "required"), ("partition", "p", "required"), ("batch", "b", "none"),
    ("full", "f", "none"), ("quiet", "Q", "none"), ("me", None, "none"), ("hurry", "H", "none"),
    ("verbose", "v", "none"), ("interactive", "i", "none"), ("clusters", "M", "required"),
    ("nodelist", "w", "required"), ("account", "A", "required"), ("qos", "q", "required"),
    ("reservation", "R", "required"), ("sibling", None, "required"), ("wckey", None, "required"),
    ("ctld", None, "none"), ("version", "V", "none"), ("help", "h", "none"), ("usage", None, "none"),
)
SCANCEL_MODELLED = frozenset({"signal", "name", "user", "state", "partition", "batch", "full", "quiet", "me",
                              "hurry"})
SCONTROL_OPTIONS = _options(
    ("oneliner", "o", "none"), ("all", "a", "none"), ("quiet", "Q", "none"),
    ("details", "d", "none"), ("verbose", "v", "none"), ("clusters", "M", "required"),
    ("help", "h", "none"), ("usage", None, "none"), ("version", "V", "none"), ("json", None, "none"),
    ("yaml", None, "none"), ("uid", "u", "required"), ("future", "F", "none"), ("hide", None, "none"),
    ("local", None, "none"), ("sibling", None, "none"), ("federation", None, "none"),
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


def refuse_unmodelled(command: str, parsed: Iterable[Parsed], modelled: frozenset[str]) -> None:
    """Raise :class:`FakeUnsupported` naming the first real option given that the fake does not model."""
    for item in parsed:
        if item.option.long not in modelled:
            raise FakeUnsupported(f"{command} option {item.spelled!r} is not modelled by FakeSlurm")
