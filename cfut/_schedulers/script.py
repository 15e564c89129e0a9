"""The worker's command line and the POSIX wrapper script: one copy for every scheduler."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

#: The worker's module, as clusterfutures 0.5 named it (a shim over cfut._worker).
WORKER_MODULE = "cfut.remote"


def worker_command(python: str, payload: str, import_paths: Sequence[str]) -> str:
    """``PYTHON -m cfut.remote PAYLOAD [--import-path DIR]...`` as shell text. ``payload`` is already
    shell text (a quoted path, or an expression such as ``"$CFUT_PAYLOAD"``); the rest is quoted here."""
    words = [shlex.quote(python), "-m", WORKER_MODULE, payload]
    for path in import_paths:
        words += ["--import-path", shlex.quote(path)]
    return " ".join(words)


def wrapper_script(python: str, payload: str, setup_lines: Sequence[str], import_paths: Sequence[str]) -> str:
    """A ``/bin/sh`` script: the setup lines (first, so ``#SBATCH`` directives sit before any
    command, as sbatch requires), then the worker replacing the shell (``exec``)."""
    lines = ["#!/bin/sh", "# Written by cfut: runs Python calls and writes their results."]
    lines += list(setup_lines)
    lines.append("exec " + worker_command(python, payload, import_paths))
    return "\n".join(lines) + "\n"
