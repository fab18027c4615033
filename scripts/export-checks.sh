#!/usr/bin/env bash
# Every export format on the demo log and on a generated log of 2,000 candidates, read back with libraries made for
# the formats, not with TrialGate's code: the FHIR export with fhir.resources' R4B models (scripts/validate_fhir.py),
# the audit CSV with Python's csv module (scripts/check_audit_csv.py), CDISC ODM 1.3.2 with its XML schema and odmlib
# (scripts/validate_odm.py), the SDTM IE domain's SAS transport file with pyreadstat against its CSV
# (scripts/validate_sdtm_ie.py), and the HTML report and its PDF in Chromium and pdftotext (scripts/report-layout.py). The generated log (scripts/generate_screening_log.py) has the
# hard cases: ids that are not FHIR ids and twins differing only by `_` and `-`, a trial id with `_`, site moves,
# corrections whose reasons hold commas, quotes and spreadsheet formulas, withdrawals and signed decisions.
# Usage: scripts/export-checks.sh [path/to/trialgate] [IMPORTED_STORE]   (default: builds .build/debug/trialgate)
#        CANDIDATES=N for another size of generated log. IMPORTED_STORE: a store scripts/import-check.sh left (a
#        site's 2,000 candidates imported from CSV), whose ODM and FHIR exports are checked too.
set -euo pipefail
. "$(dirname "$0")/lib/checks.sh"
cd "$(dirname "$0")/.."
use_trialgate "${1:-}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
N=${CANDIDATES:-2000}
registered() { sqlite3 "$1" "SELECT count(*) FROM events WHERE type = 'candidate.registered'"; }
# ODM, SDTM IE (CSV and SAS transport) and the PDF report of a store, each checked by its validator.
formats() {
  local store=$1 name=$2 subjects
  subjects=$(registered "$store")
  expect_rc 0 "$B" export --store "$store" --format odm --out "$T/$name.odm.xml"
  expect_rc 0 python3 scripts/validate_odm.py "$T/$name.odm.xml"
  check grep -q "valid ODM 1.3.2" "$T/out"
  # One subject per candidate (a site move adds an Update of the same SubjectKey, not a subject).
  check test "$(python3 -c 'import sys, xml.etree.ElementTree as E; print(len({e.get("SubjectKey") for e in E.parse(sys.argv[1]).iter("{http://www.cdisc.org/ns/odm/v1.3}SubjectData")}))' "$T/$name.odm.xml")" = "$subjects"
  expect_rc 0 "$B" export --store "$store" --format sdtm-ie --out "$T/$name-ie.csv"
  expect_rc 0 "$B" export --store "$store" --format sdtm-ie --out "$T/$name-ie.xpt"
  expect_rc 0 python3 scripts/validate_sdtm_ie.py "$T/$name-ie.xpt" "$T/$name-ie.csv"
  if [ "${3:-}" = report ]; then
    "$B" report --store "$store" --format html > "$T/$name.html"
    expect_rc 0 "$B" report --store "$store" --format pdf --out "$T/$name.pdf"
    expect_rc 0 python3 scripts/report-layout.py "$T/$name.html" --pdf "$T/$name.pdf"
  fi
}

# The demo log (SANET-ep's), kept by `demo --keep`.
TMPDIR=$T expect_rc 0 "$B" demo --keep
demo=$(find "$T" -name 'sanet-ep.sqlite' | head -n 1)
check test -n "$demo"
"$B" export --store "$demo" --format fhir > "$T/demo.ndjson"
expect_rc 0 python3 scripts/validate_fhir.py "$T/demo.ndjson" --subjects "$(registered "$demo")"
"$B" export --store "$demo" --format audit-csv --bom > "$T/demo.csv"
expect_rc 0 python3 scripts/check_audit_csv.py "$T/demo.csv" --bom --whole --candidates "$(registered "$demo")" \
  --corrects "$(sqlite3 "$demo" "SELECT json_extract(body, '$.payload.corrects') FROM events WHERE type = 'entry.corrected' LIMIT 1")"
formats "$demo" demo report

# The generated log.
expect_rc 0 python3 scripts/generate_screening_log.py --trialgate "$B" --dir "$T" --candidates "$N"
tail -n 1 "$T/out" > "$T/summary.json"
gen=$T/gen.sqlite
check test "$(registered "$gen")" = "$N"
"$B" export --store "$gen" --format fhir > "$T/gen.ndjson"
expect_rc 0 python3 scripts/validate_fhir.py "$T/gen.ndjson" --subjects "$N"
# A monitor's export, one site: valid too, and only that site's subjects (the study still first).
"$B" export --store "$gen" --format fhir --site SITE-02 > "$T/site.ndjson"
expect_rc 0 python3 scripts/validate_fhir.py "$T/site.ndjson" --subjects \
  "$("$B" candidate list --store "$gen" --site SITE-02 --limit 10000 --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["candidates"]))')"
# What the generator did shows in the export: the mapped trial id, twins apart, statuses from signed decisions.
expect_rc 0 python3 - "$T/gen.ndjson" "$T/summary.json" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
summary = json.load(open(sys.argv[2]))
study, subjects = lines[0], {s["identifier"][0]["value"]: s for s in lines[1:]}
assert study["resourceType"] == "ResearchStudy" and study["id"].startswith("GEN-LOG--"), study["id"]
assert {"system": study["identifier"][0]["system"], "value": "GEN_LOG"} == study["identifier"][0], study["identifier"]
assert any(i["value"] == "NCT02588170" for i in study["identifier"]), "the policy's registry number"
assert subjects["G-00000"]["id"] == "G-00000" and subjects["G_00000"]["id"] != "G-00000", "twins apart"
for c, outcome in summary["confirmed"].items():
    assert subjects[c]["status"] == outcome, (c, subjects[c]["status"], outcome)
statuses = [s["status"] for s in subjects.values()]
assert statuses.count("withdrawn") == summary["withdrawals"], (statuses.count("withdrawn"), summary["withdrawals"])
assert {"candidate", "screening", "eligible", "ineligible", "withdrawn"} <= set(statuses), set(statuses)
PY
"$B" export --store "$gen" --format audit-csv --bom > "$T/gen.csv"
expect_rc 0 python3 scripts/check_audit_csv.py "$T/gen.csv" --bom --whole --candidates "$N" \
  --corrects "$(sqlite3 "$gen" "SELECT seq FROM events WHERE type = 'ki67.recorded' AND candidate = 'G-00009'")"
# Site moves: the moved candidate's rows name the old site before the move and the new one from it on; the
# formula-looking reasons are neutralised and read back with their apostrophe.
expect_rc 0 python3 - "$T/gen.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8-sig", newline="")))
moves = [r for r in rows if r["action"] == "entry.corrected" and r["field"] == "site"]
assert moves, "no site move"
for m in moves:
    mine = [r for r in rows if r["candidate"] == m["candidate"]]
    before = {r["site"] for r in mine if int(r["seq"]) < int(m["seq"])}
    after = {r["site"] for r in mine if int(r["seq"]) >= int(m["seq"])}
    assert before == {m["old_value"]} and after == {m["new_value"]}, (m["candidate"], before, after)
reasons = {r["reason"] for r in rows if r["action"] == "entry.corrected"}
assert "'=HYPERLINK(\"http://example.invalid\",\"report\")" in reasons and "''quoted' by the site" in reasons, reasons
assert 'transcription error, see the pathology report "final"' in reasons
PY
# One candidate's trail, as a monitor reads it: the same rows as in the whole log.
"$B" export --store "$gen" --format audit-csv --candidate G_00000 > "$T/one.csv"
expect_rc 0 python3 scripts/check_audit_csv.py "$T/one.csv" --candidates 1
check test "$(grep -c ',G_00000,' "$T/one.csv")" = "$(grep -c ',G_00000,' "$T/gen.csv")"
# ODM, IE and the report with its PDF at 2,000 candidates: the IE domain has a record for every criterion an
# ineligible candidate's current decision failed.
formats "$gen" gen report
check test "$(($(wc -l < "$T/gen-ie.csv") - 1))" -gt 0

# A site's 2,000 candidates imported from its CSV (scripts/import-check.sh), exported as ODM, IE and FHIR.
if [ -n "${2:-}" ]; then
  imported=$2
  formats "$imported" imported
  "$B" export --store "$imported" --format fhir > "$T/imported.ndjson"
  expect_rc 0 python3 scripts/validate_fhir.py "$T/imported.ndjson" --subjects "$(registered "$imported")"
fi
checks_done export-checks
