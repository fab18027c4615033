#!/usr/bin/env bash
# Drives the trialgate CLI as a user would, with outside tools as witnesses:
# openssl verifies a decision and a checkpoint signature, sqlite3 edits the file behind TrialGate's back and `verify`
# must notice, and audit/verify_bundle.py (Python + cryptography) checks an exported audit bundle on its own.
# Usage: scripts/cli-smoke.sh [path/to/trialgate]   (default: builds and uses .build/debug/trialgate)
set -euo pipefail
. "$(dirname "$0")/lib/checks.sh"
cd "$(dirname "$0")/.."
use_trialgate "${1:-}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export TRIALGATE_STORE=$T/trial.sqlite TRIALGATE_ACTOR=smoke:coordinator

today=$(date -u +%F); d() { date -u -d "$1 days ago" +%F; }
expect_rc 0 "$B" init --trial SMOKE-1
# --version names this build and the formats it writes: the store's schema as sqlite3 reads it from the new store.
expect_rc 0 "$B" --version
check grep -q "^store schema $(sqlite3 "$T/trial.sqlite" 'PRAGMA user_version') " "$T/out"
check grep -q "event schema $(sqlite3 "$T/trial.sqlite" "SELECT max(json_extract(body, '$.schema_version')) FROM events") *$" "$T/out"
check test "$(stat -c %a "$T/trial.sqlite.key")" = 600
expect_rc 0 "$B" policy test Policies/sanet-ep.yaml Policies/sanet-ep.cases.yaml
expect_rc 0 "$B" policy test Policies/sanet-p.yaml Policies/sanet-p.cases.yaml
expect_rc 0 "$B" policy test Policies/radiomics-substudy.yaml Policies/radiomics-substudy.cases.yaml
# A case table that expects the wrong result at a bound fails, naming the case (bilirubin at 1.5 x ULN is not below it).
sed 's/{I8-bilirubin: fail}/{I8-bilirubin: pass}/' Policies/sanet-p.cases.yaml > "$T/wrong.cases.yaml"
expect_rc 1 "$B" policy test Policies/sanet-p.yaml "$T/wrong.cases.yaml"
check grep -q "FAIL bilirubin 1.5 {ULN}" "$T/out"
expect_rc 0 "$B" policy publish Policies/sanet-ep.yaml
# record KIND --help lists the kind's fields with their units and allowed values; other help is unchanged.
expect_rc 0 "$B" record ki67 --help
check grep -q "^FIELDS OF ki67 (ki67.recorded, event schema" "$T/out"
check grep -q "one of manual_count, digital_image_analysis, eyeball_estimate" "$T/out"
expect_rc 0 "$B" record --candidate NET-1 clinical -h
check grep -q "g/L, g/dL or mmol/L; possible values" "$T/out"
expect_rc 0 "$B" record --help
refute grep -q "^FIELDS OF" "$T/out"
expect_rc 0 "$B" candidate register NET-1 --site SITE-01
expect_rc 0 "$B" record clinical --candidate NET-1 assessed_on="$(d 3)" age=60 ecog=0 'prior_systemic_therapies=["somatostatin_analogue"]' \
    anc="2.5 10*9/L" platelets="180 10*9/L" haemoglobin="12 g/dL" bilirubin="0.9 {ULN}" systolic_bp="128 mm[Hg]" diastolic_bp="80 mm[Hg]"
expect_rc 0 "$B" record imaging --candidate NET-1 study_date="$(d 5)" modality=CT recist_measurable=true progression_date="$(d 40)"
expect_rc 0 "$B" record ki67 --candidate NET-1 percent=30 specimen_date="$(d 60)" method=manual_count
expect_rc 0 "$B" record sstr --candidate NET-1 status=positive modality=ga68_dotatate_pet krenning_score=3 study_date="$(d 20)"
expect_rc 0 "$B" record model-score --candidate NET-1 model=net-ct-radiomics version=2.1.0 \
    artifact_sha256=3f1c2b9d8e7a6f5041c3b2a1908f7e6d5c4b3a291807f6e5d4c3b2a190817263 score=0.8 predicts=response study_date="$(d 5)"
expect_rc 0 "$B" record pathology --candidate NET-1 specimen_date="$(d 60)" primary_organ=C17.2 tumour_type=NET differentiation=well review=central
# The site's investigator: their own Ed25519 key (the server never holds it), a printed name and a signing code.
expect_rc 0 "$B" key new --out "$T/ivy.key"
check test "$(stat -c %a "$T/ivy.key")" = 600
check test "$(stat -c %a "$T/ivy.key.code")" = 600
# The administrator gets the public key and the code's SHA-256 only; the log holds no more.
expect_rc 0 "$B" users add ivy --role investigator --site SITE-01 --printed-name "Dr Ivy Smoke" --public-key "$T/ivy.key.pub" \
  --signing-code-sha256 "$T/ivy.key.code.sha256"
check test "$(sqlite3 "$T/trial.sqlite" "select count(*) from events where instr(body, '$(cat "$T/ivy.key.code")') > 0")" = 0
check test "$(sqlite3 "$T/trial.sqlite" "select count(*) from events where instr(body, '$(cat "$T/ivy.key.code.sha256")') > 0")" = 1
cp "$T/ivy.key.code" "$T/ivy.code"
# On the command line nobody writes under an account's name: the investigator acts through the socket, or signs.
expect_rc 2 "$B" candidate register NET-X --site SITE-01 --actor ivy
check grep -q "forbidden: --actor ivy is the name of the account ivy" "$T/out"
expect_rc 2 env TRIALGATE_ACTOR=IVY "$B" candidate register NET-X --site SITE-01
expect_rc 2 "$B" candidate register NET-X --site SITE-01 --actor "ivy "
check grep -q "printable ASCII without spaces" "$T/out"
expect_rc 2 sh -c "echo '{\"cmd\":\"register\",\"candidate\":\"NET-X\",\"site\":\"SITE-01\"}' | \"$B\" exec --actor ivy"
check test "$(sqlite3 "$T/trial.sqlite" "select count(*) from events where candidate='NET-X'")" = 0
sign=(--as ivy --signing-key "$T/ivy.key" --signing-code-file "$T/ivy.code")
# Attestations are the investigator's signed statements; a plain record of one is refused, and so is a wrong code.
expect_rc 2 "$B" record attestation --candidate NET-1 criterion=I1-informed-consent result=pass attested_on="$(d 1)"
check grep -q "use \`trialgate attest\`" "$T/out"
echo wrong > "$T/wrong.code"
expect_rc 2 "$B" attest --candidate NET-1 --criterion I1-informed-consent --result pass --attested-on "$(d 1)" --as ivy --signing-key "$T/ivy.key" --signing-code-file "$T/wrong.code"
check grep -q "signing_failed" "$T/out"
for c in I1-informed-consent I3-advanced I9-liver-function E3-registered-exclusions; do
  expect_rc 0 "$B" attest --candidate NET-1 --criterion $c --result pass --attested-on "$(d 1)" --statement "checked at the site" "${sign[@]}"
done
# Clinical input in the wrong unit, out of range or unconfirmed: exit 2, the field, value, unit and limit named, nothing appended.
size_before=$(sqlite3 "$T/trial.sqlite" "select count(*) from events")
expect_rc 2 "$B" record clinical --candidate NET-1 assessed_on="$(d 1)" haemoglobin=12.4
check grep -q '"haemoglobin" 12.4 has no unit.*g/L, g/dL or mmol/L' "$T/out"
expect_rc 2 "$B" record clinical --candidate NET-1 assessed_on="$(d 1)" haemoglobin="12.4 g/L"
check grep -q '"haemoglobin" 12.4 g/L is outside what is possible, 20 to 250 g/L' "$T/out"
expect_rc 2 "$B" record clinical --candidate NET-1 assessed_on="$(d 1)" haemoglobin="30 g/L"
check grep -q 'outside the usual range 60 to 200 g/L.*confirm_unusual' "$T/out"
expect_rc 2 "$B" record clinical --candidate NET-1 assessed_on="$(d 1)" bilirubin="25 umol/L"
check grep -q 'bilirubin_upper_limit' "$T/out"
expect_rc 2 "$B" record clinical --candidate NET-1 assessed_on="$(d 1)" bilirubin="25 mmol/L" bilirubin_upper_limit="21 umol/L"
check grep -q 'mmol/L is not a unit of total bilirubin (expected umol/L, mg/dL or {ULN})' "$T/out"
expect_rc 2 "$B" record mitotic-count --candidate NET-1 count=3.7 unit=per_2mm2 specimen_date="$(d 60)"
check grep -q '"count" must be a whole number, got 3.7' "$T/out"
expect_rc 2 "$B" record mitotic-count --candidate NET-1 count=3 unit=per_10hpf specimen_date="$(d 60)"
check grep -q '"hpf_area_mm2" is required when unit is per_10hpf' "$T/out"
expect_rc 2 "$B" record pathology --candidate NET-1 specimen_date="$(d 60)" primary_organ=C99.9 tumour_type=NET differentiation=well review=central
check grep -q '"primary_organ" must be an ICD-O-3 topography code' "$T/out"
check test "$(sqlite3 "$T/trial.sqlite" "select count(*) from events")" = "$size_before"
# Bad input: a clear error, exit 2, nothing appended.
size_before=$(sqlite3 "$T/trial.sqlite" "select count(*) from events")
expect_rc 2 "$B" record ki67 --candidate NET-1 percent=101 specimen_date="$(d 1)" method=manual_count
expect_rc 2 "$B" record ki67 --candidate NET-9 percent=10 specimen_date="$(d 1)" method=manual_count
expect_rc 2 "$B" candidate register NET-1 --site SITE-01
expect_rc 2 "$B" correct --seq 6 --field percent --value 18 --reason ""
check test "$(sqlite3 "$T/trial.sqlite" "select count(*) from events")" = "$size_before"
# A correction with a reason; then a decision.
expect_rc 0 "$B" correct --seq 6 --field percent --value 18 --reason "transcription error"
expect_rc 0 "$B" decide NET-1
seq=$(sqlite3 "$T/trial.sqlite" "select max(seq) from events where type='decision.issued'")
check grep -q '"outcome":"eligible"' <("$B" decisions --json)
# An amendment tried before publishing: raising the age bound to 61 would make NET-1 (60) ineligible; nothing is written.
size_before=$(sqlite3 "$T/trial.sqlite" "select count(*) from events")
sed 's/when: {fact: clinical.age, gte: 18}/when: {fact: clinical.age, gte: 61}/; s/version: "2.0.0"/version: "2.0.1"/' Policies/sanet-ep.yaml > "$T/amended.yaml"
expect_rc 0 "$B" policy impact "$T/amended.yaml"
check grep -q "NET-1 .* eligible → ineligible" "$T/out"
check grep -q "I2-age: pass → fail" "$T/out"
check test "$(sqlite3 "$T/trial.sqlite" "select count(*) from events")" = "$size_before"
# Listings page: a page of one is the whole list here; a limit out of range is refused, naming the option.
check grep -q '"count":1,.*"next_after":null' <("$B" decisions --limit 1 --json)
expect_rc 64 "$B" decisions --limit 0
check grep -q -- "--limit must be between 1 and 10000" "$T/out"
# Candidates by site and status, as show gives the status, a page at a time; a status that does not exist is refused.
expect_rc 0 "$B" candidate list --json
check test "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["candidates"]))' < "$T/out")" = "$(sqlite3 "$T/trial.sqlite" "SELECT count(*) FROM events WHERE type = 'candidate.registered'")"
first=$(python3 -c 'import json,sys; c=json.load(sys.stdin)["candidates"][0]; print(c["candidate"], c["status"])' < "$T/out")
check grep -q "\"status\":\"${first#* }\"" <("$B" show "${first% *}" --json)
expect_rc 0 "$B" candidate list --limit 1
check grep -q "^1 candidate(s)$" "$T/out"
expect_rc 64 "$B" candidate list --status enrolled
# openssl verifies the decision with no TrialGate code involved.
expect_rc 0 "$B" decision export --seq "$seq" --out "$T/d"
expect_rc 0 openssl pkeyutl -verify -pubin -inkey "$T/d/public.pem" -rawin -in "$T/d/decision.json" -sigfile "$T/d/decision.sig"
# The investigator confirms the decision, signing on their side; openssl checks who signed what with the exported
# files alone, and the statement names the decision by the SHA-256 of decision.json.
expect_rc 0 "$B" signoff --decision "$seq" --confirm "${sign[@]}"
check grep -q "I, Dr Ivy Smoke (ivy), confirm that candidate NET-1 is eligible" "$T/out"
expect_rc 2 "$B" signoff --decision "$seq" --confirm "${sign[@]}"
check grep -q "already signed off" "$T/out"
expect_rc 0 "$B" decision export --seq "$seq" --out "$T/d"
expect_rc 0 openssl pkeyutl -verify -pubin -inkey "$T/d/investigator.pem" -rawin -in "$T/d/signoff.json" -sigfile "$T/d/signoff.sig"
check grep -q "\"sha256\":\"$(sha256sum "$T/d/decision.json" | cut -d' ' -f1)\"" "$T/d/signoff.json"
check grep -q '"confirmed":"eligible"' <("$B" show NET-1 --json)
printf 'x' >> "$T/d/decision.json"
expect_rc 1 openssl pkeyutl -verify -pubin -inkey "$T/d/public.pem" -rawin -in "$T/d/decision.json" -sigfile "$T/d/decision.sig"
printf 'x' >> "$T/d/signoff.json"
expect_rc 1 openssl pkeyutl -verify -pubin -inkey "$T/d/investigator.pem" -rawin -in "$T/d/signoff.json" -sigfile "$T/d/signoff.sig"
# A correction after the decision makes it stale everywhere: show, decisions --stale, the report, FHIR; a review query
# opens; signing it is refused; deciding again and signing makes it current and confirmed.
expect_rc 0 "$B" correct --seq 4 --field ecog --value 1 --reason "re-assessed at the visit"
check grep -q "NET-1 at SITE-01: stale" <("$B" show NET-1)
check grep -q '"standing":"stale"' <("$B" decisions --stale --json)
check grep -q ',stale,' <("$B" report --format csv)
check grep -q '"status":"screening"' <("$B" export --format fhir)
check grep -q "stale_decision" <("$B" queries --open --json)
expect_rc 2 "$B" signoff --decision "$seq" --confirm "${sign[@]}"
check grep -q "stale" "$T/out"
# A regulator given the exported files of a decision that no longer stands is told so, in standing.json too.
expect_rc 0 "$B" decision export --seq "$seq" --out "$T/d-stale"
check grep -q "WARNING: decision $seq is stale" "$T/out"
check grep -q '"standing":"stale"' "$T/d-stale/standing.json"
expect_rc 0 "$B" decide NET-1
seq=$(sqlite3 "$T/trial.sqlite" "select max(seq) from events where type='decision.issued'")
expect_rc 0 "$B" signoff --decision "$seq" --confirm "${sign[@]}"
check grep -q '"standing":"current"' <("$B" show NET-1 --json)
check grep -q '"status":"eligible"' <("$B" export --format fhir)
stale_query=$("$B" queries --open --json | python3 -c "import json,sys; print([q['seq'] for q in json.load(sys.stdin)['queries'] if q['about']=='stale_decision'][0])")
expect_rc 0 "$B" query answer "$stale_query" --note "decided again after the ECOG correction"
expect_rc 0 "$B" query close "$stale_query" --resolution "new decision signed off"
check grep -q '"status":"closed"' <("$B" queries --candidate NET-1 --json)
# exec speaks the protocol.
out=$(printf '%s\n' '{"id":1,"cmd":"head"}' '{"id":2,"cmd":"show","candidate":"NET-1"}' | "$B" exec)
check test "$(echo "$out" | wc -l)" = 2
check grep -q '"id":2,"ok":true' <<<"$out"
expect_rc 0 "$B" verify
# Every checkpoint's root is checked; its signature for the newest, or for every one with --every-checkpoint.
check grep -q "checkpoints match the tree (the newest's signature verified)" "$T/out"
expect_rc 0 "$B" verify --every-checkpoint
check grep -q "checkpoints match the tree (every one's signature verified)" "$T/out"
# On a terminal, long work shows one progress line on stderr, cleared at the end; not with --quiet, not in a pipe.
if command -v script >/dev/null; then
  script -qec "\"$B\" verify" /dev/null > "$T/tty.out" 2>&1 || true
  check grep -q $'\e\\[Kverify: [0-9,]* of [0-9,]* events (100 %)' "$T/tty.out"
  check grep -q "^OK: " <(tr '\r' '\n' < "$T/tty.out" | sed 's/\x1b\[K//g')
  script -qec "\"$B\" verify --quiet" /dev/null > "$T/tty.out" 2>&1 || true
  refute grep -q "verify: " "$T/tty.out"
fi
"$B" verify > /dev/null 2> "$T/err"
check test ! -s "$T/err"
expect_rc 0 "$B" replay
# Reports: table, CSV, FHIR, audit trail; the HTML page opens in headless Chromium when it is installed.
expect_rc 0 "$B" report
check grep -q "Assessed for eligibility" "$T/out"
check test "$("$B" report --format csv | head -1 | cut -d, -f1)" = candidate
# A signed report snapshot: the next report folds on from it and says the same; openssl checks its signature,
# and sqlite3 cannot change it in place.
"$B" report --format json > "$T/report-before.json"
expect_rc 0 "$B" report snapshot
check grep -q "report snapshot at event" "$T/out"
check cmp -s "$T/report-before.json" <("$B" report --format json)
sqlite3 "$T/trial.sqlite" "select writefile('$T/snapshot.statement', statement) from report_snapshots" >/dev/null
sqlite3 "$T/trial.sqlite" "select signature from report_snapshots" | base64 -d > "$T/snapshot.sig"
expect_rc 0 openssl pkeyutl -verify -pubin -inkey "$T/d/public.pem" -rawin -in "$T/snapshot.statement" -sigfile "$T/snapshot.sig"
check grep -q '"format":"trialgate.report-snapshot/4"' "$T/snapshot.statement"
check grep -q "1 saved report snapshot checked" <("$B" verify)
expect_rc 19 sqlite3 "$T/trial.sqlite" "update report_snapshots set state = x'00'"
check grep -q "report snapshots are never changed" "$T/out"
check test "$("$B" export --format fhir | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["resourceType"])')" = ResearchStudy
check grep -q "transcription error" <("$B" export --format audit-csv)
# The audit CSV read back with Python's csv module: twelve columns, the correction of event 6 names it in corrects_seq,
# each decision names its policy; --bom puts a UTF-8 byte order mark first, and only goes with audit-csv.
"$B" export --format audit-csv --bom > "$T/audit.csv"
expect_rc 0 python3 scripts/check_audit_csv.py "$T/audit.csv" --bom --whole --corrects 6
check test "$(head -c 3 "$T/audit.csv" | od -An -tx1 | tr -d ' ')" = efbbbf
check test "$("$B" export --format audit-csv | head -n 1 | cut -c 1-4)" = "seq,"
expect_rc 2 "$B" export --format fhir --bom
check grep -q -- "--bom goes with --format audit-csv" "$T/out"
# Event export comes in pages of at most 10,000; the CLI prints every page: one line per event.
check test "$("$B" export | wc -l)" = "$(sqlite3 "$T/trial.sqlite" "select count(*) from events")"
# The FHIR export against the FHIR models of fhir.resources (R4B; CI installs it, and a missing one fails here):
# the ResearchStudy first, every subject valid and referring to it.
"$B" export --format fhir > "$T/subjects.ndjson"
expect_rc 0 python3 scripts/validate_fhir.py "$T/subjects.ndjson" --subjects "$(sqlite3 "$T/trial.sqlite" "SELECT count(*) FROM events WHERE type = 'candidate.registered'")"
# A withdrawal names its CONSORT 2010 category; the reason is free text beside it, required with `other`.
expect_rc 0 "$B" candidate register NET-W --site SITE-01
expect_rc 64 "$B" withdraw NET-W --reason "moved abroad"
check grep -q "Missing expected argument '--category <category>'" "$T/out"
expect_rc 2 "$B" withdraw NET-W --category moved
check grep -q 'category must be one of not_meeting_inclusion_criteria, declined_to_participate, .*, other, got "moved"' "$T/out"
expect_rc 2 "$B" withdraw NET-W --category other
check grep -q '"reason" is required when category is other' "$T/out"
expect_rc 0 "$B" withdraw NET-W --category lost_to_follow_up --reason "moved abroad"
check test "$(sqlite3 "$T/trial.sqlite" "SELECT json_extract(body, '$.payload.category') FROM events WHERE type = 'candidate.withdrawn' AND candidate = 'NET-W'")" = lost_to_follow_up
expect_rc 0 "$B" show NET-W
check grep -q "^Withdrawn at event [0-9]* by smoke:coordinator: Lost to follow-up — moved abroad" "$T/out"
# CDISC ODM 1.3.2 and the SDTM IE domain, checked with libraries made for them (docs/interop.md): the ODM XML schema and
# odmlib's model, and the SAS transport file read back by pyreadstat and compared with the CSV; each validator's
# self-check proves it catches damaged copies. .ci/run installs odmlib and pyreadstat; elsewhere they are optional.
if python3 -c 'import odmlib, pyreadstat' 2>/dev/null; then
  expect_rc 0 "$B" export --format odm --out "$T/trial.odm.xml"
  expect_rc 0 python3 scripts/validate_odm.py "$T/trial.odm.xml"
  check grep -q "valid ODM 1.3.2" "$T/out"
  check grep -q 'TransactionType="Update"' "$T/trial.odm.xml"
  check grep -q "<ReasonForChange>transcription error" "$T/trial.odm.xml"
  expect_rc 0 "$B" export --format sdtm-ie --out "$T/ie.csv"
  expect_rc 0 "$B" export --format sdtm-ie --out "$T/ie.xpt"
  check cmp -s "$T/ie.csv" <("$B" export --format sdtm-ie)
  expect_rc 0 python3 scripts/validate_sdtm_ie.py "$T/ie.xpt" "$T/ie.csv"
  printf 'broken' >> "$T/trial.odm.xml"
  expect_rc 1 python3 scripts/validate_odm.py "$T/trial.odm.xml"
  expect_rc 2 "$B" export --format sdtm-ie-xpt
  # The demo's SANET-ep log: 17 candidates, 12 criteria not met; the IE validator's self-check damages copies of its files.
  TMPDIR="$T" "$B" demo --keep > "$T/demo.out"
  demo=$(grep -o "Kept: [^ ]*/sanet-ep.sqlite" "$T/demo.out" | cut -d' ' -f2)
  expect_rc 0 "$B" export --store "$demo" --format odm --out "$T/demo.odm.xml"
  expect_rc 0 python3 scripts/validate_odm.py "$T/demo.odm.xml"
  check grep -q "valid ODM 1.3.2: 17 SubjectData" "$T/out"
  expect_rc 0 "$B" export --store "$demo" --format sdtm-ie --out "$T/demo-ie.csv"
  expect_rc 0 "$B" export --store "$demo" --format sdtm-ie-xpt --out "$T/demo-ie.bin"
  expect_rc 0 python3 scripts/validate_sdtm_ie.py "$T/demo-ie.bin" "$T/demo-ie.csv"
  check grep -q "12 records" "$T/out"
  # As the log stood after 100 events: fewer subjects, still valid.
  expect_rc 0 "$B" export --store "$demo" --format odm --through 100 --out "$T/demo-100.odm.xml"
  expect_rc 0 python3 scripts/validate_odm.py "$T/demo-100.odm.xml"
  check grep -q "valid ODM 1.3.2: 8 SubjectData" "$T/out"
  expect_rc 0 python3 scripts/validate_sdtm_ie.py --self-check "$T/demo-ie.bin" "$T/demo-ie.csv"
else
  echo "odmlib or pyreadstat not installed: the ODM and SDTM IE validators are skipped" >&2
fi
"$B" report --format html > "$T/report.html"
check grep -q "• Lost to follow-up: 1" "$T/report.html"
if command -v chromium >/dev/null; then
  check grep -q "CONSORT enrolment flow" <(timeout 60 chromium --headless --no-sandbox --disable-gpu --dump-dom "file://$T/report.html" 2>/dev/null)
  # The PDF, printed by headless Chromium; the layout at 1280 px and the PDF's text checked (pdftotext, poppler-utils).
  expect_rc 0 "$B" report --format pdf --out "$T/report.pdf"
  check test "$(head -c 5 "$T/report.pdf")" = "%PDF-"
  check python3 scripts/report-layout.py "$T/report.html" --pdf "$T/report.pdf" --screenshot "$T/report.png"
  expect_rc 2 "$B" report --format pdf --out "$T/report.pdf"
  check grep -q "file_exists" "$T/out"
fi
expect_rc 2 env -u TRIALGATE_CHROMIUM PATH=/nonexistent "$B" report --format pdf --out "$T/nowhere.pdf"
check grep -q "pdf_renderer: --format pdf prints the HTML report with headless Chromium, and none was found" "$T/out"
# A Chromium that hangs is stopped after TRIALGATE_PDF_TIMEOUT seconds; it was handed a page in a folder only the user
# can enter (the page holds participant data), a fresh profile there, and no flag that opens file access.
printf '%s\n' '#!/bin/sh' "printf '%s\\n' \"\$@\" > '$T/pdf-args'" \
  "for a; do case \"\$a\" in file://*) stat -c %a \"\$(dirname \"\${a#file://}\")\" > '$T/pdf-dir-mode'; cp \"\${a#file://}\" '$T/pdf-page.html';; esac; done" \
  'exec sleep 300' > "$T/hung-chromium"
chmod +x "$T/hung-chromium"
expect_rc 2 env TRIALGATE_CHROMIUM="$T/hung-chromium" TRIALGATE_PDF_TIMEOUT=2 "$B" report --format pdf --out "$T/hung.pdf"
check grep -q "pdf_renderer: .*hung-chromium did not finish printing the report within 2 s and was stopped" "$T/out"
check test "$(cat "$T/pdf-dir-mode")" = 700
check test ! -e "$T/hung.pdf"
check grep -qx -- "--disable-background-networking" "$T/pdf-args"
check grep -qx -- "--user-data-dir=$(dirname "$(sed -n 's|^file://||p' "$T/pdf-args")")/profile" "$T/pdf-args"
refute grep -q -- "--allow-file-access" "$T/pdf-args"
# The page Chromium opens forbids every fetch and script before anything else.
check test "$(sed -n 2p "$T/pdf-page.html" | cut -c1-64)" = '<meta http-equiv="Content-Security-Policy" content="default-src '
# Checkpoints: save one and the vkey as a regulator would; openssl checks the checkpoint's Ed25519 signature.
"$B" checkpoint > "$T/saved.note"
"$B" key vkey > "$T/trial.vkey"
"$B" key public > "$T/public.pem"
head -n 3 "$T/saved.note" > "$T/note.txt"
tail -n 1 "$T/saved.note" | awk '{print $3}' | base64 -d | tail -c 64 > "$T/note.sig"
expect_rc 0 openssl pkeyutl -verify -pubin -inkey "$T/public.pem" -rawin -in "$T/note.txt" -sigfile "$T/note.sig"
expect_rc 0 "$B" proof inclusion --seq "$seq"
expect_rc 0 "$B" proof consistency --from 3
# The audit bundle, checked by TrialGate and by the independent Python verifier.
cp "$T/trial.sqlite" "$T/older.sqlite"
expect_rc 0 "$B" export --out "$T/bundle"
expect_rc 2 "$B" export --out "$T/bundle"
expect_rc 0 "$B" verify --bundle "$T/bundle" --vkey "$T/trial.vkey" --checkpoint "$T/saved.note"
expect_rc 0 python3 audit/verify_bundle.py "$T/bundle" --vkey "$T/trial.vkey" --checkpoint "$T/saved.note"
check grep -q "checkpoints with matching roots (the newest's signature verified)" "$T/out"
expect_rc 0 python3 audit/verify_bundle.py "$T/bundle" --every-checkpoint
check grep -q "checkpoints with matching roots (every one's signature verified)" "$T/out"
expect_rc 0 "$B" verify --bundle "$T/bundle" --every-checkpoint
check grep -q "checkpoints (every one's signature verified)" "$T/out"
# Key rotation: the old key refuses to sign, the new one does, the saved checkpoint and old vkey still verify the log.
expect_rc 0 "$B" key rotate --new-key "$T/new.key"
check test "$(stat -c %a "$T/new.key")" = 600
expect_rc 3 "$B" decide NET-1
check grep -q "key_not_in_force.*TRIALGATE_KEY" "$T/out"
expect_rc 3 "$B" report snapshot
check grep -q "key_not_in_force" "$T/out"
expect_rc 0 "$B" decide NET-1 --key "$T/new.key"
TRIALGATE_KEY="$T/new.key" expect_rc 0 "$B" report snapshot
# --vkey alone: the log's key history must include it; a key of another log, or garbage, is refused.
expect_rc 0 "$B" verify --vkey "$T/trial.vkey"
"$B" init --trial OTHER --store "$T/other.sqlite" >/dev/null
"$B" key vkey --store "$T/other.sqlite" > "$T/other.vkey"
expect_rc 1 "$B" verify --vkey "$T/other.vkey"
check grep -q "untrusted_key" "$T/out"
expect_rc 2 "$B" verify --vkey "not a vkey"
expect_rc 0 "$B" verify --checkpoint "$T/saved.note" --vkey "$T/trial.vkey"
check grep -q "extends the saved checkpoint" "$T/out"
# An older copy of the store does not extend the newest checkpoint.
"$B" checkpoint > "$T/newest.note"
expect_rc 1 "$B" verify --store "$T/older.sqlite" --checkpoint "$T/newest.note"
check grep -q "log_truncated" "$T/out"
# The radiomics sub-study, in a store of its own: the registered model scores the recorded features, a score that
# disagrees with them is refused, the decision carries the computation, and both verifiers check it.
M=Models/net-radiomics-lr-1.0.0
S=(--store "$T/sub.sqlite")
expect_rc 0 "$B" init --trial SUB-1 "${S[@]}"
expect_rc 0 "$B" model register "${S[@]}" --card $M.card.json --artifact $M.model.json --settings Models/pyradiomics-ct.yaml
expect_rc 2 "$B" model register "${S[@]}" --card $M.card.json --artifact $M.model.json --settings Models/pyradiomics-ct.yaml
check grep -q "version_reused: model net-radiomics-lr@1.0.0 is already registered" "$T/out"
expect_rc 2 "$B" model register "${S[@]}" --card $M.card.json --artifact Policies/sanet-ep.yaml --settings Models/pyradiomics-ct.yaml
check grep -q "is not the SHA-256 of the artifact given" "$T/out"
expect_rc 2 "$B" policy test Policies/radiomics-substudy-2.yaml Policies/radiomics-substudy-2.cases.yaml
check grep -q "its model gate reads net-radiomics-lr@1.0.0; give the model with the cases" "$T/out"
expect_rc 0 "$B" policy test Policies/radiomics-substudy-2.yaml Policies/radiomics-substudy-2.cases.yaml \
    --model-card $M.card.json --model-artifact $M.model.json --model-settings Models/pyradiomics-ct.yaml
check grep -q "14 passed, 0 failed" "$T/out"
expect_rc 0 "$B" policy publish "${S[@]}" Policies/radiomics-substudy-2.yaml
expect_rc 0 "$B" candidate register RAD-1 --site SITE-01 "${S[@]}"
python3 - "$(d 10)" "$(d 9)" > "$T/lesion.json" <<'PY'
import json, sys
fields = json.load(open("Models/demo-features.json"))["lesions"][0]["fields"]
fields["study_date"], fields["qc_date"] = sys.argv[1], sys.argv[2]
print(json.dumps(fields))
PY
expect_rc 0 "$B" record radiomics "${S[@]}" --candidate RAD-1 --fields-file "$T/lesion.json"
expect_rc 0 "$B" model score "${S[@]}" --candidate RAD-1 --model net-radiomics-lr@1.0.0 --json
check grep -q '"linear_predictor": *3.016794035275544' "$T/out"
expect_rc 2 "$B" record model-score "${S[@]}" --candidate RAD-1 model=net-radiomics-lr version=1.0.0 \
    artifact_sha256="$(sha256sum $M.model.json | cut -c1-64)" score=0.99 predicts=response study_date="$(d 10)"
check grep -q '"score" 0.99 is not what net-radiomics-lr@1.0.0 computes' "$T/out"
expect_rc 0 "$B" decide RAD-1 "${S[@]}" --json
check grep -q '"model.net-radiomics-lr"' "$T/out"
expect_rc 0 "$B" verify "${S[@]}"
expect_rc 0 "$B" export "${S[@]}" --out "$T/sub-bundle"
check cmp -s "$T/sub-bundle/models/net-radiomics-lr@1.0.0.json" $M.model.json
expect_rc 0 python3 audit/verify_bundle.py "$T/sub-bundle"

# A witness of the sub-study's log (C2SP tlog-witness over HTTP): the checkpoint is cosigned, the cosignature kept and
# printed, and verify counts the quorum; a write not yet submitted has none.
"$B" key vkey "${S[@]}" > "$T/sub.vkey"
expect_rc 0 "$B" witness init --dir "$T/w1" --name witness.smoke/w1
tail -1 "$T/out" > "$T/w1.vkey"
expect_rc 0 "$B" witness add-log --dir "$T/w1" --vkey "$T/sub.vkey"
wport=$(port)
"$B" witness serve --dir "$T/w1" --listen 127.0.0.1:$wport 2>"$T/witness.log" &
wpid=$!
for _ in $(seq 50); do grep -q serving "$T/witness.log" && break; sleep 0.1; done
# While it serves, no other process changes its state (an add-log would be lost at its next cosignature).
expect_rc 2 "$B" witness add-log --dir "$T/w1" --vkey "$T/sub.vkey"
check grep -q "in use by another trialgate witness process" "$T/out"
# Nor does a second witness process on the same folder (it would hold its own copy of the state, and cosign a fork).
expect_rc 2 "$B" witness serve --dir "$T/w1" --listen 127.0.0.1:$(port)
check grep -q "in use by another trialgate witness process" "$T/out"
expect_rc 0 "$B" witness submit "${S[@]}" --witness "http://127.0.0.1:$wport=$(cat "$T/w1.vkey")"
check grep -q "witness.smoke/w1: cosigned size" "$T/out"
expect_rc 0 "$B" checkpoint "${S[@]}"
check grep -q "^— witness.smoke/w1 " "$T/out"
expect_rc 0 "$B" verify "${S[@]}" --witness "$T/w1.vkey" --quorum 1
check grep -q "Witnessed: the newest checkpoint" "$T/out"
expect_rc 0 "$B" witness status "${S[@]}"
check grep -q "witness.smoke/w1 .* 0 behind" "$T/out"
expect_rc 0 "$B" withdraw RAD-1 "${S[@]}" --category lost_to_follow_up --reason "moved away"
expect_rc 0 "$B" witness status "${S[@]}"
check grep -q "witness.smoke/w1 .* 1 behind" "$T/out"
expect_rc 1 "$B" verify "${S[@]}" --witness "$T/w1.vkey" --quorum 1
# With TRIALGATE_WITNESSES, a command-line write submits the new checkpoint itself once it is committed.
export TRIALGATE_WITNESSES="http://127.0.0.1:$wport=$(cat "$T/w1.vkey")"
expect_rc 0 "$B" candidate register RAD-8 --site SITE-01 "${S[@]}"
expect_rc 0 "$B" witness status "${S[@]}"
check grep -q "witness.smoke/w1 .* 0 behind" "$T/out"
# The bundle carries the cosignature; both verifiers count it against the witness's key, and --max-age against its time.
expect_rc 0 "$B" export "${S[@]}" --out "$T/wit-bundle" --witness "$T/w1.vkey" --quorum 1
check grep -q "^— witness.smoke/w1 " "$T/wit-bundle/checkpoint.note"
check grep -q '"quorum":1' "$T/wit-bundle/manifest.json"
expect_rc 0 "$B" verify --bundle "$T/wit-bundle" --witness "$T/w1.vkey" --quorum 1 --max-age 1h
check grep -q "Witnessed: the newest checkpoint .* cosigned by witness.smoke/w1" "$T/out"
expect_rc 0 python3 audit/verify_bundle.py "$T/wit-bundle" --witness "$T/w1.vkey" --quorum 1 --max-age 1h
check grep -q "1 of 1 witnesses cosigned" "$T/out"
expect_rc 0 python3 audit/verify_bundle.py "$T/wit-bundle"
check grep -q "declared by the bundle itself" "$T/out"
"$B" witness init --dir "$T/w9" --name witness.smoke/w9 | tail -1 > "$T/w9.vkey"
expect_rc 1 "$B" verify --bundle "$T/wit-bundle" --witness "$T/w9.vkey" --quorum 1
check grep -q "witness_quorum" "$T/out"
expect_rc 1 python3 audit/verify_bundle.py "$T/wit-bundle" --witness "$T/w9.vkey" --quorum 1
check grep -q "witness_quorum" "$T/out"
kill $wpid 2>/dev/null || true; wait $wpid 2>/dev/null || true
# A witness that is down costs the write nothing but a warning; the lag shows.
expect_rc 0 "$B" candidate register RAD-9 --site SITE-01 "${S[@]}"
check grep -q "the write is recorded, but witness.smoke/w1 did not cosign" "$T/out"
expect_rc 0 "$B" witness status "${S[@]}"
check grep -q "witness.smoke/w1 .* 1 behind" "$T/out"
unset TRIALGATE_WITNESSES
# A witness over TLS (serve's versions and suites): the log trusts it through TRIALGATE_WITNESS_CA, not without it;
# plain HTTP beyond loopback is refused.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/wtls.key" -out "$T/wtls.pem" -days 2 \
  -subj /CN=witness.smoke -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
expect_rc 0 "$B" witness init --dir "$T/wtls" --name witness.smoke/tls
tail -1 "$T/out" > "$T/wtls.vkey"
expect_rc 0 "$B" witness add-log --dir "$T/wtls" --vkey "$T/sub.vkey"
expect_rc 2 "$B" witness serve --dir "$T/wtls" --listen 0.0.0.0:$(port)
check grep -q insecure_listen "$T/out"
tport=$(port)
"$B" witness serve --dir "$T/wtls" --listen 127.0.0.1:$tport --tls-cert "$T/wtls.pem" --tls-key "$T/wtls.key" 2>"$T/wtls.log" &
tpid=$!
for _ in $(seq 50); do grep -q serving "$T/wtls.log" && break; sleep 0.1; done
check grep -q "(TLS)" "$T/wtls.log"
expect_rc 2 "$B" witness submit "${S[@]}" --witness "https://127.0.0.1:$tport=$(cat "$T/wtls.vkey")"
check grep -q CERTIFICATE_VERIFY_FAILED "$T/out"
TRIALGATE_WITNESS_CA="$T/wtls.pem" expect_rc 0 "$B" witness submit "${S[@]}" --witness "https://127.0.0.1:$tport=$(cat "$T/wtls.vkey")"
check grep -q "witness.smoke/tls: cosigned size" "$T/out"
expect_rc 0 "$B" verify "${S[@]}" --witness "$T/wtls.vkey" --quorum 1
kill $tpid 2>/dev/null || true; wait $tpid 2>/dev/null || true

# A forged tail, correctly chained, inserted with sqlite3 and the triggers in place: verify names it, writes are
# refused naming it, readers warn, and nothing is signed over it.
python3 - "$T/trial.sqlite" <<'PY'
import hashlib, json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
seq, prev, reg = db.execute("SELECT seq, hash, (SELECT seq FROM events WHERE type='candidate.registered' AND candidate='NET-1') FROM events ORDER BY seq DESC LIMIT 1").fetchone()
body = {"actor": "dr.forger", "candidate": "NET-1", "payload": {"method": "manual_count", "percent": 45, "specimen_date": "2026-01-05"},
        "prev_hash": prev, "schema_version": 1, "seq": seq + 1, "timestamp": "2026-01-05T10:00:00.000Z", "type": "ki67.recorded"}
text = json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
db.execute("INSERT INTO events (seq, ts, actor, type, candidate, prev_hash, hash, body, registration_seq) VALUES (?,?,?,?,?,?,?,?,?)",
           (seq + 1, body["timestamp"], body["actor"], body["type"], "NET-1", prev, hashlib.sha256(text.encode()).hexdigest(), text, reg))
db.commit()
PY
forged=$(sqlite3 "$T/trial.sqlite" "SELECT max(seq) FROM events")
checkpoints=$(sqlite3 "$T/trial.sqlite" "SELECT count(*) FROM checkpoints")
expect_rc 1 "$B" verify
check grep -q "event $forged: head_uncovered" "$T/out"
expect_rc 3 "$B" record clinical --candidate NET-1 --key "$T/new.key" assessed_on="$today" ecog=0
check grep -q "log_uncovered: event $forged" "$T/out"
expect_rc 0 "$B" show NET-1
check grep -q "warning: the log is not covered" "$T/out"
check test "$(sqlite3 "$T/trial.sqlite" "SELECT count(*) FROM checkpoints")" = "$checkpoints"
# Tamper with sqlite3 after dropping the trigger: verify must fail and name the event.
check test "$(sqlite3 "$T/trial.sqlite" "UPDATE events SET actor='x' WHERE seq=3" 2>&1)" != ""
check test "$(sqlite3 "$T/trial.sqlite" "select actor from events where seq=3")" = smoke:coordinator
sqlite3 "$T/trial.sqlite" "DROP TRIGGER events_no_update; UPDATE events SET body=replace(body,'\"percent\":30','\"percent\":3') WHERE seq=6"
expect_rc 1 "$B" verify
check grep -q "first bad event is 6" "$T/out"
expect_rc 3 "$B" verify --store "$T/missing.sqlite"
# Bulk import (docs/import.md), in a store of its own: the dry run writes nothing, the import writes every row and a
# records.imported event with the file's SHA-256; a value in a unit haemoglobin is never given in is refused at its
# row and column (scripts/import-check.sh does this at a site's scale).
export TRIALGATE_STORE=$T/import.sqlite
expect_rc 0 "$B" init --trial IMPORT-SMOKE
sed 's/12.4 g\/dL/12.4 %/' docs/examples/site-01.csv > "$T/bad-unit.csv"
expect_rc 2 "$B" import "$T/bad-unit.csv"
check grep -qF 'row 5, column haemoglobin: "12.4 %"' "$T/out"
expect_rc 0 "$B" import docs/examples/site-01.csv --dry-run
check test "$(sqlite3 "$T/import.sqlite" "select count(*) from events")" = 1
expect_rc 0 "$B" import docs/examples/site-01.csv
check grep -q "as events 2–13; the file (sha256 $(sha256sum docs/examples/site-01.csv | cut -c1-64)) is recorded as event 14" "$T/out"
expect_rc 0 "$B" verify
checks_done cli-smoke
