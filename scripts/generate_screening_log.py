#!/usr/bin/env python3
"""Builds a screening log of many candidates through the trialgate CLI, as a site would fill it, for the export
checks (scripts/export-checks.sh): SANET-ep published, candidates at five sites with the demo's typical records
varied so that decisions come out eligible, ineligible and needing review, and, spread over them:

- candidate ids that are not FHIR ids and twins that differ only by `_` and `-` (`G_00001`, `G-00001`), and
  64-character ids: the FHIR export must keep them apart;
- a trial id with `_` (GEN_LOG), which the FHIR export must map;
- candidates without a decision, corrections (reasons with commas, quotes and spreadsheet formulas), site moves,
  decisions made again after a correction, withdrawals, review queries over several lines;
- an investigator's attestations and sign-offs: confirmed eligible and ineligible decisions.

Everything goes in through `trialgate exec` (one JSON request a line), the signed statements through `trialgate attest`
and `trialgate signoff`,
so the log is what the CLI writes. Usage:
    scripts/generate_screening_log.py --trialgate .build/debug/trialgate --dir DIR [--candidates 2000]
The store is DIR/gen.sqlite (its key DIR/gen.sqlite.key); the last line printed is a JSON summary.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys

# The SANET-ep criteria no record decides: the investigator attests them.
ATTESTED = ["I1-informed-consent", "I3-advanced", "I9-liver-function", "E3-registered-exclusions"]
REASONS = ['transcription error, see the pathology report "final"', '=HYPERLINK("http://example.invalid","report")',
           "+1 digit typed twice", "-2+3 read from the wrong line", "@SUM(A1) pasted by mistake", "'quoted' by the site",
           "plain: transcription error"]


def candidate_ids(n):
    """n distinct candidate ids: G-00000 …, a twin with `_` after every 20th, a 64-character one every 97th."""
    ids = []
    for i in range(n):
        if i % 20 == 1 and ids[-1].startswith("G-"):
            ids.append(ids[-1].replace("-", "_"))
        elif i % 97 == 0 and i > 0:
            ids.append((f"LONG_{i:05d}." + "x_y." * 15)[:64])
        else:
            ids.append(f"G-{i:05d}")
    assert len(set(ids)) == n, "candidate ids must be distinct"
    return ids


def day(n):
    return (datetime.date.today() - datetime.timedelta(days=n)).isoformat()


def records(i, cid):
    """The records of candidate i: the demo's typical ones, with ECOG 2 (ineligible) or Ki-67 35 % (G3) now and then."""
    ecog = 2 if i % 7 == 0 else 1
    ki67 = 35 if i % 11 == 0 else 8
    return [
        {"cmd": "record", "kind": "pathology", "candidate": cid, "fields": {
            "specimen_date": day(90), "primary_organ": "C17.2", "tumour_type": "NET", "differentiation": "well", "review": "central"}},
        {"cmd": "record", "kind": "clinical", "candidate": cid, "fields": {
            "assessed_on": day(7), "age": 61, "ecog": ecog, "prior_systemic_therapies": ["somatostatin_analogue"],
            "anc": "3.2 10*9/L", "platelets": "210 10*9/L", "haemoglobin": "126 g/L", "systolic_bp": "128 mm[Hg]",
            "diastolic_bp": "80 mm[Hg]", "bilirubin": "0.7 {ULN}"}},
        {"cmd": "record", "kind": "imaging", "candidate": cid, "fields": {
            "study_date": day(12), "modality": "CT", "contrast_phases": ["arterial", "portal_venous"], "recist_measurable": True,
            "target_lesion_sum_mm": 68, "progression_date": day(60)}},
        {"cmd": "record", "kind": "ki67", "candidate": cid, "fields": {"percent": ki67, "specimen_date": day(90), "method": "manual_count"}},
        {"cmd": "record", "kind": "sstr", "candidate": cid, "fields": {
            "status": "positive", "modality": "ga68_dotatate_pet", "krenning_score": 3, "study_date": day(30)}},
    ]


def run(cmd, env, stdin=None):
    p = subprocess.run(cmd, env=env, input=stdin, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"generate_screening_log.py: {' '.join(cmd[:3])} … exited {p.returncode}:\n{p.stderr[-2000:]}{p.stdout[-2000:]}")
    return p.stdout


def execute(trialgate, env, requests):
    """Runs `requests` through `trialgate exec`; returns the replies' results, in order."""
    out = run([trialgate, "exec", "--quiet"], env, "\n".join(json.dumps(r) for r in requests) + "\n")
    replies = [json.loads(line) for line in out.splitlines() if line.strip()]
    bad = [(q, r) for q, r in zip(requests, replies) if not r.get("ok")]
    if bad or len(replies) != len(requests):
        sys.exit(f"generate_screening_log.py: {len(bad)} refused requests, e.g. {bad[:2]}")
    return [r.get("result", {}) for r in replies]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trialgate", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--candidates", type=int, default=2000)
    args = ap.parse_args()
    store = os.path.join(args.dir, "gen.sqlite")
    env = dict(os.environ, TRIALGATE_STORE=store, TRIALGATE_ACTOR="gen:coordinator")
    tg = args.trialgate
    run([tg, "init", "--trial", "GEN_LOG"], env)
    run([tg, "policy", "publish", "Policies/sanet-ep.yaml"], env)
    key = os.path.join(args.dir, "ivy.key")
    run([tg, "key", "new", "--out", key], env)
    run([tg, "users", "add", "ivy", "--role", "investigator", "--site", "SITE-01", "--printed-name", "Dr Ivy Generated",
         "--public-key", key + ".pub", "--signing-code-sha256", key + ".code.sha256"], env)

    ids = candidate_ids(args.candidates)
    site = {cid: f"SITE-0{i % 5 + 1}" for i, cid in enumerate(ids)}
    # First the candidates: registered, recorded and decided, except every 13th, which waits for its records.
    first, owners = [], []
    for i, cid in enumerate(ids):
        steps = [{"cmd": "register", "candidate": cid, "site": site[cid], "consent_date": day(20)}]
        if i % 13 != 0:
            steps += records(i, cid) + [{"cmd": "decide", "candidate": cid}]
        first += steps
        owners += [(i, cid, s) for s in steps]
    seqs = {}
    for (i, cid, step), result in zip(owners, execute(tg, env, first)):
        seqs[(cid, step.get("kind") or step["cmd"])] = result["seq"]

    # Then what happens after: corrections (some decided again), site moves, queries, withdrawals.
    later = []
    counts = {"corrections": 0, "moves": 0, "withdrawals": 0, "queries": 0, "redecided": 0}
    for i, cid in enumerate(ids):
        if i % 13 == 0:
            continue
        if i % 9 == 0:
            later.append({"cmd": "correct", "seq": seqs[(cid, "ki67")], "field": "percent", "value": 9,
                          "reason": REASONS[(i // 9) % len(REASONS)]})
            counts["corrections"] += 1
            if i % 18 == 0:
                later.append({"cmd": "decide", "candidate": cid})
                counts["redecided"] += 1
        if i % 17 == 0:
            moved = "SITE-05" if site[cid] != "SITE-05" else "SITE-04"
            later.append({"cmd": "correct", "seq": seqs[(cid, "register")], "field": "site", "value": moved,
                          "reason": f"screened at {moved}, not {site[cid]}"})
            site[cid] = moved
            counts["moves"] += 1
        if i % 31 == 0:
            later.append({"cmd": "query.open", "candidate": cid, "text": "Please check the Ki-67 slide,\nthen \"confirm\" the count."})
            counts["queries"] += 1
        if i % 23 == 0:
            # CONSORT 2010 categories in turn, the free text beside them (required with `other`).
            category = ["withdrew_consent", "lost_to_follow_up", "physician_decision", "other"][(i // 23) % 4]
            later.append({"cmd": "withdraw", "candidate": cid, "category": category, "reason": "consent withdrawn, by phone"})
            counts["withdrawals"] += 1
    execute(tg, env, later)

    # The investigator at SITE-01 signs: attests what no record decides for two typical candidates, which are
    # decided again (eligible) and confirmed; and confirms some ineligible decisions.
    code = key + ".code"
    sign = ["--as", "ivy", "--signing-key", key, "--signing-code-file", code]
    untouched = [cid for i, cid in enumerate(ids) if site[cid] == "SITE-01" and i % 7 and i % 11 and i % 13 and i % 9 and i % 17 and i % 23]
    eligible = untouched[:2]
    for cid in eligible:
        for criterion in ATTESTED:
            run([tg, "attest", "--candidate", cid, "--criterion", criterion, "--result", "pass", "--attested-on", day(1),
                 "--statement", "checked at the site"] + sign, env)
        run([tg, "decide", cid], env)
    listed = json.loads(run([tg, "decisions", "--site", "SITE-01", "--standing", "current", "--json", "--limit", "10000"], env))
    withdrawn = {ids[i] for i in range(len(ids)) if i % 23 == 0}
    current = [d for d in listed["decisions"] if d["candidate"] not in withdrawn]
    confirm = [d for d in current if d["outcome"] == "ineligible"][:4] + [d for d in current if d["candidate"] in eligible]
    for d in confirm:
        run([tg, "signoff", "--decision", str(d["seq"]), "--confirm"] + sign, env)
    counts.update(candidates=len(ids), signed=len(confirm), store=store,
                  confirmed={d["candidate"]: d["outcome"] for d in confirm})
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
