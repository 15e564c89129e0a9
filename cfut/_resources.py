"""Resources a job asks for: Slurm's ``sbatch`` options, HTCondor's ``request_*`` keys, and
:class:`Resources`, the scheduler-neutral spelling both executors accept.

Everything is checked here, when the executor (or :meth:`~cfut.ClusterExecutor.options`) is made,
never by a refusal from the scheduler minutes later: each bad value raises
:class:`~cfut.InvalidArgumentError` naming the keyword and the value. Validated options are frozen
and hashable (:class:`JobOptions`): the executor carries one on each batch, and calls with different
options are never submitted in one array.

Units and formats are the schedulers' own:

* Slurm memory (``--mem``, ``--mem-per-cpu``): a whole number with an optional unit ``K``, ``M``,
  ``G`` or ``T`` (powers of 1024; ``B`` may follow, as sbatch accepts: ``"4GB"``); a bare number is
  megabytes, as in sbatch. ``mem=0`` asks for all the memory of each node (sbatch's meaning).
* Slurm time (``--time``): ``minutes``, ``minutes:seconds``, ``hours:minutes:seconds``,
  ``days-hours``, ``days-hours:minutes``, ``days-hours:minutes:seconds``, ``0``, ``-1``,
  ``INFINITE`` or ``UNLIMITED`` (sbatch(1)); a Python ``int`` is minutes (sbatch's unit for a bare
  number), a :class:`datetime.timedelta` is rendered as ``days-hours:minutes:seconds``.
* HTCondor memory and disk: a bare number is **megabytes** for ``request_memory`` and **KiB** for
  ``request_disk`` (HTCondor's units); a unit ``K``, ``M``, ``G``, ``T`` (``KB``, ``MB``, ... with
  or without a space) may follow.
"""

from __future__ import annotations

import datetime
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._errors import InvalidArgumentError

# ---------------------------------------------------------------- the neutral spelling


@dataclass(frozen=True)
class Resources:
    """What one job needs, in words both Slurm and HTCondor understand.

    Pass it as ``resources=`` to :class:`~cfut.SlurmExecutor`, :class:`~cfut.CondorExecutor` or
    :meth:`executor.options() <cfut.ClusterExecutor.options>`. Each field maps to one option:

    ============  ===========================  ===========================================
    field         Slurm (``sbatch``)            HTCondor (submit description)
    ============  ===========================  ===========================================
    ``cpus``      ``--cpus-per-task``           ``request_cpus``
    ``memory``    ``--mem`` (per node)          ``request_memory`` (in MB)
    ``time``      ``--time``                    ``allowed_execute_duration`` (seconds): a job
                                                that runs longer is held by HTCondor and fails
                                                with :class:`~cfut.JobHeld`
    ``gpus``      ``--gpus``                    ``request_gpus``
    ``job_name``  ``--job-name``                ``batch_name``
    ``partition`` ``--partition``               refused: HTCondor has no partitions (use
                                                ``requirements=``)
    ============  ===========================  ===========================================

    Args:
        cpus: CPUs for the job's one task (a positive ``int``).
        memory: memory for the job: an ``int`` in megabytes, or a string with a unit
            (``"512M"``, ``"4G"``, ``"4GB"``; ``K``/``M``/``G``/``T`` are powers of 1024).
        time: the job's time limit: a :class:`datetime.timedelta`, or a string in Slurm's formats
            (``"00:10:00"``, ``"1-12:00:00"``, ``"90"`` minutes). A bare ``int`` is refused here,
            since Slurm reads it as minutes and Python code usually means seconds.
        gpus: GPUs for the job (a positive ``int``).
        job_name: the name ``squeue``/``condor_q`` show (no line breaks).
        partition: a Slurm partition (or a comma-separated list).

    Raises:
        InvalidArgumentError: a bad value, named in the message.
    """

    cpus: int | None = None
    memory: int | str | None = None
    time: datetime.timedelta | str | None = None
    gpus: int | None = None
    job_name: str | None = None
    partition: str | None = None

    def __post_init__(self) -> None:
        check_positive(self.cpus, "Resources(cpus=)")
        if self.memory is not None:
            memory_mb(self.memory, "Resources(memory=)", allow_zero=False)
        if self.time is not None:
            if isinstance(self.time, (int, float)) and not isinstance(self.time, bool):  # type: ignore[unreachable]
                raise InvalidArgumentError(
                    f"Resources(time=) needs a timedelta or a Slurm time string such as '00:10:00', not the bare "
                    f"number {self.time!r} (Slurm reads a bare number as minutes; say timedelta(minutes=...))")
            slurm_time(self.time, "Resources(time=)")
        check_positive(self.gpus, "Resources(gpus=)")
        if self.job_name is not None:
            check_text(self.job_name, "Resources(job_name=)")
        if self.partition is not None:
            check_word(self.partition, "Resources(partition=)")

    def seconds(self) -> int | None:
        """The time limit in seconds (None without a limit or for an unlimited one)."""
        return None if self.time is None else time_seconds(slurm_time(self.time, "Resources(time=)"))


# ---------------------------------------------------------------- value checks


def check_positive(value: object, what: str) -> int | None:
    """None, or a positive ``int`` (not a bool); else InvalidArgumentError naming ``what``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(f"{what} must be a positive whole number, got {value!r}")
    return value


def check_text(value: object, what: str) -> str:
    """A non-empty string without line breaks or NUL (it goes on a command line or into a file)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{what} must be a non-empty string, got {value!r}")
    if any(c in value for c in "\n\r\0"):
        raise InvalidArgumentError(f"{what} must not contain a line break or NUL, got {value!r}")
    return value


def check_word(value: object, what: str) -> str:
    """A name such as a partition, account or QOS: no whitespace."""
    text = check_text(value, what)
    if any(c.isspace() for c in text):
        raise InvalidArgumentError(f"{what} must not contain whitespace, got {value!r}")
    return text


_MEMORY = re.compile(r"(\d+)\s*([KMGT]?)(?:I?B)?", re.IGNORECASE)
_UNIT_MB = {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024 * 1024}


def memory_mb(value: object, what: str, *, allow_zero: bool = False) -> int:
    """Megabytes (rounded up) from an ``int`` (MB) or ``"<n>[K|M|G|T][B]"``."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidArgumentError(f"{what} must be megabytes as an int or a string with a unit such as '4G', "
                                   f"got {value!r}")
    if isinstance(value, int):
        mb = value
    else:
        match = _MEMORY.fullmatch(value.strip())
        if match is None:
            raise InvalidArgumentError(
                f"{what} must be a whole number with an optional unit K, M, G or T (powers of 1024), such as "
                f"'4G' or '1536M', got {value!r}")
        number, unit = int(match.group(1)), match.group(2).upper()
        mb = -(-number // 1024) if unit == "K" else number * int(_UNIT_MB[unit])
    if mb < 0 or (mb == 0 and not allow_zero):
        raise InvalidArgumentError(f"{what} must be {'at least 0' if allow_zero else 'more than 0'} MB, got "
                                   f"{value!r}")
    return mb


def slurm_memory(value: object, what: str, *, allow_zero: bool = False) -> str:
    """A Slurm memory size as ``sbatch`` takes it: ``"<n>[K|M|G|T]"`` (a bare number is MB)."""
    memory_mb(value, what, allow_zero=allow_zero)  # validates
    if isinstance(value, int):
        return str(value)
    assert isinstance(value, str)
    match = _MEMORY.fullmatch(value.strip())
    assert match is not None
    return match.group(1) + match.group(2).upper()


_TIME_FORMATS = (
    re.compile(r"(?P<m>\d+)"),
    re.compile(r"(?P<m>\d+):(?P<s>\d+)"),
    re.compile(r"(?P<h>\d+):(?P<m>\d+):(?P<s>\d+)"),
    re.compile(r"(?P<d>\d+)-(?P<h>\d+)"),
    re.compile(r"(?P<d>\d+)-(?P<h>\d+):(?P<m>\d+)"),
    re.compile(r"(?P<d>\d+)-(?P<h>\d+):(?P<m>\d+):(?P<s>\d+)"),
)
_UNLIMITED = ("INFINITE", "UNLIMITED", "-1")


def slurm_time(value: object, what: str) -> str:
    """A time limit as ``sbatch --time`` takes it, from a Slurm time string, an ``int`` number of
    minutes or a :class:`datetime.timedelta`."""
    if isinstance(value, datetime.timedelta):
        total = value.total_seconds()
        if total <= 0:
            raise InvalidArgumentError(f"{what} must be a positive duration, got {value!r}")
        seconds = int(-(-total // 1))
        days, rest = divmod(seconds, 86400)
        return f"{days}-{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise InvalidArgumentError(f"{what} must be a number of minutes >= 0, got {value!r}")
        return str(value)
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{what} must be a Slurm time string, minutes or a timedelta, got {value!r}")
    if value.upper() in _UNLIMITED or any(f.fullmatch(value) for f in _TIME_FORMATS):
        return value
    raise InvalidArgumentError(
        f"{what} {value!r} is not a time Slurm accepts: minutes, minutes:seconds, hours:minutes:seconds, "
        "days-hours, days-hours:minutes, days-hours:minutes:seconds, or INFINITE")


def time_seconds(text: str) -> int | None:
    """Seconds in a Slurm time string (None for an unlimited one: 0, -1, INFINITE, UNLIMITED)."""
    if text.upper() in _UNLIMITED or text == "0":
        return None
    for form in _TIME_FORMATS:
        match = form.fullmatch(text)
        if match:
            parts = {k: int(v) for k, v in match.groupdict().items() if v is not None}
            return (parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600 + parts.get("m", 0) * 60
                    + parts.get("s", 0))
    raise ValueError(text)


_GPUS = re.compile(r"(?:[A-Za-z0-9_.-]+:)?[1-9]\d*")
_GRES = re.compile(r"[A-Za-z0-9_.-]+(?::[A-Za-z0-9_.-]+)?(?::\d+[KMGT]?)?")


def slurm_gpus(value: object, what: str) -> str:
    """``--gpus``: a positive number, or ``"type:number"``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(check_positive(value, what))
    if isinstance(value, str) and _GPUS.fullmatch(value):
        return value
    raise InvalidArgumentError(f"{what} must be a positive number of GPUs or 'type:number' (such as 'a100:2'), "
                               f"got {value!r}")


def slurm_gres(value: object, what: str) -> str:
    """``--gres``: comma-separated ``name[:type][:count]`` (``"gpu:2"``, ``"gpu:a100:1,nvme:1"``)."""
    if isinstance(value, str) and all(_GRES.fullmatch(part) for part in value.split(",")):
        return value
    raise InvalidArgumentError(f"{what} must be comma-separated name[:type][:count] such as 'gpu:2', got {value!r}")


# ---------------------------------------------------------------- options carried on a batch


@dataclass(frozen=True)
class JobOptions:
    """Validated, hashable per-batch options; each scheduler adapter renders its own subclass."""

    def merged(self, other: JobOptions) -> JobOptions:
        """These options with ``other``'s on top (per call over the executor's)."""
        return other


#: sbatch 22.05's long options (its getopt table), to resolve the abbreviations #SBATCH lines may use.
SBATCH_LONG_OPTIONS = tuple("""
account acctg-freq array batch begin bb bbf cluster-constraint chdir cluster clusters comment container
context contiguous constraint core-spec cores-per-socket cpu-freq cpus-per-gpu cpus-per-task deadline
delay-boot dependency distribution error exclude exclusive export export-file extra-node-info
get-user-env gid gpu-bind gpu-freq gpus gpus-per-node gpus-per-socket gpus-per-task gres gres-flags help
hint hold ignore-pbs input job-name kill-on-invalid-dep licenses mail-type mail-user mcs-label mem
mem-bind mem-per-cpu mem-per-gpu mincpus network nice no-kill no-requeue nodefile nodelist nodes ntasks
ntasks-per-core ntasks-per-gpu ntasks-per-node ntasks-per-socket ntasks-per-tres open-mode output
overcommit oversubscribe parsable partition power prefer priority profile propagate qos quiet reboot
requeue reservation signal sockets-per-node spread-job switches tasks-per-node test-only thread-spec
threads-per-core time time-min tmp uid use-min-nodes usage verbose version wait wait-all-nodes wckey wrap
""".split())
#: sbatch's short options (sbatch(1)) and the long option each stands for.
SBATCH_SHORT_OPTIONS = {
    "a": "array", "A": "account", "b": "begin", "B": "extra-node-info", "c": "cpus-per-task", "C": "constraint",
    "d": "dependency", "D": "chdir", "e": "error", "F": "nodefile", "G": "gpus", "H": "hold", "i": "input",
    "J": "job-name", "k": "no-kill", "L": "licenses", "m": "distribution", "M": "clusters", "n": "ntasks",
    "N": "nodes", "o": "output", "O": "overcommit", "p": "partition", "q": "qos", "Q": "quiet",
    "s": "oversubscribe", "S": "core-spec", "t": "time", "v": "verbose", "w": "nodelist", "W": "wait",
    "x": "exclude",
}
_SBATCH_FLAGS = frozenset({"contiguous", "hold", "ignore-pbs", "no-requeue", "overcommit", "oversubscribe",
                           "parsable", "quiet", "reboot", "requeue", "spread-job", "test-only", "verbose", "wait",
                           "no-kill", "help", "usage", "version", "use-min-nodes"})

#: Options cfut gives sbatch itself, and why a user may not (in #SBATCH lines or sbatch_options).
CFUT_SBATCH_OPTIONS = {
    "output": "cfut names each job's log itself (future.log_path)",
    "error": "cfut keeps stderr in the job's log with stdout (future.log())",
    "array": "cfut makes the array of a map itself (use array_parallelism= for a throttle)",
    "comment": "cfut finds its jobs by their comment (cfut.<key>)",
    "parsable": "cfut reads sbatch's answer itself",
    "wrap": "cfut writes the batch script itself",
    "requeue": "use the executor's requeue= keyword",
    "no-requeue": "use the executor's requeue= keyword",
    "test-only": "cfut needs a job",
    "wait": "cfut waits for its jobs itself",
    "quiet": "cfut reads sbatch's answer",
    "clusters": "cfut talks to one cluster: set SLURM_CONF for another",
    "cluster": "cfut talks to one cluster: set SLURM_CONF for another",
    "help": "", "usage": "", "version": "",
}

#: The typed keywords of SlurmExecutor and the sbatch option each renders.
SLURM_KEYWORDS = {
    "cpus_per_task": "cpus-per-task", "mem": "mem", "mem_per_cpu": "mem-per-cpu", "time": "time",
    "partition": "partition", "gpus": "gpus", "gres": "gres", "nodes": "nodes",
    "ntasks_per_node": "ntasks-per-node", "account": "account", "qos": "qos", "constraint": "constraint",
    "exclude": "exclude", "job_name": "job-name",
}
_KEYWORD_OF = {option: keyword for keyword, option in SLURM_KEYWORDS.items()}
#: Options of which sbatch takes only one (sbatch: "--mem, --mem-per-cpu, and --mem-per-gpu options
#: are mutually exclusive"); a later one replaces the others when options are merged.
_EXCLUSIVE = (frozenset({"mem", "mem-per-cpu", "mem-per-gpu"}),)


def _slurm_value(keyword: str, value: Any) -> str:
    what = keyword
    if keyword in ("cpus_per_task", "nodes", "ntasks_per_node"):
        return str(check_positive(value, what))
    if keyword == "mem":
        return slurm_memory(value, what, allow_zero=True)
    if keyword == "mem_per_cpu":
        return slurm_memory(value, what)
    if keyword == "time":
        return slurm_time(value, what)
    if keyword == "gpus":
        return slurm_gpus(value, what)
    if keyword == "gres":
        return slurm_gres(value, what)
    if keyword in ("partition", "account", "qos", "exclude"):
        return check_word(value, what)
    return check_text(value, what)  # constraint, job_name


@dataclass(frozen=True)
class SlurmOptions(JobOptions):
    """sbatch options for one batch: ``(long option, value or None for a flag)``, in order.

    ``job_name`` is the user's ``--job-name`` (None: cfut names the job ``cfut.<key>``);
    ``array_parallelism`` the ``%N`` throttle of an array (None: no throttle).
    """

    args: tuple[tuple[str, str | None], ...] = ()
    array_parallelism: int | None = None

    @property
    def job_name(self) -> str | None:
        return dict(self.args).get("job-name")

    def names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.args)

    def sbatch_args(self) -> list[str]:
        """The options as ``sbatch`` arguments (``--name=value``, ``--flag``)."""
        return [f"--{name}" if value is None else f"--{name}={value}" for name, value in self.args]

    def merged(self, other: JobOptions) -> SlurmOptions:
        """These options with ``other``'s on top (per call over the executor's): an option given in
        both takes ``other``'s value; ``--mem`` and ``--mem-per-cpu`` replace each other."""
        if not isinstance(other, SlurmOptions):
            raise TypeError(f"cannot merge {other!r} into Slurm options")
        given = other.names()
        dropped = set(given)
        for group in _EXCLUSIVE:
            if given & group:
                dropped |= group
        args = tuple((n, v) for n, v in self.args if n not in dropped) + other.args
        throttle = other.array_parallelism if other.array_parallelism is not None else self.array_parallelism
        return SlurmOptions(args, throttle)


def slurm_options(keywords: Mapping[str, Any], *, resources: Resources | None = None,
                  sbatch_options: Mapping[str, Any] | None = None,
                  array_parallelism: int | None = None) -> SlurmOptions:
    """Check SlurmExecutor's typed keywords (``None`` means not given), a :class:`Resources` and the
    free ``sbatch_options``; raises InvalidArgumentError naming the bad keyword or value."""
    given: dict[str, str] = {}
    for keyword, value in keywords.items():
        if keyword not in SLURM_KEYWORDS:
            raise InvalidArgumentError(f"unknown Slurm option keyword {keyword!r}; known: "
                                       f"{', '.join(SLURM_KEYWORDS)}, array_parallelism, sbatch_options, resources")
        if value is not None:
            given[SLURM_KEYWORDS[keyword]] = _slurm_value(keyword, value)
    if resources is not None:
        if not isinstance(resources, Resources):
            raise InvalidArgumentError(f"resources must be a cfut.Resources, got {resources!r}")
        for option, value, keyword in _resources_for_slurm(resources):
            if option in given:
                raise InvalidArgumentError(f"Resources({keyword}=) and {_KEYWORD_OF[option]}= both set "
                                           f"--{option}: give it once")
            given[option] = value
    for group in _EXCLUSIVE:
        both = sorted(group & set(given))
        if len(both) > 1:
            raise InvalidArgumentError(f"sbatch takes only one of {', '.join('--' + n for n in both)} "
                                       f"({', '.join(_KEYWORD_OF.get(n, n) + '=' for n in both)} given)")
    args: list[tuple[str, str | None]] = [(option, value) for option, value in given.items()]
    for name, value in (sbatch_options or {}).items():
        option = _sbatch_option_name(name)
        if option in given or option in (o for o, _ in args):
            raise InvalidArgumentError(f"sbatch_options[{name!r}] sets --{option} a second time")
        if value is None or value is False:
            continue
        if value is True:
            args.append((option, None))
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise InvalidArgumentError(f"sbatch_options[{name!r}] must be a string, a number or True, got {value!r}")
        text = check_text(str(value), f"sbatch_options[{name!r}]")
        if option == "export" and "ALL" not in text.split(","):
            raise InvalidArgumentError(
                f"sbatch_options[{name!r}]={value!r}: cfut's job needs the submitting environment (its key travels "
                "there); give --export a list that includes ALL")
        args.append((option, text))
    throttle = check_positive(array_parallelism, "array_parallelism")
    return SlurmOptions(tuple(args), throttle)


def _resources_for_slurm(resources: Resources) -> list[tuple[str, str, str]]:
    out = []
    if resources.cpus is not None:
        out.append(("cpus-per-task", str(resources.cpus), "cpus"))
    if resources.memory is not None:
        out.append(("mem", slurm_memory(resources.memory, "Resources(memory=)"), "memory"))
    if resources.time is not None:
        out.append(("time", slurm_time(resources.time, "Resources(time=)"), "time"))
    if resources.gpus is not None:
        out.append(("gpus", str(resources.gpus), "gpus"))
    if resources.job_name is not None:
        out.append(("job-name", resources.job_name, "job_name"))
    if resources.partition is not None:
        out.append(("partition", resources.partition, "partition"))
    return out


def _sbatch_option_name(name: object) -> str:
    """The long option an ``sbatch_options`` key names (``"mail_type"`` → ``mail-type``)."""
    if not isinstance(name, str) or not re.fullmatch(r"-{0,2}[A-Za-z][A-Za-z0-9_-]*", name):
        raise InvalidArgumentError(f"sbatch_options keys must be sbatch long option names such as 'mail-type', "
                                   f"got {name!r}")
    option = name.lstrip("-").replace("_", "-")
    if option not in SBATCH_LONG_OPTIONS:
        raise InvalidArgumentError(f"sbatch_options[{name!r}]: sbatch 22.05 has no option --{option}")
    if option in CFUT_SBATCH_OPTIONS:
        why = CFUT_SBATCH_OPTIONS[option]
        raise InvalidArgumentError(f"sbatch_options[{name!r}]: cfut does not pass --{option} on" +
                                   (f" ({why})" if why else ""))
    if option in _KEYWORD_OF:
        raise InvalidArgumentError(f"sbatch_options[{name!r}]: use the keyword {_KEYWORD_OF[option]}= instead")
    return option


# ---------------------------------------------------------------- #SBATCH lines


@dataclass(frozen=True)
class Directive:
    """One option of an ``#SBATCH`` line: its long name, its value, and the line."""

    option: str
    value: str | None
    line: str


def sbatch_directives(lines: Sequence[str]) -> list[Directive]:
    """The options of the ``#SBATCH`` lines sbatch reads from a script made of ``lines`` (those before
    the first command; cfut's own script starts with them), with short and abbreviated names resolved."""
    found: list[Directive] = []
    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            break
        if not (line.startswith("#SBATCH") and (len(line) == 7 or line[7] in " \t")):
            continue
        try:
            words = shlex.split(line[7:], comments=True)
        except ValueError:
            continue  # sbatch would complain about it itself
        found += _directive_options(words, line)
    return found


def _directive_options(words: list[str], line: str) -> list[Directive]:
    out: list[Directive] = []
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        option: str | None = None
        value: str | None = None
        if word.startswith("--"):
            name, eq, rest = word[2:].partition("=")
            option = _resolve_long(name)
            if eq:
                value = rest
            elif option is not None and option not in _SBATCH_FLAGS and i < len(words):
                value = words[i]
                i += 1
        elif word.startswith("-") and len(word) > 1:
            option = SBATCH_SHORT_OPTIONS.get(word[1])
            if len(word) > 2:
                value = word[2:]
            elif option is not None and option not in _SBATCH_FLAGS and i < len(words):
                value = words[i]
                i += 1
        if option is not None:
            out.append(Directive(option, value, line))
    return out


def _resolve_long(name: str) -> str | None:
    if name in SBATCH_LONG_OPTIONS:
        return name
    matches = [o for o in SBATCH_LONG_OPTIONS if o.startswith(name)] if name else []
    return matches[0] if len(matches) == 1 else None


def check_directives(lines: Iterable[str], options: SlurmOptions, *, requeue_given: bool = True) -> str | None:
    """Refuse ``#SBATCH`` lines that contradict the typed options or redo what cfut sets itself;
    return the job name an ``#SBATCH --job-name`` line gives (None without one)."""
    typed = options.names()
    name = None
    for directive in sbatch_directives(list(lines)):
        option = directive.option
        if option == "job-name":
            if "job-name" in typed:
                raise InvalidArgumentError(f"{directive.line!r} names the job, and so does job_name=: give it once")
            name = directive.value
            continue
        if option in typed:
            keyword = _KEYWORD_OF.get(option)
            setting = f"{keyword}=" if keyword else f"sbatch_options[{option!r}]"
            raise InvalidArgumentError(f"{directive.line!r} sets --{option}, and so does {setting}; give it once "
                                       "(the typed keyword is checked when the executor is made)")
        if option in CFUT_SBATCH_OPTIONS and option not in ("help", "usage", "version"):
            raise InvalidArgumentError(f"{directive.line!r}: cfut sets --{option} itself "
                                       f"({CFUT_SBATCH_OPTIONS[option]})")
        if option == "export" and "ALL" not in (directive.value or "").split(","):
            raise InvalidArgumentError(f"{directive.line!r}: cfut's job needs the submitting environment (its key "
                                       "travels there); give --export a list that includes ALL")
    return name


# ---------------------------------------------------------------- HTCondor


_CONDOR_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(B?)", re.IGNORECASE)


def condor_size(value: object, what: str, *, unit: str) -> str:
    """A ``request_memory`` (bare number: MB) or ``request_disk`` (bare number: KiB) value: an ``int``
    in HTCondor's unit, or a number with a unit K, M, G or T (KB, MB, ... too; powers of 1024).
    Returned as given (stripped): HTCondor reads ``"4096"``, ``"4G"`` and ``"4 GB"`` alike."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidArgumentError(f"{what} must be a number ({unit}, HTCondor's unit for a bare number) or a "
                                   f"string with a unit such as '4G', got {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise InvalidArgumentError(f"{what} must be more than 0 {unit}, got {value!r}")
        return str(value)
    match = _CONDOR_SIZE.fullmatch(value.strip())
    if match is None or float(match.group(1)) <= 0:
        raise InvalidArgumentError(
            f"{what} must be a positive number with an optional unit K, M, G or T (a bare number is {unit}, "
            f"HTCondor's unit), such as '4G' or '4096', got {value!r}")
    return value.strip()


@dataclass(frozen=True)
class CondorJobOptions(JobOptions):
    """Submit-description lines for one batch: ``request_*`` keys and the ``batch_name``."""

    resources: tuple[tuple[str, str], ...] = ()
    batch_name: str | None = None

    def merged(self, other: JobOptions) -> CondorJobOptions:
        if not isinstance(other, CondorJobOptions):
            raise TypeError(f"cannot merge {other!r} into HTCondor options")
        keys = {k for k, _ in other.resources}
        resources = tuple((k, v) for k, v in self.resources if k not in keys) + other.resources
        return CondorJobOptions(resources, other.batch_name if other.batch_name is not None else self.batch_name)


def condor_job_options(*, request_cpus: object = None, request_memory: object = None, request_disk: object = None,
                       request_gpus: object = None, resources: Resources | None = None,
                       job_name: object = None) -> CondorJobOptions:
    """Check HTCondor's ``request_*`` keywords and a :class:`Resources`; InvalidArgumentError names
    a bad value, or what HTCondor cannot express."""
    given: dict[str, str] = {}
    for key, value in (("request_cpus", request_cpus), ("request_gpus", request_gpus)):
        if value is not None:
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value.strip())
            if key == "request_gpus" and value == 0 and not isinstance(value, bool):
                given[key] = "0"  # explicitly none
                continue
            given[key] = str(check_positive(value, key))
    if request_memory is not None:
        given["request_memory"] = condor_size(request_memory, "request_memory", unit="MB")
    if request_disk is not None:
        given["request_disk"] = condor_size(request_disk, "request_disk", unit="KiB")
    name = None if job_name is None else check_text(job_name, "job_name")
    if resources is not None:
        if not isinstance(resources, Resources):
            raise InvalidArgumentError(f"resources must be a cfut.Resources, got {resources!r}")
        if resources.partition is not None:
            raise InvalidArgumentError(
                f"Resources(partition={resources.partition!r}): HTCondor has no partitions; select machines with "
                "requirements= (a ClassAd expression) instead")
        mapped = {
            "request_cpus": None if resources.cpus is None else str(resources.cpus),
            "request_memory": None if resources.memory is None else str(memory_mb(resources.memory,
                                                                                  "Resources(memory=)")),
            "request_gpus": None if resources.gpus is None else str(resources.gpus),
            "allowed_execute_duration": None if resources.seconds() is None else str(resources.seconds()),
        }
        for key, value in mapped.items():
            if value is None:
                continue
            if key in given:
                raise InvalidArgumentError(f"Resources and {key}= both set {key}: give it once")
            given[key] = value
        if resources.job_name is not None:
            if name is not None:
                raise InvalidArgumentError("Resources(job_name=) and job_name= both name the job: give it once")
            name = resources.job_name
    return CondorJobOptions(tuple(given.items()), name)
