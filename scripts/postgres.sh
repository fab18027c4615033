#!/usr/bin/env bash
# A throwaway PostgreSQL pair for TrialGate's tests and CI: a primary and a streaming replica on loopback, with the
# roles TrialGate's PostgreSQL store expects (docs/operations.md).
#
#   scripts/postgres.sh start  DIR [PORT]        primary in DIR/primary on PORT (default 55432), replica in
#                                                DIR/replica on PORT+1; prints TRIALGATE_PG_* lines to source
#   scripts/postgres.sh stop   DIR               stops both (fast shutdown); nothing running is not an error
#   scripts/postgres.sh status DIR               replica lag, pg_stat_replication, the replication slot
#   scripts/postgres.sh kill   DIR primary|replica   kill -9 that node's postmaster (crash and failover tests)
#
# `start` on a DIR that already holds the pair (after `stop` or `kill`) starts whichever node is down instead of
# building a new pair; on an empty or missing DIR it builds one.
#
# Not for production: every local account may connect as any role, the superuser included, because
# authentication is `trust` on 127.0.0.1 and on the Unix socket (PostgreSQL 15 docs, 21.1 "The pg_hba.conf File").
# What keeps that contained is that the server listens on 127.0.0.1 only and the socket directory is mode 0700.
#
# PostgreSQL refuses to run as root (15 docs, 19.3 "Starting the Database Server"; initdb says the same), so when
# this script runs as root it gives DIR to an unprivileged account ($TRIALGATE_PG_USER, default `postgres`, created
# if missing) and runs initdb, pg_ctl and pg_basebackup as that account through setpriv (util-linux). That account
# must be able to reach DIR: every directory above it needs the execute bit for it.
#
# The binaries: $TRIALGATE_PG_BIN if set, else `pg_config --bindir` if initdb is there, else the newest
# /usr/lib/postgresql/*/bin (Debian's layout), else the directory of the initdb found on PATH.
# Progress goes to stderr; stdout gets only the TRIALGATE_PG_* lines, so `eval "$(scripts/postgres.sh start D)"` works.
set -euo pipefail

# Connection settings from the caller's environment must not steer the script's own connections.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGOPTIONS PGSERVICE PGSERVICEFILE PGDATA PGSSLMODE PGTARGETSESSIONATTRS

SUPERUSER=postgres        # the bootstrap superuser initdb creates (named so whoever runs initdb)
DATABASE=trialgate
SLOT=tg_replica           # the physical replication slot the replica streams from
WAIT_SECONDS=${TRIALGATE_PG_WAIT:-60}

say() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

usage() {
    sed -n '5,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

is_root() { [[ $(id -u) -eq 0 ]]; }

# The directory holding initdb, pg_ctl, postgres, pg_basebackup and psql. With a major version (from an existing
# data directory's PG_VERSION), only binaries of that version are accepted.
find_bin() {
    local want=${1:-} b candidates=()
    if [[ -n ${TRIALGATE_PG_BIN:-} ]]; then
        candidates+=("$TRIALGATE_PG_BIN")
    else
        # On Debian /usr/bin/pg_config is a shim that may answer for libpq-dev (another major version, no server
        # binaries), so its answer counts only if initdb is really there.
        if command -v pg_config >/dev/null 2>&1; then
            b=$(pg_config --bindir 2>/dev/null || true)
            [[ -n $b ]] && candidates+=("$b")
        fi
        if [[ -n $want ]]; then candidates+=("/usr/lib/postgresql/$want/bin"); fi
        while IFS= read -r b; do candidates+=("$b"); done < <(
            for d in /usr/lib/postgresql/*/bin; do [[ -d $d ]] && echo "$d"; done | sort -t/ -k5,5 -V -r)
        if command -v initdb >/dev/null 2>&1; then
            # /usr/local/bin/initdb may be a symlink into the real directory: follow it.
            candidates+=("$(dirname "$(readlink -f "$(command -v initdb)")")")
        fi
    fi
    for b in "${candidates[@]}"; do
        local ok=1 tool
        for tool in initdb pg_ctl postgres pg_basebackup psql; do [[ -x $b/$tool ]] || ok=0; done
        [[ $ok -eq 1 ]] || continue
        if [[ -n $want ]]; then
            local v
            v=$("$b/postgres" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)?.*/\1/')
            [[ $v == "$want" ]] || continue
        fi
        echo "$b"
        return 0
    done
    if [[ -n $want ]]; then
        die "no PostgreSQL $want server binaries found (tried: ${candidates[*]:-none}); set TRIALGATE_PG_BIN"
    fi
    die "no PostgreSQL server binaries found (tried: ${candidates[*]:-none}); on Debian: apt-get install postgresql"
}

# Runs a command as the account that owns the cluster: itself when not root, else $RUN_USER through setpriv, with a
# clean environment and from DIR (a working directory the account can read).
as_owner() {
    if is_root; then
        (cd "$DIR" && setpriv --reuid="$RUN_USER" --regid="$(id -g "$RUN_USER")" --init-groups --reset-env -- "$@")
    else
        (cd "$DIR" && "$@")
    fi
}

# The account that will own the cluster. As root: $TRIALGATE_PG_USER or postgres, created (system account, no
# login shell) when the machine has none. Otherwise the caller.
pick_run_user() {
    if ! is_root; then RUN_USER=$(id -un); return; fi
    RUN_USER=${TRIALGATE_PG_USER:-postgres}
    [[ $(id -u "$RUN_USER" 2>/dev/null || echo none) != 0 ]] || die "TRIALGATE_PG_USER must not be root (uid 0)"
    if ! id -u "$RUN_USER" >/dev/null 2>&1; then
        say "creating the system account $RUN_USER to run PostgreSQL (it refuses to run as root)"
        useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$RUN_USER"
    fi
}

# The owner of an existing node's data directory; as root, the account to act as.
owner_of() {
    RUN_USER=$(stat -c %U "$1")
    if is_root && [[ $RUN_USER == root || $RUN_USER == UNKNOWN ]]; then
        die "$1 is owned by $RUN_USER; PostgreSQL cannot run as that"
    fi
}

# psql against a node, over TCP on 127.0.0.1: unaligned, tuples only, stop at the first error.
sql() {
    local port=$1 user=$2 db=$3
    shift 3
    "$BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$user" -d "$db" "$@"
}

# The port a node's configuration sets (the last `port =` line wins, as in the server).
configured_port() {
    local p
    p=$(grep -E '^port = [0-9]+' "$1/postgresql.conf" 2>/dev/null | tail -n 1 | sed -E 's/^port = ([0-9]+).*/\1/' || true)
    [[ -n $p ]] || die "no port line in $1/postgresql.conf"
    echo "$p"
}

# Waits until process $1 has left the process table. A killed postmaster stays a zombie until its parent reaps
# it, and its parent is whatever adopted it when pg_ctl exited: PID 1, or a subreaper, which may take seconds (on
# the development machine's init, several). Until then `pg_ctl status` calls it running and a new postmaster refuses
# the data directory ("lock file postmaster.pid already exists"), as both only ask kill(pid, 0).
wait_pid_gone() {
    local pid=$1 i
    for ((i = 0; i < WAIT_SECONDS * 10; i++)); do
        [[ -e /proc/$pid ]] || return 0
        sleep 0.1
    done
    die "process $pid is still in the process table after ${WAIT_SECONDS}s ($(awk '{print "state " $3}' "/proc/$pid/stat" 2>/dev/null || echo gone); a zombie no one reaps?)"
}

# The process id in a node's postmaster.pid, if that is a postmaster that died and is not yet reaped (a zombie).
dead_postmaster() {
    local pid
    pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null || true)
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true) == Z ]] || return 1
    echo "$pid"
}

# Is that node's postmaster alive? `pg_ctl status` exits 0 when it is, 3 when not, 4 without a data directory; it
# counts a zombie as alive, this does not.
node_running() {
    [[ -f $1/postmaster.pid ]] || return 1
    dead_postmaster "$1" >/dev/null && return 1
    as_owner "$BIN/pg_ctl" -D "$1" status >/dev/null 2>&1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_node() {
    local name=$1 data=$DIR/$1
    if node_running "$data"; then
        say "$name already running"
        return
    fi
    local port zombie
    if zombie=$(dead_postmaster "$data"); then
        say "the $name's old postmaster ($zombie) is dead but not yet reaped; waiting for it to go"
        wait_pid_gone "$zombie"
    fi
    port=$(configured_port "$data")
    ! port_in_use "$port" || die "port $port (the $name's) is already in use on 127.0.0.1"
    say "starting the $name on 127.0.0.1:$port (log: $DIR/$name.log)"
    if ! as_owner "$BIN/pg_ctl" -D "$data" -l "$DIR/$name.log" -w -t "$WAIT_SECONDS" -s start; then
        tail -n 20 "$DIR/$name.log" >&2 || true
        die "the $name did not start"
    fi
}

# Waits until the replica is in recovery and the primary shows it streaming; fails after WAIT_SECONDS.
wait_for_replication() {
    local i recovering streaming
    for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
        recovering=$(sql "$REPLICA_PORT" "$SUPERUSER" postgres -c 'SELECT pg_is_in_recovery()' 2>/dev/null || true)
        streaming=$(sql "$PRIMARY_PORT" "$SUPERUSER" postgres -c \
            "SELECT count(*) FROM pg_stat_replication WHERE application_name = '$SLOT' AND state = 'streaming'" \
            2>/dev/null || true)
        if [[ $recovering == t && ${streaming:-0} -ge 1 ]]; then
            say "replica streaming from the primary (pg_is_in_recovery() = t, listed in pg_stat_replication)"
            return 0
        fi
        sleep 0.5
    done
    tail -n 20 "$DIR/replica.log" >&2 || true
    die "the replica did not reach streaming within ${WAIT_SECONDS}s (pg_is_in_recovery: '${recovering:-}', streaming rows: '${streaming:-}')"
}

print_env() {
    printf 'TRIALGATE_PG_PRIMARY=%q\n' "postgres://tg_owner@127.0.0.1:$PRIMARY_PORT/$DATABASE"
    printf 'TRIALGATE_PG_WRITER=%q\n' "postgres://tg_writer@127.0.0.1:$PRIMARY_PORT/$DATABASE"
    printf 'TRIALGATE_PG_REPLICA=%q\n' "postgres://tg_reader@127.0.0.1:$REPLICA_PORT/$DATABASE"
    printf 'TRIALGATE_PG_BIN=%q\n' "$BIN"
    printf 'TRIALGATE_PG_DIR=%q\n' "$DIR"
}

# The settings appended to the primary's postgresql.conf (later lines override earlier ones). The replica starts
# from a copy of this file and appends its own port and name.
primary_settings() {
    local sockets=$1
    cat <<EOF

# --- scripts/postgres.sh (PostgreSQL 15 docs: 20.3 "Connections and Authentication", 20.5 "Write Ahead Log",
# --- 20.6 "Replication")
listen_addresses = '127.0.0.1'
port = $PRIMARY_PORT
unix_socket_directories = '$sockets'
unix_socket_permissions = 0700
cluster_name = 'tg_primary'
wal_level = replica
fsync = on
synchronous_commit = on
full_page_writes = on
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

hba() {
    cat <<'EOF'
# scripts/postgres.sh: trust, but only on the Unix socket (in a 0700 directory) and on 127.0.0.1.
# (PostgreSQL 15 docs, 21.1 "The pg_hba.conf File")
# TYPE  DATABASE     USER  ADDRESS       METHOD
local   all          all                 trust
host    all          all   127.0.0.1/32  trust
host    replication  all   127.0.0.1/32  trust
EOF
}

# Roles and the database. Run as the superuser on the primary; the replica receives all of it through WAL.
bootstrap_sql() {
    cat <<EOF
CREATE ROLE tg_owner  LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
CREATE ROLE tg_writer LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
CREATE ROLE tg_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
-- A reader's sessions are read-only by default as well as by its grants.
ALTER ROLE tg_reader SET default_transaction_read_only = on;
-- The owner of a database holds CREATE on it, i.e. may create schemas (15 docs, 5.7 "Privileges").
CREATE DATABASE $DATABASE OWNER tg_owner;
\\connect $DATABASE
-- By default PUBLIC may connect to a database and create temporary tables in it; here only the three roles connect,
-- and no one but the owner creates anything, temporary tables included.
REVOKE ALL ON DATABASE $DATABASE FROM PUBLIC;
GRANT CONNECT ON DATABASE $DATABASE TO tg_writer, tg_reader;
-- The reader may read whatever tg_owner creates from now on: the trial schemas and their tables. The writer gets
-- nothing by default: \`trialgate init\` grants it SELECT and INSERT on the append-only tables it creates.
ALTER DEFAULT PRIVILEGES FOR ROLE tg_owner GRANT USAGE ON SCHEMAS TO tg_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE tg_owner GRANT SELECT ON TABLES TO tg_reader;
-- pg_dump run as the reader also reads the sequences' values.
ALTER DEFAULT PRIVILEGES FOR ROLE tg_owner GRANT SELECT ON SEQUENCES TO tg_reader;
SELECT pg_create_physical_replication_slot('$SLOT');
EOF
}

cmd_start() {
    [[ $# -ge 1 && $# -le 2 ]] || usage
    DIR=$(realpath -m -- "$1")
    local want_port=${2:-}
    if [[ -n $want_port ]]; then
        [[ $want_port =~ ^[0-9]+$ && $want_port -ge 1024 && $want_port -le 65534 ]] || die "PORT must be 1024-65534, got '$want_port'"
    fi

    if [[ -f $DIR/primary/PG_VERSION ]]; then
        # An existing pair: start what is down.
        BIN=$(find_bin "$(cat "$DIR/primary/PG_VERSION")")
        owner_of "$DIR/primary"
        PRIMARY_PORT=$(configured_port "$DIR/primary")
        [[ -z $want_port || $want_port == "$PRIMARY_PORT" ]] || die "$DIR was built for port $PRIMARY_PORT, not $want_port"
        [[ -f $DIR/replica/PG_VERSION ]] || die "$DIR has a primary but no replica; remove $DIR and start again"
        REPLICA_PORT=$(configured_port "$DIR/replica")
        start_node primary
        start_node replica
        wait_for_replication
        print_env
        return
    fi

    PRIMARY_PORT=${want_port:-55432}
    REPLICA_PORT=$((PRIMARY_PORT + 1))
    BIN=$(find_bin)
    say "PostgreSQL binaries: $BIN ($("$BIN/postgres" --version))"
    if [[ -e $DIR ]] && [[ -n $(ls -A "$DIR") ]]; then
        die "$DIR exists and is not empty (and holds no cluster of this script); give an empty or new directory"
    fi
    local p
    for p in "$PRIMARY_PORT" "$REPLICA_PORT"; do
        ! port_in_use "$p" || die "port $p is already in use on 127.0.0.1"
    done

    pick_run_user
    local made=0
    [[ -d $DIR ]] || made=1
    mkdir -p "$DIR"
    chmod 0700 "$DIR"
    if is_root; then
        chown "$RUN_USER:$(id -g "$RUN_USER")" "$DIR"
        if ! setpriv --reuid="$RUN_USER" --regid="$(id -g "$RUN_USER")" --init-groups --reset-env -- test -w "$DIR" -a -x "$DIR"; then
            [[ $made -eq 0 ]] || rmdir "$DIR"
            die "$RUN_USER cannot reach $DIR: some directory above it lacks the execute bit for other users (a DIR under /tmp works)"
        fi
        say "running the servers as $RUN_USER (PostgreSQL does not run as root)"
    fi

    # The Unix socket lives in DIR/run, unless its path would be too long for a socket address (107 bytes on
    # Linux, 15 docs 20.3 "unix_socket_directories"): then TCP on 127.0.0.1 only.
    local sockets=$DIR/run
    if ((${#sockets} + ${#REPLICA_PORT} + 10 > 107)); then
        say "$sockets is too long for a Unix socket path; the servers listen on 127.0.0.1 only"
        sockets=''
    else
        as_owner mkdir -m 0700 "$sockets"
    fi

    say "initdb $DIR/primary"
    if ! as_owner "$BIN/initdb" -D "$DIR/primary" --username="$SUPERUSER" --auth=trust --encoding=UTF8 --locale=C \
        --data-checksums >"$DIR/initdb.log" 2>&1; then
        cat "$DIR/initdb.log" >&2
        die "initdb failed"
    fi
    primary_settings "$sockets" >>"$DIR/primary/postgresql.conf"
    hba >"$DIR/primary/pg_hba.conf"
    start_node primary

    say "creating roles tg_owner, tg_writer, tg_reader, database $DATABASE, slot $SLOT"
    bootstrap_sql | sql "$PRIMARY_PORT" "$SUPERUSER" postgres -f - >/dev/null

    say "pg_basebackup -R into $DIR/replica"
    if ! as_owner "$BIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U "$SUPERUSER" -D "$DIR/replica" \
        -R -X stream -S "$SLOT" -c fast >"$DIR/basebackup.log" 2>&1; then
        cat "$DIR/basebackup.log" >&2
        die "pg_basebackup failed"
    fi
    # -R wrote standby.signal and primary_conninfo; the walreceiver names itself after cluster_name, which is how
    # the primary's pg_stat_replication tells this replica apart.
    printf "\n# --- scripts/postgres.sh: the replica\nport = %s\ncluster_name = '%s'\n" "$REPLICA_PORT" "$SLOT" \
        >>"$DIR/replica/postgresql.conf"
    start_node replica
    wait_for_replication
    print_env
}

cmd_stop() {
    [[ $# -eq 1 ]] || usage
    DIR=$(realpath -m -- "$1")
    local name data any=0
    for name in replica primary; do
        data=$DIR/$name
        [[ -f $data/PG_VERSION ]] || continue
        any=1
        [[ -n ${BIN:-} ]] || BIN=$(find_bin "$(cat "$data/PG_VERSION")")
        owner_of "$data"
        if node_running "$data"; then
            say "stopping the $name"
            as_owner "$BIN/pg_ctl" -D "$data" -m fast -w -t "$WAIT_SECONDS" -s stop
        else
            say "the $name is not running"
        fi
    done
    [[ $any -eq 1 ]] || say "no cluster in $DIR: nothing to stop"
}

cmd_status() {
    [[ $# -eq 1 ]] || usage
    DIR=$(realpath -m -- "$1")
    [[ -f $DIR/primary/PG_VERSION ]] || die "no cluster in $DIR"
    BIN=$(find_bin "$(cat "$DIR/primary/PG_VERSION")")
    owner_of "$DIR/primary"
    PRIMARY_PORT=$(configured_port "$DIR/primary")
    REPLICA_PORT=$(configured_port "$DIR/replica")
    local primary_up=0 replica_up=0
    node_running "$DIR/primary" && primary_up=1
    node_running "$DIR/replica" && replica_up=1

    # SQL from PostgreSQL 15 docs: 28.2 "The Cumulative Statistics System" (pg_stat_replication,
    # pg_stat_wal_receiver), 54.19 "pg_replication_slots" and 9.27
    # "System Administration Functions" (pg_current_wal_lsn, pg_wal_lsn_diff, pg_last_wal_receive_lsn,
    # pg_last_wal_replay_lsn, pg_last_xact_replay_timestamp).
    if [[ $primary_up -eq 1 ]]; then
        echo "primary 127.0.0.1:$PRIMARY_PORT: running, WAL at $(sql "$PRIMARY_PORT" "$SUPERUSER" postgres -c 'SELECT pg_current_wal_lsn()')"
        echo "pg_stat_replication on the primary:"
        "$BIN/psql" -X -h 127.0.0.1 -p "$PRIMARY_PORT" -U "$SUPERUSER" -d postgres -P footer=off -c "
            SELECT application_name, client_addr, state, sync_state,
                   sent_lsn, write_lsn, flush_lsn, replay_lsn,
                   pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) AS replay_lag_bytes,
                   write_lag, flush_lag, replay_lag
              FROM pg_stat_replication ORDER BY application_name"
        echo "replication slots on the primary:"
        "$BIN/psql" -X -h 127.0.0.1 -p "$PRIMARY_PORT" -U "$SUPERUSER" -d postgres -P footer=off -c "
            SELECT slot_name, active, restart_lsn,
                   pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) AS retained_wal_bytes, wal_status
              FROM pg_replication_slots ORDER BY slot_name"
    else
        echo "primary 127.0.0.1:$PRIMARY_PORT: not running"
    fi
    if [[ $replica_up -eq 1 ]]; then
        echo "replica 127.0.0.1:$REPLICA_PORT: running"
        # The received position increases only while streaming: when the walreceiver reconnects it restarts at a
        # segment boundary, behind what was already replayed, so the difference is shown only when it means something.
        "$BIN/psql" -X -h 127.0.0.1 -p "$REPLICA_PORT" -U "$SUPERUSER" -d postgres -P footer=off -c "
            SELECT pg_is_in_recovery() AS in_recovery,
                   (SELECT status FROM pg_stat_wal_receiver) AS walreceiver,
                   pg_last_wal_receive_lsn() AS received_lsn,
                   pg_last_wal_replay_lsn() AS replayed_lsn,
                   CASE WHEN pg_last_wal_receive_lsn() >= pg_last_wal_replay_lsn()
                        THEN pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) END
                       AS received_not_replayed_bytes,
                   now() - pg_last_xact_replay_timestamp() AS since_last_replayed_commit"
        if [[ $primary_up -eq 1 ]]; then
            # Byte lag measured across the two servers: the primary's WAL position now minus what the replica has
            # replayed (read second, so never ahead of the first reading).
            local head replayed
            head=$(sql "$PRIMARY_PORT" "$SUPERUSER" postgres -c 'SELECT pg_current_wal_lsn()')
            replayed=$(sql "$REPLICA_PORT" "$SUPERUSER" postgres -c 'SELECT pg_last_wal_replay_lsn()')
            echo "replica lag: $(sql "$PRIMARY_PORT" "$SUPERUSER" postgres -c \
                "SELECT pg_wal_lsn_diff('$head', '$replayed')") bytes of WAL (primary $head, replica replayed $replayed)"
        fi
        echo "(since_last_replayed_commit keeps growing while the primary commits nothing: it is lag only under writes)"
    else
        echo "replica 127.0.0.1:$REPLICA_PORT: not running"
    fi
}

cmd_kill() {
    [[ $# -eq 2 ]] || usage
    DIR=$(realpath -m -- "$1")
    local name=$2
    [[ $name == primary || $name == replica ]] || usage
    local data=$DIR/$name
    [[ -f $data/postmaster.pid ]] || die "the $name has no postmaster.pid: not running"
    owner_of "$data"
    local pid
    pid=$(head -n 1 "$data/postmaster.pid")
    [[ $pid =~ ^[0-9]+$ ]] || die "$data/postmaster.pid does not start with a process id"
    # Only a live postgres process of the cluster's owner, running in this data directory: a stale pid file may
    # name a process id that now belongs to something else.
    if [[ ! -d /proc/$pid ]] || [[ $(stat -c %U "/proc/$pid") != "$RUN_USER" ]] \
        || [[ $(readlink "/proc/$pid/cwd" 2>/dev/null || true) != "$(realpath "$data")" ]]; then
        die "process $pid (from $data/postmaster.pid) is not the $name's postmaster: not running"
    fi
    say "kill -9 $pid (the $name's postmaster)"
    kill -9 "$pid"
    # Its children notice that the postmaster is gone and exit by themselves; wait for them so that a `start`
    # right after does not find the old shared memory still attached. Each of them runs in the data directory.
    local i left
    for ((i = 0; i < WAIT_SECONDS * 10; i++)); do
        left=0
        for p in /proc/[0-9]*; do
            [[ $(readlink "$p/cwd" 2>/dev/null || true) == "$(realpath "$data")" ]] && left=$((left + 1))
        done
        [[ $left -eq 0 ]] && break
        sleep 0.1
    done
    [[ $left -eq 0 ]] || die "$left processes of the $name still running ${WAIT_SECONDS}s after the kill"
    wait_pid_gone "$pid"
    say "the $name and all its processes are gone (postmaster.pid left behind, as after a crash)"
}

[[ $# -ge 1 ]] || usage
command=$1
shift
case $command in
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
status) cmd_status "$@" ;;
kill) cmd_kill "$@" ;;
*) usage ;;
esac
