"""Small helpers the integration tests use to look at the real cluster directly."""

from __future__ import annotations

import subprocess


def squeue_states(job_ids: list[str], all_states: bool = True) -> dict[str, str]:
    argv = ["squeue", "--noheader", f"--jobs={','.join(job_ids)}", "--format=%i %T"]
    if all_states:
        argv.insert(2, "--states=all")
    out = subprocess.run(argv, capture_output=True, text=True).stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def queued_jobs_named(prefix: str) -> list[str]:
    """Jobs still pending or running whose name starts with ``prefix`` (cfut names jobs cfut.<key>)."""
    out = subprocess.run(["squeue", "--noheader", "--format=%i %j"], capture_output=True, text=True,
                         check=True).stdout
    rows = [line.split() for line in out.splitlines() if line.strip()]
    return [row[0] for row in rows if len(row) > 1 and row[1].startswith(prefix)]


def scancel(job_id: str) -> None:
    subprocess.run(["scancel", job_id], check=True)
