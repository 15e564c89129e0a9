"""A differential state machine: random submissions, cancellations, queries and waits, sent to FakeSlurm
and (when one answers) to a real Slurm cluster, with normalised replies compared.

Replies are compared where both clusters are settled (every job that can end has ended), so that
the real scheduler's one-second passes do not make timing differences. The fake alone is also held
to a small model of what each action must lead to. Few short runs against real Slurm (its cost stays
under a minute), more against the fake.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from backends import Backend, FakeBackend, RealBackend, read_config
from conftest import require_real_slurm
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from scenarios import ACCOUNTING

SCRIPTS = {
    "true": ("true", "COMPLETED", "0:0"),
    "exit 2": ("exit 2", "FAILED", "2:0"),
    "sleep": ("sleep 1", "COMPLETED", "0:0"),
    "trap": ("trap '' TERM; sleep 1", "COMPLETED", "0:0"),
    "signal": ("kill -USR1 $$", "FAILED", "0:10"),
}
OPTIONS = {"plain": (), "held": ("--begin=now+1hour",), "array": ("--array=0-1",), "limit": ("--time=0:30",)}


class Differential(RuleBasedStateMachine):
    real = False

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory(prefix="cfut-differential-")
        self.backends: list[Backend] = []
        self.jobs: list[tuple[str, str, str]] = []  # (key, script, options) in submission order
        self.ids: list[dict[str, str]] = []  # per backend: key -> job id
        self.cancelled: set[str] = set()

    @initialize(script=st.sampled_from(sorted(SCRIPTS)), options=st.sampled_from(sorted(OPTIONS)))
    def start(self, script: str, options: str) -> None:
        for kind in ("fake", "real") if self.real else ("fake",):
            directory = Path(self.tmp.name) / kind
            directory.mkdir()
            self.backends.append(RealBackend(directory) if kind == "real" else FakeBackend(directory))
            self.ids.append({})
        self.submit(script, options)  # every run has at least one job to compare

    @rule(script=st.sampled_from(sorted(SCRIPTS)), options=st.sampled_from(sorted(OPTIONS)))
    def submit(self, script: str, options: str) -> None:
        key = f"k{len(self.jobs)}"
        self.jobs.append((key, script, options))
        for backend, ids in zip(self.backends, self.ids):
            ids[key] = backend.sbatch(f"--job-name={key}", *OPTIONS[options], f"--wrap={SCRIPTS[script][0]}")

    @precondition(lambda self: self.jobs)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from([k for k, _, _ in self.jobs]))
        replies = [b.describe(b.run("scancel", ids[key])) for b, ids in zip(self.backends, self.ids)]
        assert len(set(replies)) == 1, replies
        self.cancelled.add(key)

    @precondition(lambda self: self.jobs)
    @rule()
    def settle_and_compare(self) -> None:
        """Wait until both clusters settle, then compare squeue's states and sacct's final records."""
        reports = []
        accounts = []
        for backend, ids in zip(self.backends, self.ids):
            every = list(ids.values())
            held = {ids[k] for k, _, o in self.jobs if o == "held" and k not in self.cancelled}
            live = [i for i in every if i not in held]
            if live:
                backend.wait_until(lambda b=backend, j=live: b.ended(*j), 30, "settled")
            result = backend.run("squeue", "--noheader", "--states=all", f"--jobs={','.join(every)},4000009",
                                 "--format=%j|%T")
            reports.append(sorted(result.stdout.splitlines()))
            if live:  # sacct lags squeue by a moment: wait for the final records
                backend.wait_until(lambda b=backend, j=live: b.accounted(*j), 30, "accounted")
                result = backend.run("sacct", "--noheader", "--parsable2", "--allocations",
                                     f"--jobs={','.join(live)}", "--format=JobName,State,ExitCode")
                accounts.append(sorted(backend.norm(result.stdout).splitlines()))
        assert all(r == reports[0] for r in reports), reports
        assert all(a == accounts[0] for a in accounts), accounts
        self.check_model(reports[0])

    def check_model(self, lines: list[str]) -> None:
        """What each action must lead to, whatever the cluster."""
        seen = {}
        for line in lines:
            name, state = line.split("|")
            seen.setdefault(name, set()).add(state)
        for key, script, options in self.jobs:
            states = seen.get(key, set())
            if key in self.cancelled:
                assert states <= {"CANCELLED", *[SCRIPTS[script][1]], "FAILED"}, (key, states)
            elif options == "held":
                assert states == {"PENDING"}, (key, states)
            else:
                assert states == {SCRIPTS[script][1]}, (key, script, options, states)

    @invariant()
    def single_unknown_id_fails(self) -> None:
        for backend in self.backends[:1]:
            assert backend.run("squeue", "--jobs=4000001").returncode == 1

    def teardown(self) -> None:
        try:
            if self.jobs:
                self.settle_and_compare()  # every run ends with a comparison of the settled clusters
        finally:
            for backend in self.backends:
                backend.cleanup_jobs()
                backend.close()
            self.tmp.cleanup()


class FakeOnly(Differential):
    real = False


class FakeAndReal(Differential):
    real = True


_common = {"deadline": None, "suppress_health_check": list(HealthCheck), "derandomize": False}


@pytest.mark.fake
@pytest.mark.slow
def test_fake_against_the_model() -> None:
    run_state_machine_as_test(FakeOnly, settings=settings(max_examples=8, stateful_step_count=6, **_common))


@pytest.mark.slurm
@pytest.mark.slow
def test_fake_against_real_slurm() -> None:
    require_real_slurm()
    config = read_config()
    if not ACCOUNTING.ok(config):
        pytest.skip(ACCOUNTING.reason(config))  # its comparisons read sacct
    if config.cpus < 1 or config.max_array_size < 2:
        pytest.skip(f"cluster {config.name!r} cannot run this machine's arrays of 2 tasks")
    run_state_machine_as_test(FakeAndReal, settings=settings(max_examples=3, stateful_step_count=4, **_common))
