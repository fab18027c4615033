#!/usr/bin/env bash
# Side-by-side benchmark of the server on its two databases, in one run: durable appends, reads and decisions at 1, 16
# and 64 connections (trialgate-bench load) on SQLite, on PostgreSQL with one node, and on PostgreSQL with two nodes
# (the writing node under the write load while the second serves a read load at the same time); and the cost of one
# durable PostgreSQL commit (pgbench, one client, synchronous_commit on and off) next to SQLite's (trialgate-bench fsync).
# With BASE_TRIALGATE, the SQLite runs are repeated with that (earlier) build's server, for the side-by-side figures.
# Needs the servers of scripts/postgres.sh (TRIALGATE_PG_* in the environment) and release builds.
# Usage: scripts/bench-postgres.sh [SECONDS_PER_RUN] [BASE_TRIALGATE]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}; BASE=${2:-}
: "${TRIALGATE_PG_PRIMARY:?start scripts/postgres.sh and export its TRIALGATE_PG_* lines first}"
B=.build/release/trialgate; L=.build/release/trialgate-bench
T=$(mktemp -d); PIDS=()
trial="bench$(date +%s)"
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
            psql -q "$TRIALGATE_PG_PRIMARY" -c "DROP SCHEMA IF EXISTS tg_$trial CASCADE" >/dev/null 2>&1 || true; rm -rf "$T"; }
trap cleanup EXIT
export TRIALGATE_ACTOR=bench:admin

# serve BINARY STORE PORT [options]: starts a server and waits until it listens.
serve() {
  local bin=$1 store=$2 port=$3; shift 3
  "$bin" serve --store "$store" --key "$T/key" --listen 127.0.0.1:$port "$@" 2>"$T/serve-$port.log" & PIDS+=($!)
  for _ in $(seq 100); do grep -q listening "$T/serve-$port.log" 2>/dev/null && return 0; sleep 0.1; done
  cat "$T/serve-$port.log"; return 1
}
stop_all() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; PIDS=(); }
# prepare BINARY STORE [init options]: a new trial with the policy and a load account; prints its token.
prepare() {
  local bin=$1 store=$2; shift 2
  rm -f "$T/key"
  "$bin" init --store "$store" --trial BENCH --key "$T/key" "$@" >/dev/null
  local w=${store/tg_owner/tg_writer}
  "$bin" policy publish Policies/sanet-ep.yaml --store "$w" --key "$T/key" >/dev/null
  "$bin" users add loadgen --role coordinator --site SITE-01 --store "$w" --key "$T/key" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
runs() {  # runs LABEL ADDR TOKEN [READ_ADDR]: the three operations at 1/16/64 connections
  local label=$1 addr=$2 token=$3 raddr=${4:-}
  for c in 1 16 64; do
    for op in append read decide; do
      if [ -n "$raddr" ] && [ "$op" != read ]; then
        # Two nodes: the write load at the leader, a read load of as many connections at the other node meanwhile.
        $L load "$raddr" "$token" read $c "$SECS" --setup-at "$addr" > "$T/side" & side=$!
        $L load "$addr" "$token" $op $c "$SECS" | sed "s/^/$label /"
        wait $side; sed "s/^/$label (other node, meanwhile) /" "$T/side"
      else
        $L load "$addr" "$token" $op $c "$SECS" ${raddr:+--setup-at "$addr"} | sed "s/^/$label /"
      fi
    done
  done
}

echo "machine: $(nproc) cores; $(date -u +%FT%TZ); trialgate $($B --version | head -1)"
echo "== durable commit, one writer"
$L fsync | sed 's/^/sqlite /'
psql -q "$TRIALGATE_PG_PRIMARY" -c "CREATE TABLE IF NOT EXISTS bench_commit (id bigserial PRIMARY KEY, body text)" >/dev/null
for mode in on off; do
  printf "SET synchronous_commit = %s;\nINSERT INTO bench_commit (body) VALUES (repeat('x', 400));\n" $mode > "$T/commit.sql"
  echo "postgres synchronous_commit=$mode: $(PGOPTIONS="-c synchronous_commit=$mode" "${TRIALGATE_PG_BIN:-/usr/lib/postgresql/15/bin}/pgbench" -n -c 1 -T "$SECS" -f "$T/commit.sql" "$TRIALGATE_PG_PRIMARY" 2>/dev/null | grep -E 'latency average|tps' | tr '\n' ' ')"
done
psql -q "$TRIALGATE_PG_PRIMARY" -c "DROP TABLE bench_commit" >/dev/null

for build in current ${BASE:+base}; do
  bin=$B; [ "$build" = base ] && bin=$BASE
  token=$(prepare "$bin" "$T/$build.sqlite")
  serve "$bin" "$T/$build.sqlite" 7481
  echo "== sqlite ($build build)"; runs "sqlite-$build" 127.0.0.1:7481 "$token"
  stop_all
done

token=$(prepare "$B" "$TRIALGATE_PG_PRIMARY?trial=$trial" --writer-role tg_writer)
W="$TRIALGATE_PG_WRITER?trial=$trial"
serve "$B" "$W" 7482
echo "== postgres, one node"; runs "pg-1node" 127.0.0.1:7482 "$token"
stop_all
serve "$B" "$W" 7483 --node a --lease-seconds 5
# Node a takes the lease before node b starts (both would serve; the first writer leads).
$L load 127.0.0.1:7483 "$token" append 1 1 >/dev/null
serve "$B" "$W" 7484 --node b --lease-seconds 5
echo "== postgres, two nodes (a writes, b serves reads meanwhile)"; runs "pg-2nodes" 127.0.0.1:7483 "$token" 127.0.0.1:7484
stop_all
$B verify --store "$W" --key "$T/key" | sed 's/^/after: /'
