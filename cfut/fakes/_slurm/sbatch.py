"""``sbatch``: the command line and the script's ``#SBATCH`` directives → a submission → the reply.

Options are validated in sbatch's own order of complaints, each with its verbatim message
(:mod:`.messages`); the submission is queued on the controller as it is (sbatch does not wait for
the scheduler).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from ..._runner import CommandResult
from .. import _host
from .._errors import FakeUnsupported
from .._getopt import GetoptError, Parsed
from .._inline import InlineScript, parse_inline
from . import messages
from .controller import Controller
from .model import Submission
from .options import SBATCH_MODELLED, SBATCH_OPTIONS, directive_words, last_values, refuse_unmodelled
from .values import ArraySpec, parse_array, parse_memory_mb, parse_slurm_date, parse_time_limit


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
        job_id, quiet, parsable, cluster = _submit(ctl, argv[1:], input, env, cwd)
    except SbatchError as exc:
        return CommandResult(argv, exc.returncode, "", exc.stderr)
    if quiet:
        return CommandResult(argv, 0, "", "")  # observed: --quiet silences --parsable too
    if parsable and cluster is not None:
        return CommandResult(argv, 0, f"{job_id};{cluster}\n", "")  # --parsable with --clusters
    return CommandResult(argv, 0, f"{job_id}\n" if parsable else messages.SUBMITTED.format(job=job_id), "")


def _parse(words: Sequence[str]) -> list[Parsed]:
    try:
        parsed, _ = SBATCH_OPTIONS.parse(words, permute=False)
    except GetoptError as exc:
        raise SbatchError(255, messages.GETOPT_SBATCH.format(message=exc.message)) from None
    return parsed


def _submit(ctl: Controller, args: Sequence[str], stdin: str | None, env: Mapping[str, str] | None,
            cwd: str | None) -> tuple[int, bool, bool, str | None]:
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
    if "clusters" in opts and opts["clusters"] != ctl.cluster.name:
        raise FakeUnsupported(f"sbatch --clusters={opts['clusters']}: only this cluster "
                              f"({ctl.cluster.name}) is modelled")
    sub, eligible = _submission(ctl, opts, script, command, script_args, default_name, here, merged_env,
                                ("sbatch", *args))
    ctl.add_submission(sub, eligible)
    return sub.job_id, "quiet" in opts, "parsable" in opts, opts.get("clusters")


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
            with open(path, encoding="utf-8", errors="surrogateescape") as handle:
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
    open_mode = opts.get("open-mode") or "truncate"
    if open_mode not in ("append", "truncate"):
        raise SbatchError(255, messages.INVALID_OPEN_MODE)
    cpus_per_task = _positive(opts, "cpus-per-task")
    ntasks = _positive(opts, "ntasks")
    node_count = 1
    if opts.get("nodes") is not None:
        text = opts["nodes"] or ""
        if "-" in text or "," in text:
            raise FakeUnsupported(f"sbatch --nodes={text}: node count ranges are not modelled")
        if not text.isdigit() or int(text) < 1:
            raise SbatchError(255, messages.INVALID_NODE_COUNT.format(value=text))
        node_count = int(text)
    if ntasks is not None and ntasks < node_count:
        raise FakeUnsupported("sbatch with fewer --ntasks than --nodes is not modelled")
    mem_mb = None
    if opts.get("mem") is not None:
        try:
            mem_mb = parse_memory_mb(opts["mem"] or "")
        except ValueError:
            raise SbatchError(255, messages.INVALID_MEM) from None
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
    if partition != config.partition:
        raise SbatchError(1, messages.INVALID_PARTITION.format(partition=partition))
    cpus_per_node = -(-(ntasks or 1) // node_count) * (cpus_per_task or 1)
    if not cluster.can_ever_fit(cpus_per_node, node_count):
        raise SbatchError(1, messages.NODE_CONFIGURATION)
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
    )
    return sub, eligible


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
    if text is not None:
        try:
            return int(text, 8) & 0o777
        except ValueError:
            pass
    return _host.umask()


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
