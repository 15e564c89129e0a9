"""The ``fake_slurm`` and ``fake_condor`` pytest fixtures, for any project that installs clusterfutures.

Registered through the ``pytest11`` entry point (``cfut = "cfut.pytest_plugin"``), so nothing needs
importing or listing in ``conftest.py``::

    import cfut, pytest

    @pytest.mark.fake_slurm(nodes=2, cpus_per_node=4, progression="manual")
    def test_my_pipeline(fake_slurm):
        with cfut.SlurmExecutor() as executor:        # no runner=: the fake is the default
            ...
        assert fake_slurm.queue() == []

While a fixture is active:

* ``SlurmExecutor()`` (``CondorExecutor()``) made without ``runner=`` uses the fake
  (:func:`cfut.runner.use_default_runner`);
* :class:`cfut.runner.SubprocessRunner` refuses to run Slurm (HTCondor) commands other than the fake
  ones (:func:`cfut._runner.refuse_real_commands`), raising :class:`cfut.RealCommandRefused`;
* unless ``path=False``, fake ``sbatch``, ``squeue``, ``sacct``, ``scancel``, ``scontrol`` and ``srun``
  (``condor_submit``, ``condor_q``, ``condor_history``, ``condor_rm``) come first on ``PATH``, backed
  by the same fake (:mod:`cfut.fakes.commands`), so code that shells out, shell scripts and other
  libraries meet the same queue. ``fake_slurm.bin_dir`` names their directory.

Teardown is strict: jobs still in the queue (``fake.queue()``), and commands the fake refused
(``fake.refused``: :class:`~cfut.fakes.FakeUnsupported`, or a real command refused), fail the test,
unless the test had already failed (then the original failure is all that is reported). Pass
``allow_leftover_jobs=True`` to allow jobs left behind. Both fixtures work through the
:class:`~cfut.fakes.FakeScheduler` interface alone.

Marker options (validated; an unknown option or a bad value fails the test at set-up, naming it):
see :data:`SLURM_OPTIONS` and :data:`CONDOR_OPTIONS`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from ._runner import refuse_real_commands, use_default_runner
from .fakes import FakeCondor, FakeScheduler, FakeSlurm
from .fakes._clock import PROGRESSIONS
from .fakes._shims.server import CONDOR_COMMANDS, SLURM_COMMANDS, FakeCommandServer, JobStep
from .fakes._shims.ticker import Ticker

#: Slurm's client commands: none of them may run for real while ``fake_slurm`` is active.
REAL_SLURM_COMMANDS = ("sbatch", "squeue", "sacct", "scancel", "scontrol", "srun", "salloc", "sinfo", "sstat",
                       "sprio", "sshare", "sacctmgr", "sreport", "sattach", "sbcast", "strigger", "scrontab",
                       "sdiag", "sview", "smap")

#: How long teardown waits for subprocess jobs that are finishing (their result already delivered).
SUBPROCESS_GRACE = 5.0


@dataclass(frozen=True)
class Option:
    """One marker option: its default, a check returning an error message or None, and what it means."""

    default: Any
    check: Callable[[Any], str | None]
    help: str


def _int_at_least(low: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            return f"must be a whole number >= {low}"
        return None
    return check


def _seconds(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        return "must be a number of seconds >= 0"
    return None


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be True or False"


def _one_of(*choices: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(map(repr, choices))}"
    return check


_COMMON: dict[str, Option] = {
    "nodes": Option(1, _int_at_least(1), "compute nodes"),
    "cpus_per_node": Option(4, _int_at_least(1), "CPUs of each node"),
    "progression": Option("immediate", _one_of(*PROGRESSIONS),
                          "'immediate' (status commands skip idle time), 'manual' (advance()), 'realtime'"),
    "execution": Option("process", _one_of("process", "inline", "subprocess"),
                        "'process' (each job in a process of its own, virtual time), 'inline' (in this "
                        "process) or 'subprocess' (fresh real processes, real time)"),
    "job_duration": Option(1.0, _seconds, "how long a process or inline job runs, in fake seconds"),
    "path": Option(True, _boolean, "put the fake commands first on PATH"),
    "allow_leftover_jobs": Option(False, _boolean, "do not fail the test for jobs left in the queue"),
}

#: The options of ``@pytest.mark.fake_slurm(...)``.
SLURM_OPTIONS: Mapping[str, Option] = {
    **_COMMON,
    "min_job_age": Option(300.0, _seconds, "MinJobAge: how long squeue still shows finished jobs"),
    "accounting": Option(True, _boolean, "whether sacct answers (slurmdbd is up)"),
    "kill_wait": Option(30.0, _seconds, "KillWait: from SIGTERM to SIGKILL"),
    "first_job_id": Option(1, _int_at_least(1), "the first job id"),
    "gpus_per_node": Option(0, _int_at_least(0), "GRES gpu:N of every node (--gres=gpu:N, --gpus*)"),
    "memory_per_node": Option(0, _int_at_least(0), "RealMemory of every node, MB (0: memory is not counted)"),
    "extern_step": Option(False, _boolean, "sacct lists each job's .extern step (PrologFlags=Contain)"),
}

#: The options of ``@pytest.mark.fake_condor(...)``.
CONDOR_OPTIONS: Mapping[str, Option] = dict(_COMMON)


def _describe(options: Mapping[str, Option]) -> str:
    return "; ".join(f"{name}={option.default!r}: {option.help}" for name, option in options.items())


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"fake_slurm(**options): configure the fake_slurm fixture. "
                                       f"{_describe(SLURM_OPTIONS)}")
    config.addinivalue_line("markers", f"fake_condor(**options): configure the fake_condor fixture. "
                                       f"{_describe(CONDOR_OPTIONS)}")


# ---------------------------------------------------------------------- did the test fail?

_reports_key = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    item.stash.setdefault(_reports_key, {})[report.when] = report


def _already_failed(item: pytest.Item) -> bool:
    return any(report.failed for report in item.stash.get(_reports_key, {}).values())


# ---------------------------------------------------------------------- options

def marker_options(node: pytest.Item, marker: str, spec: Mapping[str, Option]) -> dict[str, Any]:
    """The options of every ``marker`` on ``node`` (the closest wins), checked against ``spec``,
    with defaults filled in. Raises ``ValueError`` naming the bad option and value."""
    given: dict[str, Any] = {}
    for mark in reversed(list(node.iter_markers(marker))):  # farthest first, so the closest wins
        if mark.args:
            raise ValueError(f"@pytest.mark.{marker} takes keyword options only, got {mark.args!r}")
        given.update(mark.kwargs)
    options = {name: option.default for name, option in spec.items()}
    for name, value in given.items():
        if name not in spec:
            raise ValueError(f"@pytest.mark.{marker}: unknown option {name!r}; options are "
                             f"{', '.join(spec)}")
        problem = spec[name].check(value)
        if problem:
            raise ValueError(f"@pytest.mark.{marker}: option {name}={value!r} {problem}")
        options[name] = value
    return options


# ---------------------------------------------------------------------- the fakes the fixtures return

class _Strict(FakeScheduler):
    """What the fixtures add to a fake: the fake commands on PATH (``refused`` is the base's)."""

    #: The fake commands' server, or None with ``path=False``.
    commands: FakeCommandServer | None

    def _strict_init(self) -> None:
        self.commands = None

    @property
    def bin_dir(self) -> str | None:
        """The directory of the fake commands (first on PATH during the test), or None."""
        return self.commands.bin_dir if self.commands is not None else None

    @property
    def steps(self) -> list[JobStep]:
        """Job steps ``srun`` started inside jobs, in order."""
        return list(self.commands.steps) if self.commands is not None else []


class PluginFakeSlurm(_Strict, FakeSlurm):
    """The :class:`~cfut.fakes.FakeSlurm` the ``fake_slurm`` fixture returns: a FakeSlurm, plus
    ``refused``, ``bin_dir`` and ``steps``."""

    def __init__(self, **options: Any) -> None:
        FakeSlurm.__init__(self, **options)
        self._strict_init()


class PluginFakeCondor(_Strict, FakeCondor):
    """The :class:`~cfut.fakes.FakeCondor` the ``fake_condor`` fixture returns (see PluginFakeSlurm)."""

    def __init__(self, **options: Any) -> None:
        FakeCondor.__init__(self, **options)
        self._strict_init()


# ---------------------------------------------------------------------- the fixtures

_FAKE_KEYS = ("nodes", "cpus_per_node", "progression", "execution", "job_duration")


@contextlib.contextmanager
def _activate(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, fake: _Strict, *,
              marker: str, scheduler: str, commands: Sequence[str], real_names: Sequence[str],
              real_prefixes: Sequence[str], options: Mapping[str, Any]) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        stack.callback(fake.close)
        allowed: tuple[str, ...] = ()
        if options["path"]:
            server = FakeCommandServer(fake, commands, on_unsupported=lambda argv, message: fake.refused.append(
                (argv, f"FakeUnsupported: {message}")))
            stack.enter_context(server)
            fake.commands = server
            monkeypatch.setenv("PATH", server.path_with_commands())
            allowed = (server.bin_dir,)
        if fake.progression != "manual":
            stack.enter_context(Ticker(fake))  # jobs submitted from a shell progress without polling

        def refused(argv: tuple[str, ...]) -> None:
            fake.refused.append((argv, f"the real {argv[0]!r} was refused (a fake {scheduler} is active)"))

        stack.enter_context(use_default_runner(scheduler, fake))
        stack.enter_context(refuse_real_commands(
            real_names, prefixes=real_prefixes, allowed_dirs=allowed, on_refuse=refused,
            reason=f"{marker} is active: use the fake commands on PATH or the fixture's fake"))
        yield
        if not _already_failed(request.node):
            _check_teardown(fake, marker, options)


def _check_teardown(fake: FakeScheduler, marker: str, options: Mapping[str, Any]) -> None:
    problems = []
    if fake.refused:
        lines = "\n".join(f"  {' '.join(argv)}\n    {message}" for argv, message in fake.refused)
        problems.append(f"{marker}: {len(fake.refused)} command(s) refused during the test:\n{lines}")
    if not options["allow_leftover_jobs"]:
        # jobs whose result arrived may still be exiting
        fake.join(timeout=SUBPROCESS_GRACE if fake.execution == "subprocess" else 0)
        left = [f"{job_id} ({fake.job(job_id).state})" for job_id in fake.queue()]
        if left:
            problems.append(f"{marker}: {len(left)} job(s) left in the queue at the end of the test: "
                            f"{', '.join(left)}. Wait for them or cancel them, or mark the test "
                            f"@pytest.mark.{marker}(allow_leftover_jobs=True).")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def _options_or_fail(request: pytest.FixtureRequest, marker: str, spec: Mapping[str, Option]) -> dict[str, Any]:
    try:
        return marker_options(request.node, marker, spec)
    except ValueError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def fake_slurm(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginFakeSlurm]:
    """A :class:`~cfut.fakes.FakeSlurm` standing in for Slurm for the duration of the test;
    configure it with ``@pytest.mark.fake_slurm(...)`` (see the module docstring)."""
    options = _options_or_fail(request, "fake_slurm", SLURM_OPTIONS)
    fake = PluginFakeSlurm(**{key: options[key] for key in (*_FAKE_KEYS, "min_job_age", "accounting", "kill_wait",
                                                             "first_job_id", "gpus_per_node", "memory_per_node",
                                                             "extern_step")})
    with _activate(request, monkeypatch, fake, marker="fake_slurm", scheduler="Slurm", commands=SLURM_COMMANDS,
                   real_names=REAL_SLURM_COMMANDS, real_prefixes=(), options=options):
        yield fake


@pytest.fixture
def fake_condor(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginFakeCondor]:
    """A :class:`~cfut.fakes.FakeCondor` standing in for HTCondor for the duration of the test;
    configure it with ``@pytest.mark.fake_condor(...)`` (see the module docstring)."""
    options = _options_or_fail(request, "fake_condor", CONDOR_OPTIONS)
    fake = PluginFakeCondor(**{key: options[key] for key in _FAKE_KEYS})
    with _activate(request, monkeypatch, fake, marker="fake_condor", scheduler="HTCondor",
                   commands=CONDOR_COMMANDS, real_names=(), real_prefixes=("condor_",), options=options):
        yield fake


__all__ = ["CONDOR_OPTIONS", "SLURM_OPTIONS", "PluginFakeCondor", "PluginFakeSlurm", "fake_condor", "fake_slurm",
           "marker_options"]
