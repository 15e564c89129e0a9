"""The machine a fake scheduler runs on: nodes with CPUs, a clock, a lock, and who we are.

It is scheduler-neutral on purpose: FakeSlurm builds on it, and a fake HTCondor can share one, so
that the two see the same nodes, the same user and the same virtual time.
"""

from __future__ import annotations

import grp
import os
import pwd
import socket
import threading
from dataclasses import dataclass

from ._clock import FakeClock, Progression


@dataclass
class FakeNode:
    """One compute node: a name and a number of CPUs, of which ``used`` are allocated."""

    name: str
    cpus: int
    used: int = 0

    @property
    def free(self) -> int:
        return self.cpus - self.used


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
    ) -> None:
        if nodes < 1 or cpus_per_node < 1:
            raise ValueError(f"a cluster needs at least one node and one CPU (got {nodes} × {cpus_per_node})")
        self.name = name
        self.clock = FakeClock(progression)
        # Re-entrant: an inline job runs user code while the lock is held, and a test's function
        # may ask the fake something from there.
        self.lock = threading.RLock()
        self.nodes = tuple(FakeNode(f"{node_prefix}{i}", cpus_per_node) for i in range(1, nodes + 1))
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

    def __repr__(self) -> str:
        return (f"FakeCluster(name={self.name!r}, nodes={len(self.nodes)}, cpus_per_node={self.cpus_per_node},"
                f" progression={self.clock.progression!r})")
