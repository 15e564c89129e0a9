#!/usr/bin/env bash
# Start, stop, inspect and break the Slurm test clusters for cfut's
# integration tests.  Used natively (as root on a Debian bookworm host, e.g.
# a CI machine) and as the entry point of the ci/slurm-docker image.
#
# Usage: start-slurm.sh [SUBCOMMAND [ARGS]]
#
# The main cluster "cfut" (/etc/slurm/slurm.conf): two compute nodes, node1
# and node2, each its own slurmd on this host; partitions debug (default) and
# long; memory limits enforced; 2 fake GPUs per node.
#   start     (default) install missing Debian packages, write the
#             configuration for this host, start munged, [MariaDB, slurmdbd,]
#             slurmctld and both slurmds, and wait until a job runs on each
#             node.  Returns at once if the cluster is already up, healthy
#             and configured as asked; otherwise (re)starts it, keeping jobs.
#   stop      cancel its jobs and stop its daemons; fails if any is left.
#   restart   stop, then start.
#   status    exit 0 if the cluster is up and healthy, 1 otherwise.
#
# The second cluster "other" (/etc/slurm-other/slurm.conf, reached with
# SLURM_CONF=/etc/slurm-other/slurm.conf): one node, other1; no accounting;
# different MinJobAge, KillWait, MaxArraySize, FirstJobId and partition.
#   start-other   like start, for this cluster (shares munged).
#   stop-other    like stop.
#   status-other  like status.
#
# Faults, for tests (each is idempotent, bounded in time and says what it did):
#   kill-node NODE [--with-jobs]
#             SIGKILL the slurmd of NODE (node1, node2 or other1).  Slurm
#             notices after ~26 s (main cluster): the node goes DOWN and a job
#             running there ends NODE_FAIL (or is requeued).  The job's
#             processes live on (as after a network partition) unless
#             --with-jobs, which also SIGKILLs the node's slurmstepd
#             processes and everything they started (as if the host crashed).
#   start-node NODE
#             start the slurmd of NODE again and wait until the node is back
#             in service (idle/mixed/allocated), resuming it if needed.
#   kill-ctld [cfut|other] [--now]
#             SIGKILL the cluster's slurmctld (default cfut), after waiting
#             (up to 6 s) until it has saved the state of everything done
#             before, unless --now (then recent jobs may be forgotten and
#             their ids reused, as after a real crash).
#   start-ctld [cfut|other]
#             start it again; wait until `scontrol ping` says UP and the
#             nodes whose slurmd runs are back in service.
#
#   diagnose  print both clusters' state and the daemons' log tails (for CI
#             logs after failed tests); always exits 0.
#   install   only install the Debian packages (used when building the image).
#
# Environment:
#   CFUT_SLURM_ACCOUNTING      dbd (default): slurmdbd + MariaDB, sacct works
#                              none: no accounting, sacct says "Slurm
#                              accounting storage is disabled"
#   CFUT_SLURM_MEMORY          auto (default): cgroup if the host has a
#                              writable cgroup v1 memory controller, else
#                              jobacct; cgroup: task/cgroup (jobs over their
#                              memory end OUT_OF_MEMORY); jobacct:
#                              JobAcctGatherParams=OverMemoryKill (they end
#                              FAILED)
#   CFUT_SLURM_READY_TIMEOUT   seconds to wait for a cluster (default 60)
#   CFUT_SLURM_NODE_TIMEOUT    seconds start-node/start-ctld wait (default 30)
#
# Exit codes: 0 success, 1 failure, 2 usage error.
#
# The script takes over the host's Slurm and munge configuration
# (/etc/slurm, /etc/slurm-other, /etc/munge): run it only on throw-away test
# machines.

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

MODE=${CFUT_SLURM_ACCOUNTING:-dbd}
MEMORY=${CFUT_SLURM_MEMORY:-auto}
READY_TIMEOUT=${CFUT_SLURM_READY_TIMEOUT:-60}
NODE_TIMEOUT=${CFUT_SLURM_NODE_TIMEOUT:-30}

SLURM_USER=slurm
NODE_ADDR=127.0.0.1
DB_NAME=slurm_acct_db
DB_USER=slurm

# --- the main cluster ---
CLUSTER_NAME=cfut
MAIN_NODES=(node1 node2)
declare -A NODE_PORT=([node1]=6818 [node2]=6821 [other1]=6828)
declare -A NODE_WEIGHT=([node1]=1 [node2]=2)
CTLD_PORT=6817                       # slurmdbd: 6819
MIN_JOB_AGE=30
GPUS_PER_NODE=2
CONF_DIR=/etc/slurm
MAIN_CONF=$CONF_DIR/slurm.conf
GRES_CONF=$CONF_DIR/gres.conf
CGROUP_CONF=$CONF_DIR/cgroup.conf
SLURMDBD_CONF=$CONF_DIR/slurmdbd.conf
SLURM_RUN=/run/slurm
SLURM_LOG=/var/log/slurm
SLURM_LIB=/var/lib/slurm
FAKE_GPU_DIR=$SLURM_LIB/fake-gpu

# --- the second cluster ---
OTHER_NAME=other
OTHER_NODES=(other1)
OTHER_CTLD_PORT=6827
OTHER_MIN_JOB_AGE=5
OTHER_KILL_WAIT=5
OTHER_MAX_ARRAY_SIZE=101
OTHER_FIRST_JOB_ID=500001
OTHER_CONF_DIR=/etc/slurm-other
OTHER_CONF=$OTHER_CONF_DIR/slurm.conf
OTHER_RUN=/run/slurm-other
OTHER_LOG=/var/log/slurm-other
OTHER_LIB=/var/lib/slurm-other

MUNGE_KEY=/etc/munge/munge.key
STATE_DIR=/run/cfut-slurm            # markers and the lock; gone after a reboot
LOCK_FILE=$STATE_DIR/lock
MARIADB_LOG=/var/log/mysql/cfut-mariadb.log
MARIADB_PID=/run/mysqld/mysqld.pid
MUNGE_LOG=/var/log/munge/munged.log
MUNGE_PID=/run/munge/munged.pid

# Client commands talk to the main cluster unless told otherwise.
export SLURM_CONF=$MAIN_CONF

log() { printf '[start-slurm] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
usage_error() { log "$*"; exit 2; }

# Microseconds since the epoch, and a duration in seconds with 1 decimal.
now_us() { local t=${EPOCHREALTIME/[.,]/}; echo "${t#0}"; }
elapsed() { local us=$(( $(now_us) - $1 )); printf '%d.%01d' $((us / 1000000)) $((us % 1000000 / 100000)); }

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root"; }

check_mode() {
    case $MODE in
        dbd|none) ;;
        *) usage_error "CFUT_SLURM_ACCOUNTING must be 'dbd' or 'none', not '$MODE'" ;;
    esac
    case $MEMORY in
        auto|cgroup|jobacct) ;;
        *) usage_error "CFUT_SLURM_MEMORY must be 'auto', 'cgroup' or 'jobacct', not '$MEMORY'" ;;
    esac
}

# One subcommand that changes daemons at a time (two CI jobs or two engineers
# on one host): hold an exclusive lock on file descriptor 9 until the script
# exits.  Daemons are started with 9>&- so that none inherits the lock.
take_lock() {
    mkdir -p "$STATE_DIR"
    exec 9>"$LOCK_FILE"
    if ! flock -w 120 9; then
        die "another start-slurm.sh has held $LOCK_FILE for 120 s"
    fi
}

# ---------------------------------------------------------------------------
# clusters and nodes

# The cluster (cfut or other) a node belongs to, or nothing.
node_cluster() {
    case $1 in
        node1|node2) echo "$CLUSTER_NAME" ;;
        other1) echo "$OTHER_NAME" ;;
    esac
}

conf_of() { if [ "$1" = "$OTHER_NAME" ]; then echo "$OTHER_CONF"; else echo "$MAIN_CONF"; fi; }
run_dir_of() { if [ "$1" = "$OTHER_NAME" ]; then echo "$OTHER_RUN"; else echo "$SLURM_RUN"; fi; }
log_dir_of() { if [ "$1" = "$OTHER_NAME" ]; then echo "$OTHER_LOG"; else echo "$SLURM_LOG"; fi; }
lib_dir_of() { if [ "$1" = "$OTHER_NAME" ]; then echo "$OTHER_LIB"; else echo "$SLURM_LIB"; fi; }
nodes_of() { if [ "$1" = "$OTHER_NAME" ]; then echo "${OTHER_NODES[*]}"; else echo "${MAIN_NODES[*]}"; fi; }

# Run a Slurm client command against CLUSTER: on CLUSTER CMD...
on() {
    local conf
    conf=$(conf_of "$1")
    shift
    SLURM_CONF=$conf "$@"
}

check_cluster_arg() {
    case $1 in
        "$CLUSTER_NAME"|"$OTHER_NAME") ;;
        *) usage_error "unknown cluster '$1' (expected $CLUSTER_NAME or $OTHER_NAME)" ;;
    esac
}

# ---------------------------------------------------------------------------
# packages

packages_for_mode() {
    echo slurm-wlm munge procps
    if [ "$1" = dbd ]; then echo slurmdbd mariadb-server; fi
}

pkg_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

install_packages() {
    local mode=$1 p missing=() created_policy=0 rc=0 t0
    for p in $(packages_for_mode "$mode"); do
        pkg_installed "$p" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    t0=$(now_us)
    log "installing Debian packages: ${missing[*]}"
    # Keep the packages' maintainer scripts from starting daemons: there is
    # no init system to run them, and we start them ourselves below.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    {
        DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            -o Dpkg::Use-Pty=0 "${missing[@]}"
    } >&2 || rc=$?
    if [ $created_policy -eq 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
    [ $rc -eq 0 ] || die "apt-get failed with exit code $rc"
    log "packages installed in $(elapsed "$t0") s"
}

# ---------------------------------------------------------------------------
# processes
#
# Several daemons share a command name (two clusters' slurmctld, three
# slurmd), so a process is told apart by its command line and environment:
# the script starts every daemon as `NAME -f CONF [-N NODE]` with
# SLURM_CONF=CONF in its environment (which slurmstepd inherits).  A process
# mentioning /etc/slurm-other/ belongs to the cluster "other"; one
# mentioning /etc/slurm/slurm.conf, or no configuration at all (started with
# the defaults, e.g. by older versions of this script), to "cfut"; any other
# is someone else's and left alone.  slurmscriptd (slurmctld's helper, which
# overwrites its command line and environment) belongs to its parent's.

cmdline_of() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }

is_live() {
    local state
    # /proc/PID/stat: "PID (comm) STATE ..."; comm may contain spaces.
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

cluster_of_pid() {
    local pid=$1 text ppid
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = slurmscriptd ]; then
        ppid=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f2)
        if [ -n "$ppid" ] && [ "$ppid" != 1 ] && [ "$(cat "/proc/$ppid/comm" 2>/dev/null)" = slurmctld ]; then
            pid=$ppid
        fi
    fi
    text="$(cmdline_of "$pid") $(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep '^SLURM_CONF=' || true)"
    if [[ $text == *"$OTHER_CONF_DIR/"* ]]; then
        echo "$OTHER_NAME"
    elif [[ $text == *"$MAIN_CONF"* ]] || { [[ $text != *SLURM_CONF=* ]] && [[ $text != *" -f "* ]]; }; then
        echo "$CLUSTER_NAME"
    else
        echo foreign
    fi
}

# pids_of COMM [CLUSTER [NODE]]: live PIDs whose command name is COMM, only
# those of CLUSTER if given, only the slurmd of NODE if given.
pids_of() {
    local comm=$1 cluster=${2:-} node=${3:-} pid
    for pid in $(pgrep -x "$comm" || true); do
        is_live "$pid" || continue
        if [ -n "$cluster" ] && [ "$(cluster_of_pid "$pid")" != "$cluster" ]; then continue; fi
        if [ -n "$node" ] && [[ " $(cmdline_of "$pid") " != *" -N $node "* ]]; then continue; fi
        echo "$pid"
    done
}

is_running() { [ -n "$(pids_of "$@")" ]; }

still_live() {
    local pid
    for pid in "$@"; do
        if is_live "$pid"; then echo "$pid"; fi
    done
}

# terminate LABEL PID...: SIGTERM, wait up to 20 s, then SIGKILL.
terminate() {
    local label=$1 i left
    shift
    [ $# -gt 0 ] || return 0
    log "stopping $label ($*)"
    kill -TERM "$@" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
        [ -z "$(still_live "$@")" ] && return 0
        sleep 0.1
    done
    left=$(still_live "$@" | tr '\n' ' ')
    log "$label did not stop within 20 s: killing $left"
    # shellcheck disable=SC2086  # a list of PIDs
    kill -KILL $left 2>/dev/null || true
    sleep 0.5
}

# sigkill LABEL PID...: SIGKILL and wait (up to 5 s) until they are gone.
# Returns 1 if one is still there.
sigkill() {
    local label=$1 i
    shift
    [ $# -gt 0 ] || return 0
    log "sending SIGKILL to $label ($*)"
    kill -KILL "$@" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        [ -z "$(still_live "$@")" ] && return 0
        sleep 0.1
    done
    log "$label still alive 5 s after SIGKILL: $(still_live "$@" | tr '\n' ' ')"
    return 1
}

# All processes below PID (children, grandchildren, ...), deepest last.
descendants() {
    local pid=$1 child
    for child in $(pgrep -P "$pid" || true); do
        echo "$child"
        descendants "$child"
    done
}

# Our daemons that are running (zombies aside), as "PID [cluster] command line".
list_daemons() {
    local name pid
    for name in "$@"; do
        for pid in $(pids_of "$name"); do
            printf '%s [%s] %s\n' "$pid" "$(cluster_of_pid "$pid")" "$(cmdline_of "$pid")"
        done
    done
}

list_cluster_daemons() {
    local cluster=$1 name pid
    for name in slurmctld slurmd slurmstepd; do
        for pid in $(pids_of "$name" "$cluster"); do
            printf '%s %s\n' "$pid" "$(cmdline_of "$pid")"
        done
    done
}

# Give init a moment (up to 5 s) to reap exited daemons, so that `pgrep`
# right after a stop finds none of them as zombies (some sandboxes' init
# reaps slowly).  Live processes of the same name (the other cluster's) do
# not count.
wait_for_reaping() {
    local i name pid zombies
    for ((i = 0; i < 50; i++)); do
        zombies=""
        for name in "$@"; do
            for pid in $(pgrep -x "$name" || true); do
                is_live "$pid" || zombies+=" $pid"
            done
        done
        [ -z "$zombies" ] && break
        sleep 0.1
    done
}

# ---------------------------------------------------------------------------
# configuration

host_name() { hostname -s; }

# The accounting mode of the installed main slurm.conf, or "" if there is none.
configured_mode() {
    [ -r "$MAIN_CONF" ] || return 0
    if grep -q '^AccountingStorageType=accounting_storage/slurmdbd' "$MAIN_CONF"; then
        echo dbd
    elif grep -q '^AccountingStorageType=' "$MAIN_CONF"; then
        echo none
    fi
}

# The memory enforcement of the installed main slurm.conf, or "".
configured_memory() {
    [ -r "$MAIN_CONF" ] || return 0
    if grep -q '^TaskPlugin=task/cgroup' "$MAIN_CONF"; then
        echo cgroup
    elif grep -q '^JobAcctGatherParams=.*OverMemoryKill' "$MAIN_CONF"; then
        echo jobacct
    fi
}

ensure_hostname_resolves() {
    local name=$1
    if ! getent hosts "$name" >/dev/null; then
        log "host name '$name' does not resolve: adding it to /etc/hosts"
        printf '127.0.0.1\t%s\n' "$name" >>/etc/hosts
    fi
}

ensure_slurm_user() {
    if ! id -u "$SLURM_USER" >/dev/null 2>&1; then
        log "creating system user $SLURM_USER"
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$SLURM_USER"
    fi
}

# Fill in a template: render TEMPLATE KEY=VALUE...
render() {
    local text kv
    text=$(<"$1")
    shift
    for kv in "$@"; do
        text=${text//@${kv%%=*}@/${kv#*=}}
    done
    if [[ $text =~ @[A-Z_]+@ ]]; then
        die "unfilled placeholder ${BASH_REMATCH[0]} in template"
    fi
    printf '%s\n' "$text"
}

# Existing slurmdbd database password, or a new random one.
db_password() {
    local pw=""
    if [ -r "$SLURMDBD_CONF" ]; then
        pw=$(sed -n 's/^StoragePass=//p' "$SLURMDBD_CONF" | head -n 1)
    fi
    if [ -z "$pw" ]; then
        pw=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
    fi
    echo "$pw"
}

# This host's hardware as `slurmd -C` reports it, without the NodeName:
# "CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105".
# Sets HW, and DEF_MEM (MB per CPU for DefMemPerCPU: at most 1024).
probe_hardware() {
    local line cpus mem
    line=$(slurmd -C 2>/dev/null | grep '^NodeName=' | head -n 1) ||
        die "'slurmd -C' failed"
    HW=$(tr ' ' '\n' <<<"$line" |
        grep -E '^(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore|RealMemory)=' |
        tr '\n' ' ')
    HW=${HW% }
    cpus=$(grep -oE 'CPUs=[0-9]+' <<<"$HW" | cut -d= -f2) || true
    mem=$(grep -oE 'RealMemory=[0-9]+' <<<"$HW" | cut -d= -f2) || true
    if [ -z "$cpus" ] || [ -z "$mem" ]; then
        die "'slurmd -C' reports '$line': no CPUs or RealMemory"
    fi
    DEF_MEM=$(( mem / cpus ))
    if [ "$DEF_MEM" -gt 1024 ]; then DEF_MEM=1024; fi
    if [ "$DEF_MEM" -lt 1 ]; then DEF_MEM=1; fi
}

# Whether Slurm's cgroup/v1 plugin can confine jobs' memory here: a cgroup v1
# memory controller at /sys/fs/cgroup/memory in which we may create groups.
cgroup_v1_memory_usable() {
    local probe=/sys/fs/cgroup/memory/cfut-probe.$$
    [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ] || return 1
    mkdir "$probe" 2>/dev/null || return 1
    rmdir "$probe" 2>/dev/null || true
}

# Sets MEMORY_MODE to cgroup or jobacct.
choose_memory_mode() {
    case $MEMORY in
        cgroup)
            cgroup_v1_memory_usable ||
                die "CFUT_SLURM_MEMORY=cgroup, but there is no writable cgroup v1 memory controller at /sys/fs/cgroup/memory"
            MEMORY_MODE=cgroup ;;
        jobacct) MEMORY_MODE=jobacct ;;
        auto)
            if cgroup_v1_memory_usable; then MEMORY_MODE=cgroup; else MEMORY_MODE=jobacct; fi ;;
    esac
}

# The fake GPUs: character devices 1:3 (what /dev/null is), so that a job
# that opens one reads nothing and writes into the void.  Slurm 22.05 wants
# File= for gpu GRES and checks that each file is a character or block
# device.  Sets GPUS_OK=1 if they are there.
ensure_fake_gpus() {
    local i f
    GPUS_OK=1
    install -d -m 0755 "$FAKE_GPU_DIR"
    for ((i = 0; i < GPUS_PER_NODE; i++)); do
        f=$FAKE_GPU_DIR/nvidia$i
        [ -c "$f" ] && continue
        rm -f "$f"
        if ! mknod -m 0666 "$f" c 1 3 2>/dev/null; then
            log "WARNING: cannot create the fake GPU device $f (mknod refused): the cluster will have no GPUs"
            GPUS_OK=0
            return 0
        fi
    done
}

# Writes the desired main configuration to $WORK: slurm.conf, gres.conf (if
# GPUs), cgroup.conf (if cgroup memory enforcement), slurmdbd.conf (dbd).
generate_config() {
    local host accounting memory gres_types node_lines="" node gres="" swap
    host=$(host_name)
    probe_hardware
    choose_memory_mode
    ensure_fake_gpus

    if [ "$MODE" = dbd ]; then
        accounting="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819"
    else
        accounting="AccountingStorageType=accounting_storage/none"
    fi

    if [ "$MEMORY_MODE" = cgroup ]; then
        memory="TaskPlugin=task/cgroup
JobAcctGatherType=jobacct_gather/linux"
        # Without swap accounting (memory.memsw.*) Slurm cannot limit swap.
        if [ -f /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes ]; then
            swap="ConstrainSwapSpace=yes
AllowedSwapSpace=0"
        else
            swap="ConstrainSwapSpace=no"
        fi
        render "$SCRIPT_DIR/cgroup.conf.in" "SWAP=$swap" >"$WORK/cgroup.conf"
    else
        memory="TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherParams=OverMemoryKill
JobAcctGatherFrequency=task=1"
    fi

    if [ "$GPUS_OK" = 1 ]; then
        gres_types="GresTypes=gpu"
        gres=" Gres=gpu:$GPUS_PER_NODE"
        render "$SCRIPT_DIR/gres.conf.in" "NODE_LIST=node[1-2]" \
            "GPU_FILES=$FAKE_GPU_DIR/nvidia[0-$((GPUS_PER_NODE - 1))]" >"$WORK/gres.conf"
    else
        gres_types="# (no GPUs: the fake GPU devices could not be created)"
    fi

    for node in "${MAIN_NODES[@]}"; do
        node_lines+="NodeName=$node NodeHostname=$host NodeAddr=$NODE_ADDR Port=${NODE_PORT[$node]}"
        node_lines+=" Weight=${NODE_WEIGHT[$node]}$gres $HW State=UNKNOWN"$'\n'
    done
    node_lines=${node_lines%$'\n'}

    render "$SCRIPT_DIR/slurm.conf.in" \
        "CLUSTER_NAME=$CLUSTER_NAME" "CTLD_HOST=$host" "NODE_ADDR=$NODE_ADDR" \
        "CTLD_PORT=$CTLD_PORT" "SLURM_USER=$SLURM_USER" \
        "LIB_DIR=$SLURM_LIB" "RUN_DIR=$SLURM_RUN" "LOG_DIR=$SLURM_LOG" \
        "MEMORY_ENFORCEMENT=$memory" "GRES_TYPES=$gres_types" \
        "DEF_MEM_PER_CPU=$DEF_MEM" "MIN_JOB_AGE=$MIN_JOB_AGE" \
        "ACCOUNTING=$accounting" "NODE_LINES=$node_lines" \
        "NODE_LIST=node[1-2]" >"$WORK/slurm.conf"
    if [ "$MODE" = dbd ]; then
        render "$SCRIPT_DIR/slurmdbd.conf.in" \
            "SLURM_USER=$SLURM_USER" "DB_USER=$DB_USER" "DB_NAME=$DB_NAME" \
            "DB_PASS=$(db_password)" >"$WORK/slurmdbd.conf"
    fi
}

# same_file GENERATED INSTALLED: both absent, or both present and equal.
same_file() {
    if [ -e "$1" ]; then cmp -s "$1" "$2"; else [ ! -e "$2" ]; fi
}

config_is_current() {
    same_file "$WORK/slurm.conf" "$MAIN_CONF" || return 1
    same_file "$WORK/gres.conf" "$GRES_CONF" || return 1
    same_file "$WORK/cgroup.conf" "$CGROUP_CONF" || return 1
    if [ "$MODE" = dbd ]; then
        cmp -s "$WORK/slurmdbd.conf" "$SLURMDBD_CONF" || return 1
    fi
}

install_config() {
    local f
    mkdir -p "$CONF_DIR"
    install -m 0644 -o root -g root "$WORK/slurm.conf" "$MAIN_CONF"
    for f in gres.conf cgroup.conf; do
        if [ -e "$WORK/$f" ]; then
            install -m 0644 -o root -g root "$WORK/$f" "$CONF_DIR/$f"
        else
            rm -f "$CONF_DIR/$f"
        fi
    done
    if [ "$MODE" = dbd ]; then
        install -m 0600 -o "$SLURM_USER" -g "$SLURM_USER" "$WORK/slurmdbd.conf" "$SLURMDBD_CONF"
    fi
}

# prepare_dirs CLUSTER: PID, log and state directories; slurmctld (as the
# SlurmUser) writes its PID, log and state, the slurmds (as root) their own.
prepare_dirs() {
    local cluster=$1 run log lib node f
    run=$(run_dir_of "$cluster"); log=$(log_dir_of "$cluster"); lib=$(lib_dir_of "$cluster")
    install -d -m 0755 -o "$SLURM_USER" -g "$SLURM_USER" "$run" "$log" "$lib" "$lib/slurmctld"
    for node in $(nodes_of "$cluster"); do
        install -d -m 0755 "$lib/slurmd-$node"
    done
    for f in slurmctld.log slurmdbd.log; do
        if [ -e "$log/$f" ]; then chown "$SLURM_USER:$SLURM_USER" "$log/$f"; fi
    done
    chown -R "$SLURM_USER:$SLURM_USER" "$lib/slurmctld"
    mkdir -p "$STATE_DIR"
}

# Writes the desired configuration of the second cluster to $WORK/other.conf.
generate_other_config() {
    local host node node_lines=""
    host=$(host_name)
    probe_hardware
    for node in "${OTHER_NODES[@]}"; do
        node_lines+="NodeName=$node NodeHostname=$host NodeAddr=$NODE_ADDR Port=${NODE_PORT[$node]}"
        node_lines+=" $HW State=UNKNOWN"$'\n'
    done
    node_lines=${node_lines%$'\n'}
    render "$SCRIPT_DIR/slurm-other.conf.in" \
        "CLUSTER_NAME=$OTHER_NAME" "CTLD_HOST=$host" "NODE_ADDR=$NODE_ADDR" \
        "CTLD_PORT=$OTHER_CTLD_PORT" "SLURM_USER=$SLURM_USER" \
        "LIB_DIR=$OTHER_LIB" "RUN_DIR=$OTHER_RUN" "LOG_DIR=$OTHER_LOG" \
        "DEF_MEM_PER_CPU=$DEF_MEM" "MIN_JOB_AGE=$OTHER_MIN_JOB_AGE" \
        "KILL_WAIT=$OTHER_KILL_WAIT" "MAX_ARRAY_SIZE=$OTHER_MAX_ARRAY_SIZE" \
        "FIRST_JOB_ID=$OTHER_FIRST_JOB_ID" "NODE_LINES=$node_lines" \
        "NODE_LIST=${OTHER_NODES[*]}" >"$WORK/other.conf"
}

# ---------------------------------------------------------------------------
# health

munge_works() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }

controller_up() { timeout 10 env SLURM_CONF="$(conf_of "$1")" scontrol ping 2>/dev/null | grep -q 'is UP'; }

# Node state as printed by sinfo %T (e.g. idle, mixed, down*, drained).
node_state() {
    local cluster
    cluster=$(node_cluster "$1")
    timeout 10 env SLURM_CONF="$(conf_of "$cluster")" sinfo -h -N -n "$1" -o %T 2>/dev/null | head -n 1
}

usable_state() {
    case $1 in
        idle|mixed|allocated|completing) return 0 ;;
        *) return 1 ;;
    esac
}

node_usable() { usable_state "$(node_state "$1")"; }

dbd_works() {
    timeout 10 sacctmgr -n -P show cluster format=Cluster 2>/dev/null | grep -qx "$CLUSTER_NAME"
}

# healthy CLUSTER [MODE]: prints the first problem found and returns 1, or
# returns 0.  MODE (dbd/none) only for the main cluster.
healthy() {
    local cluster=$1 mode=${2:-none} node
    munge_works || { echo "munged is not working"; return 1; }
    if [ "$mode" = dbd ]; then
        is_running slurmdbd || { echo "slurmdbd is not running"; return 1; }
    fi
    is_running slurmctld "$cluster" || { echo "slurmctld is not running"; return 1; }
    for node in $(nodes_of "$cluster"); do
        is_running slurmd "$cluster" "$node" || { echo "the slurmd of $node is not running"; return 1; }
    done
    controller_up "$cluster" || { echo "slurmctld does not answer 'scontrol ping'"; return 1; }
    for node in $(nodes_of "$cluster"); do
        node_usable "$node" || { echo "node $node is '$(node_state "$node")', not idle"; return 1; }
    done
    if [ "$mode" = dbd ]; then
        dbd_works || { echo "slurmdbd does not answer, or cluster $CLUSTER_NAME is not registered"; return 1; }
    fi
    return 0
}

# ---------------------------------------------------------------------------
# daemons

start_munge() {
    if [ ! -s "$MUNGE_KEY" ]; then
        log "creating $MUNGE_KEY"
        install -d -m 0700 -o munge -g munge /etc/munge
        if command -v mungekey >/dev/null; then
            mungekey --create --keyfile="$MUNGE_KEY" --force
        else
            dd if=/dev/urandom of="$MUNGE_KEY" bs=1024 count=1 status=none
        fi
    fi
    chown munge:munge /etc/munge "$MUNGE_KEY"
    chmod 0700 /etc/munge
    chmod 0400 "$MUNGE_KEY"
    if munge_works; then return 0; fi
    # shellcheck disable=SC2046  # a list of PIDs
    terminate munged $(pids_of munged)
    rm -f "$MUNGE_PID"
    install -d -m 0755 -o munge -g munge /run/munge
    install -d -m 0700 -o munge -g munge /var/log/munge /var/lib/munge
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged --force 9>&-
    local i
    for ((i = 0; i < 100; i++)); do
        munge_works && return 0
        sleep 0.1
    done
    die "munged did not come up"
}

start_mariadb() {
    local i
    if timeout 10 mariadb-admin --protocol=socket ping >/dev/null 2>&1; then
        log "MariaDB is already running"
    else
        # shellcheck disable=SC2046  # a list of PIDs
        terminate mariadbd $(pids_of mariadbd)
        rm -f "$MARIADB_PID"
        install -d -m 0755 -o mysql -g mysql /run/mysqld /var/log/mysql
        if [ ! -d /var/lib/mysql/mysql ]; then
            log "initialising the MariaDB data directory"
            mariadb-install-db --user=mysql --datadir=/var/lib/mysql \
                --skip-test-db >"$STATE_DIR/mariadb-install.log" 2>&1 ||
                { cat "$STATE_DIR/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
        fi
        log "starting MariaDB"
        # Only local clients; durability does not matter for test data.
        # No native AIO: io_uring/libaio are often blocked in containers.
        setsid -f /usr/sbin/mariadbd --user=mysql --datadir=/var/lib/mysql \
            --pid-file="$MARIADB_PID" --socket=/run/mysqld/mysqld.sock \
            --bind-address=127.0.0.1 --log-error="$MARIADB_LOG" \
            --innodb-flush-log-at-trx-commit=0 --innodb-lock-wait-timeout=900 \
            --innodb-buffer-pool-size=1024M --innodb-use-native-aio=0 \
            </dev/null >/dev/null 2>&1 9>&-
        touch "$STATE_DIR/mariadb.ours"
        for ((i = 0; i < 300; i++)); do
            timeout 5 mariadb-admin --protocol=socket ping >/dev/null 2>&1 && break
            sleep 0.1
        done
        timeout 5 mariadb-admin --protocol=socket ping >/dev/null 2>&1 ||
            { tail -n 30 "$MARIADB_LOG" >&2 || true; die "MariaDB did not come up within 30 s"; }
    fi
    local pw
    pw=$(sed -n 's/^StoragePass=//p' "$SLURMDBD_CONF" | head -n 1)
    mariadb --protocol=socket <<EOF
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\`;
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$pw';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
EOF
}

start_slurmdbd() {
    local i
    log "starting slurmdbd"
    /usr/sbin/slurmdbd 9>&-
    for ((i = 0; i < 300; i++)); do
        timeout 5 sacctmgr -n -P show cluster format=Cluster >/dev/null 2>&1 && break
        is_running slurmdbd || break
        sleep 0.1
    done
    timeout 5 sacctmgr -n -P show cluster format=Cluster >/dev/null 2>&1 ||
        { tail -n 30 "$SLURM_LOG/slurmdbd.log" >&2 || true; die "slurmdbd did not come up"; }
    if ! dbd_works; then
        log "registering cluster $CLUSTER_NAME with slurmdbd"
        timeout 20 sacctmgr -i add cluster "$CLUSTER_NAME" >&2
    fi
}

# start_ctld CLUSTER / start_slurmd NODE: start the daemon (it forks into the
# background once it has read its configuration).
start_ctld() {
    local conf
    conf=$(conf_of "$1")
    log "starting slurmctld of cluster $1"
    SLURM_CONF=$conf /usr/sbin/slurmctld -f "$conf" 9>&-
}

start_slurmd() {
    local node=$1 cluster conf
    cluster=$(node_cluster "$node")
    conf=$(conf_of "$cluster")
    log "starting slurmd of $node (cluster $cluster, port ${NODE_PORT[$node]})"
    SLURM_CONF=$conf /usr/sbin/slurmd -f "$conf" -N "$node" 9>&-
}

log_files() {
    local cluster node
    for cluster in "$@"; do
        if [ "$cluster" = "$CLUSTER_NAME" ]; then
            echo "$SLURM_LOG/slurmctld.log"
            for node in "${MAIN_NODES[@]}"; do echo "$SLURM_LOG/slurmd-$node.log"; done
            echo "$SLURM_LOG/slurmdbd.log" "$MUNGE_LOG" "$MARIADB_LOG"
        else
            echo "$OTHER_LOG/slurmctld.log"
            for node in "${OTHER_NODES[@]}"; do echo "$OTHER_LOG/slurmd-$node.log"; done
        fi
    done
}

# print_log_tails LINES CLUSTER...
print_log_tails() {
    local lines=$1 f
    shift
    for f in $(log_files "$@"); do
        if [ -r "$f" ]; then
            echo "----- last $lines lines of $f -----"
            tail -n "$lines" "$f"
        fi
    done
}

# wait_ready CLUSTER DEADLINE_US: until every node is usable and a job step
# runs on all of them.
wait_ready() {
    local cluster=$1 deadline=$2 node state nodes all_usable down_since="" resumed=0
    nodes=$(nodes_of "$cluster")
    local -a count
    read -r -a count <<<"$nodes"
    while :; do
        if controller_up "$cluster"; then
            all_usable=1
            for node in $nodes; do
                state=$(node_state "$node")
                case $state in
                    idle|mixed|allocated|completing) ;;
                    *drain*|down*|fail*)
                        all_usable=0
                        # Old saved state (e.g. "Not responding") that
                        # ReturnToService does not clear: resume once.
                        [ -n "$down_since" ] || down_since=$(now_us)
                        if [ $resumed -eq 0 ] && [ $(( $(now_us) - down_since )) -gt 5000000 ]; then
                            log "node $node is '$state': resuming it"
                            on "$cluster" scontrol update NodeName="$node" State=RESUME >&2 || true
                            resumed=1
                        fi
                        ;;
                    *) all_usable=0 ;;
                esac
            done
            if [ $all_usable -eq 1 ]; then
                # A job step on every node shows that each slurmd launches
                # jobs.  (On the other cluster, without OverSubscribe, it
                # would wait while jobs fill a node: that node evidently
                # runs jobs already.)
                if [[ " $(for node in $nodes; do node_state "$node"; done | tr '\n' ' ') " == *" allocated "* ]] ||
                   timeout 20 env SLURM_CONF="$(conf_of "$cluster")" \
                       srun -N "${#count[@]}" -n "${#count[@]}" true >/dev/null 2>"$STATE_DIR/srun-$cluster.err"; then
                    return 0
                fi
            fi
        fi
        if [ "$(now_us)" -gt "$deadline" ]; then
            log "cluster $cluster not ready within $READY_TIMEOUT s (nodes: $(for node in $nodes; do printf '%s=%s ' "$node" "$(node_state "$node")"; done))"
            if [ -s "$STATE_DIR/srun-$cluster.err" ]; then
                log "last srun error:"; cat "$STATE_DIR/srun-$cluster.err" >&2
            fi
            print_log_tails 40 "$cluster" >&2
            return 1
        fi
        sleep 0.5
    done
}

# ---------------------------------------------------------------------------
# subcommands: the main cluster

cmd_install() {
    need_root
    check_mode
    install_packages "$MODE"
}

# Measured on a 2-core, 24 GiB Debian 12 machine (packages installed, dbd
# mode): from a fresh state (no configuration, Slurm state, logs, accounting
# database or munge key) `start` is ready after 2.9 s and `start-other`
# after 1.3 s more; on healthy clusters they return in 0.1-0.6 s; a restart
# for a changed memory mode takes 5-8.5 s, `stop` 4 s.  The daemons then
# take ~190 MB (RSS): MariaDB 123 MB, slurmctld 9 MB + slurmscriptd 3 MB per
# cluster, slurmdbd 9 MB, each slurmd 5 MB, munged 4 MB.
cmd_start() {
    need_root
    check_mode
    take_lock
    local t0 t1 problem node keep_dbd
    t0=$(now_us)
    install_packages "$MODE"
    ensure_slurm_user
    ensure_hostname_resolves "$(host_name)"
    WORK=$(mktemp -d)
    trap 'rm -rf "$WORK"' EXIT
    generate_config

    if config_is_current && problem=$(healthy "$CLUSTER_NAME" "$MODE"); then
        log "cluster $CLUSTER_NAME already up and healthy (accounting: $MODE, memory: $MEMORY_MODE);" \
            "nothing to do ($(elapsed "$t0") s)"
        return 0
    fi
    if [ -z "$(list_cluster_daemons "$CLUSTER_NAME")$(list_daemons slurmdbd)" ]; then
        :   # not running: nothing to explain
    elif [ -r "$MAIN_CONF" ] && ! config_is_current; then
        log "configuration changed (was accounting '$(configured_mode)', memory '$(configured_memory)';" \
            "now '$MODE', '$MEMORY_MODE'): restarting the cluster"
    elif [ -n "${problem:-}" ]; then
        log "cluster not healthy ($problem): restarting it"
    fi
    # slurmdbd (and MariaDB) need not restart with slurmctld: keep them if
    # they work and their configuration stays.
    keep_dbd=""
    if [ "$MODE" = dbd ] && cmp -s "$WORK/slurmdbd.conf" "$SLURMDBD_CONF" &&
       is_running slurmdbd && dbd_works; then
        keep_dbd=keep-dbd
    fi
    stop_main keep-jobs $keep_dbd

    t1=$(now_us)
    install_config
    prepare_dirs "$CLUSTER_NAME"
    start_munge
    if [ "$MODE" = dbd ] && [ -z "$keep_dbd" ]; then
        start_mariadb
        start_slurmdbd
    fi
    start_ctld "$CLUSTER_NAME"
    for node in "${MAIN_NODES[@]}"; do
        start_slurmd "$node"
    done
    if ! wait_ready "$CLUSTER_NAME" $(( t1 + READY_TIMEOUT * 1000000 )); then
        die "Slurm did not become ready"
    fi
    problem=$(healthy "$CLUSTER_NAME" "$MODE") || die "cluster started but is not healthy: $problem"
    log "Slurm cluster '$CLUSTER_NAME' ready, nodes ${MAIN_NODES[*]} (accounting: $MODE," \
        "memory: $MEMORY_MODE, GPUs: $([ "$GPUS_OK" = 1 ] && echo "$GPUS_PER_NODE per node" || echo none)):" \
        "daemons up in $(elapsed "$t1") s, start took $(elapsed "$t0") s in all"
}

# cancel_all_jobs CLUSTER
cancel_all_jobs() {
    local cluster=$1 ids i
    is_running slurmctld "$cluster" && controller_up "$cluster" || return 0
    ids=$(timeout 10 env SLURM_CONF="$(conf_of "$cluster")" \
        squeue -h -o %A -t pending,running,suspended,completing,configuring 2>/dev/null | tr '\n' ' ' || true)
    [ -n "${ids// /}" ] || return 0
    log "cancelling jobs of cluster $cluster: $ids"
    # shellcheck disable=SC2086  # a list of job ids
    timeout 10 env SLURM_CONF="$(conf_of "$cluster")" scancel $ids 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        [ -z "$(timeout 10 env SLURM_CONF="$(conf_of "$cluster")" \
            squeue -h -o %A -t running,completing,configuring 2>/dev/null || true)" ] && return 0
        sleep 0.2
    done
}

other_is_running() { [ -n "$(list_cluster_daemons "$OTHER_NAME")" ]; }
main_is_running() { [ -n "$(list_cluster_daemons "$CLUSTER_NAME")$(list_daemons slurmdbd)" ]; }

# stop_cluster_daemons CLUSTER KEEP_JOBS(0/1): the cluster's slurmds,
# slurmctld and (unless KEEP_JOBS) slurmstepds.
stop_cluster_daemons() {
    local cluster=$1 keep_jobs=$2 run
    run=$(run_dir_of "$cluster")
    if [ "$keep_jobs" -eq 0 ]; then cancel_all_jobs "$cluster"; fi
    # shellcheck disable=SC2046  # lists of PIDs
    {
        terminate "slurmd ($cluster)" $(pids_of slurmd "$cluster")
        terminate "slurmctld ($cluster)" $(pids_of slurmctld "$cluster")
        if [ "$keep_jobs" -eq 0 ]; then
            terminate "slurmstepd ($cluster)" $(pids_of slurmstepd "$cluster")
        fi
    }
    rm -f "$run"/slurmd*.pid "$run/slurmctld.pid"
}

# stop_main [keep-jobs] [keep-dbd]: stop every daemon of the main cluster
# (and munged, unless the other cluster still needs it); returns 1 if one is
# left.  With keep-jobs (used when start restarts the cluster) running jobs
# are neither cancelled nor killed: slurmctld saves them in its state and the
# new slurmds pick up their slurmstepd processes again, as on a real
# cluster.  With keep-dbd, slurmdbd and MariaDB (and munged) keep running.
stop_main() {
    local keep_jobs=0 keep_dbd=0 arg left
    for arg in "$@"; do
        case $arg in
            keep-jobs) keep_jobs=1 ;;
            keep-dbd) keep_dbd=1 ;;
        esac
    done
    stop_cluster_daemons "$CLUSTER_NAME" "$keep_jobs"
    if [ $keep_dbd -eq 0 ]; then
        # shellcheck disable=SC2046  # lists of PIDs
        terminate slurmdbd $(pids_of slurmdbd)
        rm -f "$SLURM_RUN/slurmdbd.pid"
        if [ -e "$STATE_DIR/mariadb.ours" ]; then
            # shellcheck disable=SC2046
            terminate mariadbd $(pids_of mariadbd)
            rm -f "$STATE_DIR/mariadb.ours"
        fi
    fi
    if other_is_running || [ $keep_dbd -eq 1 ]; then
        if [ $keep_jobs -eq 0 ]; then log "keeping munged: cluster $OTHER_NAME still uses it"; fi
    else
        # shellcheck disable=SC2046
        terminate munged $(pids_of munged)
        rm -f "$MUNGE_PID"
    fi
    left=$(list_cluster_daemons "$CLUSTER_NAME"; if [ $keep_dbd -eq 0 ]; then list_daemons slurmdbd; fi)
    if [ $keep_jobs -eq 1 ]; then
        left=$(grep -v ' slurmstepd' <<<"$left" || true)
    fi
    if other_is_running || [ $keep_dbd -eq 1 ]; then :; else left+=$(list_daemons munged); fi
    if [ -n "$left" ]; then
        log "processes left running:"; printf '%s\n' "$left" >&2
        return 1
    fi
    wait_for_reaping slurmctld slurmscriptd slurmd slurmdbd mariadbd
    if [ $keep_jobs -eq 0 ]; then
        log "all daemons of cluster $CLUSTER_NAME stopped"
        if other_is_running; then log "(cluster $OTHER_NAME is still running: stop it with stop-other)"; fi
    fi
}

cmd_stop() {
    need_root
    take_lock
    stop_main || exit 1
}

cmd_status() {
    local mode problem
    mode=$(configured_mode)
    if [ -z "$mode" ]; then
        echo "Slurm is not configured ($MAIN_CONF missing)"; return 1
    fi
    if [ -n "${CFUT_SLURM_ACCOUNTING:-}" ] && [ "$CFUT_SLURM_ACCOUNTING" != "$mode" ]; then
        echo "cluster is configured for accounting '$mode', not '$CFUT_SLURM_ACCOUNTING'"; return 1
    fi
    if ! main_is_running; then
        echo "Slurm cluster '$CLUSTER_NAME' is not running (configured accounting: $mode)"; return 1
    fi
    if problem=$(healthy "$CLUSTER_NAME" "$mode"); then
        echo "Slurm cluster '$CLUSTER_NAME' healthy: nodes ${MAIN_NODES[*]}" \
             "(accounting: $mode, memory: $(configured_memory))"
    else
        echo "Slurm cluster '$CLUSTER_NAME' not healthy: $problem"; return 1
    fi
}

# ---------------------------------------------------------------------------
# subcommands: the second cluster

cmd_start_other() {
    need_root
    take_lock
    local t0 t1 problem node
    t0=$(now_us)
    install_packages none
    ensure_slurm_user
    ensure_hostname_resolves "$(host_name)"
    WORK=$(mktemp -d)
    trap 'rm -rf "$WORK"' EXIT
    generate_other_config

    if cmp -s "$WORK/other.conf" "$OTHER_CONF" && problem=$(healthy "$OTHER_NAME"); then
        log "cluster $OTHER_NAME already up and healthy; nothing to do ($(elapsed "$t0") s)"
        return 0
    fi
    if [ -z "$(list_cluster_daemons "$OTHER_NAME")" ]; then
        :
    elif [ -r "$OTHER_CONF" ] && ! cmp -s "$WORK/other.conf" "$OTHER_CONF"; then
        log "configuration of cluster $OTHER_NAME changed: restarting it"
    elif [ -n "${problem:-}" ]; then
        log "cluster $OTHER_NAME not healthy ($problem): restarting it"
    fi
    stop_cluster_daemons "$OTHER_NAME" 1

    t1=$(now_us)
    mkdir -p "$OTHER_CONF_DIR"
    install -m 0644 -o root -g root "$WORK/other.conf" "$OTHER_CONF"
    prepare_dirs "$OTHER_NAME"
    start_munge
    start_ctld "$OTHER_NAME"
    for node in "${OTHER_NODES[@]}"; do
        start_slurmd "$node"
    done
    if ! wait_ready "$OTHER_NAME" $(( t1 + READY_TIMEOUT * 1000000 )); then
        die "cluster $OTHER_NAME did not become ready"
    fi
    problem=$(healthy "$OTHER_NAME") || die "cluster $OTHER_NAME started but is not healthy: $problem"
    log "Slurm cluster '$OTHER_NAME' ready, node ${OTHER_NODES[*]} (SLURM_CONF=$OTHER_CONF):" \
        "daemons up in $(elapsed "$t1") s, start took $(elapsed "$t0") s in all"
}

cmd_stop_other() {
    need_root
    take_lock
    local left
    stop_cluster_daemons "$OTHER_NAME" 0
    if ! main_is_running; then
        # shellcheck disable=SC2046  # a list of PIDs
        terminate munged $(pids_of munged)
        rm -f "$MUNGE_PID"
    fi
    left=$(list_cluster_daemons "$OTHER_NAME")
    if [ -n "$left" ]; then
        log "processes left running:"; printf '%s\n' "$left" >&2
        exit 1
    fi
    wait_for_reaping slurmctld slurmscriptd slurmd
    log "all daemons of cluster $OTHER_NAME stopped"
}

cmd_status_other() {
    local problem
    if [ ! -r "$OTHER_CONF" ]; then
        echo "Slurm cluster '$OTHER_NAME' is not configured ($OTHER_CONF missing)"; return 1
    fi
    if ! other_is_running; then
        echo "Slurm cluster '$OTHER_NAME' is not running"; return 1
    fi
    if problem=$(healthy "$OTHER_NAME"); then
        echo "Slurm cluster '$OTHER_NAME' healthy: node ${OTHER_NODES[*]} (SLURM_CONF=$OTHER_CONF)"
    else
        echo "Slurm cluster '$OTHER_NAME' not healthy: $problem"; return 1
    fi
}

# ---------------------------------------------------------------------------
# subcommands: faults

check_node_arg() {
    [ -n "${1:-}" ] || usage_error "which node? (${MAIN_NODES[*]} ${OTHER_NODES[*]})"
    [ -n "$(node_cluster "$1")" ] || usage_error "unknown node '$1' (expected one of ${MAIN_NODES[*]} ${OTHER_NODES[*]})"
}

# The slurmstepd processes serving jobs on NODE: those listening on a socket
# in NODE's spool directory (slurmstepd creates NODE_JOBID.STEPID there).
stepd_pids_of_node() {
    local node=$1 cluster spool inodes pid fd link
    cluster=$(node_cluster "$node")
    spool=$(lib_dir_of "$cluster")/slurmd-$node
    inodes=" $(awk -v p="$spool/${node}_" 'index($8, p) == 1 {print $7}' /proc/net/unix | tr '\n' ' ') "
    [ -n "${inodes// /}" ] || return 0
    for pid in $(pids_of slurmstepd "$cluster"); do
        for fd in /proc/"$pid"/fd/*; do
            link=$(readlink "$fd" 2>/dev/null) || continue
            if [[ $link == socket:\[*\] ]] && [[ $inodes == *" ${link//[!0-9]/} "* ]]; then
                echo "$pid"
                break
            fi
        done
    done
}

# Removes the step sockets in NODE's spool directory that nothing listens
# on any more (left by slurmstepds killed with --with-jobs): slurmd would
# otherwise take them for running steps and log "vestigial job script"
# messages at every registration.
remove_stale_step_sockets() {
    local node=$1 spool listening f
    spool=$(lib_dir_of "$(node_cluster "$node")")/slurmd-$node
    listening=$(awk '{print $8}' /proc/net/unix)
    for f in "$spool/${node}"_*; do
        [ -S "$f" ] || continue
        if ! grep -qxF "$f" <<<"$listening"; then
            log "removing stale step socket $f"
            rm -f "$f"
        fi
    done
}

cmd_kill_node() {
    need_root
    local node=${1:-} with_jobs=0 pids stepds procs=() pid
    check_node_arg "$node"
    case ${2:-} in
        "") ;;
        --with-jobs) with_jobs=1 ;;
        *) usage_error "kill-node: unknown option '$2' (only --with-jobs)" ;;
    esac
    take_lock
    pids=$(pids_of slurmd "$(node_cluster "$node")" "$node" | tr '\n' ' ')
    if [ $with_jobs -eq 1 ]; then
        # Find the steps before their slurmd is gone (its sockets stay, but
        # better safe), together with everything they started.
        stepds=$(stepd_pids_of_node "$node" | tr '\n' ' ')
        for pid in $stepds; do
            procs+=("$pid")
            mapfile -t -O "${#procs[@]}" procs < <(descendants "$pid")
        done
    fi
    if [ -z "${pids// /}" ]; then
        log "the slurmd of $node is not running: nothing to kill"
    else
        # shellcheck disable=SC2086  # a list of PIDs
        sigkill "slurmd of $node" $pids || exit 1
        rm -f "$(run_dir_of "$(node_cluster "$node")")/slurmd-$node.pid"
    fi
    if [ $with_jobs -eq 1 ]; then
        if [ ${#procs[@]} -eq 0 ]; then
            log "no job processes on $node"
        else
            sigkill "the job processes of $node" "${procs[@]}" || exit 1
        fi
        remove_stale_step_sockets "$node"
    fi
    # Measured: DOWN (and a job there NODE_FAIL or requeued) after 25-26 s on
    # cfut (SlurmdTimeout=5), 49 s on other (SlurmdTimeout=30).
    if [ "$(node_cluster "$node")" = "$CLUSTER_NAME" ]; then
        log "node $node is dead; Slurm marks it DOWN after ~26 s (see SlurmdTimeout in slurm.conf)"
    else
        log "node $node is dead; Slurm marks it DOWN after ~50 s (SlurmdTimeout=30)"
    fi
}

cmd_start_node() {
    need_root
    local node=${1:-} cluster t0 deadline state resumed=0 up_since
    check_node_arg "$node"
    [ $# -le 1 ] || usage_error "start-node takes one node name"
    take_lock
    cluster=$(node_cluster "$node")
    [ -r "$(conf_of "$cluster")" ] || die "cluster $cluster is not configured: run start first"
    t0=$(now_us)
    deadline=$(( t0 + NODE_TIMEOUT * 1000000 ))
    if is_running slurmd "$cluster" "$node"; then
        log "the slurmd of $node is already running"
    else
        munge_works || die "munged is not working: run start first"
        prepare_dirs "$cluster"
        remove_stale_step_sockets "$node"
        start_slurmd "$node"
    fi
    up_since=$(now_us)
    while :; do
        state=$(node_state "$node")
        if usable_state "$state"; then
            log "node $node is $state ($(elapsed "$t0") s)"
            return 0
        fi
        case $state in
            *drain*|down*|fail*)
                # ReturnToService=2 normally brings it back when slurmd
                # registers; resume it if that has not happened in 3 s.
                if [ $resumed -eq 0 ] && [ $(( $(now_us) - up_since )) -gt 3000000 ]; then
                    log "node $node is '$state': scontrol update nodename=$node state=resume"
                    on "$cluster" scontrol update NodeName="$node" State=RESUME >&2 || true
                    resumed=1
                fi
                ;;
        esac
        if [ "$(now_us)" -gt "$deadline" ]; then
            controller_up "$cluster" || die "slurmctld of cluster $cluster does not answer (start-ctld $cluster?); node $node: '$state'"
            die "node $node still '$state' after $NODE_TIMEOUT s"
        fi
        sleep 0.2
    done
}

# Waits until slurmctld has written its job state after START_US (or 6 s
# have passed), so that nothing done before START_US is lost.  slurmctld
# saves a changed state at most every 5 s (SAVE_MAX_WAIT in state_save.c).
wait_for_state_save() {
    local cluster=$1 start_us=$2 file mtime i
    file=$(lib_dir_of "$cluster")/slurmctld/job_state
    for ((i = 0; i < 60; i++)); do
        mtime=$(stat -c %.6Y "$file" 2>/dev/null || echo 0)
        if [ "${mtime/./}" -ge "$start_us" ]; then
            log "slurmctld saved its state ($(elapsed "$start_us") s after the request)"
            return 0
        fi
        sleep 0.1
    done
    log "no state change to save for 6 s: everything before the request is on disk"
}

cmd_kill_ctld() {
    need_root
    local cluster=$CLUSTER_NAME now=0 pids t0 arg
    t0=$(now_us)
    for arg in "$@"; do
        case $arg in
            --now) now=1 ;;
            -*) usage_error "kill-ctld: unknown option '$arg' (only --now)" ;;
            *) cluster=$arg ;;
        esac
    done
    check_cluster_arg "$cluster"
    take_lock
    pids=$(pids_of slurmctld "$cluster" | tr '\n' ' ')
    if [ -z "${pids// /}" ]; then
        log "slurmctld of cluster $cluster is not running: nothing to kill"
        return 0
    fi
    # Like a crash, SIGKILL loses what slurmctld has not saved yet: a job
    # submitted a second before is forgotten, its id given to the next job,
    # and its processes killed as strangers when their slurmd re-registers.
    # Unless --now, first let the state of everything done before this
    # command reach the disk (measured: up to 5 s).
    if [ $now -eq 0 ]; then wait_for_state_save "$cluster" "$t0"; fi
    # shellcheck disable=SC2086  # a list of PIDs
    sigkill "slurmctld of cluster $cluster" $pids || exit 1
    # Its slurmscriptd child exits with it.
    rm -f "$(run_dir_of "$cluster")/slurmctld.pid"
    log "slurmctld of cluster $cluster is dead; jobs keep running, clients get 'Unable to contact slurm controller'"
}

cmd_start_ctld() {
    need_root
    local cluster=${1:-$CLUSTER_NAME} t0 deadline node waiting state up_since resumed=""
    [ $# -le 1 ] || usage_error "start-ctld takes at most a cluster name"
    check_cluster_arg "$cluster"
    take_lock
    [ -r "$(conf_of "$cluster")" ] || die "cluster $cluster is not configured: run start first"
    t0=$(now_us)
    deadline=$(( t0 + NODE_TIMEOUT * 1000000 ))
    if is_running slurmctld "$cluster"; then
        log "slurmctld of cluster $cluster is already running"
    else
        munge_works || die "munged is not working: run start first"
        prepare_dirs "$cluster"
        start_ctld "$cluster"
    fi
    until controller_up "$cluster"; do
        [ "$(now_us)" -le "$deadline" ] || die "slurmctld of cluster $cluster does not answer after $NODE_TIMEOUT s"
        sleep 0.1
    done
    log "slurmctld of cluster $cluster is UP ($(elapsed "$t0") s)"
    # After a restart the nodes are "unknown" until their slurmd registers
    # again (measured: 3-5 s).  A node whose slurmd runs but which is still
    # DOWN or DRAINED 3 s after the controller came up is resumed, once (a
    # crash can leave it drained, e.g. with reason "Duplicate jobid").
    up_since=$(now_us)
    while :; do
        waiting=""
        for node in $(nodes_of "$cluster"); do
            if is_running slurmd "$cluster" "$node" && ! node_usable "$node"; then
                state=$(node_state "$node")
                waiting+="$node=$state "
                case $state in
                    *drain*|down*|fail*)
                        if [[ " $resumed " != *" $node "* ]] && [ $(( $(now_us) - up_since )) -gt 3000000 ]; then
                            log "node $node is '$state': scontrol update nodename=$node state=resume"
                            on "$cluster" scontrol update NodeName="$node" State=RESUME >&2 || true
                            resumed+=" $node"
                        fi
                        ;;
                esac
            fi
        done
        if [ -z "$waiting" ]; then
            log "nodes back in service ($(elapsed "$t0") s):" \
                "$(for node in $(nodes_of "$cluster"); do printf '%s=%s ' "$node" "$(node_state "$node")"; done)"
            return 0
        fi
        [ "$(now_us)" -le "$deadline" ] || die "nodes not back in service after $NODE_TIMEOUT s: $waiting"
        sleep 0.2
    done
}

# ---------------------------------------------------------------------------
# diagnose

section() { printf '\n===== %s =====\n' "$*"; }

cmd_diagnose() {
    set +e +o pipefail
    local mode cluster
    mode=$(configured_mode)
    section "status"
    cmd_status
    cmd_status_other
    section "processes"
    list_daemons munged mariadbd slurmdbd slurmctld slurmscriptd slurmd slurmstepd
    for cluster in "$CLUSTER_NAME" "$OTHER_NAME"; do
        [ -r "$(conf_of "$cluster")" ] || continue
        section "cluster $cluster: scontrol ping"
        on "$cluster" timeout 10 scontrol ping
        section "cluster $cluster: sinfo"
        on "$cluster" timeout 10 sinfo -N -l
        on "$cluster" timeout 10 sinfo -R
        section "cluster $cluster: squeue -t all"
        on "$cluster" timeout 10 squeue -t all -l
        if [ "$cluster" = "$CLUSTER_NAME" ] && [ "$mode" = dbd ]; then
            section "cluster $cluster: sacct (last 2 hours, all users)"
            timeout 20 sacct -a -S now-2hours -o JobID,JobName%20,User,State,ExitCode,NodeList,Submit,Start,End
        fi
        section "cluster $cluster: scontrol show config | head -n 60"
        on "$cluster" timeout 10 scontrol show config | head -n 60
        section "cluster $cluster: scontrol show node"
        on "$cluster" timeout 10 scontrol show node
    done
    section "daemon logs"
    print_log_tails 50 "$CLUSTER_NAME" "$OTHER_NAME"
    return 0
}

usage() {
    sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

main() {
    local cmd=${1:-start}
    if [ $# -gt 0 ]; then shift; fi
    case $cmd in
        start|stop|restart|status|diagnose|install|start-other|stop-other|status-other)
            [ $# -eq 0 ] || usage_error "$cmd takes no arguments" ;;
    esac
    case $cmd in
        start) cmd_start ;;
        stop) cmd_stop ;;
        restart) cmd_stop; cmd_start ;;
        status) cmd_status ;;
        start-other) cmd_start_other ;;
        stop-other) cmd_stop_other ;;
        status-other) cmd_status_other ;;
        kill-node) cmd_kill_node "$@" ;;
        start-node) cmd_start_node "$@" ;;
        kill-ctld) cmd_kill_ctld "$@" ;;
        start-ctld) cmd_start_ctld "$@" ;;
        diagnose) cmd_diagnose ;;
        install) cmd_install ;;
        -h|--help|help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
