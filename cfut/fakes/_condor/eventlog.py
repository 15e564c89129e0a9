"""The job event log ("user log") as HTCondor writes it, in its text framing.

Each event is a header ``NNN (CCC.PPP.SSS) YYYY-MM-DD HH:MM:SS `` followed by the body's first text,
TAB-indented body lines, and a line that is exactly ``...``. Ids are zero-padded to at least three
digits; the date is the ISO form (local time) that is the default since HTCondor 9. Formats are those
of ``condor_event.cpp`` as quoted in the project's HTCondor reference (section 6); every log the
tests produce is read back with ``htcondor2.JobEventLog`` to prove it.
"""

from __future__ import annotations

import os
import time

SUBMIT, EXECUTE, EVICTED, TERMINATED, ABORTED, HELD, RELEASED = 0, 1, 4, 5, 9, 12, 13
#: The events the fake writes, by code, with HTCondor's names for them (ULogEventNumber).
EVENT_NAMES = {SUBMIT: "ULOG_SUBMIT", EXECUTE: "ULOG_EXECUTE", EVICTED: "ULOG_JOB_EVICTED",
               TERMINATED: "ULOG_JOB_TERMINATED", ABORTED: "ULOG_JOB_ABORTED", HELD: "ULOG_JOB_HELD",
               RELEASED: "ULOG_JOB_RELEASED"}

_USAGE = "Usr 0 00:00:00, Sys 0 00:00:00"


def header(code: int, cluster: int, proc: int, epoch: float) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))
    return f"{code:03d} ({cluster:03d}.{proc:03d}.000) {stamp} "


def _usage_block(names: tuple[str, ...]) -> str:
    return "".join(f"\t\t{_USAGE}  -  {name} Usage\n" for name in names)


def _bytes_block(names: tuple[str, ...]) -> str:
    return "".join(f"\t0  -  {name} By Job\n" for name in names)


def submit_body(host: str) -> str:
    return f"Job submitted from host: {host}\n"


def execute_body(host: str) -> str:
    return f"Job executing on host: {host}\n"


def terminated_body(*, exit_code: int | None, signal: int | None, iso_end: str) -> str:
    """005: normal termination with a return value, or abnormal with a signal (no core file)."""
    text = "Job terminated.\n"
    if signal is not None:
        text += f"\t(0) Abnormal termination (signal {signal})\n\t(0) No core file\n"
        toe = f"with signal {signal}"
    else:
        text += f"\t(1) Normal termination (return value {exit_code or 0})\n"
        toe = f"with exit-code {exit_code or 0}"
    text += _usage_block(("Run Remote", "Run Local", "Total Remote", "Total Local"))
    text += _bytes_block(("Run Bytes Sent", "Run Bytes Received", "Total Bytes Sent", "Total Bytes Received"))
    text += f"\tJob terminated of its own accord at {iso_end} {toe}.\n"
    return text


def aborted_body(reason: str) -> str:
    return f"Job was aborted.\n\t{reason}\n"


def held_body(reason: str, code: int, subcode: int) -> str:
    return f"Job was held.\n\t{reason or 'Reason unspecified'}\n\tCode {code} Subcode {subcode}\n"


def released_body(reason: str) -> str:
    return f"Job was released.\n\t{reason}\n"


def evicted_body() -> str:
    """004 for a job that was stopped and goes back to idle (not checkpointed)."""
    return ("Job was evicted.\n\t(0) CPU times\n" + _usage_block(("Run Remote", "Run Local"))
            + _bytes_block(("Run Bytes Sent", "Run Bytes Received")))


def append_event(path: str, code: int, cluster: int, proc: int, epoch: float, body: str) -> str:
    """Append one event, framed, in one write (the schedd and shadow lock the log for this);
    returns the text written."""
    text = header(code, cluster, proc, epoch) + body + "...\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    return text
