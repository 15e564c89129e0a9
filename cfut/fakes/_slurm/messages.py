"""Slurm 22.05's own words, verbatim, in one place: what FakeSlurm prints and docs/fidelity.md lists.

Messages move here from the other FakeSlurm modules as they are touched; each was observed on the
real cluster of ci/slurm-docker/ (see tests/golden/slurm-22.05/).
"""

from __future__ import annotations

INVALID_JOB_ID = "Invalid job id specified"
ACCOUNTING_DISABLED = "Slurm accounting storage is disabled\n"
NOT_A_BATCH_SCRIPT = (
    "sbatch: error: This does not look like a batch script.  The first\n"
    "sbatch: error: line must start with #! followed by the path to an interpreter.\n"
    "sbatch: error: For instance: #!/bin/sh\n"
)
INVALID_ARRAY = "sbatch: error: Batch job submission failed: Invalid job array specification\n"
INVALID_TIME = "sbatch: error: Invalid --time specification\n"
# scontrol hold/release, one pair of lines per id it cannot act on
SUSPEND_INVALID_JOB = "Invalid job id specified for job {job}\nslurm_suspend error: Invalid job id specified\n"
SUSPEND_FINISHED_JOB = "Job has already finished for job {job}\nslurm_suspend error: Job has already finished\n"
# ... and for an array task (ID_INDEX), one line without the slurm_suspend echo
SUSPEND_INVALID_TASK = "{job}: Invalid job id specified\n"
SUSPEND_FINISHED_TASK = "{job}: Job has already finished\n"
