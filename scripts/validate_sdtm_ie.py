#!/usr/bin/env python3
"""Checks an SDTM IE domain as `trialgate export --format sdtm-ie` writes it: the SAS version 5 transport file read
back with pyreadstat (ReadStat's XPORT reader), compared value by value with the CSV export, and both held to the
SDTMIG 3.x IE domain's rules.

    python3 scripts/validate_sdtm_ie.py IE.xpt IE.csv               exit 0 when they agree and hold, 1 otherwise
    python3 scripts/validate_sdtm_ie.py --self-check IE.xpt IE.csv  damages copies of the two files in several
                                                                    ways and checks each damage is caught

Checks: dataset name IE; the variables, in order, with their SDTMIG labels and types (IESEQ numeric, the rest
character); each character variable's length at most 200 (the version 5 limit) and at least its longest value;
names of at most 8 characters; the same rows and values as the CSV; DOMAIN "IE"; IETESTCD at most 8 letters, digits
or underscores, not starting with a digit; IECAT INCLUSION or EXCLUSION; IEORRES "N" for an inclusion criterion
and "Y" for an exclusion (criteria not met), IESTRESC equal to IEORRES; IESEQ 1, 2, ... within each USUBJID; one
record per USUBJID and IETESTCD; IETEST given and at most 200 characters; IEDTC an ISO 8601 date-time.

Needs: pip install pyreadstat.
"""
import csv
import datetime
import os
import re
import shutil
import sys
import tempfile

VARIABLES = [
    ("STUDYID", "Study Identifier"), ("DOMAIN", "Domain Abbreviation"), ("USUBJID", "Unique Subject Identifier"),
    ("IESEQ", "Sequence Number"), ("IESPID", "Sponsor-Defined Identifier"),
    ("IETESTCD", "Inclusion/Exclusion Criterion Short Name"), ("IETEST", "Inclusion/Exclusion Criterion"),
    ("IECAT", "Inclusion/Exclusion Category"), ("IEORRES", "I/E Criterion Original Result"),
    ("IESTRESC", "I/E Criterion Result in Std Format"), ("IEDTC", "Date/Time of Collection"),
]
NAMES = [n for n, _ in VARIABLES]


def problems(xpt_path, csv_path):
    import pyreadstat

    found = []
    try:
        data, meta = pyreadstat.read_xport(xpt_path, output_format="dict")
    except Exception as e:
        return [f"{xpt_path}: pyreadstat cannot read it as a SAS transport file: {e}"]
    if (meta.table_name or "").upper() != "IE":
        found.append(f"{xpt_path}: dataset name is {meta.table_name!r}, expected 'IE'")
    if list(meta.column_names) != NAMES:
        return found + [f"{xpt_path}: variables are {meta.column_names}, expected {NAMES}"]
    for (name, label), got in zip(VARIABLES, meta.column_labels):
        if got != label:
            found.append(f"{xpt_path}: {name}'s label is {got!r}, expected {label!r} (SDTMIG)")
        if len(name) > 8:
            found.append(f"{xpt_path}: variable name {name} is longer than 8 characters")
    types = meta.readstat_variable_types
    for name in NAMES:
        expected = "double" if name == "IESEQ" else "string"
        if types.get(name) != expected:
            found.append(f"{xpt_path}: {name} is {types.get(name)}, expected {expected}")
    widths = meta.variable_storage_width or {}
    try:
        with open(csv_path, newline="", encoding="ascii") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as e:
        return found + [f"{csv_path}: cannot read it as ASCII CSV: {e}"]
    if not rows or rows[0] != NAMES:
        return found + [f"{csv_path}: header is {rows[0] if rows else None}, expected {NAMES}"]
    rows = rows[1:]
    count = meta.number_rows if meta.number_rows is not None else len(data[NAMES[0]])
    if count != len(rows):
        return found + [f"{xpt_path} has {count} records, {csv_path} has {len(rows)}"]
    for name in NAMES:
        if name == "IESEQ":
            continue
        longest = max((len(r[NAMES.index(name)]) for r in rows), default=0)
        width = widths.get(name)
        if width is not None and not (longest <= width <= 200):
            found.append(f"{xpt_path}: {name}'s length is {width}; it must be at most 200 and hold its longest value ({longest})")
    for i, row in enumerate(rows):
        where = f"record {i + 1}"
        for j, name in enumerate(NAMES):
            xv = data[name][i]
            if name == "IESEQ":
                same = xv is not None and float(row[j]) == float(xv)
            else:
                same = (xv or "") == row[j].rstrip(" ")
            if not same:
                found.append(f"{where}: {name} is {xv!r} in {os.path.basename(xpt_path)} but {row[j]!r} in {os.path.basename(csv_path)}")
    found += rule_problems(rows)
    return found[:50]


def rule_problems(rows):
    found = []
    seqs = {}
    pairs = set()
    for i, row in enumerate(rows):
        r = dict(zip(NAMES, row))
        where = f"record {i + 1} ({r['USUBJID']}, {r['IETESTCD']})"
        if r["DOMAIN"] != "IE":
            found.append(f"{where}: DOMAIN is {r['DOMAIN']!r}, expected 'IE'")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,7}", r["IETESTCD"]):
            found.append(f"{where}: IETESTCD must be 1 to 8 letters, digits or _, not starting with a digit")
        if r["IECAT"] not in ("INCLUSION", "EXCLUSION"):
            found.append(f"{where}: IECAT is {r['IECAT']!r}, expected INCLUSION or EXCLUSION")
        expected = "N" if r["IECAT"] == "INCLUSION" else "Y"
        if r["IEORRES"] != expected:
            found.append(f"{where}: IEORRES is {r['IEORRES']!r}; an {r['IECAT'].lower()} criterion not met is {expected!r}")
        if r["IESTRESC"] != r["IEORRES"]:
            found.append(f"{where}: IESTRESC {r['IESTRESC']!r} differs from IEORRES {r['IEORRES']!r}")
        if not (1 <= len(r["IETEST"]) <= 200):
            found.append(f"{where}: IETEST must be 1 to 200 characters")
        try:
            datetime.datetime.fromisoformat(r["IEDTC"])
        except ValueError:
            found.append(f"{where}: IEDTC {r['IEDTC']!r} is not an ISO 8601 date-time")
        seq = seqs.get(r["USUBJID"], 0) + 1
        if r["IESEQ"] != str(seq):
            found.append(f"{where}: IESEQ is {r['IESEQ']}, expected {seq} (1, 2, ... within a subject)")
        seqs[r["USUBJID"]] = seq
        if (r["USUBJID"], r["IETESTCD"]) in pairs:
            found.append(f"{where}: a second record for the same subject and IETESTCD")
        pairs.add((r["USUBJID"], r["IETESTCD"]))
    return found


def patched(xpt, name, value):
    """The transport file with the first record's character variable NAME set to VALUE (TS-140 layout: the
    observations follow the OBS header record; a variable's position is the sum of the lengths before it)."""
    import pyreadstat
    with tempfile.NamedTemporaryFile(suffix=".xpt") as f:
        f.write(xpt)
        f.flush()
        _, meta = pyreadstat.read_xport(f.name, metadataonly=True, output_format="dict")
    widths = meta.variable_storage_width
    start = xpt.index(b"HEADER RECORD*******OBS     HEADER RECORD") + 80
    offset = start + sum(widths[n] for n in NAMES[:NAMES.index(name)])
    return xpt[:offset] + value.encode("ascii").ljust(widths[name], b" ") + xpt[offset + widths[name]:]


def self_check(xpt_path, csv_path):
    base = problems(xpt_path, csv_path)
    failures = 0
    print(f"{'ok' if not base else 'FAIL'}: the files as exported: {'valid' if not base else base[0]}")
    failures += bool(base)
    with open(xpt_path, "rb") as f:
        xpt = f.read()
    with open(csv_path, newline="", encoding="ascii") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        print("FAIL: the self-check needs at least one IE record")
        return 1
    label_at = xpt.find(b"Inclusion/Exclusion Category")

    def write_csv(path, rs):
        with open(path, "w", newline="", encoding="ascii") as f:
            csv.writer(f, lineterminator="\r\n").writerows(rs)

    def changed(rs, name, value):
        rs = [list(r) for r in rs]
        rs[1][NAMES.index(name)] = value
        return rs

    test = rows[1][NAMES.index("IETEST")]
    damages = {
        "a value changed in the CSV": (xpt, changed(rows, "IETEST", test[:-1] + ("X" if test[-1:] != "X" else "Y"))),
        "a record missing from the CSV": (xpt, rows[:-1]),
        "a label changed in the transport file": (xpt[:label_at] + b"Inclusion/Exclusion Categorie" + xpt[label_at + 29:], rows),
        "the transport file cut short": (xpt[:len(xpt) // 2 - 7], rows),
    }
    # The same damage in both files, so that the IE rules, not the comparison, must catch it.
    wrong = "Y" if rows[1][NAMES.index("IECAT")] == "INCLUSION" else "N"
    damages["IEORRES contradicting IECAT in both files"] = (patched(xpt, "IEORRES", wrong), changed(rows, "IEORRES", wrong))
    code = "1" + rows[1][NAMES.index("IETESTCD")][1:]
    damages["an IETESTCD starting with a digit in both files"] = (patched(xpt, "IETESTCD", code), changed(rows, "IETESTCD", code))
    with tempfile.TemporaryDirectory() as d:
        for name, (x, rs) in damages.items():
            xp, cp = f"{d}/ie.xpt", f"{d}/ie.csv"
            with open(xp, "wb") as f:
                f.write(x)
            write_csv(cp, rs)
            found = problems(xp, cp)
            ok = bool(found)
            failures += not ok
            print(f"{'ok' if ok else 'FAIL'}: {name}: {'caught: ' + found[0] if found else 'NOT caught'}")
    total = len(damages) + 1
    print(f"{total - failures} passed, {failures} failed")
    return 1 if failures else 0


def main(argv):
    if len(argv) == 4 and argv[1] == "--self-check":
        return self_check(argv[2], argv[3])
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    found = problems(argv[1], argv[2])
    for p in found:
        print(p, file=sys.stderr)
    if found:
        print(f"{argv[1]}: INVALID SDTM IE ({len(found)} problem{'s' if len(found) > 1 else ''})", file=sys.stderr)
        return 1
    with open(argv[2], newline="", encoding="ascii") as f:
        n = sum(1 for _ in csv.reader(f)) - 1
    print(f"{argv[1]}: valid SDTM IE, read back with pyreadstat: {n} records, equal to {argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
