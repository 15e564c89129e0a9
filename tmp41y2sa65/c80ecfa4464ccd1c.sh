#!/bin/sh
# Written by cfut: runs Python calls and writes their results.
exec /work/main/.venv/bin/python -m cfut.remote /work/main/tmp41y2sa65/c80ecfa4464ccd1c."$SLURM_ARRAY_TASK_ID".in
