"""``sinfo``: the fake cluster's partitions and nodes (CPUs, memory, GPUs, states), as sinfo prints them.

Clients ask sinfo for the default partition (``sinfo -o %P``: marked ``*``), and for what the nodes
offer (``%c`` CPUs, ``%m`` memory, ``%G`` GRES, ``%C``/``%F`` allocated/idle/other/total, ``%h``
OverSubscribe). Every partition of the fake spans every node; every node responds (``--responding``
leaves them all). Without ``--Node``, lines group the nodes whose printed fields are the same, across
partitions too when the format does not print the partition (the node count, list and totals adding
up, each node once), as sinfo merges its records; ``--Node`` prints a line per node and partition.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..._runner import CommandResult
from .._cluster import FakeNode
from .._errors import FakeUnsupported
from .._getopt import GetoptError
from . import messages
from .controller import Controller
from .options import SINFO_MODELLED, SINFO_OPTIONS, refuse_unmodelled
from .render import Token, parse_format
from .values import compress_hostlist

#: sinfo(1)'s default formats: partitions, --Node, --summarize.
DEFAULT_FORMAT = "%9P %.5a %.10l %.6D %.6t %N"
#: --Node's is ``%#N %.6D %#P %6t``: ``#`` is a width sinfo computes, at least 9 and as wide as the longest
#: node name (left-justified) or partition name with its ``*`` (right-justified), observed on Slurm 22.05.
NODE_FORMAT = "%{node}N %.6D %.{partition}P %6t"
SUMMARIZE_FORMAT = "%9P %.5a %.10l %.16F %N"
_MIN_FIELD_SIZE = 9

HEADERS = {
    "P": "PARTITION", "R": "PARTITION", "a": "AVAIL", "l": "TIMELIMIT", "D": "NODES", "t": "STATE", "T": "STATE",
    "N": "NODELIST", "n": "HOSTNAMES", "c": "CPUS", "m": "MEMORY", "G": "GRES", "C": "CPUS(A/I/O/T)",
    "F": "NODES(A/I/O/T)", "z": "S:C:T", "d": "TMP_DISK", "f": "AVAIL_FEATURES", "E": "REASON", "X": "SOCKETS",
    "Y": "CORES", "Z": "THREADS", "w": "WEIGHT", "h": "OVERSUBSCRIBE",
}
#: Fields that add up over the nodes of one line rather than tell lines apart.
_AGGREGATE = frozenset("DNnCF")
_LONG_STATES = {"idle": "idle", "mix": "mixed", "alloc": "allocated"}
#: enum node_states: sinfo sorts its lines by partition, then state in reverse (``#P,-t``)
_STATE_NUMBERS = {"idle": 2, "alloc": 3, "mix": 5}


def _allocated(node: FakeNode) -> int:
    """CPUs in use: every CPU of an exclusive node, else as many as the jobs' slots (at most all)."""
    return node.cpus if node.exclusive else min(node.cpus, node.used)


def _node_value(letter: str, node: FakeNode, partition: str, default: str) -> str:
    if letter == "P":
        return partition + ("*" if partition == default else "")
    if letter == "R":
        return partition
    if letter == "a":
        return "up"
    if letter == "l":
        return "infinite"
    if letter == "t":
        return node.state
    if letter == "T":
        return _LONG_STATES[node.state]
    if letter == "c":
        return str(node.cpus)
    if letter == "m":
        return str(node.memory or 1)
    if letter == "G":
        return f"gpu:{node.gpus}" if node.gpus else "(null)"
    if letter == "z":
        return f"1:{node.cpus}:1"
    if letter == "X":
        return "1"
    if letter == "Y":
        return str(node.cpus)
    if letter == "Z":
        return "1"
    if letter == "d":
        return "0"
    if letter == "f":
        return "(null)"
    if letter == "E":
        return "none"
    if letter == "w":
        return "1"
    if letter == "h":
        # the partition's OverSubscribe: FORCE:N when N jobs may share a CPU, else Slurm's default NO
        return f"FORCE:{node.share}" if node.share > 1 else "NO"
    raise AssertionError(letter)


def _aggregate(letter: str, nodes: Sequence[FakeNode]) -> str:
    if letter == "D":
        return str(len(nodes))
    if letter in "Nn":
        return compress_hostlist(n.name for n in nodes)
    if letter == "C":
        used = sum(_allocated(n) for n in nodes)
        total = sum(n.cpus for n in nodes)
        return f"{used}/{total - used}/0/{total}"
    busy = sum(n.state != "idle" for n in nodes)
    return f"{busy}/{len(nodes) - busy}/0/{len(nodes)}"


def run(ctl: Controller, argv: tuple[str, ...], refresh: Callable[[], None]) -> CommandResult:
    """Answer one ``sinfo`` command line."""
    try:
        parsed, positionals = SINFO_OPTIONS.parse(argv[1:], permute=True)
    except GetoptError as exc:
        return CommandResult(argv, 1, "", messages.GETOPT_SINFO.format(message=exc.message))
    refuse_unmodelled("sinfo", parsed, SINFO_MODELLED)
    if positionals:
        raise FakeUnsupported(f"sinfo arguments {positionals!r} are not modelled")
    opts = {p.option.long: p.value for p in parsed}
    by_node, summarize = "Node" in opts, "summarize" in opts
    refresh()
    config = ctl.config
    partitions = list(config.partitions)
    if opts.get("partition") is not None:
        wanted = (opts["partition"] or "").split(",")
        partitions = [p for p in partitions if p in wanted]
    default = config.partitions[0]
    default_format = SUMMARIZE_FORMAT if summarize else DEFAULT_FORMAT
    if by_node:
        default_format = NODE_FORMAT.format(
            node=max([_MIN_FIELD_SIZE, *(len(n.name) for n in ctl.cluster.nodes)]),
            partition=max([_MIN_FIELD_SIZE, *(len(p) + (p == default) for p in partitions)]))
    fmt = parse_format(opts.get("format") or default_format, HEADERS, "sinfo")
    tokens = [p for p in fmt if isinstance(p, Token)]
    lines: list[list[FakeNode]] = []
    names: list[str] = []
    if by_node:
        # observed on Slurm 22.05: node by node, each node's partitions last configured first
        for node in ctl.cluster.nodes:
            for partition in reversed(partitions):
                lines.append([node])
                names.append(partition)
    else:
        # observed on Slurm 22.05: a record takes any node, of any partition, whose printed fields match
        # its own (sinfo -o '%D %t': one line "2 idle" for two partitions of the same two nodes)
        groups: dict[tuple[str, ...], tuple[str, dict[str, FakeNode]]] = {}
        for partition in partitions:
            for node in ctl.cluster.nodes:
                key = tuple("" if t.letter in _AGGREGATE or (summarize and t.letter in "tT")
                            else _node_value(t.letter, node, partition, default) for t in tokens)
                groups.setdefault(key, (partition, {}))[1].setdefault(node.name, node)
        records = sorted(groups.values(), key=lambda record: (
            partitions.index(record[0]), -_STATE_NUMBERS[next(iter(record[1].values())).state]))
        for partition, members in records:
            lines.append(list(members.values()))
            names.append(partition)
    out = []
    if "noheader" not in opts:
        out.append("".join(p if isinstance(p, str) else p.fit(HEADERS[p.letter]) for p in fmt))
    for nodes, partition in zip(lines, names):
        out.append("".join(
            p if isinstance(p, str) else p.fit(
                _aggregate(p.letter, nodes) if p.letter in _AGGREGATE
                else _node_value(p.letter, nodes[0], partition, default))
            for p in fmt))
    return CommandResult(argv, 0, "".join(line + "\n" for line in out), "")
