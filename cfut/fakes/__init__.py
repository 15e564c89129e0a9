"""Faithful fake schedulers for tests: pass one as an executor's ``runner=``.

:class:`FakeSlurm` answers sbatch, squeue, sacct, scontrol and scancel as Slurm 22.05 does, on a
virtual clock, and can fail, lose replies, kill jobs or hide results on demand. :class:`FakeCluster`
is the machine under it (nodes, CPUs, clock, user), shareable with other fakes. :class:`FakeCondor`
answers condor_submit, condor_q, condor_history and condor_rm and writes job event logs as HTCondor
does, on the same cluster model.
:class:`FakeUnsupported` is raised for anything the fakes do not model.
"""

from __future__ import annotations

from ._cluster import FakeCluster
from ._condor.fake import FakeCondor
from ._errors import FakeUnsupported
from ._slurm.fake import FakeSlurm
from ._slurm.model import JobSnapshot

__all__ = ["FakeCluster", "FakeCondor", "FakeSlurm", "FakeUnsupported", "JobSnapshot"]
