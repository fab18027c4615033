#!/usr/bin/env bash
# Verification side by side with an earlier build (docs/performance.md, issue 22).
#
#   scripts/bench-verify.sh [ROUNDS] [REQUESTS]     PREV=an earlier trialgate binary (default: none, this build alone)
#
# Builds (once, kept in .bench-tmp/) a log written one command per transaction through `exec`, so every write has a
# checkpoint of its own: REQUESTS requests (default 53,000) of registrations and Ki-67 records, with a decision every
# 20th request, which also opens a query for each missing record: about 100,000 events. Then runs `verify` on it ROUNDS times (default 3), alternating this build and PREV, and prints wall time,
# events per second, CPU time and peak RSS of each run. B= names this build's binary (default: the release build).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
REQUESTS=${2:-53000}
B=${B:-.build/release/trialgate}
[ -x "$B" ] || swift build -c release --product trialgate
mkdir -p .bench-tmp
LOG=.bench-tmp/exec-$REQUESTS.sqlite
if [ ! -f "$LOG" ]; then
  rm -f "$LOG" "$LOG.key"
  "$B" init --trial EXEC-BENCH --store "$LOG" > /dev/null
  "$B" policy publish Policies/sanet-ep.yaml --store "$LOG" > /dev/null
  python3 - "$REQUESTS" <<'EOF' | "$B" exec --store "$LOG" --quiet > /dev/null
import json, sys, datetime
day = (datetime.date.today() - datetime.timedelta(days=30)).isoformat()
candidate = 0
for n in range(1, int(sys.argv[1]) + 1):
    c = f"X-{candidate}"
    if n % 20 == 0:
        r = {"cmd": "decide", "candidate": c}
    elif n % 2 == 1:
        candidate += 1
        r = {"cmd": "register", "candidate": f"X-{candidate}", "site": "SITE-01"}
    else:
        r = {"cmd": "record", "kind": "ki67", "candidate": c, "fields": {"percent": 8, "specimen_date": day, "method": "manual_count"}}
    print(json.dumps({"id": n, **r}))
EOF
fi
SIZE=$(sqlite3 "$LOG" "SELECT max(seq) FROM events")
CKPT=$(sqlite3 "$LOG" "SELECT count(*) FROM checkpoints")
echo "log: $LOG, $SIZE events, $CKPT checkpoints; $(nproc) cores"
run() {
  local label=$1 bin=$2; shift 2
  /usr/bin/time -f "%e %U %S %M" -o .bench-tmp/time.txt "$bin" verify --store "$LOG" --quiet "$@" > .bench-tmp/verify.out || { cat .bench-tmp/verify.out; exit 1; }
  read -r wall user sys rss < .bench-tmp/time.txt
  printf '%-28s %6.2f s  %8.0f events/s  cpu %5.2f s  peak RSS %4d MB\n' "$label" "$wall" "$(echo "$SIZE / $wall" | bc -l)" \
    "$(echo "$user + $sys" | bc -l)" "$((rss / 1024))"
}
for r in $(seq 1 "$ROUNDS"); do
  [ -n "${PREV:-}" ] && run "previous build" "$PREV"
  run "this build" "$B"
  run "this build --every-checkpoint" "$B" --every-checkpoint
done
