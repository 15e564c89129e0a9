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
from .options import SACCT_MODELLED, SACCT_OPTIONS, clusters_named, refuse_unmodelled
from .render import SACCT_ALL_FIELDS, SACCT_DEFAULT_FORMAT, SACCT_FIELDS, SacctField, SacctLine, rows, sacct_text
from .values import JobRef, parse_job_ref, parse_slurm_date


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
    jobs = [p.value or "" for p in parsed if p.option.long == "jobs"]
    if len(jobs) > 1:
        opts["jobs"] = ",".join(jobs)  # observed: sacct -j A -j B lists both (submitit asks so)
    fmt = opts.get("format") or ("JobID,State,ExitCode" if "brief" in opts else SACCT_DEFAULT_FORMAT)
    fields: list[tuple[SacctField, int | None]] = []
    for spec in fmt.split(","):
        name, _, width = spec.partition("%")
        if name.lower() not in SACCT_ALL_FIELDS:
            return CommandResult(argv, 1, "", messages.INVALID_FIELD.format(field=name))
        if name.lower() not in SACCT_FIELDS:
            raise FakeUnsupported(f"sacct field {name!r} is not modelled by FakeSlurm")
        fields.append((SACCT_FIELDS[name.lower()], int(width) if width else None))
    refs: list[JobRef] | None = None
    if opts.get("jobs") is not None:
        refs = []
        for text in split_ids(opts["jobs"] or ""):
            if "." in text and text.split(".")[0].replace("_", "").isdigit():
                raise FakeUnsupported(f"sacct --jobs with a step id ({text!r}) is not modelled")
            try:
                refs.append(parse_job_ref(text))
            except ValueError:
                return CommandResult(argv, 1, "", messages.BAD_JOB_STEP.format(job=text))
    states = None
    if opts.get("state") is not None:
        states = parse_states(opts["state"] or "")
        if not states:
            raise FakeUnsupported(f"sacct --state={opts['state']} is not modelled")
    if not ctl.accounting:
        return CommandResult(argv, 1, "", messages.ACCOUNTING_DISABLED)
    if opts.get("clusters") is not None and clusters_named("sacct", opts["clusters"] or "", ctl.cluster.name,
                                                           ctl.accounting) is not None:
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
    users = ctl.user_filter(opts.get("user"), False)
    if users is not None and not users:
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


def _in_window(task: Task, start: float | None, end: float | None) -> bool:
    if end is not None and task.sub.submit_time > end:
        return False
    if start is not None and task.end is not None and task.end < start:
        return False
    return True
