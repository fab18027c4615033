#!/usr/bin/env python3
"""Reads an audit CSV of TrialGate (`trialgate export --format audit-csv`) back with Python's csv module (RFC 4180)
and checks it as a spreadsheet user or an auditor's script would rely on it:

- the twelve columns, in order; every row has all twelve;
- seq a whole number, never going back; a UTF-8 byte order mark exactly when --bom is given;
- `corrects_seq` a seq before the correction's own on every entry.corrected row (an event of the file when it holds
  the whole log), empty on every other row;
- `policy` (id@version) on every decision.issued row, the same as that decision's `policy` row; empty on rows other
  than decisions and publications;
- `site` on every row of a candidate, empty on the others;
- no cell a spreadsheet would run as a formula (= + @ tab or CR first, or - first and not a number).

Usage: scripts/check_audit_csv.py FILE.csv [--bom] [--whole] [--candidates N] [--corrects SEQ]...
exit 0 when it holds, 1 naming the first problems.
"""
import argparse
import csv
import re
import sys

COLUMNS = ["seq", "timestamp_utc", "actor", "candidate", "action", "field", "old_value", "new_value", "reason",
           "site", "corrects_seq", "policy"]
NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def formula(cell):
    """Whether a spreadsheet would read `cell` as a formula."""
    if cell[:1] in ("=", "+", "@", "\t", "\r"):
        return True
    return cell[:1] == "-" and not NUMBER.fullmatch(cell)


def check(args):
    problems = []
    with open(args.file, "rb") as f:
        has_bom = f.read(3) == b"\xef\xbb\xbf"
    if has_bom != args.bom:
        problems.append(f"{args.file}: {'a' if has_bom else 'no'} UTF-8 byte order mark, expected {'one' if args.bom else 'none'}")
    with open(args.file, encoding="utf-8-sig" if has_bom else "utf-8", newline="") as f:
        rows = list(csv.reader(f, strict=True))
    if not rows or rows[0] != COLUMNS:
        return problems + [f"{args.file}: header {rows[0] if rows else None}, expected {COLUMNS}"], 0, set()
    seqs, last, candidates, decision_policy = set(), 0, set(), {}
    corrected = []
    for number, row in enumerate(rows[1:], 2):
        where = f"{args.file} row {number}"
        if len(row) != len(COLUMNS):
            problems.append(f"{where}: {len(row)} fields, expected {len(COLUMNS)}")
            continue
        r = dict(zip(COLUMNS, row))
        if not r["seq"].isdigit() or int(r["seq"]) < last:
            problems.append(f"{where}: seq {r['seq']!r} is not a whole number at least {last}")
            continue
        seq = last = int(r["seq"])
        seqs.add(seq)
        if r["action"] == "entry.corrected":
            if not r["corrects_seq"].isdigit() or int(r["corrects_seq"]) >= seq:
                problems.append(f"{where}: correction {seq} has corrects_seq {r['corrects_seq']!r}, expected an earlier seq")
            else:
                corrected.append((where, int(r["corrects_seq"])))
        elif r["corrects_seq"]:
            problems.append(f"{where}: {r['action']} has corrects_seq {r['corrects_seq']!r}, expected none")
        if r["action"] == "decision.issued":
            if "@" not in r["policy"] or decision_policy.setdefault(seq, r["policy"]) != r["policy"]:
                problems.append(f"{where}: decision {seq} has policy {r['policy']!r}, expected id@version, the same on each of its rows")
            if r["field"] == "policy" and r["new_value"] != r["policy"]:
                problems.append(f"{where}: decision {seq} policy column {r['policy']!r} differs from its policy row {r['new_value']!r}")
        elif r["action"] != "policy.published" and r["policy"]:
            problems.append(f"{where}: {r['action']} has policy {r['policy']!r}, expected none")
        if bool(r["candidate"]) != bool(r["site"]):
            problems.append(f"{where}: candidate {r['candidate']!r} with site {r['site']!r}: a candidate's row names its site, no other does")
        if r["candidate"]:
            candidates.add(r["candidate"])
        problems += [f"{where}: {c} {r[c]!r} would run as a formula in a spreadsheet" for c in COLUMNS if formula(r[c])]
    if args.whole:
        problems += [f"{where}: corrects_seq {s} is not an event of the file" for where, s in corrected if s not in seqs]
    for s in args.corrects:
        if s not in {c for _, c in corrected}:
            problems.append(f"{args.file}: no entry.corrected row with corrects_seq {s}")
    if args.candidates is not None and len(candidates) != args.candidates:
        problems.append(f"{args.file}: rows of {len(candidates)} candidates, expected {args.candidates}")
    return problems, len(rows) - 1, candidates


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file")
    parser.add_argument("--bom", action="store_true", help="the file must start with a UTF-8 byte order mark")
    parser.add_argument("--whole", action="store_true", help="the file holds the whole log: every corrects_seq is one of its events")
    parser.add_argument("--candidates", type=int, help="the number of candidates whose rows the file must hold")
    parser.add_argument("--corrects", type=int, action="append", default=[], help="a seq some correction must correct")
    args = parser.parse_args()
    problems, count, candidates = check(args)
    if problems:
        for p in problems[:20]:
            print(p, file=sys.stderr)
        if len(problems) > 20:
            print(f"... and {len(problems) - 20} more", file=sys.stderr)
        sys.exit(1)
    print(f"{args.file}: {count} rows of {len(candidates)} candidates, {len(COLUMNS)} columns each, read back by Python's csv module")


if __name__ == "__main__":
    main()
