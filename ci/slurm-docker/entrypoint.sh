#!/usr/bin/env bash
# Entry point of the cfut-slurm image: start the single-node Slurm cluster,
# then run the given command (by default the integration tests).  If the
# command fails, print the cluster's diagnostics before exiting with its
# status, so that CI logs show what Slurm was doing.
set -euo pipefail

here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")

if ! "$here/start-slurm.sh" start; then
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
