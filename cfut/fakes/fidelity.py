"""Write docs/fidelity.md from the fakes' own tables: ``python -m cfut.fakes.fidelity > docs/fidelity.md``.

Everything listed comes from the data FakeSlurm and FakeCondor run on (option tables, format
tokens, sacct fields, states, submit keys, events, the job environment, verbatim messages), so the
document cannot drift from the code; a unit test checks that the committed file is what this prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import ModuleType

from ._clock import FakeClock
from ._cluster import FakeCluster
from ._condor import classad, eventlog, schedd, submit, tools
from ._condor import messages as condor_messages
from ._getopt import OptionTable
from ._jobworker import STARTUP_VARIABLES
from ._shims.server import CONDOR_COMMANDS, SLURM_COMMANDS, STEP_VARIABLES, srun_options
from ._slurm import messages as slurm_messages
from ._slurm import options as slurm_options
from ._slurm.fake import COMMANDS as SLURM_MODEL_COMMANDS
from ._slurm.model import END_DEFAULTS, STATE_CODES, Submission, Task
from ._slurm.render import SACCT_ALL_FIELDS, SACCT_FIELDS, SQUEUE_HEADERS
from ._slurm.sinfo import HEADERS as SINFO_HEADERS
from ._slurm.stepd import UNSET_BATCH_VARIABLES, Stepd
from ._slurm.values import DEPENDENCY_KINDS, parse_array


def _code(items: Iterable[str]) -> str:
    return ", ".join(f"`{item}`" for item in items) or "none"


def _slurm_command(name: str, table: OptionTable, modelled: frozenset[str]) -> list[str]:
    names = sorted(option.long for option in table.options)
    meaning = {option.long: table.canonical(option).long for option in table.options}
    aliases = [f"`--{o.long}` is `--{o.alias_of}`" for o in sorted(table.options, key=lambda o: o.long) if o.alias_of]
    return [f"#### {name}", "",
            f"Modelled options: {_code('--' + n for n in names if meaning[n] in modelled)}.", "",
            f"Known but refused (FakeUnsupported): {_code('--' + n for n in names if meaning[n] not in modelled)}.",
            "", *([f"Other names of the same option: {', '.join(aliases)}.", ""] if aliases else []),
            "Any other option gets getopt_long's own error (abbreviations and glibc's ambiguity messages "
            "follow the real table's order), as on a real cluster.", ""]


def _condor_tool(spec: tools.ToolSpec) -> list[str]:
    def spelled(option: tools.ToolOption) -> str:
        shortest = option.name if option.min_prefix < 0 else option.name[:max(option.min_prefix, 1)]
        return f"-{option.name}" + (f" (from -{shortest})" if shortest != option.name else "")

    modelled = [spelled(o) for o in spec.options if o.modelled]
    refused = [spelled(o) for o in spec.options if not o.modelled]
    if spec is tools.CONDOR_STATUS:
        return [f"#### {spec.name}", "",
                f"Modelled options: {_code(modelled)}, spelled out (one or two dashes); `-af` takes the "
                "qualifiers listed under Output formats below but `j`. Anything else (another option, an "
                "abbreviation, a missing value, a host name, a constraint the fake cannot parse, an attribute "
                "it does not model, an expression, "
                "the default table) is refused with FakeUnsupported, since the tool's messages for them are not "
                f"modelled. Slot attributes modelled: {_code(tools.SLOT_ATTRIBUTES)}.", "",
                "The pool's slot ads: each node is one partitionable slot `slot1@NODE` (`State` `Unclaimed`, "
                "`Activity` `Idle`, `Cpus` the CPUs it has left, `TotalSlotCpus`, `SlotType` `Partitionable`, "
                "`PartitionableSlot`), followed by one dynamic slot `slot1_N@NODE` per job running there "
                "(`Claimed`, `Busy`, the job's `Cpus`).", ""]
    return [f"#### {spec.name}", "",
            f"Modelled options: {_code(modelled)}.", "",
            f"Known but refused (FakeUnsupported): {_code(refused)}.", "",
            f"Options may be abbreviated down to the prefix shown, with one or two dashes, as the real tool "
            f"matches them. A missing value and any other option get the tool's own message and exit 1 "
            f"(`{spec.unknown.strip()}`).", ""]


def _messages(module: ModuleType) -> list[str]:
    texts: dict[str, str] = {}
    for name in sorted(n for n in vars(module) if n.isupper()):
        value = getattr(module, name)
        if isinstance(value, str):
            texts[name] = value
        elif isinstance(value, Mapping):
            for key, text in value.items():
                texts[f"{name}[{key}]"] = text if isinstance(text, str) else "".join(text)
    lines = []
    for name, text in texts.items():
        shown = text.strip()
        lines.append(f"- `{name}`: `{shown!r}`" if "\n" in shown else f"- `{name}`: `{shown}`")
    return lines


def _slurm_environment() -> list[str]:
    """The variables a batch script sees, from the fake's own code (an array task with --ntasks
    and --cpus-per-task, which sets every optional one)."""
    cluster = FakeCluster(progression="manual")
    cluster.clock = FakeClock("manual", wall=lambda: 0.0)
    array = parse_array("0-1", 1001)
    sub = Submission(seq=1, job_id=1, script="#!/bin/sh\n", script_args=(), command=None, name="doc", workdir="/",
                     submit_dir="/", output=None, error=None, open_mode="truncate", time_limit=None,
                     explicit_time=False, cpus_per_task=1, ntasks=1, node_count=1, partition="debug", mem_mb=None,
                     comment=None, mail_type=None, mail_user=None, env={}, array=array, submit_time=0.0, argv=(),
                     inline=None)
    task = Task(sub, 0, 1, 0.0, nodes=(cluster.nodes[0].name,))
    return sorted(Stepd(cluster).job_env(task))


def _slurm() -> list[str]:
    lines = [
        "## FakeSlurm (Slurm 22.05)",
        "",
        "Behaviour is checked against a real cluster by `tests/contract/` (golden reports in",
        "`tests/golden/slurm-22.05/contract/`, re-recorded by `tests/golden/record_slurm.py`).",
        "",
        "### Commands",
        "",
        f"{_code(SLURM_MODEL_COMMANDS)}; any other command is refused. `scontrol` models "
        f"{_code(slurm_options.SCONTROL_VERBS)}. On `PATH` (the pytest plugin, `python -m cfut.fakes slurm`) "
        f"the fake also serves {_code(c for c in SLURM_COMMANDS if c not in SLURM_MODEL_COMMANDS)}: a job step "
        "inside a batch job (`ID.N` in sacct), with the options "
        f"{_code('--' + n for n in srun_options())}; outside a job it is refused. There `sbatch --wait` prints "
        "its submission line at once and exits when its job ends, with its exit code; killed meanwhile "
        "(SIGINT, SIGTERM), it dies of the signal quietly and its job runs on, as sbatch does.",
        "",
    ]
    for name, (table, modelled) in slurm_options.TABLES.items():
        lines += _slurm_command(name, table, modelled)
    lines += [
        "### Output formats",
        "",
        f"`squeue --format` tokens (with `.` and a width): {_code('%' + t for t in SQUEUE_HEADERS)}; "
        "other tokens, `%-...` and `%%` are refused.",
        "",
        f"`sinfo --format` tokens: {_code('%' + t for t in SINFO_HEADERS)}; nodes of a partition whose fields "
        "print the same share a line; `--Node` lists a node's partitions last configured first; `--summarize` "
        "and the default formats as sinfo's. Every partition spans every node.",
        "",
        f"`sacct --format` fields (with `%width`): {_code(f.name for f in SACCT_FIELDS.values())}; the other "
        f"{len(SACCT_ALL_FIELDS - set(SACCT_FIELDS))} fields `sacct --helpformat` lists are refused; unknown "
        "names get sacct's own error.",
        "",
        "sacct output: fixed-width columns (`+` never truncates), `--parsable` (trailing `|`), `--parsable2`,",
        "`--delimiter`; `.batch` (and optionally `.extern`) steps unless `--allocations`.",
        "",
        "`scontrol show job`: multi-line and `--oneliner` records; job id 0 is every job; `--quiet` silences",
        "every complaint of `scontrol` and keeps its exit code.",
        "",
        "Job ids and users as the commands read them: each `squeue --jobs` element with C's strtol (`5.0` is",
        "job 5, `5_*` and `5_[1-2]` task 0 of array 5; empty elements skipped, an empty list lists nothing);",
        "user names and uids are looked up in this machine's user database: squeue complains of each unknown",
        "one and lists the others' jobs, sacct refuses the first, scancel `--user` takes exactly one user",
        "and `--state` exactly one state.",
        "",
        "### Job states",
        "",
        f"State codes: {_code(f'{k}={v}' for k, v in STATE_CODES.items())}.",
        "",
        f"States a job can be made to end in (`end_job`, `set_outcome`): {_code(END_DEFAULTS)}.",
        "",
        "### Job environment",
        "",
        f"A batch script sees what sbatch exported (`--export`) plus {_code(_slurm_environment())}.",
        "With GPUs: `CUDA_VISIBLE_DEVICES`, `SLURM_JOB_GPUS`, `SLURM_GPUS_ON_NODE`, and `SLURM_GPUS`,",
        "`SLURM_GPUS_PER_NODE`, `SLURM_GPUS_PER_TASK` for `--gpus`, `--gpus-per-node`, `--gpus-per-task`;",
        "`SLURM_MEM_PER_NODE` for `--mem` (else `SLURM_MEM_PER_CPU`, `--mem-per-cpu` or DefMemPerCPU; neither",
        "for `--mem=0`); per-node counts in Slurm's form (`2,1`, `2(x2)`) for tasks spread over nodes;",
        "`SLURM_RESTART_COUNT` after `scontrol requeue`; `SLURM_OPEN_MODE` with `--open-mode`. `SLURM_UMASK`",
        "sets the job's umask (else sbatch's own) and is never in the job's environment; the job's files are",
        "created 0666 less that umask. `SBATCH_*` input variables are refused. `SQUEUE_FORMAT` and",
        "`SACCT_FORMAT` are the format when the command line gives none; the other `SQUEUE_*`, `SACCT_*`,",
        "`SINFO_*`, `SCANCEL_*` and `SCONTROL_*` variables, `SLURM_CLUSTERS` and a `SLURM_TIME_FORMAT` other",
        "than `standard` are refused.",
        "",
        "Not set, where slurmd sets them: "
        + "; ".join(f"`{name}` ({why})" for name, why in UNSET_BATCH_VARIABLES.items())
        + ". `SLURM_TASK_PID` is `0` (slurmd gives the batch shell's pid).",
        "",
        f"A command run by the fake `srun` on `PATH` (in a job) sees the job's environment plus "
        f"{_code(STEP_VARIABLES)}",
        "(one node, `--ntasks` tasks), and `SLURM_CPUS_PER_TASK`, `SLURM_JOB_NAME` for its `--cpus-per-task`,",
        "`--job-name`.",
        "",
        "### Dependencies, signals, requeue, resources",
        "",
        f"`--dependency` kinds {_code(DEPENDENCY_KINDS)}, joined by `,` (all) or `?` (any); a job on an unknown",
        "id is dropped from it; `Dependency`, then `DependencyNeverSatisfied` (cancelled with",
        "`--kill-on-invalid-dep=yes`); squeue `%E` and scontrol `Dependency=` show what is not yet fulfilled.",
        "`--signal=[B:]SIG[@TIME]`: sent by the time-limit pass (up to its period early), to the batch shell",
        "with `B:` (SIGCONT first), else to the tasks of the job's `srun` steps (none: nobody); so does",
        "`scancel --signal` without `--batch`/`--full`; a step still running when its job ends is CANCELLED.",
        "`scontrol requeue`: back to PENDING (BeginTime) 10 s after its end,",
        "`Restarts=` counted. Nodes have CPUs (shared by `cpu_share` jobs, OverSubscribe=FORCE:N), memory",
        "(`--mem`, `--mem-per-cpu`, DefMemPerCPU) and GPUs (`--gres=gpu:N`, `--gpus*`), allocated first fit;",
        "CPUs no node has pend with `PartitionConfig`; `--exclusive` takes a whole node.",
        "",
        "### Verbatim messages",
        "",
        *_slurm_messages(),
        "",
    ]
    return lines


def _slurm_messages() -> list[str]:
    return _messages(slurm_messages)


def _condor() -> list[str]:
    lines = [
        "## FakeCondor (HTCondor)",
        "",
        "Formats follow the project's HTCondor reference (`htcondor-cli.md`) and, where it is silent, the",
        "tools' own format strings; the tests read every event log the fake writes with",
        "`htcondor2.JobEventLog` and every submit description with `htcondor2.Submit`.",
        "",
        "### Commands",
        "",
        f"{_code(CONDOR_COMMANDS)}; any other command is refused.",
        "",
        "#### condor_submit",
        "",
        f"Modelled arguments: {_code(tools.SUBMIT_OPTIONS)}, a submit file, or `-` (or none) for standard input;",
        "other options are refused.",
        "",
        f"Submit description keys modelled: {_code(submit.MODELLED_KEYS)}; macros, `queue [N] [vars] in/from`, "
        "both argument syntaxes.",
        "",
        f"Keys refused (FakeUnsupported): {_code(sorted(submit.UNMODELLED_KEYS))}.",
        "",
    ]
    for spec in tools.TABLES.values():
        lines += _condor_tool(spec)
    lines += [
        "### Output formats",
        "",
        f"`-af` / `-autoformat` with the qualifiers {_code(tools.AUTOFORMAT_QUALIFIERS)}; `-format` with the "
        f"conversions `{classad._CONVERSION.pattern}`; `-long`; `-json` (condor_history prints `[`/`]` for no "
        "match, condor_q nothing). The default table output is refused.",
        "",
        "### Job states and events",
        "",
        f"JobStatus codes: {_code(f'{code}={name}' for code, name in schedd.STATE_NAMES.items())}.",
        "",
        f"Job event log events written: {_code(f'{code:03d} {name}' for code, name in eventlog.EVENT_NAMES.items())}.",
        "",
        "### Job environment",
        "",
        "A job sees the `environment` of its description, plus the submitter's variables `getenv` names",
        "(`true` or a list of patterns), and `PATH=/usr/bin:/bin` unless set.",
        "",
        "### Verbatim messages",
        "",
        *_messages(condor_messages),
        "",
    ]
    return lines


def render() -> str:
    lines = [
        "# Fidelity of the fake schedulers",
        "",
        "<!-- generated by `python -m cfut.fakes.fidelity > docs/fidelity.md`; do not edit -->",
        "",
        "What `cfut.fakes.FakeSlurm` and `cfut.fakes.FakeCondor` model, generated from the fakes' own tables.",
        "Anything not listed as modelled raises `cfut.fakes.FakeUnsupported` rather than being guessed, and",
        "is recorded in the fake's `refused` list. Both run on one `FakeScheduler` base: one clock and its",
        "progressions (`immediate`, `manual`, `realtime`), one time protocol (`clock()`, `sleep(s)`,",
        "`wait(event, s)`), and three executions: `process` (the default: each job in a process of its own,",
        "forked from a warm server's pristine state, so that nothing one job changes in its interpreter reaches",
        "another; what a job leaves running is killed when it ends; on virtual time; scripts beyond the tiny",
        "shell run as real processes; the jobs of one server share its str hash seed unless their environment",
        f"sets one of {_code(STARTUP_VARIABLES)}, which execs a fresh interpreter; a job killed before its",
        "virtual end shows what its script had run by then, but a worker still going then never ran, where",
        "on a node it had started: its `JobDied` says \"never started\" unless the script started with the",
        "job in a free warm server, as on a clock that moves by itself), `inline`",
        "(in the test process) and `subprocess` (every script a fresh real process, in real time).",
        "",
    ]
    return "\n".join([*lines, *_slurm(), *_condor()])


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
