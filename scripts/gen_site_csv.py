#!/usr/bin/env python3
"""Writes a site's import file (docs/import.md): N candidates, each with a registration and five records
(pathology, clinical, imaging, ki67, sstr), so N x 6 rows, with clinically plausible values dated relative to
today. Most candidates meet every structured criterion of Policies/sanet-ep.yaml (their decision then waits for
the investigator's attestations only); a tenth each have a Ki-67 of G3, an ECOG of 2 or a low platelet count.

--bad KIND writes the same file with one error of that kind, which `trialgate import` must refuse naming the row
and column given in the last line this script prints (`expect ROW COLUMN`):
  encoding   a Latin-1 byte (0xE9, "é") in a clinical row: the file is not UTF-8
  column     the ki67 column `method` is left out of the header (and of every row)
  duplicate  a clinical row given twice
  site       a ki67 row for OTHER-01, a candidate of SITE-02 the store holds (register it first; see import-check.sh)
  value      a haemoglobin in a unit haemoglobin is never given in ("12.6 mg/dL" is accepted; "12.6 %" is not)

Usage: scripts/gen_site_csv.py --candidates 2000 --site SITE-01 --out FILE [--bad KIND] [--seed N]
"""
import argparse
import csv
import datetime
import io
import random
import sys

KINDS = ["register", "pathology", "clinical", "imaging", "ki67", "sstr"]
COLUMNS = ["kind", "candidate", "site", "consent_date",
           "specimen_date", "primary_organ", "tumour_type", "differentiation", "necrosis", "review",
           "assessed_on", "age", "ecog", "prior_systemic_therapies", "anc", "platelets", "haemoglobin", "bilirubin",
           "systolic_bp", "diastolic_bp",
           "study_date", "modality", "contrast_phases", "recist_measurable", "target_lesion_sum_mm", "progression_date",
           "percent", "method",
           "status", "krenning_score"]
# Extrapancreatic primaries (ICD-O-3 topography): ileum, jejunum, caecum, rectum, lung, unknown primary.
ORGANS = ["C17.2", "C17.2", "C17.2", "C17.1", "C18.0", "C20.9", "C34.1", "C80.9"]
BAD = ["encoding", "column", "duplicate", "site", "value"]


def rows(n, site, rng, today):
    def day(ago):
        return (today - datetime.timedelta(days=ago)).isoformat()
    for i in range(1, n + 1):
        c = f"{site}-{i:05d}"
        fate = rng.random()
        organ = rng.choice(ORGANS)
        lung = organ.startswith("C34")
        yield {"kind": "register", "candidate": c, "site": site, "consent_date": day(rng.randint(20, 40))}
        p = {"kind": "pathology", "candidate": c, "specimen_date": day(rng.randint(60, 200)), "primary_organ": organ,
             "tumour_type": "NET", "differentiation": "well", "review": "central"}
        if lung:
            p["necrosis"] = "absent"
        yield p
        yield {"kind": "clinical", "candidate": c, "assessed_on": day(rng.randint(2, 14)), "age": rng.randint(28, 82),
               "ecog": 2 if 0.1 <= fate < 0.2 else rng.choice([0, 0, 1]),
               "prior_systemic_therapies": rng.choice(["somatostatin_analogue", "somatostatin_analogue;prrt", "somatostatin_analogue;chemotherapy"]),
               "anc": f"{rng.uniform(1.8, 6.5):.1f} 10*9/L",
               "platelets": f"{rng.randint(60, 95) if 0.2 <= fate < 0.3 else rng.randint(150, 380)} 10*9/L",
               "haemoglobin": rng.choice([f"{rng.uniform(10.5, 15.5):.1f} g/dL", f"{rng.randint(105, 155)} g/L", f"{rng.uniform(6.6, 9.6):.1f} mmol/L"]),
               "bilirubin": f"{rng.uniform(0.3, 1.2):.1f} {{ULN}}",
               "systolic_bp": f"{rng.randint(105, 138)} mm[Hg]", "diastolic_bp": f"{rng.randint(62, 88)} mm[Hg]"}
        yield {"kind": "imaging", "candidate": c, "study_date": day(rng.randint(3, 20)), "modality": rng.choice(["CT", "CT", "MRI"]),
               "contrast_phases": "arterial;portal_venous", "recist_measurable": "true", "target_lesion_sum_mm": rng.randint(15, 140),
               "progression_date": day(rng.randint(30, 300))}
        ki67 = rng.uniform(21, 45) if fate < 0.1 else rng.uniform(1, 2.9) if lung else rng.uniform(3, 19)
        yield {"kind": "ki67", "candidate": c, "percent": round(ki67, 1), "specimen_date": day(rng.randint(60, 200)),
               "method": rng.choice(["manual_count", "digital_image_analysis"])}
        yield {"kind": "sstr", "candidate": c, "status": "positive", "modality": rng.choice(["ga68_dotatate_pet", "ga68_dotatoc_pet"]),
               "krenning_score": rng.choice([3, 3, 4]), "study_date": day(rng.randint(10, 60))}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", type=int, default=2000)
    ap.add_argument("--site", default="SITE-01")
    ap.add_argument("--out", required=True)
    ap.add_argument("--bad", choices=BAD)
    ap.add_argument("--seed", type=int, default=23)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    data = list(rows(a.candidates, a.site, rng, datetime.datetime.now(datetime.timezone.utc).date()))
    columns = list(COLUMNS)
    expect = None
    if a.bad == "column":
        columns.remove("method")
        for r in data:
            r.pop("method", None)
        expect = (1, "method")
    elif a.bad == "duplicate":
        i = next(i for i, r in enumerate(data) if r["kind"] == "clinical" and i > len(data) // 2)
        data.insert(i + 1, dict(data[i]))
        expect = (i + 3, "")  # rows are numbered from the header's 1; the copy follows its original
    elif a.bad == "site":
        i = len(data) // 3
        data.insert(i, {"kind": "ki67", "candidate": "OTHER-01", "percent": 5, "specimen_date": data[1]["specimen_date"], "method": "manual_count"})
        expect = (i + 2, "candidate")
    elif a.bad == "value":
        i = next(i for i, r in enumerate(data) if r["kind"] == "clinical" and i > len(data) // 4)
        data[i]["haemoglobin"] = "12.6 %"
        expect = (i + 2, "haemoglobin")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\r\n")
    w.writeheader()
    w.writerows(data)
    raw = buf.getvalue().encode("utf-8")
    if a.bad == "encoding":
        # An "é" as a Latin-1 spreadsheet would save it, after a clinical row's bilirubin: one byte 0xE9, not UTF-8.
        lines = raw.split(b"\r\n")
        i = next(i for i, l in enumerate(lines) if l.startswith(b"clinical,") and i > len(lines) // 2)
        lines[i] = lines[i].replace(b"{ULN}", b"{ULN}\xe9", 1)
        raw = b"\r\n".join(lines)
        expect = (i + 1, "")
    with open(a.out, "wb") as f:
        f.write(raw)
    print(f"wrote {a.out}: {len(data)} rows, {a.candidates} candidates at {a.site}" + (f", bad: {a.bad}" if a.bad else ""), file=sys.stderr)
    if expect:
        print(f"expect {expect[0]} {expect[1]}")


if __name__ == "__main__":
    main()
