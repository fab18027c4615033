#!/usr/bin/env bash
# The PostgreSQL store as a user drives it, with psql as the outside witness: a trial created by the owner role and
# written by a role that may only append, verified on the streaming replica, exported and checked by
# audit/verify_bundle.py, moved to SQLite and back with `migrate`, and an owner's edit behind TrialGate's back caught;
# `status` reports the replica's lag, and (with TRIALGATE_PG_DIR) that it is not streaming while the primary is killed.
# Needs the servers of scripts/postgres.sh (its TRIALGATE_PG_* variables in the environment).
# Usage: scripts/postgres-smoke.sh [path/to/trialgate]
set -euo pipefail
. "$(dirname "$0")/lib/checks.sh"
cd "$(dirname "$0")/.."
use_trialgate "${1:-}"
: "${TRIALGATE_PG_PRIMARY:?start scripts/postgres.sh and export its TRIALGATE_PG_* lines first}"
T=$(mktemp -d)
trial="smoke$(date +%s%N | tail -c 9)"
OWNER="$TRIALGATE_PG_PRIMARY?trial=$trial"
WRITER="$TRIALGATE_PG_WRITER?trial=$trial"
READER="$TRIALGATE_PG_REPLICA?trial=$trial"
drop() { psql -q "$TRIALGATE_PG_PRIMARY" -c "DROP SCHEMA IF EXISTS tg_$1 CASCADE" >/dev/null 2>&1 || true; }
trap 'drop "$trial"; drop "${trial}_b"; drop "${trial}_c"; rm -rf "$T"' EXIT
sql() { psql -X -q -At "$1" -c "SET search_path = tg_$trial; $2"; }
export TRIALGATE_ACTOR=smoke:admin TRIALGATE_KEY=$T/$trial.key

# A trial is made by the role that owns its tables, and served by one that may only read and append.
expect_rc 0 "$B" init --store "$OWNER" --trial PG-SMOKE --writer-role tg_writer
check grep -q "Created store postgres://tg_owner@" "$T/out"
expect_rc 3 "$B" init --store "$OWNER" --trial PG-SMOKE --key "$T/other.key"
check grep -q "store_exists" "$T/out"
# An init that fails after making the schema (here: the key cannot be written) leaves no trial behind.
expect_rc 3 "$B" init --store "$TRIALGATE_PG_PRIMARY?trial=${trial}_c" --trial PG-SMOKE-C --writer-role tg_writer --key "$T/no/such/dir/c.key"
refute sh -c "\"$B\" trials --store \"$TRIALGATE_PG_PRIMARY\" | grep -q '^${trial}_c'"
expect_rc 2 "$B" init --store "$T/x.sqlite" --trial X --writer-role tg_writer --key "$T/x.key"
check grep -q "only a PostgreSQL store has roles" "$T/out"
refute test -e "$T/x.sqlite"
expect_rc 0 "$B" policy publish Policies/sanet-ep.yaml --store "$WRITER"
expect_rc 0 "$B" candidate register NET-1 --site SITE-01 --store "$WRITER" --actor smoke:coordinator
expect_rc 0 "$B" record ki67 --candidate NET-1 percent=8 specimen_date="$(date -u +%F)" method=manual_count --store "$WRITER" --actor smoke:coordinator
expect_rc 0 "$B" decide NET-1 --store "$WRITER" --actor smoke:coordinator
expect_rc 0 "$B" trials --store "$TRIALGATE_PG_REPLICA"
check grep -q "^$trial" "$T/out"

# The writer role cannot change a row, nor switch the guard off; the owner's triggers refuse the owner too.
check test "$(sql "$TRIALGATE_PG_WRITER" "UPDATE events SET actor = 'mallory' WHERE seq = 1" 2>&1 | grep -c 'permission denied')" = 1
check test "$(sql "$TRIALGATE_PG_WRITER" "ALTER TABLE events DISABLE TRIGGER ALL" 2>&1 | grep -c 'must be owner')" = 1
check test "$(sql "$TRIALGATE_PG_PRIMARY" "DELETE FROM events WHERE seq = 1" 2>&1 | grep -c 'append-only')" = 1
size=$(sql "$TRIALGATE_PG_PRIMARY" "SELECT max(seq) FROM events")

# The streaming replica serves verify and reads once it has replayed the trial; writes there are refused.
for _ in $(seq 50); do [ "$(sql "$TRIALGATE_PG_REPLICA" "SELECT coalesce(max(seq), 0) FROM events" 2>/dev/null || echo 0)" = "$size" ] && break; sleep 0.1; done
expect_rc 0 "$B" verify --store "$READER"
check grep -q "^OK: $size events" "$T/out"
expect_rc 3 "$B" candidate register NET-2 --site SITE-01 --store "$READER" --actor smoke:coordinator
check grep -q "store_readonly" "$T/out"
# TrialGate reports the replica's lag itself; the primary is no replica.
expect_rc 0 "$B" status --store "$READER" --max-lag-ms 60000
check grep -q "read-only; replica of .*, lag [0-9]* ms" "$T/out"
expect_rc 0 "$B" status --store "$READER" --json
check python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["store"]; sys.exit(not (s["replica"]["streaming"] and s["replica"]["lag_ms"] >= 0 and s["read_only"]))' "$T/out"
expect_rc 0 "$B" status --store "$WRITER"
check grep -q "^Store: postgresql trial $trial$" "$T/out"

# A regulator's bundle from PostgreSQL, checked without TrialGate.
expect_rc 0 "$B" export --out "$T/bundle" --store "$READER"
expect_rc 0 python3 audit/verify_bundle.py "$T/bundle"

# Moved to SQLite and back: the same rows, byte for byte, and both verify.
expect_rc 0 "$B" migrate --from "$WRITER" --to "$T/moved.sqlite"
check grep -q "the same bytes in every row" "$T/out"
expect_rc 0 "$B" migrate --from "$T/moved.sqlite" --to "$TRIALGATE_PG_PRIMARY?trial=${trial}_b" --writer-role tg_writer
check test "$(sql "$TRIALGATE_PG_PRIMARY" "SELECT string_agg(hash || md5(body), ',' ORDER BY seq) FROM events")" \
    = "$(psql -X -q -At "$TRIALGATE_PG_PRIMARY" -c "SET search_path = tg_${trial}_b; SELECT string_agg(hash || md5(body), ',' ORDER BY seq) FROM events")"
check test "$(sqlite3 "$T/moved.sqlite" "SELECT group_concat(hash, ',') FROM (SELECT hash FROM events ORDER BY seq)")" \
    = "$(sql "$TRIALGATE_PG_PRIMARY" "SELECT string_agg(hash, ',' ORDER BY seq) FROM events")"
expect_rc 3 "$B" migrate --from "$T/moved.sqlite" --to "$TRIALGATE_PG_PRIMARY?trial=${trial}_b"
check grep -q "store_exists" "$T/out"

# The owner switches a trigger off and lowers the Ki-67 in place: verify names the event, the structural check names
# the trigger, and migrate refuses to copy a log that does not verify, leaving no half-made trial behind.
ki=$(sql "$TRIALGATE_PG_PRIMARY" "SELECT seq FROM events WHERE type = 'ki67.recorded'")
sql "$TRIALGATE_PG_PRIMARY" "ALTER TABLE events DISABLE TRIGGER events_no_change; UPDATE events SET body = replace(body, '\"percent\":8', '\"percent\":2') WHERE seq = $ki" >/dev/null
expect_rc 1 "$B" verify --store "$WRITER"
check grep -q "event $ki" "$T/out"
expect_rc 3 "$B" migrate --from "$WRITER" --to "$TRIALGATE_PG_PRIMARY?trial=${trial}_c"
check grep -q "does not verify" "$T/out"
refute sh -c "\"$B\" trials --store \"$TRIALGATE_PG_PRIMARY\" | grep -q '^${trial}_c'"

# A wrong URL names the part that is wrong, and never shows a password.
expect_rc 2 "$B" verify --store "postgres://tg_writer:s3cret@127.0.0.1/trialgate"
check grep -q "trial=NAME" "$T/out"
refute grep -q "s3cret" "$T/out"

# With its primary gone the replica still serves reads, but its lag cannot be known: status says so and fails.
if [ -n "${TRIALGATE_PG_DIR:-}" ]; then
  scripts/postgres.sh kill "$TRIALGATE_PG_DIR" primary >/dev/null 2>&1
  for _ in $(seq 100); do "$B" status --store "$READER" >/dev/null 2>&1 || break; sleep 0.1; done
  expect_rc 1 "$B" status --store "$READER"
  check grep -q "NOT streaming" "$T/out"
  check grep -q "not streaming from its primary" "$T/out"
  scripts/postgres.sh start "$TRIALGATE_PG_DIR" >/dev/null
  for _ in $(seq 100); do "$B" status --store "$READER" >/dev/null 2>&1 && break; sleep 0.1; done
  expect_rc 0 "$B" status --store "$READER"
fi

checks_done "postgres-smoke"
