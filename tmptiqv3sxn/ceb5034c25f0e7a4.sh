#!/bin/sh
# Written by cfut: runs Python calls and writes their results.
exec /work/main/.venv/bin/python -m cfut.remote /work/main/tmptiqv3sxn/ceb5034c25f0e7a4."$SLURM_ARRAY_TASK_ID".in
