#!/usr/bin/env bash
# Side-by-side benchmark of the TrialGate server and Redis on this machine, both durable on every write:
# Redis with appendonly yes / appendfsync always, driven by redis-benchmark (SET, GET); TrialGate driven by
# trialgate-bench load (durable record appends; reads alone, as GET is; reads among registrations; decisions).
# Loopback only, bounded in time.
# Usage: scripts/bench-server.sh [SECONDS_PER_RUN]   (default 5; SERVE_ARGS="…" adds options to trialgate serve)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
if ! command -v redis-benchmark >/dev/null; then apt-get update -qq && apt-get install -y -qq redis-server redis-tools >/dev/null; fi
swift build -c release --product trialgate >/dev/null
swift build -c release --product trialgate-bench >/dev/null
B=.build/release/trialgate; L=.build/release/trialgate-bench
T=$(mktemp -d); RPORT=6399; TPORT=7499
cleanup() { redis-cli -p $RPORT shutdown nosave >/dev/null 2>&1 || true; kill "$SERVER" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
redis-server --port $RPORT --bind 127.0.0.1 --dir "$T" --appendonly yes --appendfsync always --save "" --daemonize yes --logfile "$T/redis.log"
export TRIALGATE_STORE=$T/bench.sqlite TRIALGATE_ACTOR=bench:admin
$B init --trial BENCH >/dev/null
$B policy publish Policies/sanet-ep.yaml >/dev/null
TOKEN=$($B users add loadgen --role coordinator --site SITE-01 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
$B serve --listen 127.0.0.1:$TPORT ${SERVE_ARGS:-} 2>"$T/server.log" &
SERVER=$!
sleep 1
echo "machine: $(nproc) cores; $(date -u +%FT%TZ)"
for c in 1 16 64; do
  echo "== $c connection(s)"
  $L fsync
  n=$(( c == 1 ? 5000 : 50000 ))
  redis-benchmark -p $RPORT -t set,get -c $c -n $n --csv | sed 's/^/redis /'
  for op in append read read-mixed decide; do
    echo "$(date -u +%T) $op"
    $L load 127.0.0.1:$TPORT "$TOKEN" $op $c "$SECS" | sed 's/^/trialgate /'
  done
done
kill -TERM $SERVER; wait $SERVER || true
# Report snapshots saved during the runs (the server folds the log for them on a low-priority thread).
grep -o '^[^ ]*T[0-9:]*.*report snapshot saved' "$T/server.log" | sed -E 's/^[0-9-]+T([0-9:]+)[^ ]*.*size=([0-9]+).*/snapshot: \1 at size \2/' || true
$B verify | sed 's/^/after: /'
