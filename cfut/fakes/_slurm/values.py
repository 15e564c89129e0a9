"""Slurm's little languages, parsed and printed as Slurm 22.05 does: time limits and durations,
job array specs, hostlists, output file patterns, memory sizes, dates, signals and job ids.

Each function cites the behaviour it reproduces; anything a real Slurm accepts but these do not
model raises :class:`FakeUnsupported` rather than being guessed at.
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import pwd
import re
import signal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .._errors import FakeUnsupported

# Slurm's NO_VAL: what %a expands to in a job that is not an array task (slurm-12_4294967294.out).
NO_VAL = 4294967294

# sbatch(1) --time: "minutes", "minutes:seconds", "hours:minutes:seconds", "days-hours",
# "days-hours:minutes" and "days-hours:minutes:seconds", each with the seconds every field is worth.
_TIME_FORMS: tuple[tuple[re.Pattern[str], tuple[int, ...]], ...] = (
    (re.compile(r"(\d+)"), (60,)),
    (re.compile(r"(\d+):(\d+)"), (60, 1)),
    (re.compile(r"(\d+):(\d+):(\d+)"), (3600, 60, 1)),
    (re.compile(r"(\d+)-(\d+)"), (86400, 3600)),
    (re.compile(r"(\d+)-(\d+):(\d+)"), (86400, 3600, 60)),
    (re.compile(r"(\d+)-(\d+):(\d+):(\d+)"), (86400, 3600, 60, 1)),
)


def parse_time_limit(text: str) -> int | None:
    """sbatch --time as whole minutes (seconds round up, as slurm's time_str2mins); None = no limit.

    ``UNLIMITED``/``INFINITE`` (and ``-1``) mean no limit, and so does 0 ("a time limit of zero
    requests that no time limit be imposed", sbatch(1)). Raises ValueError for anything else.
    """
    text = text.strip()
    if text.upper() in ("UNLIMITED", "INFINITE", "-1"):
        return None
    for pattern, weights in _TIME_FORMS:
        match = pattern.fullmatch(text)
        if match:
            seconds = sum(int(number) * weight for number, weight in zip(match.groups(), weights))
            return math.ceil(seconds / 60) or None
    raise ValueError(f"invalid time limit {text!r}")


def _split_dhms(seconds: int) -> tuple[int, int, int, int]:
    days, rest = divmod(max(0, int(seconds)), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return days, hours, minutes, secs


def squeue_duration(seconds: float) -> str:
    """squeue's TIME and TIME_LIMIT: ``M:SS``, ``H:MM:SS`` or ``D-HH:MM:SS`` (secs2time_str)."""
    days, hours, minutes, secs = _split_dhms(int(seconds))
    if days:
        return f"{days}-{hours:02d}:{minutes:02d}:{secs:02d}"
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def hms_duration(seconds: float) -> str:
    """scontrol's RunTime/TimeLimit and sacct's Elapsed/Timelimit: ``HH:MM:SS`` or ``D-HH:MM:SS``."""
    days, hours, minutes, secs = _split_dhms(int(seconds))
    if days:
        return f"{days}-{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


def squeue_limit(minutes: int | None) -> str:
    return "UNLIMITED" if minutes is None else squeue_duration(minutes * 60)


def hms_limit(minutes: int | None) -> str:
    return "UNLIMITED" if minutes is None else hms_duration(minutes * 60)


def slurm_date(epoch: float | None, missing: str = "Unknown") -> str:
    """Local time as Slurm prints it: ``2026-11-25T12:43:23``."""
    if epoch is None:
        return missing
    return _dt.datetime.fromtimestamp(int(epoch)).strftime("%Y-%m-%dT%H:%M:%S")


# ------------------------------------------------------------------ job arrays


@dataclass(frozen=True)
class ArraySpec:
    """A parsed ``--array``: the task indices in order, and the ``%N`` throttle (None: unlimited)."""

    indices: tuple[int, ...]
    throttle: int | None
    text: str

    @functools.cached_property
    def bounds(self) -> tuple[int, int]:
        """SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_MAX, computed once per array."""
        return min(self.indices), max(self.indices)

    @functools.cached_property
    def task_step(self) -> int:
        """SLURM_ARRAY_TASK_STEP: the step of a single ``first-last:step`` range; 1 for lists
        (observed: ``--array=2,4`` gives 1). Computed once per array, not once per task."""
        steps = {b - a for a, b in zip(self.indices, self.indices[1:])}
        ranged = "," not in self.text and ":" in self.text
        return steps.pop() if ranged and len(steps) == 1 else 1


def parse_array(text: str, max_array_size: int) -> ArraySpec | None:
    """sbatch --array: ``0-9``, ``1,3,5``, ``0-9:2``, combinations, and an optional ``%N``.

    Returns None for an empty spec (sbatch then submits a plain job). Raises ValueError for what
    slurmctld rejects as "Invalid job array specification": malformed text, descending ranges, steps
    of 0, or an index not below MaxArraySize.
    """
    spec = text.strip()
    if not spec:
        return None
    throttle: int | None = None
    if "%" in spec:
        # observed on Slurm 22.05: sbatch reads the limit with strtol into an int, and a limit that is
        # not above 0 is none ("1-3%", "1-3%x", "1-3%-1", "1-3%0": 1-3; "1-3%2x": 1-3%2); the
        # indices before it may be left out for index 0 ("%2", ",%2": 0%2)
        spec, _, limit = spec.partition("%")
        match = re.match(r"\s*([+-]?\d+)", limit)
        number = int(match.group(1)) if match else 0
        number = (min(max(number, -(1 << 63)), (1 << 63) - 1) + (1 << 31)) % (1 << 32) - (1 << 31)
        throttle = number if number > 0 else None
        if not spec.replace(",", ""):
            spec = "0"
    indices: set[int] = set()
    for part in spec.split(","):
        match = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", part)
        if not match:
            raise ValueError(f"invalid array range {part!r}")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        step = int(match.group(3)) if match.group(3) is not None else 1
        if last < first or step < 1 or last >= max_array_size:
            raise ValueError(f"invalid array range {part!r}")
        indices.update(range(first, last + 1, step))
    return ArraySpec(tuple(sorted(indices)), throttle, text.strip())


def index_ranges(indices: Iterable[int]) -> str:
    """``0,2,4`` / ``1-3,7``: how Slurm prints a set of array indices (bit_fmt, no steps)."""
    ordered = sorted(set(indices))
    runs: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        runs.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(runs)


# ------------------------------------------------------------------ hostlists


def expand_hostlist(text: str) -> list[str]:
    """``node[1-3,5],other`` → node1, node2, node3, node5, other (one bracket per name)."""
    names: list[str] = []
    for match in re.finditer(r"([^,\[]+)(?:\[([^\]]*)\])?", text):
        prefix, ranges = match.groups()
        if ranges is None:
            names.append(prefix)
            continue
        for part in ranges.split(","):
            first, _, last = part.partition("-")
            width = len(first)
            for number in range(int(first), int(last or first) + 1):
                names.append(f"{prefix}{number:0{width}d}")
    return names


def compress_counts(counts: Sequence[int]) -> str:
    """Per-node counts as Slurm's environment gives them: runs of one value as ``N(xK)``, joined by
    commas (``2,1``, ``2(x2)``, ``4(x2),1``)."""
    runs: list[list[int]] = []
    for count in counts:
        if runs and runs[-1][0] == count:
            runs[-1][1] += 1
        else:
            runs.append([count, 1])
    return ",".join(str(value) if times == 1 else f"{value}(x{times})" for value, times in runs)


def compress_hostlist(names: Iterable[str]) -> str:
    """``node[1-3,5]`` from node1,node2,node3,node5; a single node stays ``node1``."""
    return _compress(tuple(names))


@functools.lru_cache(maxsize=256)  # every job's environment and every squeue line asks
def _compress(names: tuple[str, ...]) -> str:
    groups: dict[str, list[int]] = {}
    plain: list[str] = []
    for name in names:
        match = re.fullmatch(r"(.*?)(\d+)", name)
        if match:
            groups.setdefault(match.group(1), []).append(int(match.group(2)))
        else:
            plain.append(name)
    parts = list(plain)
    for prefix, numbers in groups.items():
        if len(numbers) == 1:
            parts.append(f"{prefix}{numbers[0]}")
        else:
            parts.append(f"{prefix}[{index_ranges(numbers)}]")
    return ",".join(parts)


# ------------------------------------------------------------------ output file names


def expand_filename(
    pattern: str,
    *,
    job_id: int,
    array_job_id: int | None,
    task_id: int | None,
    name: str,
    user: str,
    node: str | None,
) -> str:
    """sbatch's filename pattern (sbatch(1) "filename pattern"): %A %a %j %J %x %u %N %n %t %%.

    A number after ``%`` zero-pads (``%3a`` → ``007``). A backslash anywhere turns replacement off.
    """
    if "\\" in pattern:
        return pattern.replace("\\", "")

    def number(value: int, width: str) -> str:
        return str(value).zfill(int(width)) if width else str(value)

    def replace(match: re.Match[str]) -> str:
        width, token = match.group(1), match.group(2)
        if token == "%":
            return "%"
        if token == "A":
            return number(array_job_id if array_job_id is not None else job_id, width)
        if token == "a":
            return number(task_id if task_id is not None else NO_VAL, width)
        if token in "jJ":  # %J is jobid.stepid; the batch step shows the job id alone (observed)
            return number(job_id, width)
        if token == "x":
            return name
        if token == "u":
            return user
        if token == "N":
            return node or ""
        if token in "nt":
            return number(0, width)
        raise FakeUnsupported(f"the filename pattern token %{token} in {pattern!r} is not modelled")

    return re.sub(r"%(\d*)(.)", replace, pattern)


# ------------------------------------------------------------------ memory, signals, dates


def parse_memory_mb(text: str) -> int:
    """``--mem`` sizes: a number with an optional K/M/G/T suffix (default megabytes)."""
    match = re.fullmatch(r"(\d+)([KMGT]?)B?", text.strip().upper())
    if not match:
        raise ValueError(f"invalid memory size {text!r}")
    value = int(match.group(1))
    return {"K": max(1, value // 1024) if value else 0, "": value, "M": value,
            "G": value * 1024, "T": value * 1024 * 1024}[match.group(2)]


def memory_text(mb: int) -> str:
    """How scontrol prints a memory size: ``500M``, ``1G``, ``0`` (observed: --mem=0's MinMemoryNode)."""
    if not mb:
        return "0"
    if mb % (1024 * 1024) == 0:
        return f"{mb // (1024 * 1024)}T"
    if mb % 1024 == 0:
        return f"{mb // 1024}G"
    return f"{mb}M"


def parse_signal(text: str) -> int | None:
    """A signal by number, name or SIG-name (``10``, ``USR1``, ``SIGUSR1``); None if unknown."""
    text = text.strip()
    if text.isdigit():
        number = int(text)
        return number if 0 < number < signal.NSIG else None
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        return None


_UNITS = {"": 1, "second": 1, "seconds": 1, "minute": 60, "minutes": 60, "hour": 3600, "hours": 3600,
          "day": 86400, "days": 86400, "week": 604800, "weeks": 604800}


def parse_slurm_date(text: str, now: float) -> float:
    """A date as sbatch --begin and sacct -S/-E take it; seconds since the epoch.

    Modelled: ``now``, ``now[+-]N[seconds|minutes|hours|days|weeks]``, ``today``, ``tomorrow``,
    ``midnight``, ``YYYY-MM-DD[THH:MM[:SS]]``, ``HH:MM[:SS]`` (today), ``MM/DD[/YY]``, ``MMDD[YY]``.
    Anything else raises :class:`FakeUnsupported`.
    """
    text = text.strip()
    base = _dt.datetime.fromtimestamp(now)
    midnight = base.replace(hour=0, minute=0, second=0, microsecond=0)
    lowered = text.lower()
    match = re.fullmatch(r"now(?:([+-])(\d+)([a-z]*))?", lowered)
    if match:
        if not match.group(1):
            return now
        unit = _UNITS.get(match.group(3))
        if unit is None:
            raise FakeUnsupported(f"the time unit in {text!r} is not modelled")
        sign = 1 if match.group(1) == "+" else -1
        return now + sign * int(match.group(2)) * unit
    if lowered in ("today", "midnight"):
        return midnight.timestamp() + (86400 if lowered == "midnight" and midnight < base else 0)
    if lowered == "tomorrow":
        return (midnight + _dt.timedelta(days=1)).timestamp()
    match = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d)(?::(\d\d))?)?", text)
    if match:
        y, mo, d = (int(g) for g in match.groups()[:3])
        h, mi, s = (int(g) if g else 0 for g in match.groups()[3:])
        return _dt.datetime(y, mo, d, h, mi, s).timestamp()
    match = re.fullmatch(r"(\d\d?):(\d\d)(?::(\d\d))?", text)
    if match:
        h, mi, s = (int(g) if g else 0 for g in match.groups())
        return midnight.replace(hour=h, minute=mi, second=s).timestamp()
    match = re.fullmatch(r"(\d\d)/(\d\d)(?:/(\d\d))?|(\d\d)(\d\d)(\d\d)?", text)
    if match:
        groups = match.groups()
        month, day, yy = groups[0:3] if groups[0] else groups[3:6]
        year = 2000 + int(yy) if yy else base.year
        return _dt.datetime(year, int(month), int(day)).timestamp()
    raise FakeUnsupported(f"the date {text!r} is in a form the fake does not model")


# ------------------------------------------------------------------ job ids on the command line


@dataclass(frozen=True)
class JobRef:
    """A job named on a command line: ``12`` (a job, or every task of array 12), ``12_3``, or
    ``12_[1-3,5]``; ``tasks`` is None when no task was named."""

    job_id: int
    tasks: frozenset[int] | None
    text: str


def parse_job_ref(text: str) -> JobRef:
    """Raises ValueError for text that is not a job id."""
    match = re.fullmatch(r"\+?(\d+)(?:_(\d+|\[([\d,\-:]+)\]))?", text.strip())  # strtol: white space, a + sign
    if not match:
        raise ValueError(f"invalid job id {text!r}")
    job_id = int(match.group(1))
    if match.group(2) is None:
        return JobRef(job_id, None, text)
    if match.group(3) is None:
        return JobRef(job_id, frozenset({int(match.group(2))}), text)
    spec = parse_array(match.group(3), max_array_size=2**31)
    assert spec is not None
    return JobRef(job_id, frozenset(spec.indices), text)


#: C's isspace(): what strtol skips before a number.
_C_SPACE = " \t\n\v\f\r"
_LONG_MAX = 2**63 - 1


def c_strtol(text: str) -> tuple[int | None, str]:
    """C's ``strtol(text, &end, 10)``: white space, a sign and digits → the number (clamped to a
    long) and the text after it; ``(None, text)`` when there are no digits (C returns 0 then)."""
    match = re.match(rf"[{_C_SPACE}]*([+-]?)(\d+)", text)
    if not match:
        return None, text
    value = min(int(match.group(2)), _LONG_MAX + (match.group(1) == "-"))
    return (-value if match.group(1) == "-" else value), text[match.end():]


def _c_int(value: int) -> int:
    """A long stored in a C ``int`` (32 bits, two's complement), as slurm's parsers do."""
    return (value + 2**31) % 2**32 - 2**31


def squeue_job_ref(text: str) -> JobRef:
    """One element of ``squeue --jobs`` as squeue reads it: a number, then ``_`` and a task index,
    each read with C's strtol and anything after them ignored. So ``5.0`` and ``5abc`` are job 5,
    and an index that is no number is 0: ``5_*`` and ``5_[1-2]`` name task 0 of array 5 (observed
    on Slurm 22.05). Raises ValueError when the job id is not a positive number."""
    number, rest = c_strtol(text)
    job_id = _c_int(number or 0)
    if job_id <= 0:
        raise ValueError(f"invalid job id {text!r}")
    if not rest.startswith("_"):
        return JobRef(job_id, None, text)
    index = _c_int(c_strtol(rest[1:])[0] or 0)
    if index < 0:
        raise FakeUnsupported(f"squeue --jobs={text}: a negative task index (real squeue crashes) is not modelled")
    return JobRef(job_id, frozenset({index}), text)


def uid_of(text: str) -> int | None:
    """The uid a user name or number stands for, as slurm's uid_from_string looks it up: a name in
    the user database first, else a number (strtol, nothing after it) that is a uid there; None
    when neither (``nosuch``, a uid without a user, the empty string, `` root``)."""
    try:
        return pwd.getpwnam(text).pw_uid
    except KeyError:
        pass
    number, rest = c_strtol(text)
    if number is None or rest or not 0 <= number <= 2**31 - 1:
        return None
    try:
        return pwd.getpwuid(number).pw_uid
    except KeyError:
        return None


# ------------------------------------------------------------------ --signal, --gres, --dependency


@dataclass(frozen=True)
class SignalSpec:
    """sbatch --signal=[{R|B}:]SIG[@TIME]: the signal, seconds before the end, and whether the batch
    shell (``B:``) rather than the job steps gets it."""

    signum: int
    seconds: int
    batch: bool


def parse_signal_spec(text: str) -> SignalSpec:
    """Raises ValueError for what sbatch calls an "Invalid --signal specification" (sbatch(1):
    the time defaults to 60 s and may be up to 65535)."""
    flags, _, rest = text.rpartition(":")
    if flags and not set(flags) <= {"R", "B"}:
        raise ValueError(text)
    if "R" in flags:
        raise FakeUnsupported(f"--signal={text}: the R: flag (reservation end) is not modelled")
    name, at, seconds = rest.partition("@")
    # any whole number but 0 is taken, kept in 16 bits (observed: 99 and 1000 are accepted and fail
    # only when sent; -1 becomes 65535); names are Slurm's, not the real-time ones
    if re.fullmatch(r"-?\d+", name.strip()):
        signum: int | None = int(name) & 0xFFFF or None
    else:
        signum = None if name.strip().upper().removeprefix("SIG").startswith("RT") else parse_signal(name)
    # the time: a whole number up to 65535, empty for 0 (observed: USR1@ is USR1@0)
    if signum is None or (seconds and not seconds.isdigit()) or (seconds and int(seconds) > 65535):
        raise ValueError(text)
    return SignalSpec(signum, int(seconds or 0) if at else 60, "B" in flags)


def parse_gpu_count(text: str, option: str) -> int:
    """The GPU count of --gres=gpu[:type]:N (only gpu is a GRES of the fake) or --gpus*=[type:]N.
    Raises ValueError for a GRES other than gpu (sbatch: "Invalid generic resource (gres)
    specification") and for a count that is not a number."""
    if option == "gres":
        items = [item for item in text.split(",") if item]
        count = 0
        for item in items:
            parts = item.split(":")
            if parts[0] != "gpu":
                raise ValueError(text)
            if len(parts) > 3 or (len(parts) == 3 and not parts[2].isdigit()):
                raise ValueError(text)
            if len(parts) >= 2 and not parts[-1].isdigit():
                raise FakeUnsupported(f"--gres={text}: GPU types are not modelled")
            count += int(parts[-1]) if len(parts) >= 2 else 1
        return count
    parts = text.split(":")
    if len(parts) > 2:
        raise ValueError(text)
    if len(parts) == 2:
        raise FakeUnsupported(f"--{option}={text}: GPU types are not modelled")
    if not parts[0].isdigit():
        raise ValueError(text)
    return int(parts[0])


DEPENDENCY_KINDS = ("after", "afterany", "afterok", "afternotok", "aftercorr", "singleton")


@dataclass(frozen=True)
class DependencyItem:
    """One condition of --dependency: ``kind`` on job ``job_id`` (None for singleton)."""

    kind: str
    job_id: int | None
    delay: int = 0  # after:ID+MINUTES
    task: int | None = None  # afterok:ID_TASK: one task of an array


def parse_dependency(text: str) -> tuple[list[DependencyItem], bool]:
    """--dependency=kind:id[:id...][,kind:id...] (all must hold) or with ``?`` (any may); the items
    and whether any one suffices. Raises ValueError for what slurmctld calls a "Job dependency
    problem"; FakeUnsupported for afterburstbuffer and expand."""
    any_of = "?" in text
    if any_of and "," in text:
        # sbatch(1) says they cannot be mixed; Slurm 22.05 accepts it all the same (observed)
        raise FakeUnsupported(f"--dependency={text}: mixing ',' and '?' is not modelled")
    items = []
    for part in text.split("?" if any_of else ","):
        kind, _, ids = part.partition(":")
        if kind in ("afterburstbuffer", "expand"):
            raise FakeUnsupported(f"--dependency={text}: {kind} is not modelled")
        if kind == "singleton":
            if ids:
                raise ValueError(text)
            items.append(DependencyItem("singleton", None))
            continue
        if kind not in DEPENDENCY_KINDS or not ids:
            raise ValueError(text)
        for job in ids.split(":"):
            job_id, plus, minutes = job.partition("+")
            job_id, underscore, task = job_id.partition("_")
            if underscore and (not task.isdigit() or kind == "aftercorr"):
                raise FakeUnsupported(f"--dependency={text}: only single array tasks (ID_N) are modelled")
            if not job_id.isdigit() or (plus and not minutes.isdigit()):
                raise ValueError(text)
            if plus:
                raise FakeUnsupported(f"--dependency={text}: a delay (+minutes) is not modelled")
            items.append(DependencyItem(kind, int(job_id), task=int(task) if underscore else None))
    return items, any_of
