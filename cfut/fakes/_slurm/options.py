"""sbatch's options: the whole table of Slurm 22.05 (so unknown and abbreviated names behave as on
a real cluster), the subset the fake models, and ``#SBATCH`` directives read from the script.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from .._getopt import Option, OptionTable, Parsed

# Options the fake models; the rest of the table is real sbatch options it refuses to guess about.
MODELLED = frozenset({
    "array", "begin", "chdir", "clusters", "comment", "cpus-per-task", "error", "export", "hold", "job-name",
    "mail-type",
    "mail-user", "mem", "nodes", "ntasks", "open-mode", "output", "parsable", "partition", "quiet",
    "time", "wrap",
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
_ALL_LONG = """
account acctg-freq array batch begin bb bbf chdir cluster cluster-constraint clusters comment container
context contiguous constraint core-spec cores-per-socket cpu-freq cpus-per-gpu cpus-per-task deadline
delay-boot dependency distribution error exclude exclusive export export-file extra-node-info
get-user-env gid gpu-bind gpu-freq gpus gpus-per-node gpus-per-socket gpus-per-task gres gres-flags help
hint hold ignore-pbs input job-name kill-on-invalid-dep licenses mail-type mail-user mcs-label mem
mem-bind mem-per-cpu mem-per-gpu mincpus network nice no-kill no-requeue nodefile nodelist nodes ntasks
ntasks-per-core ntasks-per-gpu ntasks-per-node ntasks-per-socket ntasks-per-tres open-mode output
overcommit oversubscribe parsable partition power prefer priority profile propagate qos quiet reboot
requeue reservation signal sockets-per-node spread-job switches tasks-per-node test-only thread-spec
threads-per-core time time-min tmp uid usage use-min-nodes verbose version wait wait-all-nodes wckey wrap
""".split()


def _arity(name: str) -> str:
    return "none" if name in _FLAGS else "optional" if name in _OPTIONAL else "required"


SBATCH_OPTIONS = OptionTable(
    Option(name, _SHORT.get(name), _arity(name))  # type: ignore[arg-type]
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
