"""How squeue, sacct and scontrol print jobs, byte for byte as Slurm 22.05 does.

Rows are built from :class:`~cfut.fakes.slurm_model.Task` objects; the pending tasks of an array are
one row (``12_[3-9%2]``) unless the command expands them, as the real commands do.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .._errors import FakeUnsupported
from .model import STATE_CODES, StepRecord, Task
from .values import (
    NO_VAL,
    compress_hostlist,
    expand_filename,
    hms_duration,
    hms_limit,
    index_ranges,
    memory_text,
    slurm_date,
    squeue_duration,
    squeue_limit,
)

DEF_MEM_PER_CPU_MB = 1024  # DefMemPerCPU of the CI cluster; shown as MinMemoryCPU=1G and in TRES
PRIORITY_BASE = 4294901760  # slurmctld's first priority/basic priority; each job gets one less


@dataclass(frozen=True)
class Context:
    """What rendering needs besides the jobs: the time, the clock's dates, and who we are."""

    now: float
    wall: Callable[[float], float]
    user: str
    uid: int
    group: str
    gid: int
    account: str
    cluster: str
    alloc_node: str
    oversubscribe: str = "OK"  # scontrol's OverSubscribe=: OK, or YES on a partition with FORCE
    def_mem_per_cpu: int = DEF_MEM_PER_CPU_MB  # DefMemPerCPU, MB
    node_memory: int = 0  # RealMemory of the smallest node, MB (what --mem=0 asks of each node)

    def date(self, t: float | None, missing: str = "Unknown") -> str:
        return slurm_date(None if t is None else self.wall(t), missing)


@dataclass(frozen=True)
class Row:
    """One line of squeue/sacct output: a task, or the pending tasks of one array together."""

    tasks: tuple[Task, ...]
    collapsed: bool

    @property
    def task(self) -> Task:
        return self.tasks[0]

    def job_id(self) -> str:
        task = self.task
        if self.collapsed:
            return f"{task.sub.job_id}_[{self.task_field()}]"
        return task.display_id

    def task_field(self) -> str:
        """squeue %K: the task index, the pending indices of a collapsed array, or N/A."""
        task = self.task
        if task.index is None:
            return "N/A"
        if not self.collapsed:
            return str(task.index)
        throttle = task.sub.array.throttle if task.sub.array else None
        ranges = index_ranges(t.index for t in self.tasks if t.index is not None)
        return ranges + (f"%{throttle}" if throttle else "")


def rows(tasks: Sequence[Task], *, expand_pending: bool, collapse_unstarted: bool = False) -> list[Row]:
    """Tasks as output rows: pending array tasks collapse per array unless ``expand_pending``; with
    ``collapse_unstarted`` (sacct) so do tasks that ended without starting (``12_[0,2-4] CANCELLED``),
    as they stay in the array's one record."""
    result: list[Row] = []
    pending_arrays: dict[int, list[Task]] = {}
    for task in tasks:
        unstarted = task.pending or (collapse_unstarted and task.start is None and task.finished)
        if unstarted and task.index is not None and not expand_pending:
            group = pending_arrays.setdefault(task.sub.job_id, [])
            if not group:
                result.append(Row((task,), True))  # placeholder, filled below
            group.append(task)
        else:
            result.append(Row((task,), False))
    return [Row(tuple(pending_arrays[r.task.sub.job_id]), True) if r.collapsed else r for r in result]


def nodelist(task: Task) -> str:
    return compress_hostlist(task.nodes) if task.nodes else ""


def elapsed(task: Task, now: float) -> float:
    if task.start is None:
        return 0.0
    return max(0.0, (task.end if task.end is not None else now) - task.start)


def std_paths(task: Task, user: str) -> tuple[str, str]:
    """StdOut and StdErr as scontrol shows them (expanded with the array's id while pending)."""
    if task.output_path is not None:
        out = task.output_path
        return out, task.error_path or out
    sub = task.sub
    default = "slurm-%A_%a.out" if sub.array is not None else "slurm-%j.out"

    def expand(pattern: str) -> str:
        path = expand_filename(
            pattern, job_id=task.raw_id, array_job_id=sub.job_id if sub.array is not None else None,
            task_id=task.index if task.job_id is not None else (None if sub.array is None else NO_VAL),
            name=sub.name, user=user, node=None,
        )
        return path if path.startswith("/") else f"{sub.workdir.rstrip('/')}/{path}"

    out = expand(sub.output or default)
    return out, expand(sub.error) if sub.error else out


# ------------------------------------------------------------------ squeue

SQUEUE_DEFAULT_FORMAT = "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"

# Slurm 22.05 squeue(1) prints the reason rather than the nodes for these (and for pending jobs).
_REASON_STATES = frozenset({"PENDING", "TIMEOUT", "OUT_OF_MEMORY", "DEADLINE", "FAILED"})


def _squeue_field(token: str, row: Row, ctx: Context) -> str:
    task = row.task
    sub = task.sub
    state = task.shown_state
    if token == "i":
        return row.job_id()
    if token == "A":
        return str(task.raw_id)
    if token == "a":
        return ctx.account
    if token == "F":
        return str(sub.job_id if sub.array is not None else task.raw_id)
    if token == "K":
        return row.task_field()
    if token == "j":
        return sub.name
    if token == "T":
        return state
    if token == "t":
        return STATE_CODES[state]
    if token == "r":
        return task.reason
    if token == "R":
        return f"({task.reason})" if task.state in _REASON_STATES else nodelist(task)
    if token == "u":
        return ctx.user
    if token == "M":
        return squeue_duration(elapsed(task, ctx.now))
    if token == "l":
        return squeue_limit(task.time_limit)
    if token == "N":
        return nodelist(task)
    if token == "P":
        return sub.partition
    if token == "D":
        return str(task.node_count)
    if token == "C":
        return str(task.cpus)
    if token == "V":
        return ctx.date(sub.submit_time)
    if token == "S":
        return ctx.date(task.start if task.start is not None else _begin_to_come(task, ctx), "N/A")
    if token == "e":
        # observed on Slurm 22.05: the EndTime slurmctld plans (start + limit while running, begin +
        # limit for a --begin to come), NONE for such a job without a limit, else N/A until it ends
        if task.finished:
            return ctx.date(task.end, "N/A")
        start = task.start if task.running else _begin_to_come(task, ctx)
        if start is None:
            return "N/A"
        return "NONE" if task.time_limit is None else ctx.date(start + task.time_limit * 60)
    if token == "Z":
        return sub.workdir
    if token == "k":
        return sub.comment or "(null)"
    if token == "U":
        return str(ctx.uid)
    if token == "g":
        return ctx.group
    if token == "G":
        return str(ctx.gid)
    if token == "E":
        return task.dependency_text
    if token == "b":
        return sub.gpu_option[1] if sub.gpu_option is not None and sub.gpu_option[0] == "TresPerNode" else "N/A"
    if token == "m":
        per = sub.mem_mb if sub.mem_mb is not None else sub.mem_per_cpu or ctx.def_mem_per_cpu
        return memory_text(per)
    if token == "q":
        return sub.qos or "normal"
    if token == "L":
        if task.time_limit is None:
            return "UNLIMITED"
        return squeue_duration(max(0.0, task.time_limit * 60 - elapsed(task, ctx.now)))
    raise AssertionError(token)


SQUEUE_HEADERS = {
    "i": "JOBID", "A": "JOBID", "a": "ACCOUNT", "F": "ARRAY_JOB_ID", "K": "ARRAY_TASK_ID", "j": "NAME",
    "T": "STATE", "t": "ST", "r": "REASON", "R": "NODELIST(REASON)", "u": "USER", "M": "TIME",
    "l": "TIME_LIMIT", "N": "NODELIST", "P": "PARTITION", "D": "NODES", "C": "CPUS", "V": "SUBMIT_TIME",
    "S": "START_TIME", "e": "END_TIME", "Z": "WORK_DIR", "k": "COMMENT", "U": "UID", "g": "GROUP",
    "G": "GID", "E": "DEPENDENCY", "b": "TRES_PER_NODE", "m": "MIN_MEMORY", "q": "QOS", "L": "TIME_LEFT",
}


@dataclass(frozen=True)
class Token:
    """One ``%[.][width]letter`` of a --format: right-justified with the dot, cut/padded to width."""

    letter: str
    width: int | None
    right: bool

    def fit(self, value: str) -> str:
        if self.width is None:
            return value
        value = value[: self.width]
        return value.rjust(self.width) if self.right else value.ljust(self.width)


def parse_format(fmt: str, known: Mapping[str, str], command: str) -> list[str | Token]:
    """``%[.][width]letter`` tokens of squeue's or sinfo's --format and the literal text between them."""
    return list(_parse_format(fmt, tuple(known), command))


@functools.lru_cache(maxsize=64)  # a poller asks with the same format thousands of times
def _parse_format(fmt: str, known: tuple[str, ...], command: str) -> tuple[str | Token, ...]:
    parts: list[str | Token] = []
    pos = 0
    for match in re.finditer(r"%(\.?)(-?)(\d*)(.?)", fmt):
        if match.start() > pos:
            parts.append(fmt[pos: match.start()])
        pos = match.end()
        dot, minus, width, letter = match.groups()
        if minus:
            # Real squeue 22.05 prints "squeue: error: Invalid job format specification: -" and
            # then the format text itself: not worth reproducing.
            raise FakeUnsupported(f"{command} --format {fmt!r}: a '-' flag is not valid in {command} 22.05")
        if letter == "%":
            raise FakeUnsupported(f"{command} --format {fmt!r}: {command} 22.05 has no literal %% (it prints odd text)")
        if letter not in known:
            raise FakeUnsupported(f"{command} --format token %{letter!s} (in {fmt!r}) is not modelled")
        parts.append(Token(letter, int(width) if width else None, bool(dot)))
    if pos < len(fmt):
        parts.append(fmt[pos:])
    return tuple(parts)


def parse_squeue_format(fmt: str) -> list[str | Token]:
    return parse_format(fmt, SQUEUE_HEADERS, "squeue")


def squeue_lines(fmt: list[str | Token], table: Sequence[Row], ctx: Context, header: bool) -> str:
    lines = []
    if header:
        lines.append("".join(p if isinstance(p, str) else p.fit(SQUEUE_HEADERS[p.letter]) for p in fmt))
    for row in table:
        lines.append("".join(p if isinstance(p, str) else p.fit(_squeue_field(p.letter, row, ctx))
                             for p in fmt))
    return "".join(line + "\n" for line in lines)


def squeue_sort_key(row: Row) -> tuple[str, str, int, int, int]:
    """squeue's default sort "P,t,-p": partition, compact state, then priority (submission order;
    held jobs have priority 0 and, among themselves, show the latest submitted first, as observed)."""
    task = row.task
    priority = 0 if task.held else PRIORITY_BASE - task.sub.seq
    return (task.sub.partition, STATE_CODES[task.shown_state], -priority, -task.sub.seq,
            -1 if task.index is None else task.index)


# ------------------------------------------------------------------ sacct


@dataclass(frozen=True)
class SacctField:
    name: str
    width: int
    left: bool = False


# Default widths and justification of `sacct --format`, as measured on Slurm 22.05.
SACCT_FIELDS = {f.name.lower(): f for f in (
    SacctField("JobID", 12, True), SacctField("JobIDRaw", 12, True), SacctField("JobName", 10),
    SacctField("State", 10), SacctField("ExitCode", 8), SacctField("DerivedExitCode", 15),
    SacctField("Reason", 22), SacctField("Start", 19), SacctField("End", 19), SacctField("Elapsed", 10),
    SacctField("ElapsedRaw", 10), SacctField("Submit", 19), SacctField("Eligible", 19),
    SacctField("NodeList", 15), SacctField("Partition", 10), SacctField("User", 9),
    SacctField("Timelimit", 10), SacctField("AllocCPUS", 10), SacctField("Account", 10),
    SacctField("NNodes", 8), SacctField("NCPUS", 10), SacctField("Comment", 14),
    SacctField("WorkDir", 20), SacctField("UID", 6), SacctField("Group", 9), SacctField("GID", 6),
    SacctField("Cluster", 10), SacctField("ReqCPUS", 8), SacctField("ReqNodes", 8),
    SacctField("AllocNodes", 10), SacctField("QOS", 10),
)}
# Every field sacct --helpformat lists; those not above are refused as not modelled.
SACCT_ALL_FIELDS = frozenset(name.lower() for name in """
Account AdminComment AllocCPUS AllocNodes AllocTRES AssocID AveCPU AveCPUFreq AveDiskRead AveDiskWrite
AvePages AveRSS AveVMSize BlockID Cluster Comment Constraints ConsumedEnergy ConsumedEnergyRaw Container
CPUTime CPUTimeRAW DBIndex DerivedExitCode Elapsed ElapsedRaw Eligible End ExitCode Flags GID Group JobID
JobIDRaw JobName Layout MaxDiskRead MaxDiskReadNode MaxDiskReadTask MaxDiskWrite MaxDiskWriteNode
MaxDiskWriteTask MaxPages MaxPagesNode MaxPagesTask MaxRSS MaxRSSNode MaxRSSTask MaxVMSize MaxVMSizeNode
MaxVMSizeTask McsLabel MinCPU MinCPUNode MinCPUTask NCPUS NNodes NodeList NTasks Partition Priority QOS
QOSRAW Reason ReqCPUFreq ReqCPUFreqGov ReqCPUFreqMax ReqCPUFreqMin ReqCPUS ReqMem ReqNodes ReqTRES
Reservation ReservationId Reserved ResvCPU ResvCPURAW Start State Submit SubmitLine Suspended
SystemComment SystemCPU Timelimit TimelimitRaw TotalCPU TRESUsageInAve TRESUsageInMax TRESUsageInMaxNode
TRESUsageInMaxTask TRESUsageInMin TRESUsageInMinNode TRESUsageInMinTask TRESUsageInTot TRESUsageOutAve
TRESUsageOutMax TRESUsageOutMaxNode TRESUsageOutMaxTask TRESUsageOutMin TRESUsageOutMinNode
TRESUsageOutMinTask TRESUsageOutTot UID User UserCPU WCKey WCKeyID WorkDir
""".split())
SACCT_DEFAULT_FORMAT = "JobID,JobName,Partition,Account,AllocCPUS,State,ExitCode"


@dataclass(frozen=True)
class SacctLine:
    """A job row, or one of its steps (``step`` = "batch"/"extern", or an srun step's number)."""

    row: Row
    step: str | None = None
    srun: StepRecord | None = None


def step_state(task: Task, step: str, srun: StepRecord | None = None) -> tuple[str, int, int]:
    if srun is not None:
        return (srun.state, srun.exit_code, srun.signal)
    if step == "batch":
        if task.running or task.batch_step is None:
            return ("RUNNING", 0, 0)
        return task.batch_step
    if task.running:
        return ("RUNNING", 0, 0)
    if task.state in ("CANCELLED", "NODE_FAIL", "BOOT_FAIL"):
        return (task.state, 0, 0)
    return ("COMPLETED", 0, 0)


def sacct_exit(code: int) -> int:
    """sacct shows an exit status above 128 less 128 (observed on 22.05: exit 143 is 15:0, exit 200
    72:0), where scontrol shows it whole (143:0)."""
    return code - 128 if code > 128 else code


def sacct_value(name: str, line: SacctLine, ctx: Context) -> str:
    row, step = line.row, line.step
    task = row.task
    sub = task.sub
    started = task.start is not None and not row.collapsed
    if name == "jobid":
        return row.job_id() + (f".{step}" if step else "")
    if name == "jobidraw":
        return str(task.raw_id) + (f".{step}" if step else "")
    if name == "jobname":
        return line.srun.name if line.srun is not None else step or sub.name
    if name == "state":
        if step:
            return step_state(task, step, line.srun)[0]
        if task.state == "CANCELLED" and task.cancelled_by is not None:
            return f"CANCELLED by {task.cancelled_by}"
        return task.state
    if name == "exitcode":
        if step:
            _, code, sig = step_state(task, step, line.srun)
            return f"{sacct_exit(code)}:{sig}"
        code, sig = task.accounted_exit or (task.exit_code, task.signal)
        return f"{sacct_exit(code)}:{sig}"
    if name == "derivedexitcode":
        return "" if step else "0:0"
    if name == "reason":
        return "" if step else "None"
    if name == "start":
        if started:
            return ctx.date(task.start)
        return "None" if task.finished else "Unknown"
    if name == "end":
        return ctx.date(task.end) if task.end is not None else "Unknown"
    if name == "elapsed":
        return hms_duration(elapsed(task, ctx.now))
    if name == "elapsedraw":
        return str(int(elapsed(task, ctx.now)))
    if name == "submit":
        return ctx.date(task.start if step else sub.submit_time)
    if name == "eligible":
        return ctx.date(task.start if step else task.eligible_at)
    if name == "nodelist":
        return nodelist(task) if started else "None assigned"
    if name == "timelimit":
        if step:
            return ""
        if started or sub.explicit_time:
            return hms_limit(task.time_limit)
        return "Partition_Limit"
    if name in ("alloccpus", "ncpus", "reqcpus"):
        return str(task.cpus)
    if name in ("nnodes", "allocnodes", "reqnodes"):
        return str(task.node_count)
    if name == "account":
        return sub.account or ctx.account
    if name == "cluster":
        return ctx.cluster
    if step:
        return ""
    return {
        "partition": sub.partition, "user": ctx.user, "uid": str(ctx.uid), "group": ctx.group,
        "gid": str(ctx.gid), "comment": sub.comment or "", "workdir": sub.workdir, "qos": "normal",
    }[name]


def sacct_text(fields: Sequence[tuple[SacctField, int | None]], lines: Sequence[SacctLine], ctx: Context, *,
               header: bool, delimiter: str | None, trailing: bool) -> str:
    """Fixed-width columns (``delimiter`` None) or ``-p``/``-P`` delimited output."""
    table = [[sacct_value(f.name.lower(), line, ctx) for f, _ in fields] for line in lines]
    out: list[str] = []
    if delimiter is not None:
        names = [f.name for f, _ in fields]
        for values in ([names] if header else []) + table:
            out.append(delimiter.join(values) + (delimiter if trailing else ""))
        return "".join(line + "\n" for line in out)

    def cell(value: str, field: SacctField, width: int | None) -> str:
        size = abs(width) if width is not None else field.width
        left = width < 0 if width is not None else field.left
        if len(value) > size:
            value = value[: size - 1] + "+"
        return value.ljust(size) if left else value.rjust(size)

    if header:
        # headers are cut short without the "+" that marks a truncated value
        out.append("".join(cell(f.name[: abs(w) if w is not None else f.width], f, w) + " " for f, w in fields))
        out.append("".join("-" * (abs(w) if w is not None else f.width) + " " for f, w in fields))
    for values in table:
        out.append("".join(cell(v, f, w) + " " for v, (f, w) in zip(values, fields)))
    return "".join(line + "\n" for line in out)


def _begin_to_come(task: Task, ctx: Context) -> float | None:
    """A pending job's --begin time still to come (slurmctld's planned StartTime), else None."""
    if task.pending and not task.held and task.eligible_at is not None and task.eligible_at > ctx.now:
        return task.eligible_at
    return None


# ------------------------------------------------------------------ scontrol


def scontrol_record(row: Row, ctx: Context) -> list[list[str]]:
    """The lines of fields of ``scontrol show job`` for one record, in Slurm 22.05's order."""
    task = row.task
    sub = task.sub
    started = task.start is not None and not row.collapsed
    first = [f"JobId={task.raw_id}"]
    if sub.array is not None:
        first += [f"ArrayJobId={sub.job_id}", f"ArrayTaskId={row.task_field() if row.collapsed else task.index}"]
        if sub.array.throttle:
            first.append(f"ArrayTaskThrottle={sub.array.throttle}")
    first.append(f"JobName={sub.name}")
    begin = _begin_to_come(task, ctx)
    if task.running:
        end_time = ctx.date(None if task.time_limit is None else (task.start or 0) + task.time_limit * 60)
    elif task.finished:
        end_time = ctx.date(task.end)
    else:  # observed: a --begin to come is the planned start, and with a limit the planned end
        end_time = ctx.date(None if begin is None or task.time_limit is None else begin + task.time_limit * 60)
    start_time = ctx.date(task.start if started else (task.end if task.finished else begin))
    eligible = ctx.date(task.eligible_at)
    memory = job_memory(task, ctx)
    out, err = std_paths(task, ctx.user)
    lines = [
        first,
        [f"UserId={ctx.user}({ctx.uid})", f"GroupId={ctx.group}({ctx.gid})", "MCS_label=N/A"],
        [f"Priority={0 if task.held else PRIORITY_BASE - sub.seq}", "Nice=0",
         f"Account={sub.account or ctx.account}", f"QOS={sub.qos or 'normal'}"],
        [f"JobState={task.shown_state}", f"Reason={task.reason}", f"Dependency={task.dependency_text}"],
        [f"Requeue={int(task.sub.requeue)}", f"Restarts={task.restarts}", "BatchFlag=1", "Reboot=0",
         f"ExitCode={task.exit_code}:{task.signal}"],
        [f"RunTime={hms_duration(elapsed(task, ctx.now))}", f"TimeLimit={hms_limit(task.time_limit)}",
         "TimeMin=N/A"],
        [f"SubmitTime={ctx.date(task.requeued_at if task.requeued_at is not None else sub.submit_time)}",
         f"EligibleTime={eligible}"],
        [f"AccrueTime={eligible}"],
        [f"StartTime={start_time}", f"EndTime={end_time}", "Deadline=N/A"],
        ["SuspendTime=None", "SecsPreSuspend=0",
         f"LastSchedEval={ctx.date(task.last_sched if task.last_sched is not None else sub.submit_time)}",
         "Scheduler=Main"],
        [f"Partition={sub.partition}", f"AllocNode:Sid={ctx.alloc_node}"],
        ["ReqNodeList=(null)", "ExcNodeList=(null)"],
        [f"NodeList={nodelist(task) if started else ''}"],
    ]
    if started:
        lines.append([f"BatchHost={task.nodes[0]}"])
    never_ran = task.finished and not started
    min_memory = (f"MinMemoryNode={memory_text(sub.mem_mb)}" if sub.mem_mb is not None
                  else f"MinMemoryCPU={memory_text(sub.mem_per_cpu or ctx.def_mem_per_cpu)}")
    lines += [
        [f"NumNodes={num_nodes(task)}", f"NumCPUs={task.cpus}",
         f"NumTasks={'N/A' if never_ran else sub.ntasks or sub.node_count}", f"CPUs/Task={sub.cpus_per_task or 1}",
         "ReqB:S:C:T=0:0:*:*"],
        [f"TRES=cpu={task.cpus},mem={memory_text(memory)},node={tres_nodes(task)},billing={task.cpus}"],
        ["Socks/Node=*", "NtasksPerN:B:S:C=0:0:*:*", "CoreSpec=*"],
        [f"MinCPUsNode={sub.cpus_per_task or 1}", min_memory, "MinTmpDiskNode=0"],
        ["Features=(null)", "DelayBoot=00:00:00"],
        [f"OverSubscribe={oversubscribe(task, ctx)}", "Contiguous=0", "Licenses=(null)", "Network=(null)"],
        [f"Command={sub.command or '(null)'}"],
        [f"WorkDir={sub.workdir}"],
    ]
    if sub.comment:
        lines.append([f"Comment={sub.comment} "])  # sic: scontrol prints a space after the comment
    lines += [[f"StdErr={err}"], ["StdIn=/dev/null"], [f"StdOut={out}"], ["Power="]]
    if sub.gpu_option is not None:
        lines.append([f"{sub.gpu_option[0]}={sub.gpu_option[1]}"])  # observed after Power=
    if sub.mail_type:
        lines.append([f"MailUser={sub.mail_user or ctx.user}", f"MailType={sub.mail_type}"])
    return lines


def job_memory(task: Task, ctx: Context) -> int:
    """The job's memory in MB, as TRES shows it: what its nodes gave it, or while pending --mem per
    node (0: all a node has), --mem-per-cpu or DefMemPerCPU per CPU."""
    sub = task.sub
    if task.alloc is not None:
        return sum(task.alloc.memory)
    if sub.mem_mb is not None:
        return (sub.mem_mb or ctx.node_memory) * sub.node_count
    return (sub.mem_per_cpu or ctx.def_mem_per_cpu) * task.cpus


def tres_nodes(task: Task) -> int:
    """TRES node=: the nodes it was given; while pending, --nodes, else 1 (where NumNodes= shows
    slurmctld's estimate: observed)."""
    if task.alloc is not None:
        return len(task.alloc.nodes)
    return task.sub.node_count if task.sub.nodes_given else 1


def num_nodes(task: Task) -> str:
    """scontrol's NumNodes=: the nodes it was given, or while pending --nodes as a range (N-N) or
    slurmctld's estimate (observed)."""
    if task.alloc is None and task.sub.nodes_given:
        return f"{task.sub.node_count}-{task.sub.node_count}"
    return str(task.node_count)


def oversubscribe(task: Task, ctx: Context) -> str:
    """OverSubscribe=: --exclusive's NO, USER or MCS until the job starts, then the partition's (observed)."""
    return task.sub.sharing if task.sub.sharing and task.start is None else ctx.oversubscribe


def scontrol_text(records: Sequence[list[list[str]]], oneliner: bool) -> str:
    """Multi-line: continuation lines indented by 3 spaces, an empty indented line and a blank line
    after each job. One-liner: the same with every line break and indent turned into one space."""
    chunks = []
    for lines in records:
        text = " ".join(lines[0]) + "".join("\n   " + " ".join(line) for line in lines[1:]) + "\n   \n\n"
        if oneliner:
            text = text.replace("\n   ", " ")[:-1]
        chunks.append(text)
    return "".join(chunks)
