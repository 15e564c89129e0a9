"""Scheduler adapters: everything cfut knows about one scheduler's commands and formats.

An adapter implements :class:`cfut._schedulers.base.Scheduler`; it builds argv, parses output and
writes the submission's script or description, and never touches the executor's state.
"""
