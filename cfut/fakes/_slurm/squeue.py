"""``squeue``: options → a selection of the tasks slurmctld holds → squeue's table."""

from __future__ import annotations

from collections.abc import Callable

from ..._runner import CommandResult
from .._errors import FakeUnsupported
from .._getopt import GetoptError
from . import messages
from .controller import DEFAULT_SQUEUE_STATES, Controller
from .model import SQUEUE_STATE_ORDER, Task, parse_states, state_name
from .options import SQUEUE_MODELLED, SQUEUE_OPTIONS, check_clusters, refuse_unmodelled
from .render import SQUEUE_DEFAULT_FORMAT, Row, parse_squeue_format, rows, squeue_lines, squeue_sort_key
from .values import JobRef, squeue_job_ref, uid_of


def run(ctl: Controller, argv: tuple[str, ...], refresh: Callable[[], None]) -> CommandResult:
    """Answer one ``squeue`` command line; ``refresh`` is the status command's look at the clock."""
    try:
        parsed, positionals = SQUEUE_OPTIONS.parse(argv[1:], permute=True)
    except GetoptError as exc:
        return CommandResult(argv, 1, "", messages.GETOPT_SQUEUE.format(message=exc.message))
    refuse_unmodelled("squeue", parsed, SQUEUE_MODELLED)
    opts = {p.option.long: p.value for p in parsed}
    stderr = ""
    states: frozenset[str] | None = DEFAULT_SQUEUE_STATES
    refs: list[JobRef] | None = None
    uids: list[int] | None = None
    # squeue reads --states, --jobs and --user as getopt meets them: an invalid state or job id ends
    # it there, after the complaints about users before it (observed)
    for item in parsed:
        if item.option.long == "states":
            states = parse_states(item.value or "")
            if states is not None and not states:
                wrong = next(s for s in (item.value or "").split(",") if state_name(s) is None)
                return CommandResult(argv, 1, "", stderr + messages.INVALID_STATE.format(
                    state=wrong, valid=SQUEUE_STATE_ORDER))
        elif item.option.long == "jobs" and item.value is not None:
            refs, bad = _job_refs(item.value)
            if bad is not None:
                return CommandResult(argv, 1, "", stderr + messages.SQUEUE_INVALID_JOB.format(job=bad))
        elif item.option.long == "user":
            uids, complaints = _users(item.value or "")
            stderr += complaints
        elif item.option.long == "me":
            uids = [ctl.cluster.uid]  # the user list is the caller, until a later --user (observed: last wins)
    if "jobs" in opts and opts["jobs"] is None and positionals:
        # -j/--jobs takes its list from the next word when it is not glued on (observed: squeue -j 5)
        refs, bad = _job_refs(positionals.pop(0))
        if bad is not None:
            return CommandResult(argv, 1, "", stderr + messages.SQUEUE_INVALID_JOB.format(job=bad))
    if positionals:
        raise FakeUnsupported(f"squeue arguments {positionals!r} are not modelled")
    banner = ""
    if opts.get("cluster") is not None:
        complaints, fatal = check_clusters("squeue", opts["cluster"] or "", ctl.cluster.name, ctl.accounting)
        stderr += complaints
        if fatal:
            return CommandResult(argv, 1, "", stderr)
        # observed: with --clusters, a "CLUSTER: name" line comes before the header (not under -h)
        banner = "" if "noheader" in opts else f"CLUSTER: {ctl.cluster.name}\n"
    fmt = parse_squeue_format(opts.get("format") or SQUEUE_DEFAULT_FORMAT)
    refresh()
    visible = ctl.controller_tasks(refs)
    if refs is not None and len(refs) == 1 and not ctl.holds_job(refs[0].job_id):
        # squeue with one job id asks slurmctld for that job alone, which fails when unknown; a task
        # the job does not have is just not listed (observed: exit 0, no output for a task the array
        # no longer has, or for ID_* of a job that is no array)
        return CommandResult(argv, 1, "", stderr + messages.LOAD_JOBS_INVALID)
    if states is not None:
        visible = [t for t in visible if t.shown_state in states or t.state in states]
    if opts.get("name") is not None:
        names = set((opts["name"] or "").split(","))
        visible = [t for t in visible if t.sub.name in names]
    if not ctl.ours(uids, False):
        visible = []
    if opts.get("partitions") is not None:
        visible = [t for t in visible if t.sub.partition in (opts["partitions"] or "").split(",")]
    # array tasks that ended without starting stay in the array's record: one row (observed: a pending
    # array cancelled shows as A_[0-2] CANCELLED, and task by task with --array)
    visible, partial = _partial_arrays(visible, refs)
    table = sorted((Row(r.tasks, False) if r.collapsed and len(r.tasks) == 1 and r.task.sub.job_id in partial else r
                    for r in rows(visible, expand_pending="array" in opts, collapse_unstarted="array" not in opts)),
                   key=squeue_sort_key)
    return CommandResult(argv, 0, banner + squeue_lines(fmt, table, ctl.context(), "noheader" not in opts), stderr)


def _job_refs(text: str) -> tuple[list[JobRef], str | None]:
    """``squeue --jobs``'s list: the jobs named, and the first element that is no job id (or None).
    Empty elements are skipped (``5,`` is one job); an empty list lists no job at all (observed)."""
    refs = []
    for part in (p for p in text.split(",") if p):
        try:
            refs.append(squeue_job_ref(part))
        except ValueError:
            return refs, part
    return refs, None


def _partial_arrays(visible: list[Task], refs: list[JobRef] | None) -> tuple[list[Task], set[int]]:
    """Pending array tasks as squeue --jobs shows them: when the first element naming the array's
    record names one of its pending tasks (``A_1``, ``A_1,A``), only the pending tasks some element
    names are listed (one alone as ``A_1``, not ``A_[1]``). The arrays so narrowed are returned
    with what is shown (observed on Slurm 22.05: ``-j A_1,A`` lists A_1; ``-j A,A_1`` the array)."""
    if not refs:
        return visible, set()
    partial: dict[int, set[int]] = {}
    for job_id in {t.sub.job_id for t in visible if t.pending and t.index is not None}:
        waiting = {t.index for t in visible if t.pending and t.sub.job_id == job_id}
        first = next((r for r in refs if r.job_id == job_id and (r.tasks is None or r.tasks & waiting)), None)
        if first is not None and first.tasks is not None:
            partial[job_id] = set().union(*(r.tasks for r in refs if r.job_id == job_id and r.tasks is not None))
    kept = [t for t in visible if not (t.pending and t.sub.job_id in partial and t.index not in partial[t.sub.job_id])]
    return kept, set(partial)


def _users(text: str) -> tuple[list[int], str]:
    """``squeue --user``'s list: the uids of the names (or numbers) that are users, and a complaint
    for each that is not; only jobs of those users are listed (none when no name was valid)."""
    uids, complaints = [], ""
    for name in (n for n in text.split(",") if n):
        uid = uid_of(name)
        if uid is None:
            complaints += messages.SQUEUE_INVALID_USER.format(user=name)
        else:
            uids.append(uid)
    return uids, complaints
