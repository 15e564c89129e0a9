"""Compatibility alias: ``from cfut.fakes.condor import FakeCondor`` (use ``from cfut.fakes import FakeCondor``)."""

from __future__ import annotations

from ._condor.fake import FakeCondor

__all__ = ["FakeCondor"]
