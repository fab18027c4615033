#!/usr/bin/env python3
"""Checks the independent verifier's building blocks against the published vectors the Swift tests use
(Tests/TrialGateTests/Fixtures, origins in ORIGIN.md there): RFC 8785 canonical JSON, ES6 numbers,
RFC 6962 inclusion proofs and C2SP signed notes. Run: python3 audit/test_verify_bundle.py"""

import base64
import glob
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verify_bundle as vb  # noqa: E402

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TrialGateTests", "Fixtures")
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)


# ES6 number serialisation: 10,000 generated cases.
with open(os.path.join(FIX, "jcs", "es6numbers_first10000.txt")) as f:
    n = 0
    for line in f:
        hexbits, want = line.strip().split(",")
        x = struct.unpack(">d", bytes.fromhex(hexbits.rjust(16, "0")))[0]
        if x != x or x in (float("inf"), float("-inf")):
            continue
        n += 1
        check(vb.es6_number(x) == want, f"es6 {hexbits}: got {vb.es6_number(x)}, want {want}")
check(n >= 9990, f"only {n} ES6 cases read")

# RFC 8785 examples.
for path in sorted(glob.glob(os.path.join(FIX, "jcs", "input", "*.json"))):
    with open(path, "rb") as f:
        got = vb.jcs_bytes(vb.parse_json(f.read()))
    with open(path.replace(os.sep + "input" + os.sep, os.sep + "output" + os.sep), "rb") as f:
        check(got == f.read(), f"jcs {os.path.basename(path)}")

# RFC 6962 inclusion probes, positive and negative.
count = 0
for path in glob.glob(os.path.join(FIX, "merkle", "inclusion", "**", "*.json"), recursive=True):
    with open(path) as f:
        v = json.load(f)
    b = lambda s: base64.b64decode(s or "")
    idx = v["leafIdx"] if v["leafIdx"] < 2**63 else -1
    why = vb.verify_inclusion(idx, v["treeSize"], b(v["leafHash"]), [b(p) for p in v["proof"] or []], b(v["root"]))
    check((why != "") == v["wantErr"], f"inclusion {path}: {why}")
    count += 1
check(count >= 90, f"only {count} inclusion cases")

# C2SP signed notes: the example, and the derived checkpoint of the reference tree.
with open(os.path.join(FIX, "notes", "c2sp-signed-note-example.vkey")) as f:
    key = vb.parse_vkey(f.read())
with open(os.path.join(FIX, "notes", "c2sp-signed-note-example.note")) as f:
    check(vb.open_note(f.read(), [key]) == "This is an example message.\n", "c2sp example note")
with open(os.path.join(FIX, "notes", "derived-checkpoint-rfc6962-tree8.keys")) as f:
    key = vb.parse_vkey(f.read().splitlines()[0])
with open(os.path.join(FIX, "notes", "derived-checkpoint-rfc6962-tree8.note")) as f:
    origin, size, root = vb.parse_checkpoint(vb.open_note(f.read(), [key]))
with open(os.path.join(FIX, "merkle", "rfc6962_reference_tree.json")) as f:
    ref = json.load(f)
fr = vb.Frontier()
for leaf in ref["leaves_hex"]:
    fr.append(vb.leaf_hash(bytes.fromhex(leaf)))
check((origin, size, root) == ("Log", 8, fr.root()), "derived checkpoint root")
try:
    vb.open_note(open(os.path.join(FIX, "notes", "c2sp-signed-note-example.note")).read().replace("example", "EXAMPLE"), [vb.parse_vkey(open(os.path.join(FIX, "notes", "c2sp-signed-note-example.vkey")).read())])
    failures.append("a forged note verified")
except Exception:
    pass

if failures:
    print(f"FAILED: {len(failures)} checks")
    for f in failures[:20]:
        print("  " + f)
    sys.exit(1)
print(f"OK: {n} ES6 numbers, JCS examples, {count} inclusion probes, signed notes")
