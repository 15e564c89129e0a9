"""HTCondor's job event log: the ``...``-framed text records, read incrementally, and what each says.

Event numbers and body lines follow the HTCondor manual's "Job Event Log Codes" (000 submitted,
001 executing, 004 evicted, 005 terminated, 009 aborted, 012 held, 013 released, ...).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

from ..._status import JobStatus, Phase

log = logging.getLogger("cfut")


@dataclass(frozen=True)
class LogEvent:
    """One event of a job event log: its number, job, time text, first-line text and body lines."""

    code: int
    cluster: int
    proc: int
    time: str
    text: str
    body: tuple[str, ...] = ()

    @property
    def job_id(self) -> str:
        return f"{self.cluster}.{self.proc}"


_HEADER = re.compile(
    r"(\d{3}) \((\d+)\.(\d+)\.(\d+)\) "
    r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?Z?|\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?Z?) ?(.*)"
)


def parse_events(text: str) -> list[LogEvent]:
    """Parse complete ``...``-framed events. An event whose header cannot be read is skipped
    (logged), so one damaged record cannot stop the monitor."""
    events = []
    lines: list[str] = []
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        if line != "...":
            lines.append(line)
            continue
        while lines and not lines[0].strip():
            lines.pop(0)
        if lines:
            match = _HEADER.fullmatch(lines[0])
            if match:
                code, cluster, proc, _sub, when, first = match.groups()
                events.append(LogEvent(int(code), int(cluster), int(proc), when, first, tuple(lines[1:])))
            else:
                log.warning("skipping an unreadable job event log record: %r", lines[:3])
        lines = []
    return events


class EventLogReader:
    """Reads a job event log incrementally: each call returns only the events appended since the
    last, and never reads the file from the start again. An event whose closing ``...`` is not
    written yet is left for the next call."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0

    def read_new(self) -> list[LogEvent]:
        """New complete events; raises OSError when the file cannot be read (a missing file is
        simply no news: HTCondor creates it at the first event)."""
        try:
            with open(self.path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size < self.offset:  # truncated or replaced: start over rather than miss events
                    log.warning("job event log %s shrank; reading it again from the start", self.path)
                    self.offset = 0
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n...\n")
        if end < 0:
            end = len(data) - 4 if data.startswith(b"...\n") else -1
            if end < 0:
                return []
        else:
            end += 1
        chunk = data[: end + 4]
        self.offset += len(chunk)
        return parse_events(chunk.decode(errors="replace"))


_NORMAL = re.compile(r"\s*\(1\) Normal termination \(return value (-?\d+)\)")
_ABNORMAL = re.compile(r"\s*\(0\) Abnormal termination \(signal (\d+)\)")
_HOLD_CODE = re.compile(r"\s*Code (-?\d+) Subcode (-?\d+)")


def status_from_event(event: LogEvent) -> JobStatus | None:
    """What an event says about its job's status; None for events that change nothing
    (image size, file transfer, ...)."""
    code = event.code
    body = [line.strip() for line in event.body]
    if code == 0:
        return JobStatus("IDLE", Phase.QUEUED)
    if code in (1, 11):  # execute, unsuspended
        return JobStatus("RUNNING", Phase.RUNNING)
    if code == 10:
        return JobStatus("SUSPENDED", Phase.RUNNING)
    if code in (4, 7, 13):  # evicted (requeued), shadow exception (requeued), released
        reason = {4: "evicted", 7: "shadow exception", 13: "released"}[code]
        if code in (7, 13) and body and body[0]:
            reason = f"{reason}: {body[0]}"
        return JobStatus("IDLE", Phase.QUEUED, reason)
    if code == 5:
        for line in event.body:
            normal = _NORMAL.match(line)
            if normal:
                return JobStatus("COMPLETED", Phase.FINISHED, exit_code=int(normal.group(1)))
            abnormal = _ABNORMAL.match(line)
            if abnormal:
                return JobStatus("COMPLETED", Phase.FINISHED, "killed by a signal", signal=int(abnormal.group(1)))
        return JobStatus("COMPLETED", Phase.FINISHED)
    if code == 9:
        return JobStatus("REMOVED", Phase.FINISHED, body[0] if body else "")
    if code == 12:
        reason = body[0] if body and not _HOLD_CODE.fullmatch(event.body[0]) else ""
        hold_code = hold_subcode = None
        for line in event.body:
            match = _HOLD_CODE.fullmatch(line)
            if match:
                hold_code, hold_subcode = int(match.group(1)), int(match.group(2))
        return JobStatus("HELD", Phase.QUEUED, reason,
                         details=(("hold_code", hold_code), ("hold_subcode", hold_subcode)))
    return None
