"""The client half of the fake commands on ``PATH`` (see :mod:`cfut.fakes.commands`).

Each fake command (``sbatch``, ``squeue``, ..., ``srun``) is a tiny executable: a ``#!`` line naming
this Python, a copy of this module's source, and a call of :func:`main` with the command's name and
the server's socket path. This module therefore imports nothing but the standard library, so that a
command starts fast and works whatever ``sys.path`` the job has.

The protocol is one JSON object per line over a Unix stream socket:

1. the client sends ``{"argv", "cwd", "env", "umask", "stdin": null}``;
2. the server may answer ``{"need_stdin": true}`` (``sbatch`` without a script file or ``--wrap``),
   and the client then sends ``{"stdin": TEXT}``;
3. the server may send ``{"stdout", "stderr", "more": true}``, output the client prints at once
   (flushed) before reading on: ``sbatch --wait``'s submission line, sent when the job is queued,
   before the server waits for the job to end. The server stops waiting when the client hangs up
   (killed meanwhile: like sbatch, it dies of SIGINT or SIGTERM quietly and its job runs on);
4. the server answers ``{"returncode", "stdout", "stderr"}``, which the client prints and exits
   with, or, for ``srun`` inside a job, ``{"step": {"argv", "env", "ntasks", "job_id", "step_id"}}``:
   the client runs the step's command itself (it already is on the job's "node", with the job's
   environment), then reports ``{"argv": ["srun"], "step_end": {...exit_code, signal}}`` on a new
   connection, so that sacct can show the step as ``ID.N``.
"""

from __future__ import annotations

import json
import os
import signal as signals
import socket
import sys
from typing import Any


def _send(stream: Any, message: dict[str, Any]) -> None:
    stream.write(json.dumps(message).encode("ascii") + b"\n")
    stream.flush()


def _receive(stream: Any) -> dict[str, Any]:
    line = stream.readline()
    if not line:
        raise ConnectionError("the fake cluster closed the connection without an answer")
    reply: dict[str, Any] = json.loads(line)
    return reply


def _write(handle: Any, text: str) -> None:
    if text:
        handle.buffer.write(text.encode("utf-8", "surrogateescape"))
        handle.flush()


def _run_step(name: str, step: dict[str, Any]) -> tuple[int, int]:
    """Run a job step's command: ``ntasks`` copies, each with its own SLURM_PROCID/SLURM_LOCALID.
    Returns (exit code, signal) of the worst task, as srun reports it; complains like srun."""
    argv = list(step["argv"])
    env = dict(step["env"])
    pids = []
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if step.get("append") else os.O_TRUNC)
    actions: list[tuple[Any, ...]] = [(os.POSIX_SPAWN_OPEN, fd, step["files"][name], flags, 0o666)
                                      for fd, name in ((1, "output"), (2, "error")) if name in step.get("files", {})]
    if "output" in step.get("files", {}) and "error" not in step["files"]:
        actions.append((os.POSIX_SPAWN_DUP2, 1, 2))  # srun --output alone takes standard error too
    for rank in range(int(step["ntasks"])):
        task_env = {**env, "SLURM_PROCID": str(rank), "SLURM_LOCALID": str(rank)}
        try:
            pids.append((rank, os.posix_spawnp(argv[0], argv, task_env, file_actions=actions)))
        except OSError as exc:
            _write(sys.stderr, f"{name}: error: execve(): {argv[0]}: {exc.strerror}\n")
            return 2, 0
    worst = (0, 0)
    for rank, pid in pids:
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code > 0:
            node = step.get("node", "node1")
            _write(sys.stderr, f"{name}: error: {node}: task {rank}: Exited with exit code {code}\n")
        outcome = (code, 0) if code >= 0 else (0, -code)
        worst = max(worst, outcome)
    return worst


def main(name: str, socket_path: str) -> int:
    """Relay this command's argv, working directory, environment (and stdin when asked) to the fake
    cluster; print its answer and return its exit code."""
    mask = os.umask(0o022)  # this process's umask, which the real command would pass on to the job
    os.umask(mask)
    request = {"argv": [name, *sys.argv[1:]], "cwd": os.getcwd(), "env": dict(os.environ), "umask": mask,
               "pid": os.getpid(), "stdin": None}
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(socket_path)
    except OSError as exc:
        _write(sys.stderr, f"{name}: error: cannot reach the fake cluster at {socket_path}: {exc.strerror or exc}"
                           " (has it stopped?)\n")
        return 1
    with sock, sock.makefile("rwb") as stream:
        _send(stream, request)
        reply = _receive(stream)
        if reply.get("need_stdin"):
            data = sys.stdin.buffer.read() if sys.stdin is not None else b""
            _send(stream, {"stdin": data.decode("utf-8", "surrogateescape")})
            reply = _receive(stream)
        while reply.get("more"):
            signals.signal(signals.SIGINT, signals.SIG_DFL)  # as sbatch --wait: SIGINT kills it quietly
            _write(sys.stdout, reply.get("stdout", ""))
            _write(sys.stderr, reply.get("stderr", ""))
            reply = _receive(stream)
        # The command has done its work; the real one would have exited before its job is signalled
        # (the fake signals it once this socket closes: a job's own scancel must not die of it).
        signals.signal(signals.SIGTERM, signals.SIG_IGN)
    if "step" in reply:
        code, signal = _run_step(name, reply["step"])
        ended = {"job_id": reply["step"].get("job_id"), "step_id": reply["step"].get("step_id"),
                 "exit_code": code, "signal": signal}
        try:  # tell the fake how the step ended, for sacct's ID.N line
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as again, again.makefile("rwb") as stream:
                again.connect(socket_path)
                _send(stream, {"argv": [name], "cwd": os.getcwd(), "env": {}, "stdin": None, "step_end": ended})
                _receive(stream)
        except (OSError, ConnectionError):
            pass
        return code if not signal else 128 + signal
    _write(sys.stdout, reply.get("stdout", ""))
    _write(sys.stderr, reply.get("stderr", ""))
    return int(reply.get("returncode", 1))
