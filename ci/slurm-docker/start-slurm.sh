#!/usr/bin/env bash
# Start, stop and inspect a single-node Slurm cluster for cfut's integration
# tests.  Used natively (as root on a Debian bookworm host, e.g. a CI machine)
# and as the entry point of the ci/slurm-docker image.
#
# Usage: start-slurm.sh [start|stop|restart|status|diagnose|install]
#
#   start     (default) install missing Debian packages, write the
#             configuration for this host, start munged, [MariaDB, slurmdbd,]
#             slurmctld and slurmd, and wait until a job runs.  Returns at
#             once if the cluster is already up, healthy and configured for
#             the requested accounting mode; otherwise (re)starts it.
#   stop      stop every daemon this script starts; fails if any is left.
#   restart   stop, then start.
#   status    exit 0 if the cluster is up and healthy, 1 otherwise.
#   diagnose  print the cluster's state and the daemons' log tails (for CI
#             logs after failed tests); always exits 0.
#   install   only install the Debian packages (used when building the image).
#
# Environment:
#   CFUT_SLURM_ACCOUNTING      dbd (default): slurmdbd + MariaDB, sacct works
#                              none: no accounting, sacct says "Slurm
#                              accounting storage is disabled"
#   CFUT_SLURM_READY_TIMEOUT   seconds to wait for the cluster (default 60)
#
# Exit codes: 0 success, 1 failure (start/stop/status), 2 usage error.
#
# The script takes over the host's Slurm and munge configuration
# (/etc/slurm, /etc/munge): run it only on throw-away test machines.

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

MODE=${CFUT_SLURM_ACCOUNTING:-dbd}
READY_TIMEOUT=${CFUT_SLURM_READY_TIMEOUT:-60}

CLUSTER_NAME=cfut
SLURM_USER=slurm
MIN_JOB_AGE=30
DB_NAME=slurm_acct_db
DB_USER=slurm

CONF_DIR=/etc/slurm
SLURM_CONF=$CONF_DIR/slurm.conf
SLURMDBD_CONF=$CONF_DIR/slurmdbd.conf
MUNGE_KEY=/etc/munge/munge.key
STATE_DIR=/run/cfut-slurm            # markers; gone after a reboot
SLURM_RUN=/run/slurm
SLURM_LOG=/var/log/slurm
MARIADB_LOG=/var/log/mysql/cfut-mariadb.log
MARIADB_PID=/run/mysqld/mysqld.pid
MUNGE_LOG=/var/log/munge/munged.log
MUNGE_PID=/run/munge/munged.pid

export SLURM_CONF

log() { printf '[start-slurm] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Microseconds since the epoch, and a duration in seconds with 1 decimal.
now_us() { local t=${EPOCHREALTIME/[.,]/}; echo "${t#0}"; }
elapsed() { local us=$(( $(now_us) - $1 )); printf '%d.%01d' $((us / 1000000)) $((us % 1000000 / 100000)); }

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root"; }

check_mode() {
    case $MODE in
        dbd|none) ;;
        *) log "CFUT_SLURM_ACCOUNTING must be 'dbd' or 'none', not '$MODE'"; exit 2 ;;
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

# PIDs of daemon NAME: the one in PIDFILE (if it is really NAME) and any
# other process whose command name is exactly NAME.  Zombies do not count:
# an exited daemon may wait a while for its parent (or init) to reap it.
daemon_pids() {
    local name=$1 pidfile=${2:-} pid state
    {
        if [ -n "$pidfile" ]; then
            pid=$({ tr -dc '0-9' <"$pidfile"; } 2>/dev/null || true)
            if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = "$name" ]; then
                echo "$pid"
            fi
        fi
        pgrep -x "$name" || true
    } | sort -un | while read -r pid; do
        # /proc/PID/stat: "PID (comm) STATE ..."; comm may contain spaces.
        state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1) || continue
        if [ -n "$state" ] && [ "$state" != Z ]; then echo "$pid"; fi
    done
}

is_running() { [ -n "$(daemon_pids "$@")" ]; }

stop_daemon() {
    local name=$1 pidfile=${2:-} pids i
    pids=$(daemon_pids "$name" "$pidfile")
    if [ -n "$pids" ]; then
        log "stopping $name ($(echo $pids))"
        kill -TERM $pids 2>/dev/null || true
        for ((i = 0; i < 200; i++)); do
            is_running "$name" "$pidfile" || break
            sleep 0.1
        done
        pids=$(daemon_pids "$name" "$pidfile")
        if [ -n "$pids" ]; then
            log "$name did not stop within 20 s: killing $(echo $pids)"
            kill -KILL $pids 2>/dev/null || true
            sleep 0.5
        fi
    fi
    if [ -n "$pidfile" ]; then rm -f "$pidfile"; fi
}

# ---------------------------------------------------------------------------
# configuration

node_name() { hostname -s; }

# The configured mode of the installed slurm.conf, or "" if there is none.
configured_mode() {
    [ -r "$SLURM_CONF" ] || return 0
    if grep -q '^AccountingStorageType=accounting_storage/slurmdbd' "$SLURM_CONF"; then
        echo dbd
    elif grep -q '^AccountingStorageType=' "$SLURM_CONF"; then
        echo none
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

# Writes the desired configuration to $WORK/slurm.conf (+ slurmdbd.conf).
generate_config() {
    local node hw cpus mem defmem accounting
    node=$(node_name)
    hw=$(slurmd -C 2>/dev/null | grep '^NodeName=' | head -n 1) ||
        die "'slurmd -C' failed"
    # Keep NodeName, CPUs, the topology and RealMemory; drop anything else.
    hw=$(tr ' ' '\n' <<<"$hw" |
        grep -E '^(NodeName|CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore|RealMemory)=' |
        tr '\n' ' ')
    hw=${hw% }
    [[ $hw == "NodeName=$node "* ]] ||
        die "'slurmd -C' reports '$hw', expected NodeName=$node"
    cpus=$(grep -oE 'CPUs=[0-9]+' <<<"$hw" | cut -d= -f2)
    mem=$(grep -oE 'RealMemory=[0-9]+' <<<"$hw" | cut -d= -f2)
    defmem=$(( mem / cpus ))
    if [ "$defmem" -gt 1024 ]; then defmem=1024; fi
    if [ "$defmem" -lt 1 ]; then defmem=1; fi

    if [ "$MODE" = dbd ]; then
        accounting="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819"
    else
        accounting="AccountingStorageType=accounting_storage/none"
    fi

    render "$SCRIPT_DIR/slurm.conf.in" \
        "CLUSTER_NAME=$CLUSTER_NAME" "NODE_NAME=$node" "NODE_ADDR=127.0.0.1" \
        "SLURM_USER=$SLURM_USER" "DEF_MEM_PER_CPU=$defmem" \
        "MIN_JOB_AGE=$MIN_JOB_AGE" "ACCOUNTING=$accounting" \
        "NODE_LINE=$hw" >"$WORK/slurm.conf"
    if [ "$MODE" = dbd ]; then
        render "$SCRIPT_DIR/slurmdbd.conf.in" \
            "SLURM_USER=$SLURM_USER" "DB_USER=$DB_USER" "DB_NAME=$DB_NAME" \
            "DB_PASS=$(db_password)" >"$WORK/slurmdbd.conf"
    fi
}

config_is_current() {
    cmp -s "$WORK/slurm.conf" "$SLURM_CONF" || return 1
    if [ "$MODE" = dbd ]; then
        cmp -s "$WORK/slurmdbd.conf" "$SLURMDBD_CONF" || return 1
    fi
}

install_config() {
    mkdir -p "$CONF_DIR"
    install -m 0644 -o root -g root "$WORK/slurm.conf" "$SLURM_CONF"
    if [ "$MODE" = dbd ]; then
        install -m 0600 -o "$SLURM_USER" -g "$SLURM_USER" "$WORK/slurmdbd.conf" "$SLURMDBD_CONF"
    fi
}

prepare_dirs() {
    install -d -m 0755 -o "$SLURM_USER" -g "$SLURM_USER" \
        "$SLURM_RUN" "$SLURM_LOG" /var/lib/slurm /var/lib/slurm/slurmctld
    install -d -m 0755 /var/lib/slurm/slurmd
    local f
    for f in slurmctld.log slurmdbd.log; do
        if [ -e "$SLURM_LOG/$f" ]; then chown "$SLURM_USER:$SLURM_USER" "$SLURM_LOG/$f"; fi
    done
    chown -R "$SLURM_USER:$SLURM_USER" /var/lib/slurm/slurmctld
    mkdir -p "$STATE_DIR"
}

# ---------------------------------------------------------------------------
# health

munge_works() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }

controller_up() { timeout 10 scontrol ping 2>/dev/null | grep -q 'is UP'; }

# Node state as printed by sinfo %T (e.g. idle, mixed, down*, drained).
node_state() { timeout 10 sinfo -h -N -n "$(node_name)" -o %T 2>/dev/null | head -n 1; }

node_usable() {
    case $(node_state) in
        idle|mixed|allocated|completing) return 0 ;;
        *) return 1 ;;
    esac
}

dbd_works() {
    timeout 10 sacctmgr -n -P show cluster format=Cluster 2>/dev/null | grep -qx "$CLUSTER_NAME"
}

# healthy MODE: prints the first problem found and returns 1, or returns 0.
healthy() {
    local mode=$1
    munge_works || { echo "munged is not working"; return 1; }
    if [ "$mode" = dbd ]; then
        is_running slurmdbd "$SLURM_RUN/slurmdbd.pid" || { echo "slurmdbd is not running"; return 1; }
    fi
    is_running slurmctld "$SLURM_RUN/slurmctld.pid" || { echo "slurmctld is not running"; return 1; }
    is_running slurmd "$SLURM_RUN/slurmd.pid" || { echo "slurmd is not running"; return 1; }
    controller_up || { echo "slurmctld does not answer 'scontrol ping'"; return 1; }
    node_usable || { echo "node $(node_name) is '$(node_state)', not idle"; return 1; }
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
    stop_daemon munged "$MUNGE_PID"
    install -d -m 0755 -o munge -g munge /run/munge
    install -d -m 0700 -o munge -g munge /var/log/munge /var/lib/munge
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged --force
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
        stop_daemon mariadbd "$MARIADB_PID"
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
            </dev/null >/dev/null 2>&1
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
    /usr/sbin/slurmdbd
    for ((i = 0; i < 300; i++)); do
        timeout 5 sacctmgr -n -P show cluster format=Cluster >/dev/null 2>&1 && break
        is_running slurmdbd "$SLURM_RUN/slurmdbd.pid" || break
        sleep 0.1
    done
    timeout 5 sacctmgr -n -P show cluster format=Cluster >/dev/null 2>&1 ||
        { tail -n 30 "$SLURM_LOG/slurmdbd.log" >&2 || true; die "slurmdbd did not come up"; }
    if ! dbd_works; then
        log "registering cluster $CLUSTER_NAME with slurmdbd"
        timeout 20 sacctmgr -i add cluster "$CLUSTER_NAME" >&2
    fi
}

print_log_tails() {
    local f
    for f in "$SLURM_LOG/slurmctld.log" "$SLURM_LOG/slurmd.log" "$SLURM_LOG/slurmdbd.log" \
             "$MUNGE_LOG" "$MARIADB_LOG"; do
        if [ -r "$f" ]; then
            echo "----- last ${1:-50} lines of $f -----"
            tail -n "${1:-50}" "$f"
        fi
    done
}

wait_ready() {
    local deadline=$1 state resumed=0 down_since=""
    while :; do
        if controller_up; then
            state=$(node_state)
            case $state in
                idle|mixed|allocated|completing)
                    if timeout 20 srun -N1 -n1 true >/dev/null 2>"$STATE_DIR/srun.err"; then
                        return 0
                    fi
                    ;;
                *drain*|down*|fail*)
                    # Old saved state (e.g. "Not responding") that
                    # ReturnToService does not clear: resume the node once.
                    [ -n "$down_since" ] || down_since=$(now_us)
                    if [ $resumed -eq 0 ] && [ $(( $(now_us) - down_since )) -gt 5000000 ]; then
                        log "node is '$state': resuming it"
                        scontrol update NodeName="$(node_name)" State=RESUME >&2 || true
                        resumed=1
                    fi
                    ;;
            esac
        fi
        if [ "$(now_us)" -gt "$deadline" ]; then
            log "cluster not ready within $READY_TIMEOUT s (node state: '$(node_state)')"
            if [ -s "$STATE_DIR/srun.err" ]; then
                log "last srun error:"; cat "$STATE_DIR/srun.err" >&2
            fi
            print_log_tails 40 >&2
            return 1
        fi
        sleep 0.5
    done
}

# ---------------------------------------------------------------------------
# subcommands

cmd_install() {
    need_root
    check_mode
    install_packages "$MODE"
}

cmd_start() {
    need_root
    check_mode
    local t0 t1 problem
    t0=$(now_us)
    install_packages "$MODE"
    ensure_slurm_user
    ensure_hostname_resolves "$(node_name)"
    WORK=$(mktemp -d)
    trap 'rm -rf "$WORK"' EXIT
    generate_config

    if config_is_current && problem=$(healthy "$MODE"); then
        log "cluster already up and healthy (accounting: $MODE); nothing to do ($(elapsed "$t0") s)"
        return 0
    fi
    if [ -z "$(list_daemons slurmctld slurmd slurmdbd munged)" ]; then
        :   # not running: nothing to explain
    elif [ -r "$SLURM_CONF" ] && ! config_is_current; then
        log "configuration changed (accounting was '$(configured_mode)', now '$MODE'): restarting the cluster"
    elif [ -n "${problem:-}" ]; then
        log "cluster not healthy ($problem): restarting it"
    fi
    stop_all keep-jobs

    t1=$(now_us)
    install_config
    prepare_dirs
    start_munge
    if [ "$MODE" = dbd ]; then
        start_mariadb
        start_slurmdbd
    fi
    log "starting slurmctld"
    /usr/sbin/slurmctld
    log "starting slurmd"
    /usr/sbin/slurmd
    if ! wait_ready $(( t1 + READY_TIMEOUT * 1000000 )); then
        die "Slurm did not become ready"
    fi
    problem=$(healthy "$MODE") || die "cluster started but is not healthy: $problem"
    log "Slurm cluster '$CLUSTER_NAME' ready on $(node_name) (accounting: $MODE):" \
        "daemons up in $(elapsed "$t1") s, start took $(elapsed "$t0") s in all"
}

cancel_all_jobs() {
    local ids i
    is_running slurmctld "$SLURM_RUN/slurmctld.pid" && controller_up || return 0
    ids=$(timeout 10 squeue -h -o %A -t pending,running,suspended,completing,configuring 2>/dev/null || true)
    [ -n "$ids" ] || return 0
    log "cancelling jobs: $(echo $ids)"
    timeout 10 scancel $ids 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        [ -z "$(timeout 10 squeue -h -o %A -t running,completing,configuring 2>/dev/null || true)" ] && return 0
        sleep 0.2
    done
}

# stop_all [keep-jobs]: stop every daemon; returns 1 if one is left.
# With keep-jobs (used when start restarts the cluster) running jobs are
# neither cancelled nor killed: slurmctld saves them in its state and the new
# slurmd picks up their slurmstepd processes again, as on a real cluster.
stop_all() {
    local keep_jobs=0 left
    if [ "${1:-}" = keep-jobs ]; then keep_jobs=1; fi
    if [ $keep_jobs -eq 0 ]; then cancel_all_jobs; fi
    stop_daemon slurmd "$SLURM_RUN/slurmd.pid"
    stop_daemon slurmctld "$SLURM_RUN/slurmctld.pid"
    if [ $keep_jobs -eq 0 ]; then stop_daemon slurmstepd; fi
    stop_daemon slurmdbd "$SLURM_RUN/slurmdbd.pid"
    if [ -e "$STATE_DIR/mariadb.ours" ]; then
        stop_daemon mariadbd "$MARIADB_PID"
        rm -f "$STATE_DIR/mariadb.ours"
    fi
    stop_daemon munged "$MUNGE_PID"
    if [ $keep_jobs -eq 0 ]; then
        left=$(list_daemons slurmd slurmctld slurmstepd slurmdbd munged)
    else
        left=$(list_daemons slurmd slurmctld slurmdbd munged)
    fi
    if [ -n "$left" ]; then
        log "processes left running:"; printf '%s\n' "$left" >&2
        return 1
    fi
    # Give init a moment to reap the exited daemons, so that `pgrep` right
    # after a stop finds nothing (some sandboxes' init reaps slowly).
    local i name zombies
    for ((i = 0; i < 50; i++)); do
        zombies=""
        for name in slurmd slurmctld slurmstepd slurmdbd munged mariadbd; do
            zombies+=$(pgrep -x "$name" || true)
        done
        [ -z "$zombies" ] && break
        sleep 0.1
    done
    if [ $keep_jobs -eq 0 ]; then log "all Slurm daemons stopped"; fi
}

cmd_stop() {
    need_root
    stop_all || exit 1
}

cmd_status() {
    local mode problem
    mode=$(configured_mode)
    if [ -z "$mode" ]; then
        echo "Slurm is not configured ($SLURM_CONF missing)"; return 1
    fi
    if [ -n "${CFUT_SLURM_ACCOUNTING:-}" ] && [ "$CFUT_SLURM_ACCOUNTING" != "$mode" ]; then
        echo "cluster is configured for accounting '$mode', not '$CFUT_SLURM_ACCOUNTING'"; return 1
    fi
    if [ -z "$(list_daemons slurmctld slurmd slurmdbd munged)" ]; then
        echo "Slurm is not running (configured accounting: $mode)"; return 1
    fi
    if problem=$(healthy "$mode"); then
        echo "Slurm cluster '$CLUSTER_NAME' healthy on $(node_name) (accounting: $mode)"
    else
        echo "Slurm cluster not healthy: $problem"; return 1
    fi
}

# Our daemons that are running (zombies aside), as "PID command line" lines.
list_daemons() {
    local name pid
    for name in "$@"; do
        for pid in $(daemon_pids "$name"); do
            printf '%s %s\n' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
        done
    done
}

section() { printf '\n===== %s =====\n' "$*"; }

cmd_diagnose() {
    set +e +o pipefail
    local mode
    mode=$(configured_mode)
    section "status (accounting: ${mode:-not configured})"
    cmd_status
    section "processes"
    list_daemons slurmd slurmctld slurmstepd slurmdbd munged mariadbd
    section "scontrol ping"
    timeout 10 scontrol ping
    section "sinfo"
    timeout 10 sinfo -N -l
    timeout 10 sinfo -R
    section "squeue -t all"
    timeout 10 squeue -t all -l
    if [ "$mode" = dbd ]; then
        section "sacct (last 2 hours, all users)"
        timeout 20 sacct -a -S now-2hours -o JobID,JobName%20,User,State,ExitCode,Submit,Start,End
    fi
    section "scontrol show config | head -n 60"
    timeout 10 scontrol show config | head -n 60
    section "scontrol show node"
    timeout 10 scontrol show node
    section "daemon logs"
    print_log_tails 50
    return 0
}

usage() {
    sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

main() {
    local cmd=${1:-start}
    case $cmd in
        start) cmd_start ;;
        stop) cmd_stop ;;
        restart) cmd_stop; cmd_start ;;
        status) cmd_status ;;
        diagnose) cmd_diagnose ;;
        install) cmd_install ;;
        -h|--help|help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
