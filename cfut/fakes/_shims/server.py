"""Fake scheduler commands on ``PATH``, backed by one in-process fake cluster.

:class:`FakeCommandServer` serves a fake (:class:`~cfut.fakes.FakeSlurm` or
:class:`~cfut.fakes.FakeCondor`) on a Unix socket in a private (0700) temporary directory, from a
thread of the process that owns the fake, and writes tiny executables (``sbatch``, ``squeue``,
``sacct``, ``scancel``, ``scontrol``, ``srun``; or ``condor_submit``, ``condor_q``, ...) into a
``bin`` directory. Each executable relays its argv, working directory, environment and, when the
command reads it, standard input to the server, which answers through the fake's ``run()``: code
that shells out, a shell script, another library and an in-process executor all see the same queue.
See :mod:`cfut.fakes.command_client` for the protocol.

``srun`` is answered here rather than by the fake: inside a batch job (``SLURM_JOB_ID`` set, the job
running) it becomes a job step, numbered from 0 per job and recorded in :attr:`FakeCommandServer.steps`;
the client then runs the command itself with the job's environment plus ``SLURM_STEP_ID`` and
friends, and exits with its status. ``srun`` outside a job (an interactive allocation) is not
modelled and fails as :class:`~cfut.fakes.FakeUnsupported` would.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import socketserver
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..._runner import CommandResult
from .. import _host
from .._base import FakeScheduler
from .._errors import FakeUnsupported
from .._getopt import GetoptError
from .._process import after_the_reply
from .._slurm.fake import INTERRUPTED_RETURNCODE, FakeSlurm
from .._slurm.options import SBATCH_OPTIONS
from .._slurm.values import expand_filename
from . import client as command_client

SLURM_COMMANDS = ("sbatch", "squeue", "sacct", "scancel", "scontrol", "sinfo", "srun")
#: What srun adds to the job's environment for the step's command: the step id (twice), its tasks
#: and nodes (one), its node list, tasks per node, the task count (twice) and the node's index.
STEP_VARIABLES = ("SLURM_STEP_ID", "SLURM_STEPID", "SLURM_STEP_NUM_TASKS", "SLURM_STEP_NUM_NODES",
                  "SLURM_STEP_NODELIST", "SLURM_STEP_TASKS_PER_NODE", "SLURM_NTASKS", "SLURM_NPROCS", "SLURM_NODEID")
CONDOR_COMMANDS = ("condor_submit", "condor_q", "condor_history", "condor_rm", "condor_status")

# srun options the fake accepts: long name -> short name, and whether it takes a value.
_SRUN_OPTIONS: dict[str, tuple[str | None, bool]] = {
    "ntasks": ("n", True), "nodes": ("N", True), "cpus-per-task": ("c", True), "job-name": ("J", True),
    "exclusive": (None, False), "overlap": (None, False), "quiet": ("Q", False), "mpi": (None, True),
    "kill-on-bad-exit": ("K", False), "export": (None, True), "ntasks-per-node": (None, True),
    # submitit's steps: srun --unbuffered --output OUT --error ERR (filename patterns, as sbatch's)
    "unbuffered": ("u", False), "output": ("o", True), "error": ("e", True),
}
_SRUN_SHORT = {short: long for long, (short, _) in _SRUN_OPTIONS.items() if short}


def srun_options() -> list[str]:
    """The long names of the srun options the fake accepts (for docs/fidelity.md)."""
    return sorted(_SRUN_OPTIONS)


@dataclass(frozen=True)
class JobStep:
    """One ``srun`` inside a batch job, as the fake command server recorded it."""

    job_id: str
    step_id: int
    argv: tuple[str, ...]
    ntasks: int


#: How long (real seconds) the fake waits for a command's process to exit before what the command
#: did to jobs reaches them anyway.
_CLIENT_EXIT = 5.0


def _wait_for_exit(pid: int | None, timeout: float) -> None:
    """Wait (really, up to ``timeout`` seconds) until process ``pid`` has exited and its parent has
    reaped it (a job's shell has then gone on, as it would before slurmd's signal came); not a child
    of ours, so by polling ``/proc``."""
    deadline = time.monotonic() + timeout
    while pid is not None and time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.005)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    owner: FakeCommandServer


class _Handler(socketserver.StreamRequestHandler):
    """One command's connection: its request, what the fake asks of the client meanwhile, the reply."""

    server: _Server

    def handle(self) -> None:
        line = self.rfile.readline()
        if not line:
            return
        request = json.loads(line)
        with after_the_reply() as acts:
            reply = self.server.owner._answer(request, self)
        try:
            self._send(reply)
        except OSError:
            pass  # the client has gone (killed while sbatch --wait waited)
        if acts:
            # what the command did to jobs (scancel's signals, ...) reaches them once the command has
            # ended, as on Slurm: a job's own scancel returns before the job is signalled
            pid = request.get("pid")
            _wait_for_exit(pid if isinstance(pid, int) else None, _CLIENT_EXIT)
            for act in acts:
                act()

    def _send(self, message: Mapping[str, Any]) -> None:
        self.wfile.write(json.dumps(message).encode("ascii") + b"\n")
        self.wfile.flush()

    def read_stdin(self) -> str:
        """Ask the client for its standard input (the command reads it) and return it."""
        self._send({"need_stdin": True})
        line = self.rfile.readline()
        return str(json.loads(line).get("stdin") or "") if line else ""

    def print_early(self, result: CommandResult) -> None:
        """Have the client print ``result``'s output now, before the reply (sbatch --wait's submission)."""
        try:
            self._send({"stdout": result.stdout, "stderr": result.stderr, "more": True})
        except OSError:
            pass  # gone already: gone() says so next

    def gone(self) -> bool:
        """Whether the client has hung up (killed by a signal while it waited) or the server is closing."""
        if self.server.owner.closing:
            return True
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return True


def write_command(path: str, name: str, socket_path: str, python: str = sys.executable) -> None:
    """Write one fake command: this Python (isolated, without site: fast), the client, a call."""
    with open(command_client.__file__, encoding="utf-8") as handle:
        source = handle.read()
    text = (f"#!{python} -IS\n# cfut fake {name}: relays to the fake cluster at {socket_path}\n{source}\n"
            f"if __name__ == '__main__':\n    sys.exit(main({name!r}, {socket_path!r}))\n")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


class FakeCommandServer:
    """Serve ``runner`` (a fake scheduler) to executables in :attr:`bin_dir`; start, then close.

    ``commands`` are the executables to write (default: Slurm's, with ``srun``, when ``runner``
    answers ``sbatch``; HTCondor's otherwise). ``bin_dir`` defaults to a ``bin`` directory next to the socket, removed
    at :meth:`close`; a directory given is created if needed and its commands are left in place.
    ``on_unsupported(argv, message)`` hears of requests the server itself refused (``srun`` outside a
    job, unknown options); what the fake refuses it records itself.
    """

    def __init__(
        self,
        runner: FakeScheduler,
        commands: Sequence[str] | None = None,
        *,
        bin_dir: str | None = None,
        on_unsupported: Callable[[tuple[str, ...], str], None] | None = None,
    ) -> None:
        self.runner = runner
        if commands is None:
            commands = SLURM_COMMANDS if "sbatch" in runner.COMMANDS else CONDOR_COMMANDS
        self.commands = tuple(commands)
        self._private = tempfile.mkdtemp(prefix="cfut-fake-cmds-")  # mode 0700
        self.socket_path = os.path.join(self._private, "socket")
        self.bin_dir = os.path.abspath(bin_dir) if bin_dir is not None else os.path.join(self._private, "bin")
        self.on_unsupported = on_unsupported
        #: Every job step ``srun`` started, in order.
        self.steps: list[JobStep] = []
        self._step_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()

    # ------------------------------------------------------------------ lifetime

    def start(self) -> FakeCommandServer:
        os.makedirs(self.bin_dir, mode=0o700, exist_ok=True)
        for name in self.commands:
            write_command(os.path.join(self.bin_dir, name), name, self.socket_path)
        server = _Server(self.socket_path, _Handler)
        server.owner = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="cfut-fake-commands", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving (an ``sbatch --wait`` still waiting stops, its job left as it is); remove the
        socket (and the bin directory, if it is ours)."""
        self._closing.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        shutil.rmtree(self._private, ignore_errors=True)

    def __enter__(self) -> FakeCommandServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closing(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closing.is_set()

    def path_with_commands(self, path: str | None = None) -> str:
        """``PATH`` with :attr:`bin_dir` first (``path`` defaults to this process's ``PATH``)."""
        rest = os.environ.get("PATH", os.defpath) if path is None else path
        return self.bin_dir + (os.pathsep + rest if rest else "")

    # ------------------------------------------------------------------ answering

    def _answer(self, request: Mapping[str, Any], client: _Handler) -> dict[str, Any]:
        argv = tuple(str(a) for a in request["argv"])
        env = {str(k): str(v) for k, v in (request.get("env") or {}).items()}
        cwd = request.get("cwd")
        name = argv[0]
        try:
            if name == "srun" and "step_end" in request:
                return self._srun_ended(request["step_end"])
            if name == "srun":
                pid = request.get("pid")
                return {"step": self._srun(argv, env, cwd, pid if isinstance(pid, int) else None)}
            stdin = client.read_stdin() if _reads_stdin(argv, cwd) else None
            mask = request.get("umask")
            with _host.caller_umask(mask if isinstance(mask, int) and 0 <= mask <= 0o777 else None):
                result, printed = self._run(argv, stdin, env, cwd, client)
            if printed and result.returncode == INTERRUPTED_RETURNCODE and self.closing:
                return {"returncode": 1, "stdout": "",
                        "stderr": f"{name}: error: the fake cluster stopped while sbatch --wait waited for its job\n"}
            return {"returncode": result.returncode, "stdout": "" if printed else result.stdout,
                    "stderr": "" if printed else result.stderr}
        except FakeUnsupported as exc:
            if name == "srun" and self.on_unsupported is not None:
                self.on_unsupported(argv, str(exc))
            return {"returncode": 1, "stdout": "",
                    "stderr": f"{name}: error: not modelled by cfut's fake scheduler (FakeUnsupported): {exc}\n"}
        except Exception:  # a bug in the fake: say so where the caller looks, and keep serving
            return {"returncode": 1, "stdout": "",
                    "stderr": f"{name}: error: cfut's fake scheduler failed:\n{traceback.format_exc()}"}

    def _run(self, argv: tuple[str, ...], stdin: str | None, env: dict[str, str], cwd: str | None,
             client: _Handler) -> tuple[CommandResult, bool]:
        """The fake's answer to a command, and whether the client has printed its output already: an
        ``sbatch --wait`` has the client print its submission line at once, then waits for the job,
        and stops waiting (the job left as it is) if the client goes away or the server closes."""
        if not isinstance(self.runner, FakeSlurm):
            return self.runner.run(argv, input=stdin, env=env, cwd=cwd), False
        printed: list[CommandResult] = []

        def submitted(result: CommandResult) -> None:
            client.print_early(result)
            printed.append(result)

        result = self.runner.run(argv, input=stdin, env=env, cwd=cwd, on_submitted=submitted, interrupted=client.gone)
        return result, bool(printed)

    def _srun(self, argv: tuple[str, ...], env: dict[str, str], cwd: str | None = None,
              pid: int | None = None) -> dict[str, Any]:
        options, command = _parse_srun(argv[1:])
        job_id = env.get("SLURM_JOB_ID")
        if not job_id:
            raise FakeUnsupported("srun outside a batch job (an interactive allocation) is not modelled; "
                                  "call srun from a job's batch script")
        if not command:
            raise FakeUnsupported("srun without a command is not modelled")
        start_step = getattr(self.runner, "start_step", None)  # FakeSlurm keeps steps for sacct
        ntasks = int(options.get("ntasks") or 1)
        if ntasks < 1:
            raise FakeUnsupported(f"srun --ntasks={ntasks} is not a valid task count")
        nodes = options.get("nodes")
        if nodes is not None and nodes not in ("1", env.get("SLURM_JOB_NUM_NODES", "1")):
            raise FakeUnsupported(f"srun --nodes={nodes} differs from the job's node count; not modelled")
        step_name = str(options.get("job-name") or os.path.basename(command[0]))
        with self._step_lock:
            try:  # by the job's own id (an array task's SLURM_JOB_ID), as slurmstepd knows it
                step_id = (start_step(job_id, step_name, pid=pid) if start_step is not None
                           else sum(1 for s in self.steps if s.job_id == job_id))
            except (KeyError, ValueError) as exc:
                raise FakeUnsupported(f"srun in job {job_id}, which is not RUNNING ({exc})") from None
            self.steps.append(JobStep(job_id, step_id, tuple(command), ntasks))
        node = env.get("SLURMD_NODENAME", "node1")
        values = (step_id, step_id, ntasks, 1, node, ntasks, ntasks, ntasks, 0)
        step_env = {**env, **{name: str(value) for name, value in zip(STEP_VARIABLES, values, strict=True)}}
        if options.get("cpus-per-task"):
            step_env["SLURM_CPUS_PER_TASK"] = str(options["cpus-per-task"])
        if options.get("job-name"):
            step_env["SLURM_JOB_NAME"] = str(options["job-name"])
        files = {}
        for option in ("output", "error"):
            pattern = options.get(option)
            if pattern:
                path = expand_filename(
                    str(pattern), job_id=int(job_id), task_id=int(env["SLURM_ARRAY_TASK_ID"])
                    if "SLURM_ARRAY_TASK_ID" in env else None,
                    array_job_id=int(env["SLURM_ARRAY_JOB_ID"]) if "SLURM_ARRAY_JOB_ID" in env else None,
                    name=env.get("SLURM_JOB_NAME", ""), user=env.get("SLURM_JOB_USER", ""), node=node)
                files[option] = os.path.join(cwd or os.getcwd(), path)
        return {"argv": list(command), "env": step_env, "ntasks": ntasks, "job_id": job_id, "step_id": step_id,
                "node": node, "files": files, "append": env.get("SLURM_OPEN_MODE") == "a"}

    def _srun_ended(self, ended: Mapping[str, Any]) -> dict[str, Any]:
        """The client reports how its step's command ended (exit code, or the signal that killed it)."""
        end_step = getattr(self.runner, "end_step", None)
        if end_step is not None:
            end_step(str(ended["job_id"]), int(ended["step_id"]), int(ended["exit_code"]), int(ended["signal"]))
        return {"returncode": 0, "stdout": "", "stderr": ""}


def _parse_srun(args: Sequence[str]) -> tuple[dict[str, str | None], list[str]]:
    """srun's options up to the command (the first word that is not an option)."""
    options: dict[str, str | None] = {}
    words = list(args)
    while words and words[0].startswith("-") and words[0] != "-":
        word = words.pop(0)
        if word == "--":
            break
        if word.startswith("--"):
            long, has_value, value = word[2:].partition("=")
            if long not in _SRUN_OPTIONS:
                raise FakeUnsupported(f"srun option {word!r} is not modelled by the fake srun")
            takes = _SRUN_OPTIONS[long][1]
            if takes and not has_value:
                if not words:
                    raise FakeUnsupported(f"srun option {word!r} needs a value")
                value = words.pop(0)
            options[long] = value if takes else None
        else:
            long = _SRUN_SHORT.get(word[1:2], "")
            if not long:
                raise FakeUnsupported(f"srun option {word!r} is not modelled by the fake srun")
            if _SRUN_OPTIONS[long][1]:
                value = word[2:] or (words.pop(0) if words else "")
                options[long] = value
            else:
                options[long] = None
    return options, words


def _reads_stdin(argv: tuple[str, ...], cwd: str | None) -> bool:
    """Whether the real command would read its standard input: sbatch without a script file or
    ``--wrap``; condor_submit without a submit file (or with ``-``)."""
    name, args = argv[0], argv[1:]
    if name == "sbatch":
        try:
            parsed, positionals = SBATCH_OPTIONS.parse(args, permute=False)
        except GetoptError:
            return False  # sbatch refuses the command line before reading anything
        return not positionals and not any(p.option.long == "wrap" for p in parsed)
    if name == "condor_submit":
        if "-" in args:
            return True
        return not any(not a.startswith("-") and os.path.isfile(os.path.join(cwd or ".", a)) for a in args)
    return False
