"""What FakeSlurm's controller remembers about jobs: submissions, their tasks, and snapshots for tests.

A *submission* is one sbatch: its script and options. It has one *task* for a plain job and one per
index for an array. A task is what Slurm schedules: it waits, runs on a node and ends. Array tasks
have no job id of their own until they start, exactly as in Slurm, where the pending tasks share the
array's record: a task that starts gets the next free id, except the last one to start, which takes
over the array's own id (observed on Slurm 22.05: ``74_0`` ran as job 76, the last task as job 74).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from .values import ArraySpec

if TYPE_CHECKING:
    from .._cluster import Allocation
    from .._inline import InlineScript
    from .._pool import PooledJob
    from .._process import JobHandle
    from .values import SignalSpec

# squeue(1) "JOB STATE CODES": the long names and the compact codes of %t.
STATE_CODES: Mapping[str, str] = MappingProxyType({
    "PENDING": "PD", "RUNNING": "R", "SUSPENDED": "S", "COMPLETING": "CG", "COMPLETED": "CD",
    "CONFIGURING": "CF", "CANCELLED": "CA", "FAILED": "F", "TIMEOUT": "TO", "PREEMPTED": "PR",
    "NODE_FAIL": "NF", "BOOT_FAIL": "BF", "DEADLINE": "DL", "OUT_OF_MEMORY": "OOM", "SPECIAL_EXIT": "SE",
    "REQUEUED": "RQ", "REQUEUE_HOLD": "RH", "REQUEUE_FED": "RF", "RESIZING": "RS", "REVOKED": "RV",
    "SIGNALING": "SI", "STAGE_OUT": "SO", "STOPPED": "ST", "RESV_DEL_HOLD": "RD",
})

# The order squeue's error message lists valid states in (squeue --states=foo).
SQUEUE_STATE_ORDER = (
    "PENDING,RUNNING,SUSPENDED,COMPLETED,CANCELLED,FAILED,TIMEOUT,NODE_FAIL,PREEMPTED,BOOT_FAIL,DEADLINE,"
    "OUT_OF_MEMORY,COMPLETING,CONFIGURING,RESIZING,RESV_DEL_HOLD,REQUEUED,REQUEUE_FED,REQUEUE_HOLD,REVOKED,"
    "SIGNALING,SPECIAL_EXIT,STAGE_OUT,STOPPED"
)

# States a job can be made to end in (end_job / set_outcome), with Slurm's exit code, signal and
# reason for each when nothing else is said: e.g. OUT_OF_MEMORY is "0:125", TIMEOUT "0:0 TimeLimit".
END_DEFAULTS: Mapping[str, tuple[int, int, str]] = MappingProxyType({
    "COMPLETED": (0, 0, "None"),
    "FAILED": (1, 0, "NonZeroExitCode"),
    "CANCELLED": (0, 15, "None"),
    "TIMEOUT": (0, 0, "TimeLimit"),
    "OUT_OF_MEMORY": (0, 125, "OutOfMemory"),
    "NODE_FAIL": (0, 0, "NodeDown"),
    "PREEMPTED": (0, 0, "None"),
    "BOOT_FAIL": (0, 0, "NodeDown"),
    "DEADLINE": (0, 0, "DeadLine"),
})
FINAL_STATES = frozenset(END_DEFAULTS)


def state_name(text: str) -> str | None:
    """A state's long name from its long name or compact code, in any case; None if unknown."""
    upper = text.strip().upper()
    if upper in STATE_CODES:
        return upper
    for name, code in STATE_CODES.items():
        if code == upper:
            return name
    return None


def parse_states(text: str) -> frozenset[str] | None:
    """``all`` → None (no filter); else the named states, or an empty set if one is invalid."""
    if text.strip().lower() == "all":
        return None
    names = [state_name(s) for s in text.split(",")]
    if any(n is None for n in names):
        return frozenset()
    return frozenset(n for n in names if n is not None)


def split_ids(word: str) -> list[str]:
    """``12,13_[1,2]`` → ``12``, ``13_[1,2]``: commas outside brackets separate job ids."""
    ids, depth, current = [], 0, ""
    for char in word:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            ids.append(current)
            current = ""
        else:
            current += char
    return [*ids, current]


@dataclass(frozen=True)
class Outcome:
    """How a job ends when it is made to (rather than by running its script)."""

    state: str
    exit_code: int
    signal: int
    reason: str


@dataclass
class Submission:
    """One sbatch: everything its tasks share."""

    seq: int
    job_id: int
    script: str
    script_args: tuple[str, ...]
    command: str | None  # the script's path, None for --wrap or a script on stdin
    name: str
    workdir: str
    submit_dir: str
    output: str | None
    error: str | None
    open_mode: str
    time_limit: int | None  # minutes; None: none given (the partition's, UNLIMITED)
    explicit_time: bool
    cpus_per_task: int | None
    ntasks: int | None
    node_count: int
    partition: str
    mem_mb: int | None
    comment: str | None
    mail_type: str | None
    mail_user: str | None
    env: dict[str, str]  # what the job's environment starts from (after --export)
    array: ArraySpec | None
    submit_time: float
    argv: tuple[str, ...]
    inline: InlineScript | None
    #: Array tasks still sharing the array's pending record (no job id of their own yet).
    unassigned: int = 0
    held: bool = False  # sbatch --hold
    requeue: bool = True  # sbatch --requeue (JobRequeue=1, Slurm's default) or --no-requeue
    #: The job's umask: SLURM_UMASK of sbatch's environment, else sbatch's own umask (observed: the
    #: job's files are created 0666 & ~umask, and SLURM_UMASK itself is not in the job's environment).
    umask: int = 0o022
    sys_path: tuple[str, ...] = ()  # the submitting process's sys.path (execution="process")
    account: str | None = None  # sbatch --account (not checked: no AccountingStorageEnforce)
    qos: str | None = None
    mem_per_cpu: int | None = None  # MB, sbatch --mem-per-cpu
    gpus_per_node: int = 0  # GPUs on each node: --gres=gpu:N, --gpus-per-node, --gpus (one node), --gpus-per-task
    gpu_option: tuple[str, str] | None = None  # how they were asked: ("TresPerNode", "gres:gpu:1"), ...
    gpus_env: dict[str, str] = field(default_factory=dict)  # SLURM_GPUS, SLURM_GPUS_PER_NODE, ...
    exclusive: bool = False  # sbatch --exclusive: the whole node
    sharing: str | None = None  # OverSubscribe= while pending for --exclusive[=user|mcs]: NO, USER, MCS
    dependency: list[Dependency] = field(default_factory=list)  # sbatch --dependency, as slurmctld keeps it
    any_dependency: bool = False  # the items were separated by ? (any one suffices)
    kill_on_invalid_dep: bool = False
    signal: SignalSpec | None = None  # sbatch --signal
    exclude: tuple[str, ...] = ()  # sbatch --exclude: node names
    open_mode_given: bool = False  # sbatch --open-mode was given (the job's SLURM_OPEN_MODE)
    #: --ntasks without --nodes, more than one node can hold: the scheduler places whole tasks on as
    #: many nodes as it takes (``node_count`` is then slurmctld's estimate, shown while pending).
    spread: bool = False
    nodes_given: bool = False  # sbatch --nodes: NumNodes=N-N while pending, PartitionNodeLimit beyond the nodes

    @property
    def tasks_per_node(self) -> int:
        return -(-(self.ntasks or 1) // (1 if self.spread else self.node_count))

    @property
    def total_cpus(self) -> int:
        return self.cpus_per_node * (1 if self.spread else self.node_count)

    @property
    def cpus_per_node(self) -> int:
        return self.tasks_per_node * (self.cpus_per_task or 1)


@dataclass
class Dependency:
    """One condition of a job's dependency and where it stands: ``unfulfilled``, ``fulfilled`` (then
    no longer shown) or ``failed`` (it never can be)."""

    kind: str  # after, afterany, afterok, afternotok, aftercorr, singleton
    job_id: int | None
    state: str = "unfulfilled"
    #: ``afterok:12_3``: the condition is on task 3 of array 12 alone.
    task: int | None = None
    #: aftercorr: where each task of the dependent array stands (by its index), since task i waits
    #: for task i of the array it names alone.
    task_states: dict[int, str] = field(default_factory=dict)

    def state_for(self, index: int | None) -> str:
        if self.kind == "aftercorr" and index is not None:
            return self.task_states.get(index, "unfulfilled")
        return self.state

    def text(self, index: int | None = None) -> str:
        """As scontrol's Dependency= and squeue's %E show it: ``afterok:12(unfulfilled)``, on one
        array task ``afterok:12_3(unfulfilled)``, and for aftercorr ``aftercorr:12_*(unfulfilled)``
        (observed on Slurm 22.05)."""
        if self.kind == "aftercorr":
            return f"aftercorr:{self.job_id}_*({self.state_for(index)})"
        target = "" if self.job_id is None else f":{self.job_id}"
        if self.task is not None:
            target += f"_{self.task}"
        return f"{self.kind}{target}({self.state})"


@dataclass
class StepRecord:
    """One ``srun`` job step inside a running job, for sacct's ``ID.N`` lines."""

    step_id: int
    name: str  # the command's name, or srun --job-name
    start: float
    state: str = "RUNNING"
    exit_code: int = 0
    signal: int = 0
    end: float | None = None
    pid: int | None = None  # the srun process: its children are the step's tasks


@dataclass(eq=False)
class Task:
    """One schedulable unit: a plain job or one array task, and all that happens to it."""

    sub: Submission
    index: int | None
    job_id: int | None  # own id: a plain job's from the start, an array task's once it starts
    eligible: float
    state: str = "PENDING"
    reason: str = "Priority"
    exit_code: int = 0
    signal: int = 0
    woken: bool = False  # the scheduler has seen it at or after its eligible time
    start: float | None = None
    end: float | None = None
    nodes: tuple[str, ...] = ()
    due_end: float | None = None  # when an inline (or outcome) job ends by itself
    times_out: bool = False  # ... and whether that end is its time limit
    outcome: Outcome | None = None
    proc: JobHandle | None = None
    early: PooledJob | None = None  # execution="process": its script, started with the job (see Controller._start)
    completing: bool = False  # final state known, processes still being killed
    term_at: float | None = None  # subprocess: SIGTERM at the time limit
    kill_at: float | None = None  # subprocess: SIGKILL after KillWait
    cancelled_by: int | None = None
    output_path: str | None = None
    error_path: str | None = None
    env: dict[str, str] | None = None
    hide_for: float | None = None
    batch_step: tuple[str, int, int] | None = None  # sacct's <id>.batch: state, exit code, signal
    accounted_exit: tuple[int, int] | None = None  # sacct's ExitCode when it differs from scontrol's
    last_sched: float | None = None
    order: int = 0  # creation order: events due at one time are handled in queue order
    steps: list[StepRecord] = field(default_factory=list)  # srun job steps, in order
    held: bool = False  # sbatch --hold / scontrol hold: never eligible until released (priority 0)
    # EligibleTime as Slurm shows it: Unknown (None) while held or waiting on a dependency (observed:
    # sacct's Eligible and scontrol's EligibleTime/AccrueTime), then when it became eligible (its
    # release, the scheduling pass that found its dependency met), or its begin time
    eligible_at: float | None = None
    alloc: Allocation | None = None  # what it was given when it last started
    holding: bool = False  # ... and still holds
    restarts: int = 0  # scontrol requeue (Restarts=, SLURM_RESTART_COUNT)
    requeued_at: float | None = None  # SubmitTime of a requeued job
    requeue_pending: bool = False  # scontrol requeue: back to the queue once its processes are gone
    warn_at: float | None = None  # when --signal's signal is due
    # The fields that decide a task's next event (eligible, woken, held, state, due_end, term_at,
    # kill_at) are indexed by the controller: whoever sets one calls Controller.changed(task).

    @property
    def array_job_id(self) -> int | None:
        return self.sub.job_id if self.sub.array is not None else None

    @property
    def display_id(self) -> str:
        """``12`` or ``12_3``: how squeue and sacct name it."""
        if self.index is None:
            return str(self.job_id)
        return f"{self.sub.job_id}_{self.index}"

    @property
    def raw_id(self) -> int:
        """Its own job id, or the array's while it pends inside the array record."""
        return self.job_id if self.job_id is not None else self.sub.job_id

    @property
    def pending(self) -> bool:
        return self.state == "PENDING"

    @property
    def running(self) -> bool:
        return self.state == "RUNNING"

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def shown_state(self) -> str:
        """squeue/scontrol say COMPLETING while a killed job's processes are still going."""
        return "COMPLETING" if self.completing else self.state

    @property
    def cpus(self) -> int:
        return self.alloc.total_cpus if self.alloc is not None else self.sub.total_cpus

    @property
    def node_count(self) -> int:
        """NumNodes: the nodes it was given, or slurmctld's estimate while pending."""
        return len(self.alloc.nodes) if self.alloc is not None else self.sub.node_count

    @property
    def dependency_text(self) -> str:
        """scontrol's Dependency= (squeue %E): the conditions not yet fulfilled, or (null)."""
        shown = [d.text(self.index) for d in self.sub.dependency if d.state_for(self.index) != "fulfilled"]
        return ("?" if self.sub.any_dependency else ",").join(shown) or "(null)"

    @property
    def time_limit(self) -> int | None:
        return self.sub.time_limit


@dataclass(frozen=True)
class JobSnapshot:
    """A read-only view of one job (or array task) for tests: ``fake.job("12_3")``.

    ``job_id`` is how squeue names it (``12`` or ``12_3``); ``raw_job_id`` its own number (the
    array's while a task still pends). Times are on the fake's clock (``fake.clock()``).
    """

    job_id: str
    raw_job_id: int
    array_job_id: int | None
    array_task_id: int | None
    state: str
    reason: str
    exit_code: int
    signal: int
    name: str
    script: str
    output_path: str
    error_path: str
    workdir: str
    submit_time: float
    eligible_time: float
    start_time: float | None
    end_time: float | None
    time_limit: int | None
    nodes: tuple[str, ...]
    cpus: int
    partition: str
    comment: str | None
    argv: tuple[str, ...]
    env: Mapping[str, str] | None = field(default=None)

    @property
    def exit_code_text(self) -> str:
        """``N:S`` as sacct and scontrol print it."""
        return f"{self.exit_code}:{self.signal}"
