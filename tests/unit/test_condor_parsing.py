"""The HTCondor backend's builders and parsers, against golden outputs written from the reference
(tests/golden/htcondor/README.md), and checked with HTCondor's own parsers (``htcondor2``)."""

from __future__ import annotations

from pathlib import Path

import pytest

import cfut
from cfut import Phase
from cfut._errors import InvalidArgumentError, SchedulerOutputError
from cfut._runner import CommandResult
from cfut._schedulers.htcondor import HTCondorScheduler, eventlog, queries, submit
from tests.support.condor_checks import htcondor2, needs_htcondor  # HTCondor's own parsers, CONDOR_CONFIG set

GOLDEN = Path(__file__).parent.parent / "golden" / "htcondor"



def golden(name: str) -> str:
    return (GOLDEN / name).read_text()


# ---------------------------------------------------------------- condor_submit


def test_terse_output_gives_cluster_and_count() -> None:
    assert submit.parse_submit_terse(["condor_submit"], golden("submit-terse.stdout")) == ("42", 5)
    assert submit.parse_submit_terse(["condor_submit"], "43.0 - 43.0\n") == ("43", 1)


@pytest.mark.parametrize("name", ["submit-terse-two-clusters.stdout", "submit-default.stdout"])
def test_terse_parser_refuses_other_shapes(name: str) -> None:
    with pytest.raises(SchedulerOutputError, match="cluster"):
        submit.parse_submit_terse(["condor_submit", "-terse"], golden(name))


@pytest.mark.parametrize(("stderr", "transient"), [
    ("submit-missing-executable.stderr", False),
    ("submit-no-queue.stderr", False),
    ("submit-no-schedd.stderr", True),
])
def test_submit_errors_transient_or_not(stderr: str, transient: bool) -> None:
    result = CommandResult(("condor_submit",), 1, "Submitting job(s)", golden(stderr))
    assert HTCondorScheduler.is_transient(result) is transient


# ---------------------------------------------------------------- arguments and descriptions


@pytest.mark.parametrize(("arg", "quoted"), [
    ("plain", "plain"),
    ("", "''"),
    ("two words", "'two words'"),
    ("it's", "'it''s'"),
    ('say "hi"', """'say ""hi""'"""),
    ('a"b', 'a""b'),
    ("back\\slash", "back\\slash"),
])
def test_new_syntax_quoting(arg: str, quoted: str) -> None:
    assert submit.quote_argument(arg) == quoted


def test_reference_example_of_new_syntax() -> None:
    # The manual's example: one ""two"" 'spacey ''quoted'' argument' → one, "two", spacey 'quoted' argument
    value = submit.arguments_value(["one", '"two"', "spacey 'quoted' argument"])
    assert value == """"one ""two"" 'spacey ''quoted'' argument'\""""


def test_line_breaks_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="line break"):
        submit.quote_argument("a\nb")
    with pytest.raises(InvalidArgumentError, match="queue"):
        submit.check_extra_line("queue 5")
    with pytest.raises(InvalidArgumentError, match="executable"):
        submit.check_extra_line("Executable = /bin/true")
    assert submit.check_extra_line("periodic_remove = JobStatus == 5") == "periodic_remove = JobStatus == 5"


def _spec(workdir: str, **kw: object) -> submit.SubmitSpec:
    base = dict(
        executable=submit.escape_macros("/opt/py $dir/bin/python3"),
        arguments=("-m", "cfut.remote", submit.escape_macros(f"{workdir}/k.") + "$(ProcId).in"),
        log=f"{workdir}/e.events.log", output=submit.escape_macros(f"{workdir}/k.") + "$(ProcId).log",
        initialdir=workdir, count=3, batch_key="k", resources=(("request_cpus", "2"), ("request_memory", "4 GB")),
        requirements='OpSys == "LINUX"', attributes=(("ProjectName", '"physics"'),),
        extra_lines=("periodic_remove = JobStatus == 5",),
    )
    base.update(kw)
    return submit.SubmitSpec(**base)  # type: ignore[arg-type]


@needs_htcondor
def test_htcondor_parses_the_description() -> None:
    workdir = "/tmp/it's a \"dir\""
    text = submit.submit_description(_spec(workdir))
    sub = htcondor2.Submit(text)
    assert sub.getQArgs() == "3"
    assert sub.expand("executable") == "/opt/py $dir/bin/python3"
    assert sub["request_cpus"] == "2" and sub["request_memory"] == "4 GB"
    assert sub["MY.CfutBatch"] == '"k"' and sub["MY.ProjectName"] == '"physics"'
    assert sub["getenv"] == "True"
    assert sub.expand("output") == f"{workdir}/k.$(ProcId).log".replace("$(ProcId)", "0")
    args = sub.expand("arguments")
    assert args == """"-m cfut.remote '/tmp/it''s a ""dir""/k.0.in'\""""


# ---------------------------------------------------------------- the event log


def test_event_log_golden() -> None:
    events = eventlog.parse_events(golden("events-iso.log"))
    statuses = {}
    for event in events:
        status = eventlog.status_from_event(event)
        if status is not None:
            statuses[event.job_id] = statuses.get(event.job_id, []) + [status]
    assert [s.state for s in statuses["123.0"]] == ["IDLE", "RUNNING", "COMPLETED"]
    assert statuses["123.0"][-1].exit_code == 0 and statuses["123.0"][-1].signal is None
    assert statuses["123.1"][-1].signal == 9 and statuses["123.1"][-1].exit_code is None
    held = statuses["123.2"][1]
    assert held.state == "HELD" and held.phase is Phase.QUEUED, "held jobs wait in the queue"
    assert dict(held.details) == {"hold_code": 6, "hold_subcode": 2}
    assert held.reason.startswith("Error from slot1@ep1.example: Failed to execute")
    assert [s.state for s in statuses["123.2"]] == ["IDLE", "HELD", "IDLE", "RUNNING", "IDLE", "REMOVED"]
    assert statuses["123.2"][-1].reason == "via condor_rm (by user alice)"


def test_event_log_legacy_dates_and_texts() -> None:
    events = eventlog.parse_events(golden("events-legacy.log"))
    assert [(e.code, e.job_id) for e in events] == [(0, "236467.0"), (9, "236467.0"), (0, "236467.1"),
                                                    (12, "236467.1")]
    removed = eventlog.status_from_event(events[1])
    assert removed is not None and removed.state == "REMOVED" and "bob" in removed.reason
    held = eventlog.status_from_event(events[3])
    assert held is not None and dict(held.details) == {"hold_code": 34, "hold_subcode": 0}
    assert "cgroup memory limit" in held.reason


@needs_htcondor
@pytest.mark.parametrize("name", ["events-iso.log", "events-legacy.log"])
def test_htcondor_reads_golden_logs_as_we_do(name: str) -> None:
    ours = [(e.code, e.cluster, e.proc) for e in eventlog.parse_events(golden(name))]
    theirs = [(int(e.type), e.cluster, e.proc) for e in htcondor2.JobEventLog(str(GOLDEN / name)).events(0)]
    assert ours == theirs


def test_reader_is_incremental_and_waits_for_the_closing_line(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    reader = eventlog.EventLogReader(str(path))
    assert reader.read_new() == []  # HTCondor creates the file at the first event
    text = golden("events-iso.log")
    cut = text.index("001 (123.000.000)") + 20  # in the middle of an event
    path.write_text(text[:cut])
    first = reader.read_new()
    assert [e.code for e in first] == [0, 0, 0]
    offset = reader.offset
    assert text[:offset].endswith("...\n")
    with path.open("a") as handle:
        handle.write(text[cut:])
    rest = reader.read_new()
    assert [e.code for e in rest] == [1, 6, 5, 1, 5, 12, 13, 1, 4, 9]
    assert reader.read_new() == []
    assert reader.offset == len(text.encode())


def test_damaged_record_is_skipped_not_fatal() -> None:
    text = "garbage line\nmore\n...\n" + golden("events-legacy.log")
    assert len(eventlog.parse_events(text)) == 4


# ---------------------------------------------------------------- condor_q, condor_history, condor_rm


def test_condor_q_af_golden() -> None:
    statuses = queries.parse_af_status(["condor_q"], golden("q-af-j.stdout"))
    assert statuses["34524642.0"].state == "RUNNING" and statuses["34524642.0"].phase is Phase.RUNNING
    held = statuses["34524643.0"]
    assert held.state == "HELD" and dict(held.details) == {"hold_code": 6, "hold_subcode": 2}
    assert held.reason == "Error from slot1@host: Failed to execute '/x' with arguments a b"
    assert statuses["34524644.0"].phase is Phase.QUEUED and statuses["34524644.0"].reason == ""


def test_condor_history_af_golden() -> None:
    statuses = queries.parse_af_status(["condor_history"], golden("history-af-j.stdout"))
    assert (statuses["7.0"].state, statuses["7.0"].exit_code, statuses["7.0"].signal) == ("COMPLETED", 3, None)
    assert (statuses["7.1"].exit_code, statuses["7.1"].signal) == (None, 9)
    assert statuses["7.2"].state == "REMOVED" and statuses["7.2"].reason == "via condor_rm (by user alice)"


def test_af_parser_refuses_garbage() -> None:
    with pytest.raises(SchedulerOutputError):
        queries.parse_af_status(["condor_q"], "-- Schedd: x : <1.2.3.4:9618> @ 11/11/20 14:44:06\n")


def test_condor_rm_outcomes_golden() -> None:
    result = CommandResult(("condor_rm",), 1, golden("rm-mixed.stdout"), golden("rm-mixed.stderr"))
    settled, refused = queries.parse_rm(result)
    assert settled == {"42.0", "42.1", "42.2"} and refused == {"42.3"}


def test_error_classes() -> None:
    import cfut

    assert queries.error_class("HELD") is cfut.JobHeld
    assert queries.error_class("REMOVED") is cfut.JobCancelled
    assert queries.error_class("COMPLETED") is cfut.JobDied
    assert HTCondorScheduler.task_id("12", None) == "12.0" and HTCondorScheduler.task_id("12", 3) == "12.3"


# ---------------------------------------------------------------- condor_status (free job slots)


@pytest.mark.parametrize(("output", "slots"), [
    ("Unclaimed 3\nClaimed 1\nUnclaimed 4\n", 7),  # partitionable slots' CPUs left, dynamic slots claimed
    ("Claimed 1\nClaimed 1\nOwner 1\n", 3),  # none free: every slot's CPUs (one wave as they free up)
    ("Unclaimed 0\nClaimed 4\n", 4),  # a partitionable slot with nothing left
    ("", None),  # an empty pool, or a collector that lists nothing
    ("Unclaimed undefined\n", None),  # a slot without Cpus: no answer rather than a wrong one
    ("Unclaimed\n", None),
    ("Unclaimed undefined\nUnclaimed 4\n\n", 4),  # lines that do not read are left out, not the answer
])
def test_free_slots_from_condor_status(output: str, slots: int | None) -> None:
    assert queries.parse_slots(output) == slots


def test_free_slots_asks_condor_status_and_survives_its_failure(tmp_path: Path) -> None:
    from cfut.fakes import FakeCondor

    fake = FakeCondor(nodes=3, cpus_per_node=2)
    with cfut.CondorExecutor(runner=fake, workdir=tmp_path) as executor:
        scheduler = executor._scheduler
        assert scheduler.free_slots() == 6
        assert fake.calls[-1] == ("condor_status", *queries.SLOTS_ARGV[1:])
        fake.fail_next("condor_status")
        assert scheduler.free_slots() is None
