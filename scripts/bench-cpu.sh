#!/usr/bin/env bash
# Server CPU time per request, two builds side by side, alternating: on a shared machine whose throughput swings
# between runs, the server's own CPU time (utime + stime of its process, from /proc) per request is the steadier
# figure. Each build serves a fresh store in turn; trialgate-bench load drives append, read, read-mixed and decide at
# 1, 16 and 64 connections.
# Usage: scripts/bench-cpu.sh OLD_TRIALGATE NEW_TRIALGATE [SECONDS_PER_RUN] [ROUNDS]
#   (the load generator is .build/release/trialgate-bench unless BENCH=… says otherwise)
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:?old trialgate binary}; NEW=${2:?new trialgate binary}; SECS=${3:-3}; ROUNDS=${4:-2}
L=${BENCH:-.build/release/trialgate-bench}
POLICY=$PWD/Policies/sanet-ep.yaml
T=$(mktemp -d); PORT=7498
cleanup() { [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
export TRIALGATE_STORE=$T/bench.sqlite TRIALGATE_ACTOR=bench:admin TRIALGATE_KEY=$T/trial.key
"$OLD" init --trial BENCH >/dev/null
"$OLD" policy publish "$POLICY" >/dev/null
TOKEN=$("$OLD" users add loadgen --role coordinator --site SITE-01 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
TICKS=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
echo "machine: $(nproc) cores; $(date -u +%FT%TZ)"
for round in $(seq "$ROUNDS"); do
  for side in old new; do
    B=$([ $side = old ] && echo "$OLD" || echo "$NEW")
    "$B" serve --listen 127.0.0.1:$PORT 2>"$T/server.log" & SERVER=$!
    sleep 1
    for c in 1 16 64; do for op in append read read-mixed decide; do
      before=$(cpu "$SERVER")
      out=$("$L" load 127.0.0.1:$PORT "$TOKEN" $op $c "$SECS")
      after=$(cpu "$SERVER")
      requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$out")
      echo "round=$round build=$side op=$op connections=$c cpu_us_per_request=$(python3 -c "print(round(($after - $before) / $TICKS * 1e6 / max(1, $requests), 1))") $out"
    done; done
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
  done
done
