"""``sbatch``: the command line and the script's ``#SBATCH`` directives → a submission → the reply.

Options are validated in sbatch's own order of complaints, each with its verbatim message
(:mod:`.messages`); the submission is queued on the controller as it is (sbatch does not wait for
the scheduler).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..._runner import CommandResult
from .. import _host
from .._errors import FakeUnsupported
from .._getopt import GetoptError, Parsed
from .._inline import InlineScript, parse_inline
from . import messages
from .controller import Controller
from .model import Dependency, Submission
from .options import (
    SBATCH_MODELLED,
    SBATCH_OPTIONS,
    check_clusters,
    directive_words,
    last_values,
    refuse_unmodelled,
)
from .values import (
    ArraySpec,
    expand_hostlist,
    parse_array,
    parse_dependency,
    parse_gpu_count,
    parse_memory_mb,
    parse_signal_spec,
    parse_slurm_date,
    parse_time_limit,
)


class SbatchError(Exception):
    """sbatch refuses the submission: print ``stderr`` and exit with ``returncode``."""

    def __init__(self, returncode: int, stderr: str) -> None:
        super().__init__(stderr)
        self.returncode = returncode
        self.stderr = stderr


def run(ctl: Controller, argv: tuple[str, ...], *, input: str | None, env: Mapping[str, str] | None,
        cwd: str | None) -> CommandResult:
    """Answer one ``sbatch`` command line."""
    try:
        job_id, quiet, parsable, cluster, wait = _submit(ctl, argv[1:], input, env, cwd)
    except SbatchError as exc:
        return CommandResult(argv, exc.returncode, "", exc.stderr)
    if quiet:
        stdout = ""  # observed: --quiet silences --parsable too
    elif parsable and cluster is not None:
        stdout = f"{job_id};{cluster}\n"  # --parsable with --clusters
    elif cluster is not None:
        stdout = f"Submitted batch job {job_id} on cluster {cluster}\n"  # observed: sbatch --clusters=cfut
    else:
        stdout = f"{job_id}\n" if parsable else messages.SUBMITTED.format(job=job_id)
    if wait:
        return Waiting(argv, 0, stdout, "", job_id=job_id)
    return CommandResult(argv, 0, stdout, "")


@dataclass(frozen=True)
class Waiting(CommandResult):
    """sbatch --wait: what it printed at submission; the fake then waits for ``job_id`` to end, and
    sbatch exits with its exit code (sbatch(1): 1 for a job killed by a signal, the highest of an
    array's tasks)."""

    job_id: int = 0


def _parse(words: Sequence[str]) -> list[Parsed]:
    try:
        parsed, _ = SBATCH_OPTIONS.parse(words, permute=False)
    except GetoptError as exc:
        raise SbatchError(255, messages.GETOPT_SBATCH.format(message=exc.message)) from None
    return parsed


def _submit(ctl: Controller, args: Sequence[str], stdin: str | None, env: Mapping[str, str] | None,
            cwd: str | None) -> tuple[int, bool, bool, str | None, bool]:
    try:
        parsed, positionals = SBATCH_OPTIONS.parse(args, permute=False)
    except GetoptError as exc:
        raise SbatchError(255, messages.GETOPT_SBATCH.format(message=exc.message)) from None
    here = cwd or os.getcwd()
    merged_env = _host.environ()
    merged_env.update(env or {})
    for name in merged_env:
        if name.startswith("SBATCH_"):
            raise FakeUnsupported(f"sbatch input environment variable {name} is not modelled by FakeSlurm")
    cli = last_values(parsed)
    script, command, script_args, default_name = _script(cli, positionals, stdin, here)
    directives = _parse(directive_words(script))
    refuse_unmodelled("sbatch", [*directives, *parsed], SBATCH_MODELLED)
    opts = {name: p.value for name, p in last_values([*directives, *parsed]).items()}
    if "clusters" in opts:
        complaints, fatal = check_clusters("sbatch", opts["clusters"] or "", ctl.cluster.name, ctl.accounting)
        if fatal or complaints:  # (the others' lines come before the reply of a submission that goes on)
            raise SbatchError(1, complaints) if fatal else FakeUnsupported(
                f"sbatch --clusters={opts['clusters']}: a list with clusters slurmdbd does not know besides "
                "this one is not modelled")
    sub, eligible = _submission(ctl, opts, script, command, script_args, default_name, here, merged_env,
                                ("sbatch", *args))
    ctl.add_submission(sub, eligible)
    return sub.job_id, "quiet" in opts, "parsable" in opts, opts.get("clusters"), "wait" in opts


def _script(cli: Mapping[str, Parsed], positionals: Sequence[str], stdin: str | None,
            here: str) -> tuple[str, str | None, tuple[str, ...], str]:
    """The batch script: from --wrap, a file, or standard input; checked as sbatch checks it."""
    wrap = cli.get("wrap")
    args: tuple[str, ...] = ()
    if wrap is not None:
        if positionals:
            raise SbatchError(1, messages.WRAP_WITH_ARGUMENTS)
        script = messages.WRAP_SCRIPT.format(command=wrap.value)
        command, name = None, "wrap"
    elif positionals:
        path = os.path.join(here, positionals[0])
        try:
            if os.path.isdir(path):
                script = ""  # observed: sbatch reads nothing from a directory ("Batch script is empty!")
            else:
                # as bytes: a DOS line break is refused below, a lone CR stays in the script
                with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
                    script = handle.read()
        except OSError:
            raise SbatchError(1, messages.UNABLE_TO_OPEN.format(path=positionals[0])) from None
        command, args, name = os.path.abspath(path), tuple(positionals[1:]), os.path.basename(path)
    else:
        script, command, name = stdin or "", None, "sbatch"
    if not script:
        raise SbatchError(1, messages.EMPTY_SCRIPT)
    if not script.startswith("#!"):
        raise SbatchError(1, messages.NOT_A_BATCH_SCRIPT)
    if "\r\n" in script:
        raise SbatchError(1, messages.DOS_LINE_BREAKS)
    return script, command, args, name


def _submission(ctl: Controller, opts: Mapping[str, str | None], script: str, command: str | None,
                script_args: tuple[str, ...], default_name: str, here: str,
                merged_env: Mapping[str, str], argv: tuple[str, ...]) -> tuple[Submission, float]:
    """Validate the options in sbatch's order of complaints; the submission and when it may start."""
    config, clock, cluster = ctl.config, ctl.clock, ctl.cluster
    time_limit = None
    if opts.get("time") is not None:
        try:
            time_limit = parse_time_limit(opts["time"] or "")
        except ValueError:
            raise SbatchError(255, messages.INVALID_TIME) from None
    # sbatch reads the first letter only: --open-mode=A and =Truncate are taken, an empty value is not
    mode_text = opts.get("open-mode")
    open_mode = "truncate" if mode_text is None else {"a": "append", "t": "truncate"}.get(mode_text[:1].lower())
    if open_mode is None:
        raise SbatchError(255, messages.INVALID_OPEN_MODE)
    cpus_per_task = _positive(opts, "cpus-per-task")
    ntasks = _positive(opts, "ntasks")
    tasks_per_node = _positive(opts, "ntasks-per-node")
    node_count = 1
    if opts.get("nodes") is not None:
        text = opts["nodes"] or ""
        if "-" in text or "," in text:
            raise FakeUnsupported(f"sbatch --nodes={text}: node count ranges are not modelled")
        if not text.isdigit() or int(text) < 1:
            raise SbatchError(255, messages.INVALID_NODE_COUNT.format(value=text))
        node_count = int(text)
    if tasks_per_node is not None:
        if ntasks is not None and opts.get("nodes") is None:
            node_count = -(-ntasks // tasks_per_node)  # observed: --ntasks=2 --ntasks-per-node=1 takes 2 nodes
        if ntasks is not None and ntasks != tasks_per_node * node_count:
            raise FakeUnsupported("sbatch --ntasks with a different --ntasks-per-node × --nodes is not modelled")
        ntasks = tasks_per_node * node_count
    if ntasks is not None and ntasks < node_count:
        raise FakeUnsupported("sbatch with fewer --ntasks than --nodes is not modelled")
    mem_mb = mem_per_cpu = None
    if opts.get("mem") is not None:
        try:
            mem_mb = parse_memory_mb(opts["mem"] or "")
        except ValueError:
            raise SbatchError(255, messages.INVALID_MEM) from None
    if opts.get("mem-per-cpu") is not None:
        if mem_mb is not None:
            raise SbatchError(1, messages.MEMORY_OPTIONS_EXCLUSIVE)
        try:
            mem_per_cpu = parse_memory_mb(opts["mem-per-cpu"] or "")
        except ValueError:
            raise SbatchError(255, messages.INVALID_MEM_PER_CPU) from None
        if mem_per_cpu == 0:  # all of each node's memory, as --mem=0 (observed: MinMemoryNode=0)
            mem_mb, mem_per_cpu = 0, None
    signal = None
    if opts.get("signal") is not None:
        try:
            signal = parse_signal_spec(opts["signal"] or "")
        except ValueError:
            raise SbatchError(255, messages.INVALID_SIGNAL) from None
    gpus = _gpus(opts, ntasks)
    sharing = _sharing(opts)
    now = clock.now()
    eligible = now + config.start_delay
    if opts.get("begin") is not None:
        begin = clock.from_wall(parse_slurm_date(opts["begin"] or "", clock.wall(now)))
        eligible = max(eligible, begin)
    array: ArraySpec | None = None
    if opts.get("array") is not None:
        try:
            array = parse_array(opts["array"] or "", config.max_array_size)
        except ValueError:
            raise SbatchError(1, messages.INVALID_ARRAY) from None
    partition = opts.get("partition") or config.partition
    if "," in partition:
        raise FakeUnsupported(f"sbatch --partition={partition}: a list of partitions is not modelled")
    if partition not in config.partitions:
        raise SbatchError(1, messages.INVALID_PARTITION.format(partition=partition))
    exclude = tuple(expand_hostlist(opts["exclude"] or "")) if opts.get("exclude") else ()
    if any(name not in {node.name for node in cluster.nodes} for name in exclude):
        raise SbatchError(1, messages.INVALID_NODE_NAME)
    if opts.get("constraint"):
        raise SbatchError(1, messages.INVALID_FEATURE)  # the fake's nodes have no features
    dependency, any_dependency = _dependency(ctl, opts.get("dependency"))
    for item in dependency:
        if item.kind == "aftercorr" and (opts.get("array") is None or not any(
                t.index is not None for t in ctl.tasks_for(item.job_id or 0))):
            raise FakeUnsupported(f"--dependency={opts.get('dependency')}: aftercorr between arrays only is modelled")
    nodes = [n for n in cluster.nodes if n.name not in exclude]
    widest = max(n.cpus for n in nodes) if nodes else 0
    # --ntasks without --nodes: tasks more than one node holds are spread over the nodes it takes
    # (observed: --ntasks=3 on 2-CPU nodes runs 2+1 on two; NumNodes=2 estimated while pending)
    total = (ntasks or 1) * (cpus_per_task or 1)
    spread = (opts.get("nodes") is None and opts.get("ntasks-per-node") is None and ntasks is not None
              and ntasks > 1 and total > widest > 0)
    if spread:
        node_count = -(-total // widest)
    elif opts.get("nodes") is not None and ntasks is not None and ntasks % node_count:
        spread = True  # --nodes=2 --ntasks=3: 2 tasks on one node, 1 on the other (observed: 2,1)
    cpus_per_node = total if spread else -(-(ntasks or 1) // node_count) * (cpus_per_task or 1)
    gpus_per_node, gpu_option, gpus_env = gpus
    memory = mem_mb if mem_mb is not None else (mem_per_cpu or config.def_mem_per_cpu) * cpus_per_node
    # what no node could ever give is refused; CPUs beyond a node's pend forever (PartitionConfig,
    # observed with --cpus-per-task=999 on 2-CPU nodes)
    # (more nodes than the partition has pend: PartitionNodeLimit, observed with --nodes=3 on 2)
    if not spread and node_count <= len(nodes) and sum(n.gpus >= gpus_per_node for n in nodes) < node_count:
        raise SbatchError(1, messages.NODE_CONFIGURATION)
    # an explicit --mem or --mem-per-cpu no node has is refused; DefMemPerCPU is not checked so
    # (observed: --mem=50G refused, --cpus-per-task=999 pending on 24 GB nodes)
    if (mem_mb is not None or mem_per_cpu is not None) and all(n.memory and memory > n.memory for n in nodes):
        raise SbatchError(1, messages.MEMORY_NOT_SATISFIED)
    inline = _inline_script(script, config.execution)
    workdir = os.path.normpath(os.path.join(here, opts["chdir"] or "")) if opts.get("chdir") else here
    job_id, seq = ctl.new_job_id()
    sub = Submission(
        seq=seq, job_id=job_id, script=script, script_args=script_args, command=command,
        name=opts.get("job-name") or default_name, workdir=workdir, submit_dir=here,
        output=opts.get("output"), error=opts.get("error"), open_mode=open_mode, time_limit=time_limit,
        explicit_time=opts.get("time") is not None, cpus_per_task=cpus_per_task, ntasks=ntasks,
        node_count=node_count, partition=partition, mem_mb=mem_mb, comment=opts.get("comment"),
        mail_type=opts.get("mail-type"), mail_user=opts.get("mail-user"),
        env=_job_env(opts, merged_env), array=array, submit_time=now,
        argv=argv, inline=inline, held="hold" in opts,
        requeue="no-requeue" not in opts or "requeue" in opts, umask=_umask(merged_env),
        sys_path=_host.sys_path() if inline is not None and config.execution == "process" else (),
        account=opts.get("account"), qos=opts.get("qos"), mem_per_cpu=mem_per_cpu, gpus_per_node=gpus_per_node,
        gpu_option=gpu_option, gpus_env=gpus_env, exclusive=sharing == "NO", sharing=sharing, dependency=dependency,
        any_dependency=any_dependency, kill_on_invalid_dep=_kill_on_invalid_dep(opts.get("kill-on-invalid-dep")),
        signal=signal, exclude=exclude, open_mode_given=opts.get("open-mode") is not None, spread=spread,
        nodes_given=opts.get("nodes") is not None,
    )
    return sub, eligible


def _sharing(opts: Mapping[str, str | None]) -> str | None:
    """sbatch --exclusive[=user|mcs] as the pending job's OverSubscribe= shows it: NO (the whole node),
    USER or MCS (observed: the value in any case; none, empty or "exclusive" is the whole node)."""
    if "exclusive" not in opts:
        return None
    value = (opts["exclusive"] or "").lower()
    if value in ("", "exclusive"):
        return "NO"
    if value in ("user", "mcs"):
        return value.upper()
    raise SbatchError(255, messages.INVALID_EXCLUSIVE)


def _gpus(opts: Mapping[str, str | None], ntasks: int | None) -> tuple[int, tuple[str, str] | None, dict[str, str]]:
    """GPUs per node, how scontrol shows the request (TresPerNode=gres:gpu:1, ...), and the job's
    SLURM_GPUS* variables for it (observed on Slurm 22.05 with GRES gpu:2 nodes)."""
    given = [name for name in ("gres", "gpus", "gpus-per-node", "gpus-per-task") if opts.get(name) is not None
             and not (name == "gres" and (opts[name] or "").lower() == "none")]  # --gres=none: no GRES (observed)
    if not given:
        return 0, None, {}
    if len(given) > 1:
        raise FakeUnsupported(f"sbatch with {', '.join('--' + g for g in given)} together is not modelled")
    option = given[0]
    try:
        count = parse_gpu_count(opts[option] or "", option)
    except ValueError:
        if option == "gres":
            raise SbatchError(1, messages.INVALID_GRES) from None
        raise SbatchError(1, messages.NODE_CONFIGURATION) from None  # observed: --gpus=abc
    if option == "gres":
        return count, ("TresPerNode", f"gres:gpu:{count}"), {}
    if option == "gpus-per-node":
        return count, ("TresPerNode", f"gres:gpu:{count}"), {"SLURM_GPUS_PER_NODE": str(count)}
    if option == "gpus-per-task":
        return count * (ntasks or 1), ("TresPerTask", f"gres:gpu:{count}"), {"SLURM_GPUS_PER_TASK": str(count)}
    # --gpus=N: the fake gives them on one node (real Slurm spreads them when one node has too few free)
    return count, ("TresPerJob", f"gres:gpu:{count}"), {"SLURM_GPUS": str(count)}


def _dependency(ctl: Controller, text: str | None) -> tuple[list[Dependency], bool]:
    """--dependency as slurmctld keeps it: conditions on jobs it does not know are dropped (observed:
    afterok on an unknown id runs at once; afterok:A:UNKNOWN shows only A), and one of ``?`` (any)
    on a job it does not know satisfies them all (observed: afterany:A?afterok:UNKNOWN runs at once)."""
    if text is None:
        return [], False
    try:
        items, any_of = parse_dependency(text)
    except ValueError:
        raise SbatchError(1, messages.DEPENDENCY_PROBLEM) from None
    kept = []
    for item in items:
        if item.job_id is not None:
            try:
                ctl.tasks_for(item.job_id)
            except KeyError:
                if any_of:
                    return [], False
                continue
        dependency = Dependency(item.kind, item.job_id, task=item.task)
        if dependency not in kept:  # the same condition twice is kept once (observed: afterok:A:A)
            kept.append(dependency)
    return kept, any_of


def _kill_on_invalid_dep(text: str | None) -> bool:
    if text is None:
        return False
    if text not in ("yes", "no"):
        raise FakeUnsupported(f"--kill-on-invalid-dep={text}: only yes and no are modelled")
    return text == "yes"


def _inline_script(script: str, execution: str) -> InlineScript | None:
    """The script as the tiny shell runs it (execution "inline" and "process"), else None (a real
    shell runs it). Under "inline" a script outside the shell's subset is refused; under "process"
    it runs as a real process instead, as under "subprocess"."""
    if execution == "inline":
        return parse_inline(script)
    if execution == "process":
        try:
            return parse_inline(script)
        except FakeUnsupported:
            return None
    return None


def _umask(env: Mapping[str, str]) -> int:
    """The job's umask: sbatch passes SLURM_UMASK from its environment, or its own umask (sbatch's
    _set_umask_env); observed on Slurm 22.05 with umask 022, 027, 002 and SLURM_UMASK=0077."""
    text = env.get("SLURM_UMASK")
    if text is None:
        return _host.umask()
    # slurmstepd reads it with strtol(..., 8): the octal digits it begins with, 0 without any
    # (observed: "0778" gives 0077; "abc", "999" and "" give 0000)
    digits = re.match(r"\s*([0-7]*)", text)
    return int(digits.group(1) or "0", 8) & 0o777 if digits else 0


def _job_env(opts: Mapping[str, str | None], env: Mapping[str, str]) -> dict[str, str]:
    """The environment the job starts from: --export's choice; SLURM_UMASK is consumed by sbatch
    (observed: a job never sees it, whether it was set or not)."""
    exported = _exported(opts.get("export"), env, "export" in opts)
    exported.pop("SLURM_UMASK", None)
    return exported


def _positive(opts: Mapping[str, str | None], name: str) -> int | None:
    text = opts.get(name)
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise SbatchError(1, messages.INVALID_NUMERIC.format(value=text, option=name))
    return int(text)


def _exported(spec: str | None, env: Mapping[str, str], given: bool) -> dict[str, str]:
    """sbatch --export: ALL (the default), NONE, or a list of names and NAME=value, with or without ALL."""
    if not given or spec is None or spec == "ALL":
        return dict(env)
    items = spec.split(",")
    result = dict(env) if "ALL" in items else {}
    for item in items:
        if item in ("ALL", "NONE"):
            continue
        name, eq, value = item.partition("=")
        if eq:
            result[name] = value
        elif name in env:
            result[name] = env[name]
    return result
