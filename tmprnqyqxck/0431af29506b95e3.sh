#!/bin/sh
# Written by cfut: runs Python calls and writes their results.
exec /work/main/.venv/bin/python -m cfut.remote /work/main/tmprnqyqxck/0431af29506b95e3."$SLURM_ARRAY_TASK_ID".in
