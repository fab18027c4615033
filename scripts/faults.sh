#!/usr/bin/env bash
# Faults that need a small filesystem of their own: the disk filling up, and the filesystem turning read-only,
# both under the CLI and under a running server. Each must give a clear error, refuse the write, keep serving
# reads, and lose nothing that was acknowledged. Needs root (it mounts a 3 MiB tmpfs); skips otherwise.
# Usage: scripts/faults.sh [path/to/trialgate]
set -euo pipefail
. "$(dirname "$0")/lib/checks.sh"
cd "$(dirname "$0")/.."
use_trialgate "${1:-}"
B=$(realpath "$B")
if [ "$(id -u)" != 0 ] || ! command -v mount >/dev/null; then echo "faults: skipped (needs root to mount a small tmpfs)"; exit 0; fi
M=$(mktemp -d)
if ! mount -t tmpfs -o size=3m tmpfs "$M" 2>/dev/null; then echo "faults: skipped (cannot mount tmpfs here)"; rmdir "$M"; exit 0; fi
T=$(mktemp -d)
SERVER=
cleanup() { [ -n "$SERVER" ] && kill -9 "$SERVER" 2>/dev/null; umount "$M" 2>/dev/null || true; rmdir "$M" 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
export TRIALGATE_STORE=$M/s.sqlite TRIALGATE_ACTOR=faults:coordinator
today=$(date -u +%F)

"$B" init --trial FAULTS-1 >/dev/null
"$B" policy publish Policies/sanet-ep.yaml >/dev/null
"$B" candidate register F-1 --site SITE-01 >/dev/null

# 1. Disk full: append (through `exec`, one process) until the filesystem is full, then once more from the CLI.
python3 - "$today" > "$T/fill" <<'PY'
import json, sys
for i in range(20000):
    print(json.dumps({"id": i, "cmd": "record", "kind": "ki67", "candidate": "F-1",
                      "fields": {"percent": i % 100, "specimen_date": sys.argv[1], "method": "manual_count"}}))
PY
"$B" exec < "$T/fill" > "$T/fill-replies" 2>/dev/null || true
python3 -c 'import json,sys; [print(r["result"]["seq"]) for r in map(json.loads, open(sys.argv[1])) if r.get("ok")]' "$T/fill-replies" > "$T/acked"
check grep -q '"code":"store_full"' "$T/fill-replies"
set +e; "$B" record ki67 --candidate F-1 percent=1 specimen_date="$today" method=manual_count 2>"$T/err"; rc=$?; set -e
echo "disk full (CLI): $(wc -l < "$T/acked") appends acknowledged, $(grep -c store_full "$T/fill-replies") refused; one more record: exit $rc: $(head -c 200 "$T/err")"
check test "$rc" = 3
check grep -q "store_full" "$T/err"
# Reads still work, and every acknowledged event is there and verifies.
check "$B" verify
"$B" export > "$T/events"
check python3 - "$T/acked" "$T/events" <<'PY'
import json, sys
acked = {int(l) for l in open(sys.argv[1])}
have = {json.loads(l)["seq"] for l in open(sys.argv[2])}
missing = acked - have
print(f"disk full (CLI): {len(acked)} acknowledged, {len(missing)} lost")
sys.exit(1 if missing or not acked else 0)
PY
# Room again: writes resume where they stopped.
mount -o remount,size=64m "$M"
check "$B" record ki67 --candidate F-1 percent=5 specimen_date="$today" method=manual_count
check "$B" verify

# 2. Read-only filesystem under the CLI: writes refused with store_readonly/store_io, reads work.
mount -o remount,ro "$M"
set +e; "$B" record ki67 --candidate F-1 percent=6 specimen_date="$today" method=manual_count 2>"$T/err"; rc=$?; set -e
echo "read-only (CLI): exit $rc: $(head -c 200 "$T/err")"
check test "$rc" = 3
check grep -Eq "store_readonly|store_io|read-only" "$T/err"
check "$B" show F-1
mount -o remount,rw "$M"
check "$B" verify

# 3. Disk full under a running server: it answers errors, stays up, and keeps what it acknowledged.
TOKEN=$(token carla coordinator SITE-01)
# Leave about 1 MiB free for the server to fill.
dd if=/dev/zero of="$M/filler" bs=64k 2>/dev/null || true
truncate -s -1M "$M/filler"
start_server
python3 - "$today" > "$T/requests" <<'PY'
import json, sys
for i in range(5000):
    print(json.dumps({"id": i, "cmd": "record", "kind": "ki67", "candidate": "F-1",
                      "fields": {"percent": i % 100, "specimen_date": sys.argv[1], "method": "manual_count"}}))
PY
"$B" client --connect 127.0.0.1:$PORT --token "$TOKEN" < "$T/requests" > "$T/replies" 2>/dev/null || true
check grep -q '"code":"store_full"' "$T/replies"
check sh -c "echo '{\"cmd\":\"head\"}' | '$B' client --connect 127.0.0.1:$PORT --token '$TOKEN' | grep -q '\"ok\":true'"
# (A filesystem with a file open for writing cannot be remounted read-only, so the read-only case is the CLI's.)
kill -TERM "$SERVER"; wait "$SERVER" || true; SERVER=
rm -f "$M/filler"
"$B" export > "$T/events"
check python3 - "$T/replies" "$T/events" <<'PY'
import json, sys
acked = {json.loads(l)["result"]["seq"] for l in open(sys.argv[1]) if json.loads(l).get("ok")}
have = {json.loads(l)["seq"] for l in open(sys.argv[2])}
full = sum(1 for l in open(sys.argv[1]) if '"store_full"' in l)
print(f"disk full (server): {len(acked)} acknowledged, {full} refused with store_full, {len(acked - have)} lost")
sys.exit(1 if acked - have or not acked else 0)
PY
check "$B" verify
checks_done faults
