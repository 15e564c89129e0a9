"""The machine a fake scheduler runs on: nodes with CPUs, a clock, a lock, and who we are.

It is scheduler-neutral on purpose: FakeSlurm builds on it, and a fake HTCondor can share one, so
that the two see the same nodes, the same user and the same virtual time.
"""

from __future__ import annotations

import dataclasses
import grp
import os
import pwd
import socket
import threading
from dataclasses import dataclass, field

from ._clock import FakeClock, Progression


@dataclass
class FakeNode:
    """One compute node: a name, CPUs (each shareable by ``share`` jobs: OverSubscribe=FORCE:N),
    memory in MB and GPUs; ``used`` CPU slots, ``mem_used`` MB and the GPU indices in use are
    allocated, ``jobs`` jobs run on it (``exclusive`` of them alone)."""

    name: str
    cpus: int
    used: int = 0
    memory: int = 0  # RealMemory, MB; 0: not counted
    gpus: int = 0
    share: int = 1
    mem_used: int = 0
    gpus_used: set[int] = field(default_factory=set)
    jobs: int = 0
    exclusive: bool = False

    @property
    def free(self) -> int:
        return self.cpus * self.share - self.used

    @property
    def state(self) -> str:
        """sinfo's compact state: idle, mix, alloc."""
        if self.jobs == 0:
            return "idle"
        return "alloc" if self.exclusive or self.used >= self.cpus * self.share else "mix"

    def fits(self, request: Request, *, now: bool) -> bool:
        """Whether the request's share of one node fits on this node (empty when ``now`` is False)."""
        if request.cpus > self.cpus or request.gpus > self.gpus or (self.memory and request.memory > self.memory):
            return False
        if not now:
            return True
        if self.exclusive or (request.exclusive and self.jobs):
            return False
        memory_free = not self.memory or request.memory_on(self) <= self.memory - self.mem_used
        return request.cpus * (1 if not request.exclusive else self.share) <= self.free and memory_free \
            and request.gpus <= self.gpus - len(self.gpus_used)


@dataclass(frozen=True)
class Request:
    """What a job asks of each of its nodes: CPUs, memory (MB; ``mem_per_cpu`` MB for each CPU it is
    given when not 0; ``whole_memory``: all the node has, Slurm's --mem=0), GPUs, the whole node."""

    cpus: int
    memory: int = 0
    gpus: int = 0
    exclusive: bool = False
    whole_memory: bool = False
    mem_per_cpu: int = 0

    def memory_on(self, node: FakeNode, cpus: int | None = None) -> int:
        """The memory this request takes on ``node`` when given ``cpus`` CPUs there (default its own)."""
        if self.whole_memory:
            return node.memory
        return self.mem_per_cpu * (self.cpus if cpus is None else cpus) if self.mem_per_cpu else self.memory


@dataclass(frozen=True)
class Allocation:
    """What a job was given: its nodes, the CPUs, memory (MB) and GPU indices on each (in the order
    of ``nodes``)."""

    nodes: tuple[str, ...]
    cpus: tuple[int, ...]
    memory: tuple[int, ...]
    gpus: tuple[tuple[int, ...], ...] = ()
    exclusive: bool = False

    @property
    def total_cpus(self) -> int:
        return sum(self.cpus)


def _share(request: Request, node: FakeNode, cpus: int) -> Request:
    """What ``request`` asks of ``node`` when it is given ``cpus`` CPUs there (its memory with them)."""
    return dataclasses.replace(request, cpus=cpus, memory=request.memory_on(node, cpus))


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid without a passwd entry (containers): Slurm shows the number
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


class FakeCluster:
    """Nodes × CPUs, consumable per job; the clock; the one lock every fake command takes.

    Allocation is first fit in node order, so a test can predict which node a job lands on.
    """

    def __init__(
        self,
        *,
        nodes: int = 1,
        cpus_per_node: int = 4,
        node_prefix: str = "node",
        progression: Progression = "immediate",
        name: str = "cluster",
        memory_per_node: int = 0,
        gpus_per_node: int = 0,
        cpu_share: int = 1,
    ) -> None:
        if nodes < 1 or cpus_per_node < 1:
            raise ValueError(f"a cluster needs at least one node and one CPU (got {nodes} × {cpus_per_node})")
        if memory_per_node < 0 or gpus_per_node < 0 or cpu_share < 1:
            raise ValueError(f"memory_per_node and gpus_per_node must not be negative and cpu_share must be at "
                             f"least 1, got {memory_per_node!r}, {gpus_per_node!r} and {cpu_share!r}")
        self.name = name
        self.clock = FakeClock(progression)
        # Re-entrant: an inline job runs user code while the lock is held, and a test's function
        # may ask the fake something from there.
        self.lock = threading.RLock()
        self.nodes = tuple(FakeNode(f"{node_prefix}{i}", cpus_per_node, memory=memory_per_node, gpus=gpus_per_node,
                                    share=cpu_share) for i in range(1, nodes + 1))
        self.uid = os.getuid()
        self.gid = os.getgid()
        self.user = _user_name(self.uid)
        self.group = _group_name(self.gid)
        self.submit_host = socket.gethostname().split(".")[0] or "localhost"

    @property
    def cpus_per_node(self) -> int:
        return self.nodes[0].cpus

    def node(self, name: str) -> FakeNode:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def can_ever_fit(self, cpus_per_node: int, node_count: int = 1) -> bool:
        """Whether the request could be met on an empty cluster (else it would pend forever)."""
        return node_count <= len(self.nodes) and sum(n.cpus >= cpus_per_node for n in self.nodes) >= node_count

    def allocate(self, cpus_per_node: int, node_count: int = 1) -> tuple[str, ...] | None:
        """Take ``cpus_per_node`` CPUs on each of ``node_count`` nodes, or nothing if they are not free."""
        chosen = [n for n in self.nodes if n.free >= cpus_per_node][:node_count]
        if len(chosen) < node_count:
            return None
        for node in chosen:
            node.used += cpus_per_node
        return tuple(n.name for n in chosen)

    def release(self, names: tuple[str, ...], cpus_per_node: int) -> None:
        for name in names:
            node = self.node(name)
            node.used = max(0, node.used - cpus_per_node)

    def can_ever_run(self, request: Request, node_count: int = 1) -> bool:
        """Whether an empty cluster could run the request on ``node_count`` nodes."""
        return sum(node.fits(request, now=False) for node in self.nodes) >= node_count

    def allocate_job(self, request: Request, node_count: int = 1) -> Allocation | None:
        """Take the request on each of ``node_count`` nodes (first fit in node order; the lowest free
        GPU indices), or nothing if they are not free now."""
        chosen = [n for n in self.nodes if n.fits(request, now=True)][:node_count]
        if len(chosen) < node_count:
            return None
        return self._take(request, [(node, node.cpus if request.exclusive else request.cpus) for node in chosen])

    def spread_job(self, request: Request, tasks: int, cpus_per_task: int, nodes: int | None = None
                   ) -> Allocation | None:
        """Take ``tasks`` tasks of ``cpus_per_task`` CPUs over several nodes, each with the request's
        GPUs and memory: on as many nodes as they take, as many whole tasks as fit now on each in node
        order (sbatch --ntasks without --nodes); or on exactly ``nodes`` nodes, the first ones taking
        one task more (--nodes with --ntasks that does not divide: 2,1). Nothing if they do not fit now."""
        if nodes is not None:
            base, extra = divmod(tasks, nodes)
            wanted = [base + 1] * extra + [base] * (nodes - extra)
            taken: list[tuple[FakeNode, int]] = []
            for cpus in (count * cpus_per_task for count in wanted):
                node = next((n for n in self.nodes if all(n is not t for t, _ in taken)
                             and n.fits(_share(request, n, cpus), now=True)), None)
                if node is None:
                    return None
                taken.append((node, node.cpus if request.exclusive else cpus))
            return self._take(request, taken)
        taken = []
        left = tasks
        for node in self.nodes:
            if left == 0:
                break
            room = min(node.cpus, node.free) // cpus_per_task
            if node.memory and request.mem_per_cpu:
                room = min(room, (node.memory - node.mem_used) // (request.mem_per_cpu * cpus_per_task))
            count = min(left, room)
            cpus = count * cpus_per_task
            if count and node.fits(_share(request, node, cpus), now=True):
                taken.append((node, node.cpus if request.exclusive else cpus))
                left -= count
        if left:
            return None
        return self._take(request, taken)

    def can_ever_spread(self, request: Request, tasks: int, cpus_per_task: int, exclude: tuple[str, ...],
                        nodes: int | None = None) -> bool:
        """Whether an empty cluster could hold :meth:`spread_job`'s tasks (all nodes but ``exclude``)."""
        usable = [node for node in self.nodes if node.name not in exclude and node.gpus >= request.gpus]
        if nodes is not None:
            most = -(-tasks // nodes) * cpus_per_task
            return len(usable) >= nodes and sum(node.cpus >= most for node in usable) >= (tasks % nodes or nodes)
        return sum(node.cpus // cpus_per_task for node in usable) >= tasks

    def _take(self, request: Request, chosen: list[tuple[FakeNode, int]]) -> Allocation:
        gpus, memory = [], []
        for node, cpus in chosen:
            node.used += cpus * (node.share if request.exclusive else 1)
            mem = request.memory_on(node, cpus)
            node.mem_used += mem
            memory.append(mem)
            node.jobs += 1
            node.exclusive = request.exclusive
            # a whole node (--exclusive) comes with all its GPUs, asked for or not (observed)
            want = node.gpus if request.exclusive else request.gpus
            taken = tuple(i for i in range(node.gpus) if i not in node.gpus_used)[:want]
            node.gpus_used.update(taken)
            gpus.append(taken)
        return Allocation(tuple(n.name for n, _ in chosen), tuple(c for _, c in chosen), tuple(memory), tuple(gpus),
                          request.exclusive)

    def release_job(self, allocation: Allocation) -> None:
        for name, cpus, memory, gpus in zip(allocation.nodes, allocation.cpus, allocation.memory,
                                            allocation.gpus or ((),) * len(allocation.nodes)):
            node = self.node(name)
            node.used = max(0, node.used - cpus * (node.share if allocation.exclusive else 1))
            node.mem_used = max(0, node.mem_used - memory)
            node.jobs = max(0, node.jobs - 1)
            node.gpus_used.difference_update(gpus)
            if allocation.exclusive:
                node.exclusive = False

    def __repr__(self) -> str:
        return (f"FakeCluster(name={self.name!r}, nodes={len(self.nodes)}, cpus_per_node={self.cpus_per_node},"
                f" progression={self.clock.progression!r})")
