"""``scancel``: job ids and filters → cancellations (or signals) on the controller → scancel's complaints."""

from __future__ import annotations

import functools
import signal as signal_module
from collections.abc import Sequence

from ..._runner import CommandResult
from .._errors import FakeUnsupported
from .._getopt import GetoptError
from .._process import deliver
from . import messages
from .controller import Controller, matches
from .model import Task, split_ids, state_name
from .options import SCANCEL_MODELLED, SCANCEL_OPTIONS, check_clusters, refuse_unmodelled
from .values import JobRef, parse_job_ref, parse_signal, uid_of

# Signals whose default action is to do nothing: a shell that receives one goes on.
_IGNORED_SIGNALS = frozenset({signal_module.SIGCHLD, signal_module.SIGURG, signal_module.SIGWINCH,
                              signal_module.SIGCONT})
_STOPPING_SIGNALS = frozenset({signal_module.SIGSTOP, signal_module.SIGTSTP, signal_module.SIGTTIN,
                               signal_module.SIGTTOU})


def run(ctl: Controller, argv: tuple[str, ...]) -> CommandResult:
    """Answer one ``scancel`` command line."""
    try:
        parsed, positionals = SCANCEL_OPTIONS.parse(argv[1:], permute=True)
    except GetoptError as exc:
        return CommandResult(argv, 1, "", messages.GETOPT_SCANCEL.format(message=exc.message))
    refuse_unmodelled("scancel", parsed, SCANCEL_MODELLED)
    opts = {p.option.long: p.value for p in parsed}
    if opts.get("clusters") is not None:
        complaints, fatal = check_clusters("scancel", opts["clusters"] or "", ctl.cluster.name, ctl.accounting)
        if fatal:
            return CommandResult(argv, 1, "", complaints)
        if complaints:
            raise FakeUnsupported(f"scancel --clusters={opts['clusters']}: a list with clusters slurmdbd does not "
                                  "know besides this one is not modelled")
    signum = None
    state = None
    for item in parsed:  # getopt's order: the first bad --signal or --state ends scancel
        if item.option.long == "signal":
            text = (item.value or "").strip()
            # any positive number is taken as it is (observed: -s 64, -s 4294967297); 0 is unknown
            signum = int(text) if text.isdigit() and int(text) > 0 else parse_signal(text)
            if signum is None:
                return CommandResult(argv, 1, "", messages.UNKNOWN_SIGNAL.format(signal=item.value))
        elif item.option.long == "state":
            # one state, not a list, of any case or its short code (observed: pending, PD, r; not
            # "PENDING,RUNNING", "all", " PENDING" nor ""), even under --quiet
            state = state_name(item.value or "") if (item.value or "").strip() == item.value else None
            if state is None:
                return CommandResult(argv, 1, "", messages.SCANCEL_INVALID_STATE.format(state=item.value))
    refs = []
    steps: list[tuple[str, JobRef]] = []  # ID.STEP: a job step, by the text given
    for text in (t for word in positionals for t in split_ids(word)):
        job_text, dot, step = text.partition(".")
        try:
            ref = parse_job_ref(job_text)
            if ref.job_id == 0 or (dot and not step.isdigit()):
                raise ValueError(text)
        except ValueError:
            return CommandResult(argv, 1, "", messages.SCANCEL_INVALID_JOB.format(job=text))
        if dot:
            steps.append((text, ref))
        else:
            refs.append(ref)
    uids: list[int] | None = None
    if "user" in opts:
        # one user, by name or uid, looked up once the job ids are read (observed: "scancel -u nosuch
        # abc" complains of the id; -u root,nosuch and -u "" are invalid user names)
        uid = uid_of(opts["user"] or "")
        if uid is None:
            return CommandResult(argv, 1, "", messages.SCANCEL_INVALID_USER.format(user=opts["user"]))
        uids = [uid]
    filters = any(k in opts for k in ("name", "user", "state", "partition", "me"))
    if not refs and not steps and not filters:
        return CommandResult(argv, 1, "", messages.NO_JOB_IDENTIFICATION)
    if steps:
        return _cancel_steps(ctl, argv, positionals, steps, quiet="quiet" in opts)
    every = ctl.live(refs or None)
    live = list(every)
    if "name" in opts:
        live = [t for t in live if t.sub.name in (opts["name"] or "").split(",")]
    if not ctl.ours(uids, "me" in opts):
        live = []
    if state is not None:
        live = [t for t in live if t.state == state]
    if opts.get("partition") is not None:
        live = [t for t in live if t.sub.partition in (opts["partition"] or "").split(",")]
    now = ctl.clock.now()
    quiet = "quiet" in opts
    if signum is not None and signum != signal_module.SIGKILL:
        result = _signal(ctl, argv, refs, live, signum, batch="batch" in opts, full="full" in opts)
        return CommandResult(argv, result.returncode, "", "" if quiet else result.stderr)
    if refs and (signum is not None or filters or "batch" in opts):
        # With --signal, --batch or a filter, scancel looks every id up and reports those that are not
        # live (observed: "scancel --state=PENDING|-n x|-u u|--me|-b UNKNOWN" fail so; --quiet keeps
        # exit code 1 without the message); plain ids, -f, -H and -Q alone are sent as they are
        # (an unknown one is silently ignored).
        missing = [ref.text for ref in refs if not any(matches(t, ref) for t in every)]
        if missing:
            for task in [t for t in live if any(matches(t, ref) for ref in refs)]:
                ctl.cancel(task, now)
            errors = "".join(messages.KILL_JOB_ERROR.format(job=text) for text in missing)
            return CommandResult(argv, 1, "", "" if quiet else errors)
    targets = live if not refs else [t for t in live if any(matches(t, ref) for ref in refs)]
    named = [t for t in targets if t.pending and t.index is not None
             and any(ref.tasks is not None and matches(t, ref) for ref in refs)]
    for task in targets:
        ctl.cancel(task, now)
    for task in named:
        # a pending task cancelled by its index leaves the array's record without trace (observed:
        # squeue --states=all and sacct no longer list it), unless it was the last one pending
        if any(t.pending for t in ctl.array_tasks(task.sub)):
            ctl.withdraw(task)
    return CommandResult(argv, 0, "", "")


def _signal(ctl: Controller, argv: tuple[str, ...], refs: Sequence[JobRef], live: Sequence[Task], signum: int, *,
            batch: bool, full: bool) -> CommandResult:
    """scancel --signal: without --batch or --full, signals reach job steps only, and a batch job
    of these scripts has none, so nothing happens (scancel(1))."""
    errors = []
    groups = [(ref.text, [t for t in live if matches(t, ref)]) for ref in refs] or [("", list(live))]
    for text, tasks in groups:
        if not tasks:
            errors.append(messages.KILL_JOB_ERROR.format(job=text))
            continue
        for task in tasks:
            if signum >= signal_module.NSIG:
                raise FakeUnsupported(f"scancel --signal={signum} (beyond the system's signals) to a live job"
                                      " is not modelled")
            if task.pending:
                raise FakeUnsupported(f"scancel --signal for pending job {task.display_id} is not modelled")
            if not (batch or full):
                ctl.signal_steps(task, signum)  # the job's steps' tasks (srun), if it has any
                continue
            if signum in _STOPPING_SIGNALS:
                raise FakeUnsupported(f"scancel --signal={signum} (stopping a job) is not modelled")
            if task.proc is not None:
                deliver(functools.partial(task.proc.signal_group if full else task.proc.signal_shell, signum))
            elif signum not in _IGNORED_SIGNALS:
                # an inline script's shell dies of the signal's default action
                now = ctl.clock.now()
                ctl.finish(task, now, "FAILED", 0, signum, "JobLaunchFailure", ("CANCELLED", 0, signum))
                ctl.sched_requests.append(now)
    return CommandResult(argv, 1 if errors else 0, "", "".join(errors))


def _cancel_steps(ctl: Controller, argv: tuple[str, ...], positionals: Sequence[str],
                  steps: Sequence[tuple[str, JobRef]], *, quiet: bool) -> CommandResult:
    """scancel naming a job step (``ID.STEP``): scancel then looks every id up and complains, in
    order, of each that is not live (observed: "scancel 13 12.0" reports both, rc 1). Cancelling a
    step of a live job is not modelled."""
    live = ctl.live(None)
    for text, ref in steps:
        if any(matches(t, ref) for t in live):
            raise FakeUnsupported(f"scancel {text}: cancelling a job step is not modelled")
    errors = []
    for text in (t for word in positionals for t in split_ids(word)):
        job_text, dot, _ = text.partition(".")
        ref = parse_job_ref(job_text)
        if any(matches(t, ref) for t in live):
            raise FakeUnsupported(f"scancel of live job {text} together with a job step is not modelled")
        template = messages.KILL_STEP_ERROR if dot else messages.KILL_JOB_ERROR
        errors.append(template.format(job=text))
    return CommandResult(argv, 1, "", "" if quiet else "".join(errors))
