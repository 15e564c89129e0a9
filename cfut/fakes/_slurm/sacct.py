"""``sacct``: options → a selection of what slurmdbd recorded → sacct's columns or parsable lines."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..._runner import CommandResult
from .._errors import FakeUnsupported
from .._getopt import GetoptError
from . import messages
from .controller import Controller
from .model import Task, parse_states, split_ids
from .options import SACCT_MODELLED, SACCT_OPTIONS, check_clusters, refuse_unmodelled
from .render import SACCT_ALL_FIELDS, SACCT_DEFAULT_FORMAT, SACCT_FIELDS, SacctField, SacctLine, rows, sacct_text
from .values import JobRef, parse_job_ref, parse_slurm_date, uid_of


def run(ctl: Controller, argv: tuple[str, ...], refresh: Callable[[], None]) -> CommandResult:
    """Answer one ``sacct`` command line; ``refresh`` is the status command's look at the clock."""
    try:
        parsed, positionals = SACCT_OPTIONS.parse(argv[1:], permute=True)
    except GetoptError as exc:
        return CommandResult(argv, 1, "", messages.GETOPT_SACCT.format(message=exc.message))
    refuse_unmodelled("sacct", parsed, SACCT_MODELLED)
    if positionals:
        raise FakeUnsupported(f"sacct arguments {positionals!r} are not modelled")
    opts = {p.option.long: p.value for p in parsed}
    refs: list[JobRef] | None = None
    uids: list[int] | None = None
    for item in parsed:  # sacct reads --jobs and --user as getopt meets them; the first bad one ends it
        if item.option.long == "jobs":
            # every -j adds to the list (observed: sacct -j A -j B lists both; submitit asks so)
            more, bad = _job_refs(item.value or "")
            refs = (refs or []) + more
            if bad is not None:
                return CommandResult(argv, 1, "", messages.BAD_JOB_STEP.format(job=bad))
        elif item.option.long == "user":
            users = _users(item.value or "")
            if isinstance(users, str):
                return CommandResult(argv, 1, "", users)
            uids = users
    fmt = opts.get("format") or ("JobID,State,ExitCode" if "brief" in opts else SACCT_DEFAULT_FORMAT)
    fields: list[tuple[SacctField, int | None]] = []
    for spec in fmt.split(","):
        name, _, width = spec.partition("%")
        if name.lower() not in SACCT_ALL_FIELDS:
            return CommandResult(argv, 1, "", messages.INVALID_FIELD.format(field=name))
        if name.lower() not in SACCT_FIELDS:
            raise FakeUnsupported(f"sacct field {name!r} is not modelled by FakeSlurm")
        fields.append((SACCT_FIELDS[name.lower()], int(width) if width else None))
    states = None
    if opts.get("state") is not None:
        states = parse_states(opts["state"] or "")
        if not states:
            raise FakeUnsupported(f"sacct --state={opts['state']} is not modelled")
    if not ctl.accounting:
        return CommandResult(argv, 1, "", messages.ACCOUNTING_DISABLED)
    if opts.get("clusters") is not None and check_clusters("sacct", opts["clusters"] or "", ctl.cluster.name,
                                                           ctl.accounting)[0]:
        raise FakeUnsupported(f"sacct --clusters={opts['clusters']}: only this cluster ({ctl.cluster.name}) "
                              "or all is modelled")
    refresh()
    clock = ctl.clock
    now_wall = clock.wall(clock.now())
    start = end = None
    if opts.get("starttime") is not None:
        start = clock.from_wall(parse_slurm_date(opts["starttime"] or "", now_wall))
    if opts.get("endtime") is not None:
        end = clock.from_wall(parse_slurm_date(opts["endtime"] or "", now_wall))
    if refs is None and start is None:
        # without --jobs, sacct starts at 00:00 today
        midnight = time.mktime(time.localtime(now_wall)[:3] + (0, 0, 0, 0, 0, -1))
        start = clock.from_wall(midnight)
    tasks = ctl.tasks if refs is None else ctl.find(refs)
    tasks = [t for t in tasks if _in_window(t, start, end)]
    if states is not None:
        tasks = [t for t in tasks if t.state in states]
    if opts.get("name") is not None:
        tasks = [t for t in tasks if t.sub.name in (opts["name"] or "").split(",")]
    if not ctl.ours(uids, False):
        tasks = []
    lines: list[SacctLine] = []
    for row in rows(tasks, expand_pending=False, collapse_unstarted=True):
        lines.append(SacctLine(row))
        if "allocations" not in opts and not row.collapsed and row.task.start is not None:
            lines.append(SacctLine(row, "batch"))
            if ctl.config.extern_step:
                lines.append(SacctLine(row, "extern"))
            lines += [SacctLine(row, str(step.step_id), step) for step in row.task.steps]
    parsable = "parsable" in opts or "parsable2" in opts
    delimiter = (opts.get("delimiter") or "|") if parsable else None
    text = sacct_text(fields, lines, ctl.context(), header="noheader" not in opts, delimiter=delimiter,
                      trailing="parsable" in opts and "parsable2" not in opts)
    return CommandResult(argv, 0, text, "")


def _job_refs(text: str) -> tuple[list[JobRef], str | None]:
    """One ``sacct --jobs`` list: the jobs named, and the first element that is no job id (or
    None). A job step id (``ID.STEP``) is not modelled."""
    refs = []
    for part in split_ids(text):
        if "." in part and part.split(".")[0].replace("_", "").isdigit():
            raise FakeUnsupported(f"sacct --jobs with a step id ({part!r}) is not modelled")
        try:
            refs.append(parse_job_ref(part))
        except ValueError:
            return refs, part
    return refs, None


def _users(text: str) -> list[int] | str:
    """``sacct --user``'s list: the uids of the names (or numbers), or what sacct says before it
    exits 1: of the first that is no user, or nothing at all for an empty list (observed: -u ""
    and -u , exit 1 silently)."""
    uids = []
    for name in (n for n in text.split(",") if n):
        uid = uid_of(name)
        if uid is None:
            return messages.SACCT_INVALID_USER.format(user=name)
        uids.append(uid)
    return uids or ""


def _in_window(task: Task, start: float | None, end: float | None) -> bool:
    if end is not None and task.sub.submit_time > end:
        return False
    if start is not None and task.end is not None and task.end < start:
        return False
    return True
