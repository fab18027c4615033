#!/usr/bin/env bash
# Bulk import at a site's scale (docs/import.md): scripts/gen_site_csv.py writes 2,000 candidates x 6 record kinds
# (12,000 rows); the dry run writes nothing, the import lands in one go in a fresh store and `verify` passes; each
# bad variant (a Latin-1 byte, a missing column, a duplicate row, a row for another site's candidate, a value in a
# wrong unit) is refused naming its row and column, with nothing written. Then a small file over the socket, as a
# coordinator of SITE-01: imported, and a row for SITE-02 refused.
# Usage: scripts/import-check.sh [path/to/trialgate] [KEEP_DIR]
#   KEEP_DIR: where to leave the imported store (KEEP_DIR/site-01.sqlite, its key, and site-01.csv) for other
#   checks (the ODM, SDTM and FHIR exports are validated on it).
set -euo pipefail
. "$(dirname "$0")/lib/checks.sh"
cd "$(dirname "$0")/.."
use_trialgate "${1:-}"
KEEP=${2:-}
T=$(mktemp -d)
trap 'kill "${SERVER:-}" 2>/dev/null || true; rm -rf "$T"' EXIT
export TRIALGATE_STORE=$T/site-01.sqlite TRIALGATE_ACTOR=import:coordinator
events() { sqlite3 "$TRIALGATE_STORE" "select count(*) from events"; }

expect_rc 0 "$B" init --trial IMPORT-1
expect_rc 0 "$B" policy publish Policies/sanet-ep.yaml
# Another site's candidate, which the site's file must not touch.
expect_rc 0 "$B" candidate register OTHER-01 --site SITE-02
python3 scripts/gen_site_csv.py --candidates 2000 --site SITE-01 --out "$T/site-01.csv"
check test "$(wc -l < "$T/site-01.csv")" = 12001
before=$(events)
expect_rc 0 "$B" import "$T/site-01.csv" --site SITE-01 --dry-run
check grep -q "12,000 rows (clinical 2,000, imaging 2,000, ki67 2,000, pathology 2,000, register 2,000, sstr 2,000) checked, no problems" "$T/out"
check test "$(events)" = "$before"

for bad in encoding column duplicate site value; do
    read -r _ row column < <(python3 scripts/gen_site_csv.py --candidates 2000 --site SITE-01 --out "$T/bad-$bad.csv" --bad "$bad" 2>/dev/null)
    where="row $row${column:+, column $column}:"
    expect_rc 1 "$B" import "$T/bad-$bad.csv" --site SITE-01 --dry-run
    check grep -qF "$where" "$T/out"
    expect_rc 2 "$B" import "$T/bad-$bad.csv" --site SITE-01
    check grep -q "^trialgate: error: import_refused: bad-$bad.csv: [0-9,]* problems\?; nothing was written:" "$T/out"
    check grep -qF "$where" "$T/out"
    check test "$(events)" = "$before"
done

# The real thing: 12,000 rows and their receipt in one commit, the file's SHA-256 in the log.
expect_rc 0 "$B" import "$T/site-01.csv" --site SITE-01
check grep -q "^Imported site-01.csv: 12,000 rows .* as events $((before + 1))–$((before + 12000)); the file (sha256 $(sha256sum "$T/site-01.csv" | cut -c1-64)) is recorded as event $((before + 12001))\.$" "$T/out"
check test "$(events)" = "$((before + 12001))"
check test "$(sqlite3 "$TRIALGATE_STORE" "select json_extract(body, '$.payload.sha256') from events where json_extract(body, '$.type') = 'records.imported'")" = "$(sha256sum "$T/site-01.csv" | cut -c1-64)"
check test "$(sqlite3 "$TRIALGATE_STORE" "select count(distinct json_extract(body, '$.actor')) from events where seq > $before")" = 1
expect_rc 0 "$B" verify
# The same bytes twice are refused: a file is imported once.
expect_rc 2 "$B" import "$T/site-01.csv" --site SITE-01
check grep -q "^file: \"sha256 .*a file not imported before" "$T/out"
# An imported candidate is decided like any other (its attestations are the investigator's, so it waits for them).
expect_rc 0 "$B" decide SITE-01-00001
check grep -q "pass  *I7-bone-marrow" "$T/out"

# Over the socket, as a coordinator of SITE-01: the file travels base64 in the request.
tok=$(token carla coordinator SITE-01)
start_server
python3 scripts/gen_site_csv.py --candidates 20 --site SITE-09 --out "$T/site-09.csv" 2>/dev/null
served=$(events)
expect_rc 1 "$B" import "$T/site-09.csv" --dry-run --connect "$ADDR" --token "$tok"
check grep -qF 'row 2, column site: "SITE-09" — a site of this import (SITE-01)' "$T/out"
expect_rc 2 "$B" import "$T/site-09.csv" --connect "$ADDR" --token "$tok"
check grep -q "import_refused: site-09.csv: 120 problems; nothing was written" "$T/out"
check grep -qF "row 3, column candidate: \"SITE-09-00001\" — a registered candidate: SITE-09-00001's registration, row 2, is refused" "$T/out"
check test "$(events)" = "$served"
sed 's/SITE-09/SITE-01/g; s/SITE-01-000/SOCK-000/g' "$T/site-09.csv" > "$T/sock.csv"
expect_rc 0 "$B" import "$T/sock.csv" --connect "$ADDR" --token "$tok"
check grep -q "^Imported sock.csv: 120 rows" "$T/out"
check test "$(events)" = "$((served + 121))"
check test "$(sqlite3 "$TRIALGATE_STORE" "select json_extract(body, '$.actor') from events order by seq desc limit 1")" = carla
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
expect_rc 0 "$B" verify

if [ -n "$KEEP" ]; then
    mkdir -p "$KEEP"
    cp "$TRIALGATE_STORE" "$TRIALGATE_STORE.key" "$T/site-01.csv" "$KEEP/"
    echo "the imported store is $KEEP/site-01.sqlite (key $KEEP/site-01.sqlite.key)"
fi
checks_done import-check
