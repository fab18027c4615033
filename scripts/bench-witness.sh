#!/usr/bin/env bash
# The writer with witnesses configured, side by side with the writer without, in one run on this machine:
# durable appends (trialgate-bench load … append) against `trialgate serve` with no witness, with three witnesses
# serving on loopback, and with three witnesses that are down or never answer. The configurations alternate round
# by round, so a neighbour's load lands on all of them alike; each line is one round, and the summary gives the
# median of each configuration. Loopback only, bounded in time.
# Usage: scripts/bench-witness.sh [SECONDS_PER_RUN] [ROUNDS] [CONNECTIONS]   (defaults 5, 3, 16)
# PREV=path/to/an/earlier/trialgate adds its server, no witness, on a store of its own, to each round.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}; ROUNDS=${2:-3}; CONNS=${3:-16}
swift build -c release --product trialgate >/dev/null
swift build -c release --product trialgate-bench >/dev/null
B=$(realpath .build/release/trialgate); L=$(realpath .build/release/trialgate-bench)
T=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
export TRIALGATE_STORE=$T/bench.sqlite TRIALGATE_ACTOR=bench:admin
$B init --trial BENCH-W >/dev/null
$B policy publish Policies/sanet-ep.yaml >/dev/null
TOKEN=$($B users add loadgen --role coordinator --site SITE-01 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
$B key vkey > "$T/log.vkey"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Three witnesses serving, each with its own folder and key.
UP=()
for i in 1 2 3; do
  $B witness init --dir "$T/w$i" --name "witness.bench/w$i" | tail -1 > "$T/w$i.vkey"
  $B witness add-log --dir "$T/w$i" --vkey "$T/log.vkey" >/dev/null
  p=$(port)
  $B witness serve --dir "$T/w$i" --listen 127.0.0.1:$p 2>>"$T/witness.log" & PIDS+=($!)
  UP+=(--witness "http://127.0.0.1:$p=$(cat "$T/w$i.vkey")")
done
# Three that are not there: a closed port, and two listeners that take connections and never answer.
DOWN=(--witness "http://127.0.0.1:$(port)=$(cat "$T/w1.vkey")")
for i in 2 3; do
  p=$(port)
  python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(512); c=[]
while True: c.append(s.accept())' "$p" & PIDS+=($!)
  DOWN+=(--witness "http://127.0.0.1:$p=$(cat "$T/w$i.vkey")")
done
sleep 1

if [ -n "${PREV:-}" ]; then
  PREV_STORE=$T/prev.sqlite
  TRIALGATE_STORE=$PREV_STORE "$PREV" init --trial BENCH-W >/dev/null
  TRIALGATE_STORE=$PREV_STORE "$PREV" policy publish Policies/sanet-ep.yaml >/dev/null
  PREV_TOKEN=$(TRIALGATE_STORE=$PREV_STORE "$PREV" users add loadgen --role coordinator --site SITE-01 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
fi

run() {  # run NAME SERVE_ARGS…: one round of appends against a fresh server process
  local name=$1; shift
  local sport; sport=$(port)
  local bin=$B store=$TRIALGATE_STORE token=$TOKEN
  if [ "$name" = previous ]; then bin=$PREV store=$PREV_STORE token=$PREV_TOKEN; fi
  local log=$T/server-$name-$r.log
  TRIALGATE_STORE=$store $bin serve --listen 127.0.0.1:$sport "$@" 2>"$log" & local pid=$!
  for _ in $(seq 100); do grep -q listening "$log" 2>/dev/null && break; sleep 0.1; done
  local out; out=$($L load 127.0.0.1:$sport "$token" append "$CONNS" "$SECS")
  kill -TERM $pid; wait $pid 2>/dev/null || true
  echo "$name $out" | tee -a "$T/results"
}

echo "machine: $(nproc) cores; $(date -u +%FT%TZ); $CONNS connections, ${SECS} s per run, $ROUNDS rounds"
for r in $(seq "$ROUNDS"); do
  if [ -n "${PREV:-}" ]; then run previous; fi
  run none
  run witnessed "${UP[@]}"
  run down "${DOWN[@]}"
done
python3 - "$T/results" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name = line.split()[0]
    f = dict(re.findall(r"(\w+)=([\d.]+)", line))
    rows.setdefault(name, []).append((float(f["rps"]), float(f["p99_ms"]), float(f["p999_ms"]), int(f["errors"])))
base = statistics.median(r[0] for r in rows["none"])
for name in ("previous", "none", "witnessed", "down"):
    if name not in rows:
        continue
    rps = statistics.median(r[0] for r in rows[name])
    print(f"median {name:9s} rps={rps:.0f} ({rps / base:.2f}x) p99_ms={statistics.median(r[1] for r in rows[name]):.2f} "
          f"p999_ms={statistics.median(r[2] for r in rows[name]):.2f} errors={sum(r[3] for r in rows[name])}")
PY
# The lag the down runs left, then caught up by one submission, and the quorum on the newest checkpoint.
$B witness status
$B witness submit "${UP[@]}"
cat "$T"/server-down-*.log | grep -c "witness did not cosign" | sed 's/^/warnings logged in the down runs: /'
$B verify --witness "$T/w1.vkey" --witness "$T/w2.vkey" --witness "$T/w3.vkey" --quorum 3
