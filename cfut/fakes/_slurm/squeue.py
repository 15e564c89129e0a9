"""``squeue``: options → a selection of the tasks slurmctld holds → squeue's table."""

from __future__ import annotations

from collections.abc import Callable

from ..._runner import CommandResult
from .._errors import FakeUnsupported
from .._getopt import GetoptError
from . import messages
from .controller import DEFAULT_SQUEUE_STATES, Controller
from .model import SQUEUE_STATE_ORDER, parse_states, split_ids, state_name
from .options import SQUEUE_MODELLED, SQUEUE_OPTIONS, clusters_named, refuse_unmodelled
from .render import SQUEUE_DEFAULT_FORMAT, parse_squeue_format, rows, squeue_lines, squeue_sort_key
from .values import JobRef, parse_job_ref


def run(ctl: Controller, argv: tuple[str, ...], refresh: Callable[[], None]) -> CommandResult:
    """Answer one ``squeue`` command line; ``refresh`` is the status command's look at the clock."""
    try:
        parsed, positionals = SQUEUE_OPTIONS.parse(argv[1:], permute=True)
    except GetoptError as exc:
        return CommandResult(argv, 1, "", messages.GETOPT_SQUEUE.format(message=exc.message))
    refuse_unmodelled("squeue", parsed, SQUEUE_MODELLED)
    opts = {p.option.long: p.value for p in parsed}
    if "jobs" in opts and opts["jobs"] is None and positionals:
        # -j/--jobs takes its list from the next word when it is not glued on (observed: squeue -j 5)
        opts["jobs"] = positionals.pop(0)
    if positionals:
        raise FakeUnsupported(f"squeue arguments {positionals!r} are not modelled")
    banner = ""
    if opts.get("cluster") is not None:
        other = clusters_named("squeue", opts["cluster"] or "", ctl.cluster.name, ctl.accounting)
        if other is not None:
            return CommandResult(argv, 1, "", messages.UNKNOWN_CLUSTER.format(command="squeue", cluster=other))
        # observed: with --clusters, a "CLUSTER: name" line comes before the header (not under -h)
        banner = "" if "noheader" in opts else f"CLUSTER: {ctl.cluster.name}\n"
    fmt = parse_squeue_format(opts.get("format") or SQUEUE_DEFAULT_FORMAT)
    states: frozenset[str] | None = DEFAULT_SQUEUE_STATES
    if opts.get("states") is not None:
        states = parse_states(opts["states"] or "")
        if states is not None and not states:
            bad = next(s for s in (opts["states"] or "").split(",") if state_name(s) is None)
            return CommandResult(argv, 1, "", messages.INVALID_STATE.format(state=bad, valid=SQUEUE_STATE_ORDER))
    refs: list[JobRef] | None = None
    if opts.get("jobs") is not None:
        refs = []
        for text in split_ids(opts["jobs"] or ""):
            try:
                refs.append(parse_job_ref(text))
            except ValueError:
                return CommandResult(argv, 1, "", messages.SQUEUE_INVALID_JOB.format(job=text))
    refresh()
    visible = ctl.controller_tasks(refs)
    if refs is not None and len(refs) == 1 and "[" not in refs[0].text and not visible:
        # squeue with one job id asks slurmctld for that job alone, which fails when unknown; a task
        # the array no longer has (a pending task cancelled by its index) is just not listed
        # (observed: exit 0, no output)
        if refs[0].tasks is None or not ctl.holds_job(refs[0].job_id):
            return CommandResult(argv, 1, "", messages.LOAD_JOBS_INVALID)
    if states is not None:
        visible = [t for t in visible if t.shown_state in states or t.state in states]
    if opts.get("name") is not None:
        names = set((opts["name"] or "").split(","))
        visible = [t for t in visible if t.sub.name in names]
    users = ctl.user_filter(opts.get("user"), "me" in opts)
    if users is not None and not users:
        visible = []
    if opts.get("partitions") is not None:
        visible = [t for t in visible if t.sub.partition in (opts["partitions"] or "").split(",")]
    # array tasks that ended without starting stay in the array's record: one row (observed: a pending
    # array cancelled shows as A_[0-2] CANCELLED, and task by task with --array)
    table = sorted(rows(visible, expand_pending="array" in opts, collapse_unstarted="array" not in opts),
                   key=squeue_sort_key)
    return CommandResult(argv, 0, banner + squeue_lines(fmt, table, ctl.context(), "noheader" not in opts), "")
