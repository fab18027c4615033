#!/usr/bin/env bash
# The socket server as users and operators meet it: trialgate client, openssl s_client over TLS, SIGTERM,
# and kill -9 in the middle of writes (every acknowledged event must be in the log afterwards).
# Loopback only; bounded in time. Usage: scripts/server-smoke.sh [path/to/trialgate] [crash cycles, default 5]
set -euo pipefail
. "$(dirname "$0")/lib/checks.sh"
cd "$(dirname "$0")/.."
use_trialgate "${1:-}"
CYCLES=${2:-5}
B=$(realpath "$B")
T=$(mktemp -d)
SERVER=
cleanup() { [ -n "$SERVER" ] && kill -9 "$SERVER" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
export TRIALGATE_STORE=$T/s.sqlite TRIALGATE_ACTOR=smoke:admin

"$B" init --trial SMOKE-SRV >/dev/null
"$B" policy publish Policies/sanet-ep.yaml >/dev/null
COORD=$(token alice coordinator SITE-01)
SPONSOR=$(token sam sponsor)
# An investigator with their own key; only the key's public half and the code's SHA-256 reach the log.
"$B" key new --out "$T/ivy.key" >/dev/null
"$B" users add ivy --role investigator --site SITE-01 --printed-name "Dr Ivy Socket" --public-key "$T/ivy.key.pub" --json > "$T/ivy.json"
IVY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$T/ivy.json")
python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["signing_code"])' "$T/ivy.json" > "$T/ivy.code"
# Accounts are events in the log, with the token's SHA-256 only: no users file, and the token is nowhere in the store.
check test ! -e "$T/s.sqlite.users.json"
check test "$(sqlite3 "$T/s.sqlite" "SELECT count(*) FROM events WHERE type = 'user.added'")" = 3
check test "$(sqlite3 "$T/s.sqlite" "SELECT count(*) FROM events WHERE instr(body, '$(cat "$T/ivy.code")') > 0")" = 0
check test "$(sqlite3 "$T/s.sqlite" "SELECT count(*) FROM events WHERE instr(body, '$COORD') > 0")" = 0

# A client session.
start_server
out=$(printf '%s\n' '{"id":1,"cmd":"register","candidate":"NET-1","site":"SITE-01"}' \
  '{"id":2,"cmd":"register","candidate":"NET-2","site":"SITE-02"}' \
  '{"id":3,"cmd":"record","kind":"ki67","candidate":"NET-1","fields":{"percent":8,"specimen_date":"2026-01-05","method":"manual_count"}}' \
  | "$B" client --connect "$ADDR" --token "$COORD" || true)
check grep -q '"id":1,"ok":true' <<<"$out"
check grep -q '"code":"forbidden"' <<<"$out"
check grep -q '"id":3,"ok":true' <<<"$out"
check test "$(sqlite3 "$T/s.sqlite" "select actor from events where type='ki67.recorded'")" = alice
# The investigator signs over the socket: the CLI signs on their side; the first signing of a session needs both
# components (21 CFR 11.200(a)(1)); a coordinator may not sign.
out=$(echo '{"id":4,"cmd":"decide","candidate":"NET-1"}' | "$B" client --connect "$ADDR" --token "$COORD" || true)
DEC=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["result"]["seq"])' "$out")
out=$(echo '{"id":5,"cmd":"signoff","statement":{"candidate":"NET-1","signer":{"user":"ivy"}},"signature":"","signing_code":"x"}'   | "$B" client --connect "$ADDR" --token "$IVY" || true)
check grep -q '"code":"signing_components"' <<<"$out"
out=$(echo "{\"id\":6,\"cmd\":\"signoff.prepare\",\"decision\":$DEC,\"outcome\":\"ineligible\",\"reason\":\"x\"}" | "$B" client --connect "$ADDR" --token "$COORD" || true)
check grep -q '"code":"forbidden"' <<<"$out"
check "$B" signoff --decision "$DEC" --override ineligible --reason "no imaging yet; not a candidate now" --as ivy --signing-key "$T/ivy.key" \
  --signing-code-file "$T/ivy.code" --connect "$ADDR" --token "$IVY"
check test "$(sqlite3 "$T/s.sqlite" "select actor from events where type='decision.signed'")" = ivy
# A needs-review decision can only be overridden; a confirmation over the socket needs an eligible or ineligible
# one: an ECOG of 3 makes NET-1 ineligible, and the investigator confirms it.
out=$(echo "{\"id\":7,\"cmd\":\"signoff.prepare\",\"decision\":$DEC}" | "$B" client --connect "$ADDR" --token "$IVY" || true)
check grep -q '"code":"not_signable"' <<<"$out"
out=$(printf '%s\n' "{\"id\":8,\"cmd\":\"record\",\"kind\":\"clinical\",\"candidate\":\"NET-1\",\"fields\":{\"assessed_on\":\"$(date -u +%F)\",\"ecog\":3}}" \
  '{"id":9,"cmd":"decide","candidate":"NET-1"}' | "$B" client --connect "$ADDR" --token "$COORD" || true)
DEC=$(python3 -c 'import json,sys; print([json.loads(l) for l in sys.argv[1].splitlines()][1]["result"]["seq"])' "$out")
check "$B" signoff --decision "$DEC" --confirm --as ivy --signing-key "$T/ivy.key" --signing-code-file "$T/ivy.code" --connect "$ADDR" --token "$IVY"
check test "$(sqlite3 "$T/s.sqlite" "select count(*) from events where type='decision.signed'")" = 2
# Wrong token: refused and logged with the peer.
set +e; echo '{"cmd":"head"}' | "$B" client --connect "$ADDR" --token nope >/dev/null 2>&1; rc=$?; set -e
check test "$rc" != 0
check grep -q "authentication failed" "$T/server.log"
# SIGTERM: a clean stop.
kill -TERM "$SERVER"; wait "$SERVER"; rc=$?; SERVER=
check test "$rc" = 0
check grep -q "stopped" "$T/server.log"

# kill -9 in the middle of writes, several times: nothing acknowledged may be lost.
today=$(date -u +%F)
for cycle in $(seq "$CYCLES"); do
  start_server
  python3 - "$cycle" "$today" > "$T/requests" <<'PY'
import sys, json
cycle, today = sys.argv[1], sys.argv[2]
print(json.dumps({"id": "r", "cmd": "register", "candidate": f"K-{cycle}", "site": "SITE-01"}))
for i in range(3000):
    print(json.dumps({"id": i, "cmd": "record", "kind": "ki67", "candidate": f"K-{cycle}",
                      "fields": {"percent": i % 100, "specimen_date": today, "method": "manual_count"}}))
PY
  "$B" client --connect "$ADDR" --token "$COORD" < "$T/requests" > "$T/replies" 2>/dev/null &
  CLIENT=$!
  sleep "0.$(( 2 + RANDOM % 6 ))"
  kill -9 "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
  wait "$CLIENT" 2>/dev/null || true
  "$B" export > "$T/events"
  check python3 - "$T/replies" "$T/events" <<'PY'
import sys, json
acked = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("ok"):
        acked[r["result"]["seq"]] = r["id"]
events = {e["seq"]: e for e in map(json.loads, open(sys.argv[2]))}
lost = [s for s in acked if s not in events]
wrong = [s for s, i in acked.items() if s in events and i != "r" and events[s]["payload"]["percent"] != i % 100]
print(f"crash cycle: {len(acked)} acknowledged, {len(lost)} lost, {len(wrong)} wrong")
sys.exit(1 if lost or wrong or not acked else 0)
PY
  check "$B" verify >/dev/null
done

# TLS with a throwaway certificate, checked by openssl s_client.
openssl req -x509 -newkey ed25519 -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 -nodes -subj "/CN=localhost" \
  -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
start_server --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
out=$(printf '%s\n' "{\"cmd\":\"auth\",\"token\":\"$SPONSOR\"}" '{"id":9,"cmd":"verify"}' \
  | timeout 10 openssl s_client -quiet -connect "$ADDR" -CAfile "$T/cert.pem" -verify_return_error 2>/dev/null || true)
check grep -q '"id":9,"ok":true,"result":{.*"valid":true' <<<"$out"
# TLS 1.2 and 1.3 only, and no CBC suites. SECLEVEL=0 lets this openssl offer what its own defaults refuse, so that
# the server is what decides.
handshake() { echo | timeout 10 openssl s_client -connect "$ADDR" -CAfile "$T/cert.pem" "$@" 2>&1 | grep -q "Cipher is [^(]"; }
check handshake -tls1_3
check handshake -tls1_2
refute handshake -tls1 -cipher 'DEFAULT:@SECLEVEL=0'
refute handshake -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'
refute handshake -tls1_2 -cipher 'AES128-SHA:@SECLEVEL=0'
refute handshake -tls1_2 -cipher 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:@SECLEVEL=0'
# trialgate client over TLS: trusting the certificate as a CA, or pinning its SHA-256 (of the DER leaf).
PIN=$(openssl x509 -in "$T/cert.pem" -outform DER | sha256sum | cut -c1-64)
out=$(echo '{"id":1,"cmd":"head"}' | "$B" client --connect "$ADDR" --token "$SPONSOR" --tls-ca "$T/cert.pem" || true)
check grep -q '"id":1,"ok":true' <<<"$out"
out=$(echo '{"id":2,"cmd":"head"}' | "$B" client --connect "$ADDR" --token "$SPONSOR" --tls-pin "$PIN" || true)
check grep -q '"id":2,"ok":true' <<<"$out"
set +e; echo '{"id":3,"cmd":"head"}' | "$B" client --connect "$ADDR" --token "$SPONSOR" --tls-pin "$(printf '%064d' 0)" >/dev/null 2>"$T/pin.err"; rc=$?; set -e
check test "$rc" != 0
check grep -q "pinned" "$T/pin.err"
kill -TERM "$SERVER"; wait "$SERVER" || true; SERVER=
# A newline in an unauthenticated cmd cannot forge a log line.
start_server
printf '%s\n' '{"cmd":"x\nFORGED info trialgate.server : principal=adam [TrialGateServer] authenticated"}' \
  | timeout 5 python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall(sys.stdin.buffer.read()); s.recv(4096)' "$PORT"
kill -TERM "$SERVER"; wait "$SERVER" || true; SERVER=
check grep -q 'cmd="x\\nFORGED' "$T/server.log"
refute grep -q '^FORGED' "$T/server.log"
# SIGTERM while a client pipelines: every line it gets back is a reply (the rest shutting_down), and the connection
# ends cleanly, not with a reset.
start_server
python3 - "$today" > "$T/requests" <<'PY'
import sys, json
print(json.dumps({"id": "r", "cmd": "register", "candidate": "T-1", "site": "SITE-01"}))
for i in range(100000):
    print(json.dumps({"id": i, "cmd": "show", "candidate": "T-1"}))
PY
"$B" client --connect "$ADDR" --token "$COORD" < "$T/requests" > "$T/replies" 2>"$T/client.err" &
CLIENT=$!
sleep 0.5
kill -TERM "$SERVER"; wait "$SERVER"; rc=$?; SERVER=
wait "$CLIENT" || true
check test "$rc" = 0
check python3 - "$T/replies" <<'PY'
import sys, json
ok = refused = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("ok"): ok += 1
    elif r["error"]["code"] == "shutting_down": refused += 1
    else: sys.exit(f"unexpected reply: {line}")
print(f"SIGTERM under pipelining: {ok} answered, {refused} shutting_down")
sys.exit(0 if ok and refused else 1)
PY
refute grep -q connection_lost "$T/client.err"
# Witnesses behind the writes: the server submits each new checkpoint to its witness; a witness that goes down holds
# up no write (the lag shows in `witness status` and the server's log), and it catches up when it is back.
"$B" key vkey > "$T/log.vkey"
"$B" witness init --dir "$T/w" --name witness.smoke/server | tail -1 > "$T/w.vkey"
"$B" witness add-log --dir "$T/w" --vkey "$T/log.vkey" >/dev/null
WPORT=$(port)
serve_witness() { "$B" witness serve --dir "$T/w" --listen 127.0.0.1:$WPORT 2>>"$T/witness.log" & WITNESS=$!
  for _ in $(seq 50); do grep -q serving "$T/witness.log" 2>/dev/null && break; sleep 0.1; done; }
serve_witness
start_server --witness "http://127.0.0.1:$WPORT=$(cat "$T/w.vkey")" --witness-interval 0.2
caught_up() { for _ in $(seq 100); do "$B" witness status --json | python3 -c 'import json,sys; w=json.load(sys.stdin)["witnesses"]; sys.exit(0 if w and w[0]["lag"] == 0 else 1)' && return 0; sleep 0.1; done; return 1; }
echo '{"id":1,"cmd":"register","candidate":"W-1","site":"SITE-01"}' | "$B" client --connect "$ADDR" --token "$COORD" >/dev/null
check caught_up
check "$B" verify --witness "$T/w.vkey" --quorum 1
kill "$WITNESS"; wait "$WITNESS" 2>/dev/null || true
# In its place a listener that takes connections and never answers: the slowest witness there is.
python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64); c=[s.accept() for _ in range(64)]; time.sleep(60)' "$WPORT" &
WITNESS=$!
sleep 0.3
started=$(date +%s%N)
for i in 2 3 4; do echo "{\"id\":$i,\"cmd\":\"register\",\"candidate\":\"W-$i\",\"site\":\"SITE-01\"}"; done | "$B" client --connect "$ADDR" --token "$COORD" > "$T/w.out"
elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
check test "$(grep -c '"ok":true' "$T/w.out")" = 3
echo "three writes with the witness down: ${elapsed_ms} ms"
check test "$elapsed_ms" -lt 3000
# A submission that gets no answer gives up after 10 s.
for _ in $(seq 150); do grep -q "witness did not cosign" "$T/server.log" && break; sleep 0.1; done
check grep -q "witness did not cosign" "$T/server.log"
"$B" witness status > "$T/w.status"
check grep -q "witness.smoke/server .* [1-9][0-9]* behind" "$T/w.status"
kill "$WITNESS"; wait "$WITNESS" 2>/dev/null || true
serve_witness
check caught_up
kill "$WITNESS"; wait "$WITNESS" 2>/dev/null || true
kill -TERM "$SERVER"; wait "$SERVER" || true; SERVER=

# Plain TCP beyond loopback is refused.
set +e; "$B" serve --listen 0.0.0.0:$(port) 2>"$T/refused"; rc=$?; set -e
check test "$rc" != 0
check grep -q insecure_listen "$T/refused"
checks_done server-smoke
