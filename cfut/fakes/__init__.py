"""Faithful fake schedulers for tests: pass one as an executor's ``runner=``.

:class:`FakeSlurm` answers sbatch, squeue, sacct, scontrol and scancel as Slurm 22.05 does;
:class:`FakeCondor` answers condor_submit, condor_q, condor_history and condor_rm and writes job
event logs as HTCondor does. Both are :class:`FakeScheduler`\\ s: one base that defines their clock
and its progressions (``"immediate"``, ``"manual"``, ``"realtime"``), the time protocol the executor
uses (``clock()``, ``sleep(s)``, ``wait(event, s)``), fault injection (``fail_next``), waiting for
job processes (``join``), inspection (``queue``, ``jobs``, ``job``, ``calls``, ``command_counts``,
``refused``) and their lifetime. :class:`FakeCluster` is the machine under them (nodes, CPUs,
:class:`FakeClock`, user), shareable between fakes. :class:`JobSnapshot` and
:class:`CondorJobSnapshot` are what ``job()`` returns. :class:`FakeUnsupported` is raised for
anything the fakes do not model.

``use_default_runner`` and ``refuse_real_commands`` are the process-wide hooks the pytest plugin
uses (re-exported from :mod:`cfut._runner`): executors made without ``runner=`` use a fake, and real
scheduler commands are refused. ``python -m cfut.fakes slurm|condor --bin-dir DIR`` serves a fake's
commands to a shell; ``python -m cfut.fakes.fidelity`` prints what the fakes model.
"""

from __future__ import annotations

from .._runner import refuse_real_commands, use_default_runner
from ._base import FakeScheduler
from ._clock import FakeClock
from ._cluster import FakeCluster
from ._condor.fake import CondorJobSnapshot, FakeCondor
from ._errors import FakeUnsupported
from ._slurm.fake import FakeSlurm
from ._slurm.model import JobSnapshot

__all__ = [
    "CondorJobSnapshot",
    "FakeClock",
    "FakeCluster",
    "FakeCondor",
    "FakeScheduler",
    "FakeSlurm",
    "FakeUnsupported",
    "JobSnapshot",
    "refuse_real_commands",
    "use_default_runner",
]
