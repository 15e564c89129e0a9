"""Independent fidelity checks of what FakeCondor and CondorExecutor produce, with HTCondor's own
parsers from the ``htcondor`` wheel: every event log the fake wrote is read by
``htcondor2.JobEventLog`` and must agree with our reader event for event (codes, jobs, return values,
signals, hold codes); every submit description is parsed by ``htcondor2.Submit``."""

from __future__ import annotations

import os
import tempfile

import pytest

from cfut._schedulers.htcondor import eventlog
from cfut.fakes.condor import FakeCondor

os.environ["CONDOR_CONFIG"] = "/dev/null"  # no pool configuration is looked for
try:
    import classad2
    import htcondor2
except ImportError as exc:  # pragma: no cover - wheels exist where we test
    htcondor2 = classad2 = None
    MISSING = f"the htcondor package cannot be imported: {exc}"
else:
    MISSING = ""
if MISSING and os.environ.get("CI", "").lower() == "true":  # CI installs the test extra: a skip would hide it
    raise ImportError(MISSING)
needs_htcondor = pytest.mark.skipif(htcondor2 is None, reason=MISSING or "-")


def check_event_text(text: str) -> int:
    """Read ``text`` with htcondor2 and with cfut; assert they agree. Returns the number of events."""
    ours = eventlog.parse_events(text)
    if htcondor2 is None:
        pytest.skip(MISSING)
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as handle:
        handle.write(text)
    try:
        theirs = list(htcondor2.JobEventLog(handle.name).events(0))
    finally:
        os.unlink(handle.name)
    assert len(theirs) == len(ours), (len(theirs), len(ours))
    for mine, event in zip(ours, theirs):
        assert (mine.code, mine.cluster, mine.proc) == (int(event.type), event.cluster, event.proc)
        status = eventlog.status_from_event(mine)
        data = dict(event.items())
        if mine.code == 5:
            assert status is not None
            if data["TerminatedNormally"]:
                assert status.exit_code == data["ReturnValue"] and status.signal is None
            else:
                assert status.signal == data["TerminatedBySignal"] and status.exit_code is None
        elif mine.code == 12:
            assert status is not None
            assert dict(status.details) == {"hold_code": data["HoldReasonCode"],
                                            "hold_subcode": data["HoldReasonSubCode"]}
            assert status.reason == data.get("HoldReason", "")
        elif mine.code == 9:
            assert status is not None and status.reason == data.get("Reason", "")
    return len(ours)


def check_description(text: str) -> None:
    if htcondor2 is None:
        pytest.skip(MISSING)
    sub = htcondor2.Submit(text)
    queue_args = sub.getQArgs().strip()
    if not queue_args:  # a bare "queue": one job
        pass
    elif queue_args.isdigit():
        assert int(queue_args) >= 1
    else:  # an item list: HTCondor must be able to expand it
        assert list(sub.itemdata()), queue_args
    assert "executable" in sub
    if text.startswith("# Written by cfut"):  # the executor's own descriptions carry all of these
        for key in ("arguments", "log", "output", "error", "initialdir"):
            assert key in sub, key
    # Every macro written expands (ProcId, DOLLAR, Item...); nothing is left unexpanded.
    for key in ("executable", "arguments", "log", "output", "initialdir"):
        if key in sub:
            assert "$(" not in sub.expand(key), (key, sub.expand(key))


def check_fake(fake: FakeCondor) -> int:
    """Check every description and every event log this fake saw; returns the number of events."""
    for text in fake.descriptions:
        check_description(text)
    return sum(check_event_text(text) for text in fake.written_events.values())
