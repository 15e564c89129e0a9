#!/usr/bin/env bash
# Entry point of the cfut-slurm image: start the Slurm test clusters (the
# main cluster "cfut", then the second cluster "other"), then run the given
# command (by default the integration tests).  If the
# command fails, print the cluster's diagnostics before exiting with its
# status, so that CI logs show what Slurm was doing.
set -euo pipefail

here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")

# Containers often get an open-files limit of 2^20 or more.  Daemons that
# close every possible descriptor when they fork (Slurm's do, per job step)
# then spend noticeable time on it, so cap the limit at a generous 65536.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -gt 65536 ]; then
    ulimit -n 65536
fi

if ! "$here/start-slurm.sh" start || ! "$here/start-slurm.sh" start-other; then
    "$here/start-slurm.sh" diagnose >&2 || true
    exit 1
fi

if [ $# -eq 0 ]; then
    set -- bash
fi

status=0
"$@" || status=$?
if [ "$status" -ne 0 ] && [ "${CFUT_SLURM_DIAGNOSE:-1}" = 1 ]; then
    echo "command exited with status $status; Slurm diagnostics follow" >&2
    "$here/start-slurm.sh" diagnose >&2 || true
fi
exit "$status"
