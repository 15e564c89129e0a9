"""``scontrol``: ``show job [ID]`` → scontrol's records; ``hold``/``release``/``requeue`` → the controller."""

from __future__ import annotations

from collections.abc import Callable

from ..._runner import CommandResult
from .._errors import FakeUnsupported
from .._getopt import GetoptError
from . import messages
from .controller import Controller
from .options import SCONTROL_MODELLED, SCONTROL_OPTIONS, refuse_unmodelled
from .render import rows, scontrol_record, scontrol_text
from .values import parse_job_ref, slurm_date


def run(ctl: Controller, argv: tuple[str, ...], refresh: Callable[[], None]) -> CommandResult:
    """Answer one ``scontrol`` command line; ``refresh`` is the status command's look at the clock."""
    try:
        parsed, words = SCONTROL_OPTIONS.parse(argv[1:], permute=True)
    except GetoptError as exc:
        return CommandResult(argv, 1, "", messages.GETOPT_SCONTROL.format(message=exc.message))
    refuse_unmodelled("scontrol", parsed, SCONTROL_MODELLED)
    result = _answer(ctl, argv, words, refresh, oneliner=any(p.option.long == "oneliner" for p in parsed))
    if any(p.option.long == "quiet" for p in parsed):
        # --quiet silences every complaint, on stderr and on stdout, and keeps the exit code
        # (observed: show job UNKNOWN, requeue UNKNOWN, hold with no id: exit 1 and no output)
        return _quiet(result)
    return result


def _quiet(result: CommandResult) -> CommandResult:
    """``result`` as ``scontrol --quiet`` gives it: records and configuration only (what a failing
    command prints on stdout is its "Job ... not found")."""
    silenced = result.returncode != 0 or result.stdout == messages.NO_JOBS
    return CommandResult(result.argv, result.returncode, "" if silenced else result.stdout, "")


def _answer(ctl: Controller, argv: tuple[str, ...], words: list[str], refresh: Callable[[], None], *,
            oneliner: bool) -> CommandResult:
    """One scontrol command, with every complaint it makes when not --quiet."""
    if words and words[0] in ("hold", "release"):
        return _hold_or_release(ctl, argv, words[0], words[1:], refresh)
    if words == ["show", "config"]:
        return CommandResult(argv, 0, config_text(ctl), "")
    if words and words[0] == "requeue":
        return _requeue(ctl, argv, words[1:], refresh)
    if len(words) < 2 or words[0] != "show" or words[1] not in ("job", "jobs") or len(words) > 3:
        raise FakeUnsupported(f"scontrol {' '.join(words)!r}: only `scontrol show job [ID]`, `hold`, "
                              "`release`, `requeue` and `show config` are modelled")
    ref = None
    every = len(words) == 3 and words[2].isdigit() and int(words[2]) == 0
    if len(words) == 3 and not every:
        try:
            ref = parse_job_ref(words[2])
        except ValueError:
            return CommandResult(argv, 1, "", messages.SCONTROL_PRINT_INVALID)
    refresh()
    visible = ctl.controller_tasks(None if ref is None else [ref])
    if ref is not None:
        if not visible:
            if ref.tasks is not None and ctl.holds_job(ref.job_id):
                # a task the array no longer has: on stdout, exit 1 (observed on Slurm 22.05.8)
                return CommandResult(argv, 1, messages.TASK_NOT_FOUND.format(job=words[2]), "")
            return CommandResult(argv, 1, "", messages.LOAD_JOBS_INVALID)
    elif not visible and every:
        # job id 0 asks for every job, as no id does, but finding none is a failure (observed on a
        # cluster with no jobs: "Job 0 not found", exit 1)
        return CommandResult(argv, 1, messages.TASK_NOT_FOUND.format(job=0), "")
    elif not visible:
        return CommandResult(argv, 0, messages.NO_JOBS, "")
    ctx = ctl.context()
    records = [scontrol_record(row, ctx) for row in rows(visible, expand_pending=False)]
    return CommandResult(argv, 0, scontrol_text(records, oneliner), "")


#: ``scontrol show config`` pads names to this width before `` = `` (longer names get one space).
_CONFIG_WIDTH = 23


def config_text(ctl: Controller) -> str:
    """``scontrol show config`` as Slurm 22.05 prints it, with only the lines of what the fake
    models (the real command prints some 190 lines, sorted by name, in the same layout)."""
    config = ctl.config
    values = {
        "AccountingStorageEnforce": "none",
        "AccountingStorageType": "accounting_storage/slurmdbd" if ctl.accounting else "accounting_storage/none",
        "ClusterName": ctl.cluster.name,
        "KillWait": f"{config.kill_wait:g} sec",
        "MaxArraySize": str(config.max_array_size),
        "MaxJobCount": "10000",  # slurm.conf's default; the fake has no such limit
        "MinJobAge": f"{config.min_job_age:g} sec",
        "SLURM_VERSION": "22.05.8",
    }
    when = slurm_date(ctl.clock.wall(ctl.clock.now()))
    lines = [f"Configuration data as of {when}"]
    lines += [f"{name:<{_CONFIG_WIDTH}} = {value}" for name, value in values.items()]
    lines += ["", f"Slurmctld(primary) at {ctl.cluster.submit_host} is UP"]
    return "\n".join(lines) + "\n"


def _hold_or_release(ctl: Controller, argv: tuple[str, ...], verb: str, words: list[str],
                     refresh: Callable[[], None]) -> CommandResult:
    """``scontrol hold|release ID[,ID...] ...``: silent on success; each unknown or finished id
    adds Slurm's two-line complaint and makes the exit code 1. Running jobs are left alone."""
    if not words:
        return CommandResult(argv, 1, "", messages.TOO_FEW_ARGUMENTS.format(verb=verb))
    refresh()
    errors = []
    for text in (part for word in words for part in word.split(",") if part):
        try:
            tasks = ctl.controller_tasks([parse_job_ref(text)])
        except ValueError:
            tasks = []
        one_task = "_" in text  # real scontrol words its complaints about array tasks differently
        if not tasks:
            errors.append((messages.SUSPEND_INVALID_TASK if one_task else messages.SUSPEND_INVALID_JOB)
                          .format(job=text))
            continue
        if all(task.finished for task in tasks):
            errors.append((messages.SUSPEND_FINISHED_TASK if one_task else messages.SUSPEND_FINISHED_JOB)
                          .format(job=text))
            continue
        for task in tasks:
            if not task.pending:
                continue
            if verb == "hold":
                ctl.hold(task)
            elif task.held:
                ctl.release(task)
    return CommandResult(argv, 1 if errors else 0, "", "".join(errors))


def _requeue(ctl: Controller, argv: tuple[str, ...], words: list[str], refresh: Callable[[], None]) -> CommandResult:
    """``scontrol requeue ID[,ID...]``: running and finished jobs go back to the queue; one line per
    id it cannot act on (observed: unknown, --no-requeue and pending jobs), exit code 1 then."""
    if not words:
        return CommandResult(argv, 1, "", messages.TOO_FEW_ARGUMENTS.format(verb="requeue"))
    if len(words) > 1 and "=" in words[0]:
        raise FakeUnsupported("scontrol requeue with options (Incomplete, ...) is not modelled")
    refresh()
    errors = []
    now = ctl.clock.now()
    for text in (part for word in words for part in word.split(",") if part):
        try:
            tasks = ctl.controller_tasks([parse_job_ref(text)])
        except ValueError:
            tasks = []
        if not tasks:
            errors.append(messages.REQUEUE_INVALID_JOB.format(job=text))
        elif not all(task.sub.requeue for task in tasks):
            errors.append(messages.REQUEUE_DISABLED.format(job=text))
        elif any(task.pending for task in tasks):
            errors.append(messages.REQUEUE_PENDING.format(job=text))
        else:
            for task in tasks:
                ctl.requeue(task, now)
    return CommandResult(argv, 1 if errors else 0, "", "".join(errors))
