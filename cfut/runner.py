"""The command-runner seam under its earlier public name: ``from cfut.runner import SubprocessRunner``
keeps working. The same names are in :mod:`cfut` itself (``cfut.SubprocessRunner``, ...), which is
where new code should take them from."""

from cfut._runner import CommandResult, CommandRunner, SubprocessRunner

__all__ = ["CommandResult", "CommandRunner", "SubprocessRunner"]
