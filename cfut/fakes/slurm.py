"""Compatibility alias: ``from cfut.fakes.slurm import FakeSlurm`` (use ``from cfut.fakes import FakeSlurm``)."""

from __future__ import annotations

from ._slurm.fake import FakeSlurm

__all__ = ["FakeSlurm"]
