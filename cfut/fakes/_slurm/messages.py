"""Slurm 22.05's own words, verbatim, in one place: everything FakeSlurm prints that is not a table.

Each text was observed on the real cluster of ci/slurm-docker/ (see tests/golden/slurm-22.05/) or
is the real command's format string; ``{name}`` fields are filled with ``str.format``.
docs/fidelity.md lists them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

INVALID_JOB_ID = "Invalid job id specified"
ACCOUNTING_DISABLED = "Slurm accounting storage is disabled\n"

# -- what a busy or restarting controller (or slurmdbd) makes each command print (fail_next)
TRANSIENT_FAILURES: Mapping[str, str] = MappingProxyType({
    "sbatch": "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation\n",
    "squeue": "slurm_load_jobs error: Socket timed out on send/recv operation\n",
    "scontrol": "slurm_load_jobs error: Socket timed out on send/recv operation\n",
    "sacct": "sacct: error: Problem talking to the database: Connection refused\n",
    "scancel": "scancel: error: Kill job error on job id {id}: Socket timed out on send/recv operation\n",
    "sinfo": "slurm_load_partitions: Socket timed out on send/recv operation\n",
})

# -- getopt_long's complaints, as each command words them ({message} is glibc's line)
GETOPT_SBATCH = 'sbatch: {message}\nTry "sbatch --help" for more information\n'
GETOPT_SQUEUE = 'squeue: {message}\nTry "squeue --help" for more information\n'
GETOPT_SACCT = "sacct: {message}\n"
GETOPT_SCONTROL = 'scontrol: {message}\nTry "scontrol --help" for more information\n'
GETOPT_SCANCEL = 'scancel: {message}\nTry "scancel --help" for more information\n'
GETOPT_SINFO = 'sinfo: {message}\nTry "sinfo --help" for more information\n'

# -- sbatch
SUBMITTED = "Submitted batch job {job}\n"
NOT_A_BATCH_SCRIPT = (
    "sbatch: error: This does not look like a batch script.  The first\n"
    "sbatch: error: line must start with #! followed by the path to an interpreter.\n"
    "sbatch: error: For instance: #!/bin/sh\n"
)
INVALID_ARRAY = "sbatch: error: Batch job submission failed: Invalid job array specification\n"
INVALID_TIME = "sbatch: error: Invalid --time specification\n"
INVALID_OPEN_MODE = "sbatch: error: Invalid --open-mode specification\n"
MEMORY_OPTIONS_EXCLUSIVE = "sbatch: fatal: --mem, --mem-per-cpu, and --mem-per-gpu are mutually exclusive.\n"
INVALID_EXCLUSIVE = "sbatch: error: Invalid --exclusive specification\n"
INVALID_MEM = "sbatch: error: Invalid --mem specification\n"
INVALID_NODE_COUNT = 'sbatch: error: "{value}" is not a valid node count\n'
INVALID_NUMERIC = 'sbatch: error: Invalid numeric value "{value}" for --{option}.\n'
WRAP_WITH_ARGUMENTS = "sbatch: error: Script arguments not permitted with --wrap option\n"
UNABLE_TO_OPEN = "sbatch: error: Unable to open file {path}\n"
EMPTY_SCRIPT = "sbatch: error: Batch script is empty!\n"
DOS_LINE_BREAKS = ("sbatch: error: Batch script contains DOS line breaks (\\r\\n)\n"
                   "sbatch: error: instead of expected UNIX line breaks (\\n).\n")
INVALID_PARTITION = ("sbatch: error: invalid partition specified: {partition}\n"
                     "sbatch: error: Batch job submission failed: Invalid partition name specified\n")
NODE_CONFIGURATION = "sbatch: error: Batch job submission failed: Requested node configuration is not available\n"
INVALID_SIGNAL = "sbatch: error: Invalid --signal specification\n"
INVALID_MEM_PER_CPU = "sbatch: error: Invalid --mem-per-cpu specification\n"
INVALID_GRES = "sbatch: error: Invalid generic resource (gres) specification\n"
MEMORY_NOT_SATISFIED = ("sbatch: error: Memory specification can not be satisfied\n"
                        "sbatch: error: Batch job submission failed: Requested node configuration is not available\n")
DEPENDENCY_PROBLEM = "sbatch: error: Batch job submission failed: Job dependency problem\n"
INVALID_FEATURE = "sbatch: error: Batch job submission failed: Invalid feature specification\n"
INVALID_NODE_NAME = "sbatch: error: Batch job submission failed: Invalid node name specified\n"
WRAP_SCRIPT = "#!/bin/sh\n# This script was created by sbatch --wrap.\n\n{command}\n"

# -- squeue, scontrol show job
LOAD_JOBS_INVALID = f"slurm_load_jobs error: {INVALID_JOB_ID}\n"
# --clusters (squeue, scancel, sbatch; observed on Slurm 22.05): one line per name slurmdbd does not
# know, then, when no name is left (or without slurmdbd at all), why the list cannot be reached
UNKNOWN_CLUSTER = "{command}: error: No cluster '{cluster}' known by database.\n"
NO_CLUSTER_DATABASE = "{command}: error: Problem talking to database\n"
CLUSTERS_UNREACHABLE = ("{command}: error: '{clusters}' can't be reached now, or it is an invalid entry for "
                        "--cluster.  Use 'sacctmgr list clusters' to see available clusters.\n")
NO_CLUSTER_REACHABLE = "{command}: error: No clusters can be reached now. Contact your admin to resolve the problem.\n"
INVALID_STATE = ("squeue: error: Invalid job state specified: {state}\n"
                 "squeue: error: Valid job states include: {valid}\n\n")
SQUEUE_INVALID_JOB = "squeue: error: Invalid job id: {job}\n"
#: squeue --user naming no user: one complaint (and a blank line) per name; the others still count.
SQUEUE_INVALID_USER = "squeue: error: Invalid user: {user}\n\n"
SCONTROL_PRINT_INVALID = "scontrol_print_job error: Invalid job id specified\n"
NO_JOBS = "No jobs in the system\n"
# scontrol show job A_I for a task the array no longer has, or show job 0 with no jobs at all
TASK_NOT_FOUND = "Job {job} not found\n"

# -- sacct
INVALID_FIELD = 'sacct: error: Invalid field requested: "{field}"\n'
BAD_JOB_STEP = "sacct: fatal: Bad job/step specified: {job}\n"
SACCT_INVALID_USER = "sacct: error: Invalid user id: {user}\n"

# -- scontrol hold/release, one pair of lines per id it cannot act on
TOO_FEW_ARGUMENTS = "too few arguments for keyword:{verb}\n"
SUSPEND_INVALID_JOB = "Invalid job id specified for job {job}\nslurm_suspend error: Invalid job id specified\n"
SUSPEND_FINISHED_JOB = "Job has already finished for job {job}\nslurm_suspend error: Job has already finished\n"
# ... and for an array task (ID_INDEX), one line without the slurm_suspend echo
SUSPEND_INVALID_TASK = "{job}: Invalid job id specified\n"
SUSPEND_FINISHED_TASK = "{job}: Job has already finished\n"

# -- scontrol requeue, one line per id it cannot act on
REQUEUE_INVALID_JOB = "Invalid job id specified for job {job}\n"
REQUEUE_DISABLED = "Requested operation is presently disabled for job {job}\n"
REQUEUE_PENDING = "Job is pending execution for job {job}\n"

# -- scancel
UNKNOWN_SIGNAL = "Unknown job signal: {signal}\n"
SCANCEL_INVALID_JOB = "scancel: error: Invalid job id {job}\n"
NO_JOB_IDENTIFICATION = "scancel: error: No job identification provided\n"
SCANCEL_INVALID_USER = "scancel: error: Invalid user name: {user}\n"
#: scancel --state takes one state, of any case or its short code; anything else is refused so
SCANCEL_INVALID_STATE = ("Invalid job state specified: {state}\n"
                         "Valid job states are PENDING, RUNNING, and SUSPENDED\n")
KILL_JOB_ERROR = f"scancel: error: Kill job error on job id {{job}}: {INVALID_JOB_ID}\n"
KILL_STEP_ERROR = f"scancel: error: Kill job error on job step id {{job}}: {INVALID_JOB_ID}\n"

# -- slurmstepd, in the job's error (or output) file when it kills a running job
#: sbatch --signal=B:N with N no signal of the node's (observed: 99; the job runs on).
STEPD_FAILED_SIGNAL = ("slurmstepd-{node}: error: _handle_signal_container: failed signal {signal} pid {pid} "
                       "StepId={job}.batch Invalid argument\n")
STEPD_CANCELLED = "slurmstepd-{node}: error: *** JOB {job} ON {node} CANCELLED AT {when}{why} ***\n"
DUE_TO_TIME_LIMIT = " DUE TO TIME LIMIT"
