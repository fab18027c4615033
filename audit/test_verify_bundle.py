#!/usr/bin/env python3
"""Checks the independent verifier's building blocks against the published vectors the Swift tests use
(Tests/TrialGateTests/Fixtures, origins in ORIGIN.md there): RFC 8785 canonical JSON, ES6 numbers,
RFC 6962 inclusion proofs and C2SP signed notes; witness cosignatures (C2SP tlog-cosignature, made here by test
witnesses) on the fixtures and on copies of the committed bundle legacy-10d079c/tour (and, with a binary, of a bundle
it exports). Then, with a trialgate binary, the investigators' sign-off
checks (`decision.signed`), signed-attestation checks (`attestation.recorded`, event schema 3) and signer-rotation
checks (`user.signer_rotated`: `users rotate-signer`), and the rules of signed and recorded text (canonical
signatures, attestations recorded once, overrides into eligibility, reasons, statements, query texts, printed names)
on real bundles and on tampered copies of them, one attack per check; and the checks of models as evidence
(`model.registered`, `model_score.recorded`, a decision's `model.<id>` gates and the criteria stating them,
`models/*.json`) on a third bundle. And the progress line: on a terminal's stderr only, not with --quiet, cleared at
the end, stdout the same in every case.
Run: python3 audit/test_verify_bundle.py   (TRIALGATE_BIN=path/to/trialgate to choose the binary)"""

import base64
import contextlib
import copy
import datetime
import glob
import hashlib
import io
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

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

# The fast path of RFC 8785 (jcs_fast, json.dumps under three conditions) against the full implementation (jcs).
# What must never happen is the verifier's check `jcs_bytes(parse(line)) == line` passing a line jcs would refuse;
# jcs_fast returning the text jcs writes, or None, whenever it is asked, is what makes that so.
import random  # noqa: E402


def reference_jcs(v):
    """jcs with its string writer (json.dumps) swapped for the character-by-character rule, _jcs_string_reference: the
    full path as the fast path's reference, independent of json.dumps."""
    saved = vb._jcs_string
    vb._jcs_string = vb._jcs_string_reference
    try:
        return vb.jcs(v)
    finally:
        vb._jcs_string = saved


def full_jcs(v):
    return reference_jcs(v).encode("utf-8")


def fast_agrees(v, what):
    """jcs_fast(v) is None or jcs(v)'s text; returns whether the fast path was taken."""
    fast = vb.jcs_fast(v)
    if fast is not None:
        try:
            full = reference_jcs(v)
        except (ValueError, OverflowError, UnicodeEncodeError) as err:
            full = repr(err)
        check(fast == full, f"jcs fast path: {what}: {fast!r} is not {full!r}")
    return fast is not None


fast_cases = 0
for path in sorted(glob.glob(os.path.join(FIX, "jcs", "input", "*.json"))):  # the RFC 8785 examples, by both paths
    with open(path, "rb") as f:
        v = vb.parse_json(f.read())
    with open(path.replace(os.sep + "input" + os.sep, os.sep + "output" + os.sep), "rb") as f:
        check(full_jcs(v) == f.read(), f"jcs (full) {os.path.basename(path)}")
    fast_agrees(v, os.path.basename(path))
    fast_cases += 1
def float_fast(x):
    """Where jcs_fast may write a float: non-integral, of magnitude 1e-4 up to 1e16 (the fixed notation of both)."""
    return x == x and 1e-4 <= abs(x) < 1e16 and x != int(x)


floats_fast = 0
with open(os.path.join(FIX, "jcs", "es6numbers_first10000.txt")) as f:  # floats in that range by both paths, the rest full
    for line in f:
        x = struct.unpack(">d", bytes.fromhex(line.split(",")[0].rjust(16, "0")))[0]
        taken = fast_agrees([x], f"the float {x!r}") and fast_agrees({"k": x}, f"the float {x!r} in an object")
        check(taken == float_fast(x), f"jcs fast path {'taken' if taken else 'not taken'} for the float {x!r}")
        floats_fast += taken
        if x == x and abs(x) < 2**53 and x == int(x):
            fast_agrees([int(x)], f"the int {int(x)}")
        fast_cases += 1
check(floats_fast >= 300, f"only {floats_fast} of the published floats took the fast path (321 lie in its range)")
float_rng = random.Random(1e-4)
for _ in range(200000):  # random doubles by their bits, and decimals near the range's ends
    x = struct.unpack(">d", float_rng.getrandbits(64).to_bytes(8, "big"))[0]
    y = float_rng.choice([1e-4, 1e16, 1.0, 2**52]) * float_rng.uniform(0.5, 2.0) * float_rng.choice([1, -1])
    for z in (x, y):
        check(fast_agrees([z], f"the float {z!r}") == float_fast(z), f"jcs fast path for the float {z!r}")
for z in [1e-4, -1e-4, 0.00009999999999999999, 9999999999999998.5 - 0.5, 4503599627370495.5, 1.5, 0.1, 123.456]:
    check(fast_agrees([z], f"the float {z!r}") == float_fast(z), f"jcs fast path at the boundary {z!r}")
for i in [0, 1, -1, 2**53 - 1, -(2**53 - 1), 2**53, -(2**53), 2**53 + 1, 10**21, 10**400]:  # ints at and past 2^53
    check(fast_agrees([i], f"int {i}") == (abs(i) < 2**53), f"jcs fast path for the int {i}")
for c in [1.0, 0.0, -0.0, 1e16, 1e21, 5e-324, 0.00001, float("nan"), float("inf")]:
    check(vb.jcs_fast(c) is None, f"jcs fast path taken for {c!r}")
# Every character, as a string and as a key: BMP characters agree (controls, '"', '\\', DEL, U+2028, U+2029 and
# U+E000-U+FFFF among them); lone surrogates and characters above U+FFFF take the full path.
for c in range(0x110000):
    ch = chr(c)
    taken = fast_agrees([ch, {ch: ch}], f"U+{c:04X}")
    check(taken == (c < 0xD800 or 0xE000 <= c <= 0xFFFF), f"jcs fast path {'taken' if taken else 'not taken'} for U+{c:04X}")
    fast_cases += 1
# jcs's string writer (json.dumps) against the rule written out, on every code point (lone surrogates included, which
# both write as themselves and UTF-8 then refuses) and on generated strings mixing escapes, controls and astral text.
for c in range(0x110000):
    check(vb._jcs_string(chr(c)) == vb._jcs_string_reference(chr(c)), f"jcs string writer for U+{c:04X}")
string_rng = random.Random(3222)
alphabet = ['"', "\\", "\b", "\f", "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "a", "é", "\u2028", "\ud800", "\uffff", "\U0001F600"]
for _ in range(20000):
    text = "".join(string_rng.choice(alphabet) for _ in range(string_rng.randrange(12)))
    check(vb._jcs_string(text) == vb._jcs_string_reference(text), f"jcs string writer for {text!r}")
# Key order: astral keys against U+E000-U+FFFF keys sort apart in UTF-16 and in code points; the full path decides.
check(vb.jcs({"\U0001F600": 1, "\uE000": 2}) == '{"\U0001F600":1,"\uE000":2}', "jcs: UTF-16 key order")
check(vb.jcs_fast({"\U0001F600": 1, "\uE000": 2}) is None, "jcs fast path taken for an astral key")
check(vb.jcs_bytes({"\U0001F600": 1, "\uE000": 2}) == full_jcs({"\U0001F600": 1, "\uE000": 2}), "jcs_bytes: astral key")

# Generated values, and lines written many ways: whenever the verifier's check passes a line, jcs passes it too.
rng = random.Random(8785)
TRICKY = ["", "a", "\x00", "\x1f", "\b\t\n\f\r", '"', "\\", "/", "\x7f", "\x80", "\x9f", "\u2028", "\u2029", "\u200b",
          "\ufeff", "\ud7ff", "\ue000", "\uffff", "\U0001F600", "\U00010000", "\U0010FFFF", "\ud800", "é", "≥", "Ω"]
NUMBERS = [0, 7, -3, 2**53 - 1, 2**53, -(2**53), 10**30, 0.5, 1.0, -0.0, 1e21, 1e-7, 123456789.125, 2.0**60]


def tricky_text():
    return "".join(rng.choice(TRICKY) for _ in range(rng.randint(0, 4)))


def generated(depth=0):
    kind = rng.randrange(9 if depth < 4 else 5)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind in (1, 2):
        return rng.choice(NUMBERS) if rng.random() < 0.3 else rng.randint(-10**6, 10**6)
    if kind in (3, 4):
        return tricky_text()
    if kind in (5, 6):
        return [generated(depth + 1) for _ in range(rng.randint(0, 4))]
    return {tricky_text() + rng.choice(["", "k", "\ue000", "\U0001F600"]): generated(depth + 1) for _ in range(rng.randint(0, 5))}


def writings(v):
    """Lines that parse to v (or not), canonical or not."""
    lines = []
    try:
        lines.append(full_jcs(v))
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 line holds one
        pass
    for ensure_ascii in (False, True):
        for sort_keys in (False, True):
            for separators in ((",", ":"), (", ", ": ")):
                try:
                    lines.append(json.dumps(v, ensure_ascii=ensure_ascii, sort_keys=sort_keys, separators=separators).encode("utf-8"))
                except UnicodeEncodeError:
                    pass
    return lines


taken = lines_checked = 0
for i in range(3000):
    v = generated()
    taken += fast_agrees(v, f"generated value {i}")
    for line in writings(v):
        try:
            e = vb.parse_json(line)
        except ValueError:
            continue
        try:
            passes = vb.jcs_bytes(e) == line
        except (ValueError, UnicodeEncodeError):
            passes = False
        try:
            canonical = full_jcs(e) == line
        except (ValueError, UnicodeEncodeError):
            canonical = False
        check(passes == canonical, f"generated value {i}: the check says {passes}, jcs says {canonical}: {line!r}")
        lines_checked += 1
check(300 < taken < 2900, f"jcs fast path taken for {taken} of 3000 generated values")
# The shapes of events TrialGate writes take the fast path, all but those that hold a float (model scores, radiomics).
def holds_float(v):
    return type(v) is float or (isinstance(v, (list, dict)) and any(map(holds_float, v.values() if isinstance(v, dict) else v)))


event_types, slow_types = set(), set()
for bundle in ("tour", "demo"):
    with open(os.path.join(FIX, "legacy-10d079c", bundle, "events.jsonl"), "rb") as f:
        for line in f.read().splitlines():
            e = vb.parse_json(line)
            check(vb.jcs_bytes(e) == line == full_jcs(e), f"{bundle} event {e.get('seq')}: not canonical by both paths")
            event_types.add(e["type"])
            if not fast_agrees(e, f"{bundle} event {e.get('seq')}"):
                slow_types.add(e["type"])
                check(holds_float(e), f"{bundle} event {e.get('seq')} ({e['type']}) holds no float and took the full path")
check(len(event_types - slow_types) >= 8, f"the fast path took only {sorted(event_types - slow_types)}")
fast_cases += lines_checked

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


# --- Witness cosignatures (C2SP tlog-cosignature, Ed25519 cosignature/v1) ----------------------------------------
#
# The test makes cosignatures itself, with pyca/cryptography, from the format tlog-cosignature.md states (not with
# the verifier's functions): key id = SHA-256(name || 0x0A || 0x04 || key)[:4]; the line's bytes are key id ||
# timestamp (uint64, big-endian) || Ed25519 signature over "cosignature/v1\ntime <timestamp>\n" + the note text.
# Test witness <label> is witness.example/<label>, its Ed25519 seed SHA-256("tlog-cosignature test witness <label>").

def witness(label):
    """(name, private key, raw public key, vkey) of test witness `label`."""
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"tlog-cosignature test witness {label}".encode()).digest())
    name = f"witness.example/{label}"
    pub = key.public_key().public_bytes(vb.Encoding.Raw, vb.PublicFormat.Raw)
    kid = hashlib.sha256(name.encode() + b"\n\x04" + pub).digest()[:4]
    return name, key, pub, name + "+" + kid.hex() + "+" + base64.b64encode(b"\x04" + pub).decode()


def cosign(text, label, timestamp=1700000000, key_id=None, name=None):
    """The cosignature line of test witness `label` over the note text `text` (which ends in its final newline);
    `key_id` and `name` replace the line's own, to make lines that are not the witness's."""
    wname, key, pub, _ = witness(label)
    kid = hashlib.sha256(wname.encode() + b"\n\x04" + pub).digest()[:4] if key_id is None else key_id
    signature = key.sign(b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + text.encode())
    return f"\u2014 {name or wname} " + base64.b64encode(kid + timestamp.to_bytes(8, "big") + signature).decode() + "\n"


def note_text(note):
    return note[:note.rindex("\n\n") + 1]


COS = os.path.join(FIX, "cosignature")
# The derived fixture: its seed and vkey are test witness w1's; the log's signature still verifies beside the
# cosignature; the cosignature is w1's at 1679315147, and this test's own cosign() makes the same line (Ed25519 is
# deterministic).
with open(os.path.join(COS, "witness-w1.seed")) as f:
    check(f.read().strip() == hashlib.sha256(b"tlog-cosignature test witness w1").hexdigest(), "witness-w1.seed")
with open(os.path.join(COS, "witness-w1.vkey")) as f:
    w1_vkey = f.read().strip()
check(w1_vkey == witness("w1")[3], "witness-w1.vkey is not test witness w1's")
w1 = vb.parse_witness_vkey(w1_vkey)
with open(os.path.join(COS, "tree8-cosigned.note"), encoding="utf-8") as f:
    tree8 = f.read()
with open(os.path.join(FIX, "notes", "derived-checkpoint-rfc6962-tree8.keys")) as f:
    tree8_log = vb.parse_vkey(f.read().splitlines()[0])
check(vb.parse_checkpoint(vb.open_note(tree8, [tree8_log]))[:2] == ("Log", 8), "tree8-cosigned: the log's signature")
check(tree8.endswith(cosign(note_text(tree8), "w1", 1679315147)), "tree8-cosigned: not w1's line at 1679315147")
found = vb.read_cosignatures(tree8, [w1])
check(found == {"cosigned": {"witness.example/w1": 1679315147}, "invalid": [], "other_key": []}, f"tree8-cosigned: {found}")
found = vb.read_cosignatures(tree8, [(w1[0], witness("w2")[2])])  # w1's name, another key: not w1's line
check(found["cosigned"] == {} and found["invalid"] == [] and len(found["other_key"]) == 1, f"tree8-cosigned, other key: {found}")
# A cosignature is not the log's signature: with w1's key as a log key (a type 0x01 key id), no known signature.
try:
    vb.open_note(tree8, [w1])
    failures.append("tree8-cosigned: opened with the witness's key as a log key")
except ValueError:
    pass

# The example of tlog-cosignature.md. Its keys are unpublished, so it cannot be verified; the line is read. The key
# id and timestamp are decoded here by hand and compared with the parser's (1679315147 is 2023-03-20T12:25:47Z).
with open(os.path.join(COS, "c2sp-tlog-cosignature-example.note"), encoding="utf-8") as f:
    example = f.read()
line = example.splitlines()[-1]
check(line.startswith("\u2014 witness.example.com/w1 "), "c2sp example: the last line is not the witness's")
raw = base64.b64decode(line.split(" ")[2], validate=True)
check((len(raw), raw[:4].hex(), int.from_bytes(raw[4:12], "big")) == (76, "8d66cf3f", 1679315147), "c2sp example: by hand")
text, lines = vb.split_note(example)
check(text == "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "c2sp example: text")
check([name for name, _ in lines] == ["example.com/behind-the-sofa", "witness.example.com/w1"], "c2sp example: names")
kid, timestamp, signature = vb.parse_cosignature(lines[1][1])
check((kid.hex(), timestamp, len(signature)) == ("8d66cf3f", 1679315147, 64), f"c2sp example: parsed {kid.hex()} {timestamp}")
check(datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).isoformat() == "2023-03-20T12:25:47+00:00", "c2sp example: time")
found = vb.read_cosignatures(example, [("witness.example.com/w1", w1[1])])  # its name, another key
check(found == {"cosigned": {}, "invalid": [], "other_key": [("witness.example.com/w1", "8d66cf3f")]}, f"c2sp example: {found}")

# Witness vkeys: only type 0x04, with the key id of their name and key; a key under two names is refused.
for bad in [open(os.path.join(FIX, "notes", "c2sp-signed-note-example.vkey")).read(),  # type 0x01, a log's key
            w1_vkey.replace("+5557cb17+", "+5557cb18+"), w1_vkey.replace("witness.example/w1", "witness.example/w2"),
            "witness.example/w1", "witness example/w1+5557cb17+" + w1_vkey.split("+", 2)[2], w1_vkey[:-4]]:
    try:
        vb.parse_witness_vkey(bad)
        failures.append(f"witness vkey accepted: {bad!r}")
    except ValueError:
        pass
renamed = "witness.example/w1bis+" + hashlib.sha256(b"witness.example/w1bis\n\x04" + w1[1]).digest()[:4].hex() + "+" + w1_vkey.split("+", 2)[2]
check(vb.parse_witness_vkey(renamed) == ("witness.example/w1bis", w1[1]), "a renamed vkey")
check(len(vb.witness_set([w1_vkey, renamed])[1]) == 1, "one key under two names is not refused")
check(len(vb.witness_set([w1_vkey, w1_vkey])[1]) == 1, "one witness twice is not refused")

vectors = f"{n} ES6 numbers, JCS examples, {fast_cases} fast-path cases, {count} inclusion probes, signed notes, cosignatures"


# --- Investigators' sign-offs and attestations, on bundles a real trialgate writes ---------------------------
#
# The binary: $TRIALGATE_BIN, else .build/debug/trialgate of this repository. CI (.ci/run) runs this script after
# `swift test`, which builds .build/debug/trialgate, so CI always runs this part; it is skipped only when no binary
# exists at all (a checkout that was never built). No network is used.
#
# The attacker modelled below is whoever runs the server: they hold the trial key, so they can rewrite events after
# the last decision, re-chain the hashes, re-sign the checkpoints and rebuild the manifest (`reseal`). What they do
# not hold is an investigator's key: a statement they alter fails its signature. Where a test needs a statement an
# investigator's key did sign (a client that lets a sloppy or coerced investigator sign something the rules forbid),
# the test signs it with that investigator's key, which it made. Each test then asserts the exact set of
# (event, code) problems, so it proves that its check, and only its check, catches its attack.

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_binary():
    path = os.environ.get("TRIALGATE_BIN") or os.path.join(REPO, ".build", "debug", "trialgate")
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def mth(hashes):
    """RFC 6962 Merkle tree hash of leaf hashes."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return vb.node_hash(mth(hashes[:k]), mth(hashes[k:]))


def audit_path(m, hashes):
    """RFC 6962 PATH(m, D[n]): the inclusion proof of leaf m."""
    if len(hashes) == 1:
        return []
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    if m < k:
        return audit_path(m, hashes[:k]) + [mth(hashes[k:])]
    return audit_path(m - k, hashes[k:]) + [mth(hashes[:k])]


def sign_note(text, origin, key):
    pub = key.public_key().public_bytes(vb.Encoding.Raw, vb.PublicFormat.Raw)
    sig = vb.note_key_id(origin, pub) + key.sign(text.encode())
    return text + "\n\u2014 " + origin + " " + base64.b64encode(sig).decode() + "\n"


def read_events(bundle):
    with open(os.path.join(bundle, "events.jsonl"), "rb") as f:
        return [vb.parse_json(line) for line in f.read().splitlines()]


def write_manifest(out, manifest, size, root):
    """The bundle's manifest.json again: every other file with its SHA-256, the log's size and root."""
    files = {}
    for dirpath, _, names in os.walk(out):
        for name in names:
            rel = os.path.relpath(os.path.join(dirpath, name), out).replace(os.sep, "/")
            if rel != "manifest.json":
                files[rel] = hashlib.sha256(open(os.path.join(out, rel), "rb").read()).hexdigest()
    manifest.update(files=files, size=size, root=base64.b64encode(root).decode())
    with open(os.path.join(out, "manifest.json"), "wb") as f:
        f.write(vb.jcs_bytes(manifest))


def reseal(base, events, out, trial_key, keep_decisions=True):
    """A copy of bundle `base` holding `events` (renumbered and re-chained), as the trial key's holder could make
    it: checkpoints, inclusion proofs, policy files and manifest redone. Events up to the last decision must be
    unchanged (a decision names its log position; re-signing decisions is not needed for any test here), unless
    `keep_decisions` is false: then `events` is another log of the same trial and key, without decisions."""
    old = read_events(base)
    last_decision = max(e["seq"] for e in old if e["type"] == "decision.issued") if keep_decisions else 0
    assert [vb.jcs_bytes(e) for e in events[:last_decision]] == [vb.jcs_bytes(e) for e in old[:last_decision]], \
        "reseal: an event up to the last decision changed"
    assert keep_decisions or not any(e["type"] == "decision.issued" for e in events), "reseal: a log of its own has no decisions"
    shutil.copytree(base, out)
    lines, prev = [], vb.GENESIS
    for i, e in enumerate(events, start=1):
        e = dict(e, seq=i, prev_hash=prev)
        e.pop("hash", None)
        line = vb.jcs_bytes(e)
        lines.append(line)
        prev = hashlib.sha256(line).hexdigest()
    with open(os.path.join(out, "events.jsonl"), "wb") as f:
        f.write(b"".join(x + b"\n" for x in lines))
    leaves = [vb.leaf_hash(x) for x in lines]
    root = mth(leaves)
    manifest = vb.parse_json(open(os.path.join(base, "manifest.json"), "rb").read())
    origin = manifest["log_origin"]
    # Checkpoints: those of the unchanged prefix stay; one new one covers the whole rewritten log.
    kept = [c for c in map(vb.parse_json, open(os.path.join(base, "checkpoints.jsonl"), "rb").read().splitlines())
            if c["size"] <= last_decision]
    note = sign_note(f"{origin}\n{len(lines)}\n{base64.b64encode(root).decode()}\n", origin, trial_key)
    kept.append({"issued_at": events[-1]["timestamp"], "note": note, "size": len(lines)})
    with open(os.path.join(out, "checkpoints.jsonl"), "wb") as f:
        f.write(b"".join(vb.jcs_bytes(c) + b"\n" for c in kept))
    with open(os.path.join(out, "checkpoint.note"), "w", encoding="utf-8") as f:
        f.write(note)
    decisions = list(map(vb.parse_json, open(os.path.join(base, "decisions.jsonl"), "rb").read().splitlines())) if keep_decisions else []
    for d in decisions:
        d["inclusion"] = {"proof": [base64.b64encode(h).decode() for h in audit_path(d["seq"] - 1, leaves)], "tree_size": len(lines)}
    with open(os.path.join(out, "decisions.jsonl"), "wb") as f:
        f.write(b"".join(vb.jcs_bytes(d) + b"\n" for d in decisions))
    shutil.rmtree(os.path.join(out, "policies"))
    os.mkdir(os.path.join(out, "policies"))
    listed = []
    for e in events:
        if e["type"] == "policy.published":
            p = e["payload"]
            name = f"policies/{e['seq']}-{p['policy_id']}-{p['version']}.yaml"
            with open(os.path.join(out, name), "wb") as f:
                f.write(p["text"].encode())
            listed.append({"file": name, "policy_id": p["policy_id"], "seq": e["seq"], "sha256": p["sha256"], "version": p["version"]})
    with open(os.path.join(out, "policies.json"), "wb") as f:
        f.write(vb.jcs_bytes(listed))
    write_manifest(out, manifest, len(lines), root)
    return out


def verify(bundle):
    v = vb.Verifier(bundle)
    try:
        v.run()
    except Exception as err:
        v.problem("bundle", "malformed", repr(err))
    return v


class Scenario:
    """A trial screened with the real binary: three candidates, four decisions, three investigators' sign-offs, then
    two signed attestations."""

    def __init__(self, binary, tmp):
        self.open(binary, tmp)
        day = self.day
        tg = self.tg
        tg("init", "--trial", "SANET-EP-1")
        tg("policy", "publish", os.path.join(REPO, "Policies", "sanet-ep.yaml"))
        tg("candidate", "register", "NET-001", "--site", "SITE-01")
        tg("record", "ki67", "--candidate", "NET-001", "percent=18", f"specimen_date={day}", "method=manual_count")
        self.d1_old = tg("decide", "NET-001")["seq"]
        tg("record", "ki67", "--candidate", "NET-001", "percent=12", f"specimen_date={day}", "method=manual_count")
        self.d1 = tg("decide", "NET-001")["seq"]                     # NET-001's newest: needs_review
        tg("candidate", "register", "NET-002", "--site", "SITE-02")
        tg("record", "clinical", "--candidate", "NET-002", f"assessed_on={day}", "age=15")
        self.d2 = tg("decide", "NET-002")["seq"]                     # ineligible (under 18)
        reg3 = tg("candidate", "register", "NET-003", "--site", "SITE-02")["seq"]
        tg("correct", "--seq", str(reg3), "--field", "site", "--value", "SITE-01", "--reason", "registered at the wrong site")
        tg("record", "ki67", "--candidate", "NET-003", "percent=5", f"specimen_date={day}", "method=manual_count")
        self.d3 = tg("decide", "NET-003")["seq"]                     # needs_review, at SITE-01 after the correction
        self.keys = {}
        for name, site, printed in [("jane", "SITE-01", "Dr Jane Roe"), ("bob", "SITE-02", "Dr Bob Poe")]:
            tg("key", "new", "--out", os.path.join(tmp, name + ".key"), json_out=False)
            added = tg("users", "add", name, "--role", "investigator", "--site", site, "--printed-name", printed,
                       "--public-key", os.path.join(tmp, name + ".key.pub"))
            with open(os.path.join(tmp, name + ".code"), "w") as f:
                f.write(added["signing_code"] + "\n")
            with open(os.path.join(tmp, name + ".key"), "rb") as f:
                self.keys[name] = load_pem_private_key(f.read(), None)
        tg("users", "add", "carla", "--role", "coordinator", "--site", "SITE-01")
        self.sign("jane", self.d1, "--override", "ineligible", "--reason", "Ki-67 alone does not grade this tumour")
        self.sign("bob", self.d2, "--confirm")
        # (An override into eligibility waits for the decision's attestations, which NET-003's decision still needs.)
        self.sign("jane", self.d3, "--override", "ineligible", "--reason", "central pathology grades it G3")
        # Signed attestations (event schema 3), after the sign-offs (an attestation makes its candidate's decision stale).
        self.attest("jane", "NET-001", "I1-informed-consent", "pass", day, "--statement", "consent form seen")
        self.attest("jane", "NET-003", "E3-registered-exclusions", "pass", day)  # without a statement
        tg("export", "--out", os.path.join(tmp, "bundle"), json_out=False)
        self.bundle = os.path.join(tmp, "bundle")
        with open(os.path.join(tmp, "t.sqlite.key"), "rb") as f:
            self.trial_key = load_pem_private_key(f.read(), None)
        self.events = read_events(self.bundle)
        outcomes = [self.decision(d)["outcome"] for d in (self.d1, self.d2, self.d3)]
        if outcomes != ["needs_review", "ineligible", "needs_review"]:  # the meaning tests rest on these
            raise RuntimeError(f"Policies/sanet-ep.yaml now decides {outcomes}; the sign-off scenario needs new records")
        attestations = [e for e in self.events if e["type"] == "attestation.recorded"]
        if [(e["schema_version"], e["actor"], "signature" in e["payload"]) for e in attestations] != [(3, "jane", True)] * 2:
            raise RuntimeError("trialgate attest no longer writes schema 3 attestations signed by the investigator: "
                               + "; ".join(json.dumps(e) for e in attestations))

    def open(self, binary, tmp):
        """A new store in `tmp`, written with `binary`."""
        self.tmp = tmp
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALGATE_")}
        self.env.update(TRIALGATE_STORE=os.path.join(tmp, "t.sqlite"), TRIALGATE_ACTOR="alice")
        self.binary = binary
        self.day = (datetime.datetime.now(datetime.timezone.utc).date() - datetime.timedelta(days=20)).isoformat()
        self.codes = {}  # signing key file label -> its signing code file (default: tmp/LABEL.code)
        self.n = 0

    def tg(self, *args, json_out=True):
        cmd = [self.binary] + list(args) + (["--json"] if json_out else [])
        r = subprocess.run(cmd, cwd=self.tmp, env=self.env, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} exited {r.returncode}: {r.stderr.strip() or r.stdout.strip()}")
        return json.loads(r.stdout) if json_out else r.stdout

    def signing(self, label):
        """The signing options of key file tmp/LABEL.key and its signing code."""
        return ["--signing-key", os.path.join(self.tmp, label + ".key"),
                "--signing-code-file", self.codes.get(label, os.path.join(self.tmp, label + ".code"))]

    def attest(self, who, candidate, criterion, result, day, *more, key=None):
        self.tg("attest", "--candidate", candidate, "--criterion", criterion, "--result", result, "--attested-on", day, *more,
                "--as", who, *self.signing(key or who))

    def sign(self, who, decision, *how, key=None):
        self.tg("signoff", "--decision", str(decision), *how, "--as", who, *self.signing(key or who))

    # --- building attacks

    def attested(self, actor, candidate):
        """The index in `events` of the genuine attestation by `actor` of `candidate`."""
        return next(i for i, e in enumerate(self.events) if e["type"] == "attestation.recorded" and e["actor"] == actor and e["candidate"] == candidate)

    def signoff(self, actor, candidate):
        """The index in `events` of the genuine sign-off by `actor` of `candidate`."""
        return next(i for i, e in enumerate(self.events) if e["type"] == "decision.signed" and e["actor"] == actor and e["candidate"] == candidate)

    def decision(self, seq):
        return self.events[seq - 1]["payload"]["decision"]

    def statement(self, base_index, *, sign_as=None, resentence=True, **changes):
        """A copy of the statement of event `base_index` with `changes` (a value of None removes the field), its
        meaning_text rewritten to fit them unless `resentence` is false, and signed with `sign_as`'s key (default: the
        signer's). Returns the decision.signed payload."""
        s = copy.deepcopy(self.events[base_index]["payload"]["statement"])
        for k, v in changes.items():
            if v is None:
                s.pop(k, None)
            else:
                s[k] = v
        if resentence and s.get("meaning") in vb.MEANINGS:
            d = self.decision(s["decision"]["seq"]) if self.events[s["decision"]["seq"] - 1]["type"] == "decision.issued" else s["decision"]
            s["meaning_text"] = vb.meaning_sentence(s["meaning"], s["signer"]["printed_name"], s["signer"]["user"], s["candidate"],
                                                    s["decision"]["seq"], d["outcome"])
        key = self.keys[sign_as or s["signer"]["user"]]
        return {"signature": base64.b64encode(key.sign(vb.jcs_bytes(s))).decode(), "statement": s}

    def attestation(self, base_index, *, sign_as=None, candidate=None, **changes):
        """A copy of the attestation.recorded payload of event `base_index` with `changes` (a value of None removes the
        field), signed with `sign_as`'s key (default: the signer's) over the statement it makes for `candidate` (default:
        the event's)."""
        e = self.events[base_index]
        p = copy.deepcopy(e["payload"])
        for k, v in changes.items():
            if v is None:
                p.pop(k, None)
            else:
                p[k] = v
        trial = self.events[0]["payload"]
        statement = vb.attestation_statement(p, trial["trial_id"], trial["log_origin"], candidate or e["candidate"])
        p["signature"] = base64.b64encode(self.keys[sign_as or p["signer"]].sign(vb.jcs_bytes(statement))).decode()
        return p

    def ref(self, seq):
        """What a statement says about decision `seq`: its seq, SHA-256, outcome and policy."""
        d = self.decision(seq)
        return {"seq": seq, "sha256": hashlib.sha256(vb.jcs_bytes(d)).hexdigest(), "outcome": d["outcome"],
                "policy": f"{d['policy']['id']}@{d['policy']['version']}"}

    def event(self, like, **fields):
        """A new event shaped like event index `like` (its time stamp, so the time rules hold), with `fields`."""
        e = copy.deepcopy(self.events[like])
        e.update(fields)
        return e

    def bundle_of(self, events, keep_decisions=True):
        self.n += 1
        return reseal(self.bundle, events, os.path.join(self.tmp, f"attack-{self.n}"), self.trial_key, keep_decisions)


class RotationScenario(Scenario):
    """A second trial, for investigators' signer rotations (`user.signer_rotated`): two decisions, then Jane (SITE-01)
    registered with her own key and signing code (`key new`, `users add --signing-code-sha256`), Bob (SITE-02) the
    same way, Carla a coordinator; Jane signs off the first decision with her first key; `users rotate-signer` brings
    her second key and code into force; she signs off the second decision and attests with them. In `keys`, "jane"
    is her key in force at the end (the second), "jane-old" her first."""

    def __init__(self, binary, tmp):
        self.open(binary, tmp)
        tg, day = self.tg, self.day
        tg("init", "--trial", "SANET-EP-2")
        tg("policy", "publish", os.path.join(REPO, "Policies", "sanet-ep.yaml"))
        tg("candidate", "register", "NET-001", "--site", "SITE-01")
        tg("record", "ki67", "--candidate", "NET-001", "percent=12", f"specimen_date={day}", "method=manual_count")
        self.da = tg("decide", "NET-001")["seq"]                     # needs_review
        tg("candidate", "register", "NET-004", "--site", "SITE-01")
        tg("record", "ki67", "--candidate", "NET-004", "percent=5", f"specimen_date={day}", "method=manual_count")
        self.db = tg("decide", "NET-004")["seq"]                     # needs_review; the last decision of the log
        self.keys = {}
        for label, name, site, printed in [("jane-1", "jane", "SITE-01", "Dr Jane Roe"), ("bob", "bob", "SITE-02", "Dr Bob Poe")]:
            self.new_key(label)
            added = tg("users", "add", name, "--role", "investigator", "--site", site, "--printed-name", printed,
                       "--public-key", os.path.join(tmp, label + ".key.pub"), "--signing-code-sha256", os.path.join(tmp, label + ".key.code.sha256"))
            if "signing_code" in added:
                raise RuntimeError(f"users add --signing-code-sha256 made a signing code of its own: {added}")
        tg("users", "add", "carla", "--role", "coordinator", "--site", "SITE-01")
        self.sign("jane", self.da, "--override", "ineligible", "--reason", "Ki-67 alone does not grade this tumour", key="jane-1")
        self.new_key("jane-2")
        tg("users", "rotate-signer", "jane", "--public-key", os.path.join(tmp, "jane-2.key.pub"),
           "--signing-code-sha256", os.path.join(tmp, "jane-2.key.code.sha256"))
        self.sign("jane", self.db, "--override", "ineligible", "--reason", "central pathology grades it G3", key="jane-2")
        self.attest("jane", "NET-001", "I1-informed-consent", "pass", day, "--statement", "consent form seen", key="jane-2")
        tg("export", "--out", os.path.join(tmp, "bundle"), json_out=False)
        self.bundle = os.path.join(tmp, "bundle")
        with open(os.path.join(tmp, "t.sqlite.key"), "rb") as f:
            self.trial_key = load_pem_private_key(f.read(), None)
        self.events = read_events(self.bundle)
        self.keys["jane-old"], self.keys["jane"] = self.keys.pop("jane-1"), self.keys.pop("jane-2")
        self.old_id, self.new_id = (vb.trialgate_key_id(self.raw(k)) for k in ("jane-old", "jane"))
        # What the tests rest on: the decisions, the rotation as trialgate writes it, and the key each statement names.
        outcomes = [self.decision(d)["outcome"] for d in (self.da, self.db)]
        if outcomes != ["needs_review", "needs_review"]:
            raise RuntimeError(f"Policies/sanet-ep.yaml now decides {outcomes}; the rotation scenario needs new records")
        rotations = [e for e in self.events if e["type"] == "user.signer_rotated"]
        if [(e["schema_version"], e["candidate"], set(e["payload"]), e["payload"].get("key_id")) for e in rotations] \
                != [(3, None, vb.SIGNER_ROTATION_FIELDS, self.new_id)]:
            raise RuntimeError("users rotate-signer no longer writes one schema 3 user.signer_rotated event naming Jane's new key: "
                               + "; ".join(json.dumps(e) for e in rotations))
        named = [e["payload"]["statement"]["signer"]["key_id"] if e["type"] == "decision.signed" else e["payload"]["key_id"]
                 for e in self.events if e["type"] in ("decision.signed", "attestation.recorded")]
        if named != [self.old_id, self.new_id, self.new_id]:
            raise RuntimeError(f"the statements name keys {named}; expected Jane's first, then her second twice")

    def new_key(self, label):
        """`trialgate key new --out tmp/LABEL.key`: the key, its .pub, its signing code .code and that code's .code.sha256."""
        self.tg("key", "new", "--out", os.path.join(self.tmp, label + ".key"), json_out=False)
        self.codes[label] = os.path.join(self.tmp, label + ".key.code")
        with open(self.codes[label]) as f:
            code = f.read().strip()
        with open(self.codes[label] + ".sha256") as f:
            if f.read().strip() != hashlib.sha256(code.encode()).hexdigest():
                raise RuntimeError(f"key new: {label}.key.code.sha256 is not the SHA-256 of {label}.key.code")
        with open(os.path.join(self.tmp, label + ".key"), "rb") as f:
            self.keys[label] = load_pem_private_key(f.read(), None)

    def raw(self, label):
        return self.keys[label].public_key().public_bytes(vb.Encoding.Raw, vb.PublicFormat.Raw)


def run_bundle_tests(binary):
    results = []
    tmp = tempfile.mkdtemp(prefix="tg-signoff-")
    try:
        try:
            sc = Scenario(binary, tmp)
        except RuntimeError as err:  # e.g. a stale binary without `signoff`: a failure, not a skip
            check(False, f"the scenario could not be built with {binary}: {err}")
            return results
        ev = sc.events
        J1, B2, J3 = sc.signoff("jane", "NET-001"), sc.signoff("bob", "NET-002"), sc.signoff("jane", "NET-003")
        A1, A3 = sc.attested("jane", "NET-001"), sc.attested("jane", "NET-003")

        def seq(i):
            """The seq of the event at index i of `ev` when nothing is inserted before it."""
            return i + 1

        jane_added = next(i for i, e in enumerate(ev) if e["type"] == "user.added" and e["payload"]["name"] == "jane")

        def expect(name, events, want, keep_decisions=True):
            """`want`: the exact set of (event seq, code) problems the verifier must report (empty: it must pass)."""
            v = verify(sc.bundle_of(events, keep_decisions))
            got = {(w, c) for w, c, _ in v.problems}
            wanted = {(f"event {s}", c) for s, c in want}
            ok = got == wanted
            results.append(name)
            check(ok, f"{name}: want {sorted(wanted)}, got " + "; ".join(f"{w}: {c}: {m}" for w, c, m in v.problems))
            return v

        def replaced(i, **fields):
            return ev[:i] + [dict(ev[i], **fields)] + ev[i + 1:]

        def inserted(i, *new):
            return ev[:i] + list(new) + ev[i:]

        # The genuine bundle, as the binary exported it, through the command line: exit 0, the sign-offs counted.
        r = subprocess.run([sys.executable, os.path.join(REPO, "audit", "verify_bundle.py"), sc.bundle], capture_output=True, text=True)
        check(r.returncode == 0 and "3 sign-offs, 2 signed attestations" in r.stdout, f"genuine bundle: exit {r.returncode}: {r.stdout}{r.stderr}")
        results.append("genuine bundle passes (command line, 3 sign-offs and 2 signed attestations counted)")
        # The reseal helper on unchanged events must give a bundle that passes: the attacks below differ only in them.
        expect("resealed genuine bundle passes", ev, set())

        # Rule 1: trial, log and candidate.
        expect("statement names another trial", replaced(J1, payload=sc.statement(J1, trial_id="SANET-P-1")), {(seq(J1), "signoff_binding")})
        expect("statement names another log", replaced(J1, payload=sc.statement(J1, log_origin="trialgate/other")), {(seq(J1), "signoff_binding")})
        expect("statement names another candidate than its event",
               replaced(J3, payload=sc.statement(J3, candidate="NET-001")), {(seq(J3), "signoff_binding")})
        # Jane's genuine signed NET-001 statement (signature intact) replayed onto NET-003, where she also signs.
        expect("statement replayed onto another candidate", replaced(J3, payload=ev[J1]["payload"]), {(seq(J3), "signoff_binding")})

        # Rules 2 and 3: the exact decision, the newest.
        expect("statement moved to another decision (edited, her signature kept)",
               replaced(J1, payload={"signature": ev[J1]["payload"]["signature"],
                                     "statement": dict(ev[J1]["payload"]["statement"], decision=sc.ref(sc.d1_old))}),
               {(seq(J1), "signoff_superseded"), (seq(J1), "bad_signature"), (seq(J1), "signoff_meaning")})
        expect("superseded decision signed", replaced(J1, payload=sc.statement(J1, decision=sc.ref(sc.d1_old))), {(seq(J1), "signoff_superseded")})
        expect("decision.sha256 of another decision", replaced(J1, payload=sc.statement(J1, decision=dict(sc.ref(sc.d1), sha256=sc.ref(sc.d1_old)["sha256"]))),
               {(seq(J1), "signoff_binding")})
        expect("decision.outcome not the decision's", replaced(J1, payload=sc.statement(J1, decision=dict(sc.ref(sc.d1), outcome="eligible"))),
               {(seq(J1), "signoff_binding")})
        expect("decision.policy not the decision's", replaced(J1, payload=sc.statement(J1, decision=dict(sc.ref(sc.d1), policy="sanet-ep@1.0.0"))),
               {(seq(J1), "signoff_binding")})
        # (NET-002's decision proposes ineligible: an override to eligible keeps the statement's own meaning consistent.)
        expect("decision of another candidate", replaced(J1, payload=sc.statement(J1, decision=sc.ref(sc.d2), meaning="overridden_eligible")),
               {(seq(J1), "signoff_binding")})

        # Rule 2: a stale decision. Each stale cause is inserted just before Jane's NET-001 sign-off, which moves to J1 + 2.
        ki67 = [e for e in ev if e["type"] == "ki67.recorded" and e["candidate"] == "NET-001"][-1]  # percent=12, in force
        stale_causes = {
            "a record": dict(ki67, timestamp=ev[J1]["timestamp"]),
            "a correction": sc.event(J1, type="entry.corrected", candidate="NET-001", actor="carla",
                                     payload={"corrects": ki67["seq"], "field": "percent", "old_value": 12, "new_value": 21, "reason": "typo"}),
            "a withdrawal": sc.event(J1, type="candidate.withdrawn", candidate="NET-001", actor="carla", payload={"reason": "consent withdrawn"}),
            "a withdrawal with its CONSORT category": sc.event(J1, type="candidate.withdrawn", candidate="NET-001", actor="carla",
                                                               payload={"category": "adverse_event"}),
        }
        for what, cause in stale_causes.items():
            expect(f"stale decision signed ({what} after it)", inserted(J1, cause), {(seq(J1) + 1, "signoff_stale")})
        for what, payload in {"an unknown category": {"category": "bored"}, "neither category nor reason": {},
                              "category other without a reason": {"category": "other"}}.items():
            bad = sc.event(J1, type="candidate.withdrawn", candidate="NET-001", actor="carla", payload=payload)
            expect(f"withdrawal with {what}", inserted(J1, bad), {(seq(J1), "withdrawal_malformed"), (seq(J1) + 1, "signoff_stale")})
        policy = next(e for e in ev if e["type"] == "policy.published")
        text = policy["payload"]["text"].replace('version: "2.0.0"', 'version: "2.0.1"')
        check(text != policy["payload"]["text"], "the policy text has no `version: \"2.0.0\"` line to bump")
        newer = sc.event(J1, type="policy.published", candidate=None, actor="alice",
                         payload=dict(policy["payload"], version="2.0.1", text=text, sha256=hashlib.sha256(text.encode()).hexdigest()))
        expect("stale decisions signed (a policy published after them)", inserted(J1, newer),
               {(seq(J1) + 1, "signoff_stale"), (seq(B2) + 1, "signoff_stale"), (seq(J3) + 1, "signoff_stale")})
        # Between Bob's NET-002 sign-off and Jane's NET-003 one: a NET-002 record (after its sign-off) and a NET-003 query.
        other = next(e for e in ev if e["type"] == "clinical.recorded" and e["candidate"] == "NET-002")
        query = next(e for e in ev if e["type"] == "query.opened" and e["candidate"] == "NET-003")
        expect("not stale: another candidate's record and a query are no stale causes",
               inserted(J3, dict(other, timestamp=ev[J3]["timestamp"]), dict(query, timestamp=ev[J3]["timestamp"])), set())

        # An import's receipt (docs/import.md): the events its rows became end right before it; it is no stale cause.
        def receipt(first, last, actor="carla", rows=2, sha256="ab" * 32, **extra):
            return sc.event(J3, type="records.imported", candidate=None, actor=actor,
                            payload=dict({"file": "site-01.csv", "sha256": sha256, "rows": rows, "first_seq": first, "last_seq": last}, **extra))
        rows = [dict(e, timestamp=ev[J3]["timestamp"]) for e in ev if e["type"] in vb.IMPORTABLE_TYPES - {"candidate.registered"} and e["candidate"] == "NET-002"][:1] * 2
        check(len(rows) == 2, "the scenario has no record of NET-002")  # the same record twice: two rows of one file
        by = rows[0]["actor"]
        expect("an import receipt of the two records before it, by its actor (no stale cause)",
               inserted(J3, *rows, receipt(seq(J3), seq(J3) + 1, actor=by)), set())
        # A receipt that lies about where the log's content came from: the trial's own events, another actor's, a count.
        expect("an import receipt claiming every event before it (the trial, decisions, sign-offs) as imported rows",
               inserted(J3, receipt(1, seq(J3) - 1, rows=seq(J3) - 1)), {(seq(J3), "import_receipt")})
        expect("an import receipt naming records by another actor than its own",
               inserted(J3, *rows, receipt(seq(J3), seq(J3) + 1, actor="mallory")), {(seq(J3) + 2, "import_receipt")})
        expect("an import receipt counting fewer rows than its events",
               inserted(J3, *rows, receipt(seq(J3), seq(J3) + 1, actor=by, rows=1)), {(seq(J3) + 2, "import_receipt")})
        expect("the same file's SHA-256 in two receipts",
               inserted(J3, rows[0], receipt(seq(J3), seq(J3), actor=by, rows=1), rows[1], receipt(seq(J3) + 2, seq(J3) + 2, actor=by, rows=1)),
               {(seq(J3) + 3, "import_receipt")})
        expect("an import receipt naming events that do not end right before it", inserted(J3, receipt(seq(J3) - 3, seq(J3) - 2)),
               {(seq(J3), "invalid_event")})
        expect("an import receipt with a member more", inserted(J3, receipt(seq(J3) - 2, seq(J3) - 1, site="SITE-01")),
               {(seq(J3), "invalid_event")})

        # Rule 4: signed off once. (Before Jane's NET-001 attestation, which would make the decision stale too.)
        expect("decision signed off twice", inserted(A1, ev[J1]), {(seq(A1), "signoff_duplicate")})

        # Rule 5: the meaning.
        expect("needs_review confirmed", replaced(J1, payload=sc.statement(J1, meaning="confirmed_ineligible", reason=None)),
               {(seq(J1), "signoff_meaning")})
        expect("ineligible decision 'overridden' to ineligible", replaced(B2, payload=sc.statement(B2, meaning="overridden_ineligible", reason="same")),
               {(seq(B2), "signoff_meaning")})
        expect("ineligible decision confirmed as eligible", replaced(B2, payload=sc.statement(B2, meaning="confirmed_eligible")),
               {(seq(B2), "signoff_meaning")})
        expect("override without a reason", replaced(J1, payload=sc.statement(J1, reason=None)), {(seq(J1), "signoff_meaning")})
        expect("override with a blank reason", replaced(J1, payload=sc.statement(J1, reason=" \u00a0\t")), {(seq(J1), "signoff_meaning")})
        expect("unknown meaning", replaced(J1, payload=sc.statement(J1, meaning="approved")), {(seq(J1), "signoff_meaning")})
        confirm_words = vb.meaning_sentence("confirmed_ineligible", "Dr Jane Roe", "jane", "NET-001", sc.d1, "ineligible")
        expect("meaning_text not the meaning's sentence", replaced(J1, payload=sc.statement(J1, meaning_text=confirm_words, resentence=False)),
               {(seq(J1), "signoff_meaning")})

        # Rule 6: the signer.
        expect("signer not the event's actor", replaced(J1, actor="bob"), {(seq(J1), "signoff_signer")})
        carla = {"user": "carla", "printed_name": "Carla", "key_id": ev[J1]["payload"]["statement"]["signer"]["key_id"]}
        expect("signer not an investigator (a coordinator)",
               replaced(J1, actor="carla", payload=sc.statement(J1, signer=carla, sign_as="jane")), {(seq(J1), "signoff_signer")})
        expect("signer not an account", replaced(J1, actor="mallory", payload=sc.statement(J1, signer=dict(carla, user="mallory"), sign_as="jane")),
               {(seq(J1), "signoff_signer")})
        # A monitor at SITE-01 whose account carries a printed name and a key (trialgate refuses to write that; a
        # rewritten log can hold it): everything fits but the role.
        sc.keys["mona"] = Ed25519PrivateKey.generate()
        mona_raw = sc.keys["mona"].public_key().public_bytes(vb.Encoding.Raw, vb.PublicFormat.Raw)
        mona_added = dict(ev[jane_added], payload=dict(ev[jane_added]["payload"], name="mona", role="monitor", printed_name="Mona",
                                                       public_key=base64.b64encode(mona_raw).decode(), key_id=vb.trialgate_key_id(mona_raw),
                                                       token_sha256="ab" * 32, signing_sha256="cd" * 32))
        mona = {"user": "mona", "printed_name": "Mona", "key_id": vb.trialgate_key_id(mona_raw)}
        expect("signer not an investigator (a monitor with a registered key)",
               ev[:J1] + [mona_added, dict(ev[J1], actor="mona", payload=sc.statement(J1, signer=mona))] + ev[J1 + 1:],
               {(seq(J1) + 1, "signoff_signer")})
        bob = ev[B2]["payload"]["statement"]["signer"]
        expect("investigator of another site (bob, SITE-02, signs NET-001)",
               replaced(J1, actor="bob", payload=sc.statement(J1, signer=bob)), {(seq(J1), "signoff_signer")})
        expect("site after correction (bob signs NET-003, registered at SITE-02, corrected to SITE-01)",
               replaced(J3, actor="bob", payload=sc.statement(J3, signer=bob)), {(seq(J3), "signoff_signer")})
        jane = ev[J1]["payload"]["statement"]["signer"]
        expect("printed name not the account's", replaced(J1, payload=sc.statement(J1, signer=dict(jane, printed_name="Dr J. Roe"))),
               {(seq(J1), "signoff_signer")})
        for change in ("user.disabled", "user.removed"):
            expect(f"account {change.split('.')[1]} before the sign-off",
                   inserted(J1, sc.event(J1, type=change, candidate=None, actor="alice", payload={"name": "jane", "reason": "left"})),
                   {(seq(J1) + 1, "signoff_signer"), (seq(J3) + 1, "signoff_signer"),
                    (seq(A1) + 1, "attestation_signer"), (seq(A3) + 1, "attestation_signer")})
        expect("account disabled and enabled again before the sign-off: in force",
               inserted(J1, *[sc.event(J1, type=t, candidate=None, actor="alice", payload={"name": "jane", "reason": "r"})
                              for t in ("user.disabled", "user.enabled")]), set())
        expired = dict(ev[jane_added], payload=dict(ev[jane_added]["payload"], expires_at=ev[J1]["timestamp"]))
        expect("account expired at the sign-off", ev[:jane_added] + [expired] + ev[jane_added + 1:],
               {(seq(J1), "signoff_signer"), (seq(J3), "signoff_signer"), (seq(A1), "attestation_signer"), (seq(A3), "attestation_signer")})

        # Rule 7: the time of signing.
        at = vb.utc_ms(ev[J1]["timestamp"])
        iso = lambda ms: datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
        expect("signed 6 minutes before the log's time", replaced(J1, payload=sc.statement(J1, signed_at=iso(at - 360_000))), {(seq(J1), "signoff_time")})
        expect("signed 6 minutes after the log's time", replaced(J1, payload=sc.statement(J1, signed_at=iso(at + 360_000))), {(seq(J1), "signoff_time")})
        expect("signed exactly 5 minutes before: in time", replaced(J1, payload=sc.statement(J1, signed_at=iso(at - 300_000))), set())
        expect("signed_at not a UTC time", replaced(J1, payload=sc.statement(J1, signed_at="2026-11-30 11:07")), {(seq(J1), "signoff_time")})

        # Rule 8: the signature and the account's key.
        edited = copy.deepcopy(ev[J1]["payload"])
        edited["statement"]["reason"] = "a reason Jane never gave"
        expect("statement edited after signing", replaced(J1, payload=edited), {(seq(J1), "bad_signature")})
        expect("signed with another investigator's key", replaced(J1, payload=sc.statement(J1, sign_as="bob")), {(seq(J1), "bad_signature")})
        raw = Ed25519PrivateKey.generate().public_key().public_bytes(vb.Encoding.Raw, vb.PublicFormat.Raw)
        swapped = dict(ev[jane_added], payload=dict(ev[jane_added]["payload"], public_key=base64.b64encode(raw).decode(), key_id=vb.trialgate_key_id(raw)))
        expect("Jane's registered key swapped for another", ev[:jane_added] + [swapped] + ev[jane_added + 1:],
               {(seq(J1), "bad_signature"), (seq(J1), "signoff_signer"), (seq(J3), "bad_signature"), (seq(J3), "signoff_signer"),
                (seq(A1), "bad_signature"), (seq(A1), "attestation_signer"), (seq(A3), "bad_signature"), (seq(A3), "attestation_signer")})
        eve = sc.event(len(ev) - 1, type="user.added", candidate=None, actor="alice",
                       payload=dict(ev[jane_added]["payload"], name="eve", printed_name="Dr Eve Doe", public_key=base64.b64encode(raw).decode(), key_id="0123456789abcdef",
                                   token_sha256="ef" * 32, signing_sha256="fe" * 32))
        expect("account key_id not derived from its key", ev + [eve], {(len(ev) + 1, "account_key")})

        # The statement's shape.
        expect("statement of another format", replaced(J1, payload=sc.statement(J1, format="trialgate.signoff/2")), {(seq(J1), "signoff_malformed")})
        expect("statement's signer with a field more", replaced(J1, payload=sc.statement(J1, signer=dict(jane, email="j@x"))),
               {(seq(J1), "signoff_malformed")})
        expect("statement without a signer", replaced(J1, payload=sc.statement(J1, signer=None, resentence=False, sign_as="jane")), {(seq(J1), "signoff_malformed")})

        # --- Signed attestations (event schema 3): the statement rebuilt from the event, signed by the investigator.
        a1 = ev[A1]["payload"]
        check("statement" in a1 and "statement" not in ev[A3]["payload"], "the scenario's attestations: one with a statement, one without")
        expect("genuine attestations re-signed by the test pass (the statement is rebuilt as trialgate signs it)",
               replaced(A1, payload=sc.attestation(A1))[:A3] + [dict(ev[A3], payload=sc.attestation(A3))] + ev[A3 + 1:], set())
        expect("attestation edited, her signature kept (result pass -> fail)", replaced(A1, payload=dict(a1, result="fail")),
               {(seq(A1), "bad_signature")})
        expect("attestation's statement text edited, her signature kept", replaced(A1, payload=dict(a1, statement="consent form not seen")),
               {(seq(A1), "bad_signature")})
        expect("attestation's statement removed, her signature kept", replaced(A1, payload={k: v for k, v in a1.items() if k != "statement"}),
               {(seq(A1), "bad_signature")})
        expect("attestation moved to another candidate of her site, her signature kept", replaced(A1, candidate="NET-003"),
               {(seq(A1), "bad_signature")})
        other_trial = vb.attestation_statement(a1, "SANET-P-1", ev[0]["payload"]["log_origin"], "NET-001")
        expect("attestation signed for another trial, replayed here",
               replaced(A1, payload=dict(a1, signature=base64.b64encode(sc.keys["jane"].sign(vb.jcs_bytes(other_trial))).decode())),
               {(seq(A1), "bad_signature")})
        expect("attestation signed with another investigator's key", replaced(A1, payload=sc.attestation(A1, sign_as="bob")),
               {(seq(A1), "bad_signature")})
        bob_as = {"signer": "bob", "printed_name": "Dr Bob Poe", "key_id": ev[B2]["payload"]["statement"]["signer"]["key_id"]}
        expect("attestation by an investigator of another site (bob, SITE-02, attests NET-001)",
               replaced(A1, actor="bob", payload=sc.attestation(A1, **bob_as)), {(seq(A1), "attestation_signer")})
        expect("attestation: site after correction (bob attests NET-003, registered at SITE-02, corrected to SITE-01)",
               replaced(A3, actor="bob", payload=sc.attestation(A3, **bob_as)), {(seq(A3), "attestation_signer")})
        expect("attestation signer not the event's actor", replaced(A1, actor="bob"), {(seq(A1), "attestation_signer")})
        expect("attestation by a coordinator (no investigator, no key)",
               replaced(A1, actor="carla", payload=dict(a1, signer="carla", printed_name="Carla")), {(seq(A1), "attestation_signer")})
        expect("attestation's printed name not the account's", replaced(A1, payload=sc.attestation(A1, printed_name="Dr J. Roe")),
               {(seq(A1), "attestation_signer")})
        expect("attestation's key_id not the account's", replaced(A1, payload=sc.attestation(A1, key_id=bob_as["key_id"])),
               {(seq(A1), "attestation_signer")})
        expect("account removed before the attestation",
               inserted(A1, sc.event(A1, type="user.removed", candidate=None, actor="alice", payload={"name": "jane", "reason": "left"})),
               {(seq(A1) + 1, "attestation_signer"), (seq(A3) + 1, "attestation_signer")})
        at = vb.utc_ms(ev[A1]["timestamp"])
        expect("attestation signed 6 minutes before the log's time", replaced(A1, payload=sc.attestation(A1, signed_at=iso(at - 360_000))),
               {(seq(A1), "attestation_time")})
        expect("attestation signed 6 minutes after the log's time", replaced(A1, payload=sc.attestation(A1, signed_at=iso(at + 360_000))),
               {(seq(A1), "attestation_time")})
        expect("attestation signed exactly 5 minutes after: in time", replaced(A1, payload=sc.attestation(A1, signed_at=iso(at + 300_000))), set())
        expect("attestation's signed_at not a UTC time", replaced(A1, payload=sc.attestation(A1, signed_at="2026-11-30T11:07:00+01:00")),
               {(seq(A1), "attestation_time")})
        fix = sc.event(A1, type="entry.corrected", candidate="NET-001", actor="carla",
                       payload={"corrects": seq(A1), "field": "result", "old_value": "pass", "new_value": "fail", "reason": "typo"})
        expect("correction of a signed attestation", ev + [fix], {(len(ev) + 1, "not_correctable")})
        expect("correction of a signed attestation's statement (adding one where there was none)",
               ev + [dict(fix, candidate="NET-003", payload={"corrects": seq(A3), "field": "statement", "old_value": None,
                                                              "new_value": "exclusions checked", "reason": "omitted"})],
               {(len(ev) + 1, "not_correctable")})
        unsigned = {k: a1[k] for k in ("criterion", "result", "attested_on", "statement")}
        expect("unsigned schema 3 attestation (a coordinator's record)", replaced(A1, actor="carla", payload=unsigned),
               {(seq(A1), "attestation_malformed")})
        expect("schema 3 attestation without its signature", replaced(A1, payload={k: v for k, v in a1.items() if k != "signature"}),
               {(seq(A1), "attestation_malformed")})
        expect("attestation with a field more, signed", replaced(A1, payload=sc.attestation(A1, witness="carla")),
               {(seq(A1), "attestation_malformed")})
        expect("attestation with a result neither pass nor fail, signed", replaced(A1, payload=sc.attestation(A1, result="unknown")),
               {(seq(A1), "attestation_malformed")})
        expect("unsigned attestation labelled schema 2 after schema 3 events (a downgrade)",
               replaced(A1, actor="carla", payload=unsigned, schema_version=2), {(seq(A1), "schema_version")})
        expect("event of an unknown schema version", replaced(A1, schema_version=4), {(seq(A1), "schema_version")})

        # --- From the attacker's review: plain text, canonical signatures, attestations recorded once, overrides
        # into eligibility after the attestations, printed names. Statements are signed with the investigators' keys.
        end = len(ev) + 1  # the seq of one event appended to the log
        digits = vb._B64_DIGITS

        def respelt(sig):
            """Another base64 text of the same 64 bytes: a spare bit of the last data digit set."""
            out = sig[:85] + digits[digits.index(sig[85]) ^ 1] + "=="
            check(out != sig and base64.b64decode(out) == base64.b64decode(sig), "the respelt signature is another text of the same bytes")
            return out

        # Signatures: only their canonical base64 spelling (the respelt ones still verify: only the spelling is caught).
        expect("sign-off signature spelt non-canonically (a spare bit set)",
               replaced(J1, payload=dict(ev[J1]["payload"], signature=respelt(ev[J1]["payload"]["signature"]))), {(seq(J1), "signoff_malformed")})
        expect("attestation signature spelt non-canonically (a spare bit set)",
               replaced(A1, payload=dict(a1, signature=respelt(a1["signature"]))), {(seq(A1), "attestation_malformed")})

        # A signed attestation is recorded once: Jane attests fail later; her earlier pass, replayed, would bring it back.
        retracted = dict(ev[A1], payload=sc.attestation(A1, result="fail", statement="consent withdrawn on review"))
        expect("attestation retracted (pass, then fail): passes", ev + [retracted], set())
        expect("replayed attestation (her signed pass recorded again after her fail)", ev + [retracted, ev[A1]], {(end + 1, "attestation_replayed")})
        expect("replayed attestation (the same signed statement twice in a row)", inserted(A1 + 1, ev[A1]), {(seq(A1) + 1, "attestation_replayed")})
        expect("replayed attestation spelt otherwise in base64", ev + [retracted, dict(ev[A1], payload=dict(a1, signature=respelt(a1["signature"])))],
               {(end + 1, "attestation_replayed"), (end + 1, "attestation_malformed")})

        # An override into eligibility waits for the attestations the decision needs.
        unattested = [k["id"] for k in sc.decision(sc.d3)["criteria"] if k["result"] == "needs_attestation"]
        check(unattested, f"decision {sc.d3} (NET-003) has no needs_attestation criterion; the override test needs one")
        v = expect("overridden_eligible of a decision with needs_attestation criteria (signed by Jane)",
                   replaced(J3, payload=sc.statement(J3, meaning="overridden_eligible")), {(seq(J3), "signoff_meaning")})
        check(any("needs the attestation" in m and unattested[0] in m for _, _, m in v.problems), f"the problem names the criteria: {v.problems}")
        expect("overridden_ineligible of the same decision: passes (only eligibility waits)",
               replaced(J3, payload=sc.statement(J3, reason="another reason, one line")), set())

        # A reason is one line of plain text, at most 1000 characters.
        for what, reason in [("a newline", "Ki-67 alone\ndoes not grade this tumour"), ("ESC (a terminal escape)", "ok\x1b[2K\x1b[1Gforged"),
                             ("U+202E (right-to-left override)", "eligible \u202eelbigilenI"), ("U+200B (zero-width space)", "Ki-67\u200b alone"),
                             ("U+2028 (line separator)", "one\u2028two"), ("U+0085 (C1 next line)", "one\x85two"), ("U+FEFF", "\ufeffreason"),
                             ("U+2066 (left-to-right isolate)", "a\u2066b\u2069"), ("DEL", "reason\x7f"), ("1001 characters", "r" * 1001)]:
            expect(f"override reason with {what} (signed by Jane)", replaced(J1, payload=sc.statement(J1, reason=reason)), {(seq(J1), "signoff_meaning")})
        expect("override reason of 1000 characters: passes", replaced(J1, payload=sc.statement(J1, reason="r" * 1000)), set())
        # Characters are Unicode code points, so combining marks count and a reason's size is bounded.
        expect("override reason of 500 accented letters (1000 code points): passes",
               replaced(J1, payload=sc.statement(J1, reason="e\u0301" * 500)), set())
        expect("override reason of 1000 accented letters (2000 code points) (signed by Jane)",
               replaced(J1, payload=sc.statement(J1, reason="e\u0301" * 1000)), {(seq(J1), "signoff_meaning")})
        expect("confirmation with a plain reason: passes", replaced(B2, payload=sc.statement(B2, reason="age on the ID card")), set())
        expect("confirmation with a reason holding ESC (signed by Bob)", replaced(B2, payload=sc.statement(B2, reason="age\x1b[8m hidden")),
               {(seq(B2), "signoff_meaning")})

        # An attestation's statement: plain text, newlines allowed, at most 1000 characters.
        expect("attestation statement over two lines: passes", replaced(A1, payload=sc.attestation(A1, statement="consent form seen\nsigned 2 copies")), set())
        for what, text in [("U+202E", "consent \u202eneesnot"), ("ESC", "seen\x1b[2K"), ("a carriage return", "seen\r\nok"),
                           ("only spaces and newlines", " \n "), ("1001 characters", "s" * 1001)]:
            expect(f"attestation statement with {what} (signed by Jane)", replaced(A1, payload=sc.attestation(A1, statement=text)),
                   {(seq(A1), "attestation_malformed")})

        # Review queries' words: plain text, newlines allowed, at most 2000 characters.
        Q = next(i for i, e in enumerate(ev) if e["type"] == "query.opened" and e["candidate"] == "NET-003")
        qtext = ev[Q]["payload"]["text"]
        expect("query text over two lines: passes", replaced(Q, payload=dict(ev[Q]["payload"], text=qtext + "\nsee the pathology report")), set())
        for what, text in [("ESC", qtext + "\x1b[2J"), ("U+2066", "\u2066" + qtext), ("blank", " \n\t"), ("2001 characters", "q" * 2001)]:
            expect(f"query text with {what}", replaced(Q, payload=dict(ev[Q]["payload"], text=text)), {(seq(Q), "query_malformed")})
        answer = sc.event(Q, type="query.answered", actor="carla", payload={"query": seq(Q), "note": "report attached"})
        close = sc.event(Q, type="query.closed", actor="alice", payload={"query": seq(Q), "resolution": "decided again"})
        expect("query answered and closed in plain text: passes", ev + [answer, close], set())
        expect("query answer with U+202E, resolution with ESC", ev + [dict(answer, payload=dict(answer["payload"], note="ok \u202e")),
                                                                 dict(close, payload=dict(close["payload"], resolution="done\x1b]0;x\x07"))],
               {(end, "query_malformed"), (end + 1, "query_malformed")})

        # Printed names: plain text on one line, no parentheses, and each account's own.
        carla_added = next(e for e in ev if e["type"] == "user.added" and e["payload"]["name"] == "carla")
        fresh = lambda label: hashlib.sha256(label.encode()).hexdigest()  # a digest no account of the log held
        dana = lambda printed: dict(carla_added, payload=dict(carla_added["payload"], name="dana", token_sha256=fresh("dana"), printed_name=printed))
        expect("coordinator with a printed name of her own: passes", ev + [dana("Dana Noe")], set())
        for what, printed in [("Jane's, case-folded and spaced", "  dR jane ROE "), ("Jane's exactly", "Dr Jane Roe"),
                              ("Jane's with a no-break space", "Dr\u00a0Jane Roe"), ("Jane's with two spaces", "Dr  Jane Roe"),
                              ("with parentheses", "Dana Noe (dana)"), ("with a closing parenthesis only", "Dana Noe)"),
                              ("with a newline", "Dana\nNoe"), ("with U+202E", "Dana \u202eeoN"), ("blank", " \u3000"),
                              ("of 201 characters", "D" * 201)]:
            expect(f"printed name {what}", ev + [dana(printed)], {(end, "account_event")})
        expect("printed name of a removed account (Bob's, after his removal)",
               ev + [sc.event(len(ev) - 1, type="user.removed", candidate=None, actor="alice", payload={"name": "bob", "reason": "left"}),
                     dana("dr bob poe")], {(end + 1, "account_event")})

        # An older log (schema 2 until an upgrade): its attestations are unsigned and stay valid; investigators, sign-offs
        # and queries exist only from schema 3. Same trial and key, events taken from the scenario's log; no decisions.
        reg1 = next(i for i, e in enumerate(ev) if e["type"] == "candidate.registered" and e["candidate"] == "NET-001")
        old = [dict(ev[0], schema_version=2), dict(ev[reg1], schema_version=2),
               dict(ev[A1], actor="carla", payload=unsigned, schema_version=2)]
        new = [ev[jane_added], ev[A1]]
        expect("older log: a schema 2 attestation unsigned, then an upgrade and a signed one", old + new, set(), keep_decisions=False)
        expect("older log: an investigator's account in schema 2", old + [dict(new[0], schema_version=2), new[1]],
               {(len(old) + 1, "schema_version")}, keep_decisions=False)
        opened = dict(next(e for e in ev if e["type"] == "query.opened" and e["candidate"] == "NET-001"), schema_version=2)
        expect("older log: a query in schema 2", old + [opened] + new, {(len(old) + 1, "schema_version")}, keep_decisions=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def run_rotation_tests(binary):
    """Investigators' signer rotations (`user.signer_rotated`), on RotationScenario's bundle and tampered copies."""
    results = []
    tmp = tempfile.mkdtemp(prefix="tg-rotation-")
    try:
        try:
            sc = RotationScenario(binary, tmp)
        except RuntimeError as err:  # e.g. a binary without `users rotate-signer`: a failure, not a skip
            check(False, f"the rotation scenario could not be built with {binary}: {err}")
            return results
        ev = sc.events
        index = lambda t, **where: next(i for i, e in enumerate(ev) if e["type"] == t and all(e.get(k) == v for k, v in where.items()))
        R = index("user.signer_rotated")
        JA, JB = index("decision.signed", candidate="NET-001"), index("decision.signed", candidate="NET-004")
        AT = index("attestation.recorded")
        added = {e["payload"]["name"]: e["payload"] for e in ev if e["type"] == "user.added"}
        rotation = ev[R]["payload"]
        fresh = lambda label: hashlib.sha256(label.encode()).hexdigest()  # a digest no account of the log held

        def seq(i):
            return i + 1

        def expect(name, events, want, keep_decisions=True):
            """`want`: the exact set of (event seq, code) problems the verifier must report (empty: it must pass)."""
            v = verify(sc.bundle_of(events, keep_decisions))
            got = {(w, c) for w, c, _ in v.problems}
            wanted = {(f"event {s}", c) for s, c in want}
            results.append(name)
            check(got == wanted, f"{name}: want {sorted(wanted)}, got " + "; ".join(f"{w}: {c}: {m}" for w, c, m in v.problems))
            return v

        def replaced(*changes):
            """`ev` with each (index, fields) change."""
            out = list(ev)
            for i, fields in changes:
                out[i] = dict(out[i], **fields)
            return out

        def rotated(name="jane", key=None, **payload):
            """A new user.signer_rotated event (shaped like the genuine one) for `name` to `key` (raw bytes; default: a
            new key), with a fresh signing digest unless `payload` says otherwise."""
            raw = key if key is not None else Ed25519PrivateKey.generate().public_key().public_bytes(vb.Encoding.Raw, vb.PublicFormat.Raw)
            p = {"name": name, "public_key": base64.b64encode(raw).decode(), "key_id": vb.trialgate_key_id(raw), "signing_sha256": fresh(name + "-next")}
            p.update(payload)
            return sc.event(R, payload={k: v for k, v in p.items() if v is not None})

        end = len(ev) + 1  # the seq of one event appended to the log

        # The genuine bundle, through the command line: Jane's sign-off with her first key still verifies after the
        # rotation; her sign-off and attestation after it verify with her second key.
        r = subprocess.run([sys.executable, os.path.join(REPO, "audit", "verify_bundle.py"), sc.bundle], capture_output=True, text=True)
        check(r.returncode == 0 and "2 sign-offs, 1 signed attestations" in r.stdout and "1 signer rotations" in r.stdout,
              f"genuine rotation bundle: exit {r.returncode}: {r.stdout}{r.stderr}")
        results.append("signer rotation: genuine bundle passes (command line; a sign-off before it with the old key, "
                       "a sign-off and an attestation after it with the new key)")
        expect("signer rotation: resealed genuine bundle passes", ev, set())

        # After the rotation, only the new key signs for Jane, and her statements name it.
        expect("after a rotation: sign-off signed with the old key (naming the new key id)",
               replaced((JB, {"payload": sc.statement(JB, sign_as="jane-old")})), {(seq(JB), "bad_signature")})
        jane = ev[JB]["payload"]["statement"]["signer"]
        expect("after a rotation: sign-off signed with the old key, naming it",
               replaced((JB, {"payload": sc.statement(JB, signer=dict(jane, key_id=sc.old_id), sign_as="jane-old")})),
               {(seq(JB), "bad_signature"), (seq(JB), "signoff_signer")})
        expect("after a rotation: attestation signed with the old key (naming the new key id)",
               replaced((AT, {"payload": sc.attestation(AT, sign_as="jane-old")})), {(seq(AT), "bad_signature")})
        expect("after a rotation: attestation signed with the old key, naming it",
               replaced((AT, {"payload": sc.attestation(AT, key_id=sc.old_id, sign_as="jane-old")})),
               {(seq(AT), "bad_signature"), (seq(AT), "attestation_signer")})
        expect("before a rotation: sign-off signed with the key not yet in force, naming it",
               replaced((JA, {"payload": sc.statement(JA, signer=dict(jane, key_id=sc.new_id), sign_as="jane")})),
               {(seq(JA), "bad_signature"), (seq(JA), "signoff_signer")})
        moved = [e for i, e in enumerate(ev) if i != R]
        moved.insert(moved.index(ev[JB]) + 1, ev[R])
        expect("the sign-off with the new key logged before the rotation", moved,
               {(seq(JB) - 1, "bad_signature"), (seq(JB) - 1, "signoff_signer")})
        expect("rotation of a disabled account (enabled again before she signs): in force",
               ev[:R] + [sc.event(R, type="user.disabled", payload={"name": "jane", "reason": "on leave"}), ev[R],
                         sc.event(R, type="user.enabled", payload={"name": "jane", "reason": "back"})] + ev[R + 1:], set())

        # The rotation's own rules.
        expect("rotation whose key_id names her old key (later statements, signed with the new key, name the old id)",
               replaced((R, {"payload": dict(rotation, key_id=sc.old_id)}),
                        (JB, {"payload": sc.statement(JB, signer=dict(jane, key_id=sc.old_id))}),
                        (AT, {"payload": sc.attestation(AT, key_id=sc.old_id)})),
               {(seq(R), "account_key")})
        expect("rotation whose key_id does not name its key", ev + [rotated("bob", key_id="0123456789abcdef")], {(end, "account_key")})
        expect("rotation whose public_key is not 32 bytes", ev + [rotated("bob", public_key=base64.b64encode(b"k" * 31).decode())],
               {(end, "account_key")})
        expect("rotation back to a key the log held (Jane's first)", ev + [rotated(key=sc.raw("jane-old"))], {(end, "account_event")})
        expect("rotation to a key another account holds (Bob's)", ev + [rotated(key=base64.b64decode(added["bob"]["public_key"]))],
               {(end, "account_event")})
        expect("user.added with a key a rotation retired (Jane's first, to a new investigator)",
               ev + [sc.event(R, type="user.added", payload=dict(added["jane"], name="dana", printed_name="Dr Dana Noe", token_sha256=fresh("dana"),
                                                                   signing_sha256=fresh("dana-signing")))],
               {(end, "account_event")})
        # Another spelling of the same 32 bytes (the unused low bits of the last base64 digit set) is the same key.
        b64 = base64.b64encode(sc.raw("jane-old")).decode()
        digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        respelt = b64[:42] + digits[digits.index(b64[42]) ^ 1] + "="
        check(respelt != b64 and base64.b64decode(respelt) == sc.raw("jane-old"), "the respelt key is another text of the same bytes")
        expect("rotation back to a key the log held, spelt otherwise in base64", ev + [rotated(key=sc.raw("jane-old"), public_key=respelt)],
               {(end, "account_event")})
        expect("rotation for a coordinator", ev + [rotated("carla")], {(end, "account_event")})
        expect("rotation for no account", ev + [rotated("mallory")], {(end, "account_event")})
        expect("rotation for a removed account", ev + [sc.event(R, type="user.removed", payload={"name": "bob", "reason": "left"}), rotated("bob")],
               {(end + 1, "account_event")})
        expect("rotation reusing a signing-code digest the log held (Jane's first)",
               ev + [rotated(signing_sha256=added["jane"]["signing_sha256"])], {(end, "account_event")})
        expect("rotation reusing another account's token digest (Carla's)",
               ev + [rotated(signing_sha256=added["carla"]["token_sha256"])], {(end, "account_event")})
        expect("rotation whose signing code is her session token", ev + [rotated(signing_sha256=added["jane"]["token_sha256"])],
               {(end, "account_event")})
        expect("rotation whose signing digest is not 64 lowercase hex", ev + [rotated(signing_sha256=fresh("x").upper())],
               {(end, "account_event")})
        expect("rotation with a field more", ev + [rotated(printed_name="Dr J. Roe")], {(end, "account_event")})
        # The log never holds a secret's digest twice, whichever account event brings it.
        dana = sc.event(R, type="user.added", payload={"name": "dana", "role": "coordinator", "sites": ["SITE-01"],
                                                       "token_sha256": rotation["signing_sha256"]})
        expect("user.added whose token digest is a signing-code digest the log held (Jane's second)", ev + [dana], {(end, "account_event")})
        expect("user.added with a fresh token digest: passes", ev + [dict(dana, payload=dict(dana["payload"], token_sha256=fresh("dana")))], set())
        dana_key = Ed25519PrivateKey.generate().public_key().public_bytes(vb.Encoding.Raw, vb.PublicFormat.Raw)
        expect("user.added of an investigator whose signing code is her token",
               ev + [sc.event(R, type="user.added", payload=dict(added["jane"], name="dana", printed_name="Dr Dana Noe", public_key=base64.b64encode(dana_key).decode(),
                                                                   key_id=vb.trialgate_key_id(dana_key), token_sha256=fresh("dana"),
                                                                   signing_sha256=fresh("dana")))],
               {(end, "account_event")})
        expect("user.token_rotated to a digest the log held (Jane's first signing code)",
               ev + [sc.event(R, type="user.token_rotated", payload={"name": "carla", "token_sha256": added["jane"]["signing_sha256"]})],
               {(end, "account_event")})
        expect("rotation without a signing digest", ev + [rotated(signing_sha256=None)], {(end, "account_event")})

        # Schema 3 only: an older log (schema 2 throughout; same trial and key; no decisions).
        jane_added = next(i for i, e in enumerate(ev) if e["type"] == "user.added" and e["payload"]["name"] == "jane")
        old = [dict(ev[0], schema_version=2), dict(ev[jane_added], schema_version=2)]
        v = expect("rotation in schema 2", old + [dict(ev[R], schema_version=2)], {(2, "schema_version"), (3, "schema_version")},
                   keep_decisions=False)
        check(any(w == "event 3" and "user.signer_rotated does not exist in event schema 2" in m for w, _, m in v.problems),
              "rotation in schema 2: the problem names user.signer_rotated and schema 2: " + repr(v.problems))
        expect("rotation labelled schema 2 after schema 3 events (a downgrade)", replaced((R, {"schema_version": 2})),
               {(seq(R), "schema_version")})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


# --- Models as evidence (docs/model-evidence.md), on a bundle a real trialgate writes --------------------------
#
# A logistic model and a one-tree model, written here by hand (no scikit-learn), registered; a policy gating on both;
# a candidate's radiomics record, a score from outside, a decision. The attacker is again whoever holds the trial
# key: `forge` rewrites any event, re-chains, RE-SIGNS every decision at its new position and rebuilds every
# derived file, so the chain, the signatures and the manifest all hold and only the model checks can catch the
# forgery. Each attack asserts the exact set of (event, code) problems.

LR_ARTIFACT = """{
  "format": "trialgate.model/1",
  "kind": "logistic_regression",
  "features": [{"name": "original_firstorder_Mean", "unit": "[hnsf'U]"}, {"name": "original_shape_MeshVolume", "unit": "mm3"}],
  "means": [80.5, 4000],
  "scales": [20.25, 1500.5],
  "coefficients": [1.2, 0.5],
  "intercept": -0.3
}
"""
TREE_ARTIFACT = """{
  "format": "trialgate.model/1",
  "kind": "gradient_boosted_trees",
  "features": [{"name": "original_firstorder_Mean", "unit": "[hnsf'U]"}, {"name": "original_shape_MeshVolume", "unit": "mm3"}],
  "base_score": 0.1,
  "learning_rate": 0.5,
  "input_rounding": "binary32",
  "trees": [{"nodes": [{"feature": 0, "threshold": 100.5, "left": 1, "right": 2}, {"value": -1.0}, {"value": 1.5}]}]
}
"""
MODEL_SETTINGS = "imageType:\n  Original: {}\nsetting:\n  binWidth: 25\n  resampledPixelSpacing: [1, 1, 1]\n"


def model_card(model_id, artifact):
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    return {
        "model_id": model_id, "version": "1.0.0", "title": f"{model_id} (test fixture)", "predicts": "a test label",
        "intended_use": "Testing the verifier only; not a validated instrument.", "population": "None: a test fixture.",
        "artifact_sha256": hashlib.sha256(artifact.encode()).hexdigest(),
        "extraction": {"software": "pyradiomics 3.0.1", "image_type": "Original", "resampling_mm": [1, 1, 1], "bin_width": 25,
                       "contrast_phase": "portal_venous", "settings_sha256": hashlib.sha256(MODEL_SETTINGS.encode()).hexdigest()},
        "training": {"dataset": "none (hand-written)", "size": 1},
        "validation": {"dataset": "none (hand-written)", "size": 1, "auc": 0.5, "auc_ci95": [0.4, 0.6], "calibration": "not assessed"},
        "operating_point": {"threshold": 0.6, "grey_zone": [0.45, 0.65], "threshold_lp": logit(0.6),
                            "grey_zone_lp": [logit(0.45), logit(0.65)], "source": "test fixture"},
    }


def forge(base, events, out, trial_key):
    """A bundle of `events` as the trial key's holder could make it from bundle `base`: renumbered and re-chained,
    every decision re-signed at its new log position, one new checkpoint over the whole log, and decisions.jsonl,
    policies, models and the manifest rebuilt."""
    shutil.copytree(base, out)
    lines, prev, decided = [], vb.GENESIS, []
    for i, e in enumerate(events, start=1):
        e = copy.deepcopy(dict(e, seq=i, prev_hash=prev))
        e.pop("hash", None)
        if e["type"] == "decision.issued":
            d = e["payload"]["decision"]
            d["log"] = dict(d.get("log") or {}, size=i - 1, head=prev)
            e["payload"]["signature"] = base64.b64encode(trial_key.sign(vb.jcs_bytes(d))).decode()
            decided.append(e)
        line = vb.jcs_bytes(e)
        lines.append(line)
        prev = hashlib.sha256(line).hexdigest()
    with open(os.path.join(out, "events.jsonl"), "wb") as f:
        f.write(b"".join(x + b"\n" for x in lines))
    leaves = [vb.leaf_hash(x) for x in lines]
    root = mth(leaves)
    manifest = vb.parse_json(open(os.path.join(base, "manifest.json"), "rb").read())
    origin = manifest["log_origin"]
    note = sign_note(f"{origin}\n{len(lines)}\n{base64.b64encode(root).decode()}\n", origin, trial_key)
    with open(os.path.join(out, "checkpoints.jsonl"), "wb") as f:
        f.write(vb.jcs_bytes({"issued_at": events[-1]["timestamp"], "note": note, "size": len(lines)}) + b"\n")
    with open(os.path.join(out, "checkpoint.note"), "w", encoding="utf-8") as f:
        f.write(note)
    with open(os.path.join(out, "decisions.jsonl"), "wb") as f:
        for e in decided:
            f.write(vb.jcs_bytes({"candidate": e["candidate"], "decision": e["payload"]["decision"], "index": e["seq"] - 1,
                                  "inclusion": {"proof": [base64.b64encode(h).decode() for h in audit_path(e["seq"] - 1, leaves)],
                                                "tree_size": len(lines)},
                                  "leaf_hash": base64.b64encode(leaves[e["seq"] - 1]).decode(), "seq": e["seq"],
                                  "signature": e["payload"]["signature"]}) + b"\n")
    for sub in ("policies", "models"):
        shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
        os.mkdir(os.path.join(out, sub))
    policies, models, seen = [], [], set()
    for i, line in enumerate(lines, start=1):
        e = vb.parse_json(line)
        p = e["payload"]
        if e["type"] == "policy.published":
            name = f"policies/{i}-{p['policy_id']}-{p['version']}.yaml"
            with open(os.path.join(out, name), "wb") as f:
                f.write(p["text"].encode())
            policies.append({"file": name, "policy_id": p["policy_id"], "seq": i, "sha256": p["sha256"], "version": p["version"]})
        elif e["type"] == "model.registered" and (p["model_id"], p["version"]) not in seen:
            seen.add((p["model_id"], p["version"]))
            name = f"models/{p['model_id']}@{p['version']}.json"
            with open(os.path.join(out, name), "wb") as f:
                f.write(p["artifact"].encode())
            models.append({"artifact_sha256": p["artifact_sha256"], "file": name, "model_id": p["model_id"], "seq": i, "version": p["version"]})
    with open(os.path.join(out, "policies.json"), "wb") as f:
        f.write(vb.jcs_bytes(policies))
    with open(os.path.join(out, "models.json"), "wb") as f:
        f.write(vb.jcs_bytes(models))
    write_manifest(out, manifest, len(lines), root)
    return out


class ModelScenario(Scenario):
    """A third trial: the two hand-written models registered, a policy gating on both, NET-001's radiomics record
    (features that pass both gates), a score from outside, and NET-001's decision."""

    def __init__(self, binary, tmp):
        self.open(binary, tmp)
        tg, day = self.tg, self.day
        tg("init", "--trial", "RADIOMICS-V1")
        for model_id, text in (("audit-lr", LR_ARTIFACT), ("audit-tree", TREE_ARTIFACT)):
            for name, content in ((f"{model_id}.json", text), (f"{model_id}.card.json", json.dumps(model_card(model_id, text))),
                                  ("settings.yaml", MODEL_SETTINGS)):
                with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                    f.write(content)
            tg("model", "register", "--card", os.path.join(tmp, f"{model_id}.card.json"), "--artifact", os.path.join(tmp, f"{model_id}.json"),
               "--settings", os.path.join(tmp, "settings.yaml"))
        gate = '    when: {{model: {0}, versions: ["1.0.0"], require_qc: true, contrast_phase: portal_venous, max_age_days: 60}}'
        policy = ["policy: audit-models", 'version: "1.0.0"', "title: Model gates", "clinical_model: 2", "criteria:"]
        for cid, model_id in (("R1", "audit-lr"), ("R2", "audit-tree")):
            policy += [f"  - id: {cid}", "    kind: inclusion", f"    description: {model_id} at or above its threshold",
                       "    source: test fixture", gate.format(model_id)]
        with open(os.path.join(tmp, "policy.yaml"), "w") as f:
            f.write("\n".join(policy) + "\n")
        tg("policy", "publish", os.path.join(tmp, "policy.yaml"))
        tg("candidate", "register", "NET-001", "--site", "SITE-01")
        self.features = {"original_firstorder_Mean": {"value": 120.25, "unit": "[hnsf'U]"},
                         "original_shape_MeshVolume": {"value": 5000.5, "unit": "mm3"}}
        fields = {"study_date": day, "study_uid": "ST-1", "series_uid": "SE-1", "contrast_phase": "portal_venous",
                  "slice_thickness_mm": 2.5, "mask_sha256": "ab" * 32, "segmentation_reader": "reader-a",
                  "segmentation_method": "manual", "qc_status": "pass", "qc_reader": "reader-b", "qc_date": day,
                  "software": "pyradiomics 3.0.1", "settings_sha256": hashlib.sha256(MODEL_SETTINGS.encode()).hexdigest(),
                  "features": self.features}
        with open(os.path.join(tmp, "fields.json"), "w") as f:
            json.dump(fields, f)
        tg("record", "radiomics", "--candidate", "NET-001", "--fields-file", os.path.join(tmp, "fields.json"))
        lr = vb.parse_json(LR_ARTIFACT.encode())
        self.lp = vb.model_lp(lr, [120.25, 5000.5])
        tg("record", "model-score", "--candidate", "NET-001", "model=audit-lr", "version=1.0.0",
           f"artifact_sha256={hashlib.sha256(LR_ARTIFACT.encode()).hexdigest()}", f"score={vb.logistic(self.lp)!r}",
           "predicts=a test label", f"study_date={day}")
        self.decided = tg("decide", "NET-001")["seq"]
        tg("export", "--out", os.path.join(tmp, "bundle"), json_out=False)
        self.bundle = os.path.join(tmp, "bundle")
        with open(os.path.join(tmp, "t.sqlite.key"), "rb") as f:
            self.trial_key = load_pem_private_key(f.read(), None)
        self.events = read_events(self.bundle)
        gates = self.gates(self.events[self.decided - 1])
        if sorted(gates) != ["audit-lr", "audit-tree"] or any(g.get("verdict") != "pass" for g in gates.values()):
            raise RuntimeError(f"the decision's model gates are not two passes: {json.dumps(gates)}")

    @staticmethod
    def gates(decision_event):
        return {k[len("model."):]: v for c in decision_event["payload"]["decision"]["criteria"]
                for k, v in (c.get("observed") or {}).items() if k.startswith("model.")}

    def index(self, etype, n=0):
        return [i for i, e in enumerate(self.events) if e["type"] == etype][n]

    def bundle_of(self, events, keep_decisions=True):
        self.n += 1
        return forge(self.bundle, events, os.path.join(self.tmp, f"attack-{self.n}"), self.trial_key)


def run_model_tests(binary):
    results = []
    tmp = tempfile.mkdtemp(prefix="tg-models-")
    try:
        try:
            sc = ModelScenario(binary, tmp)
        except RuntimeError as err:
            check(False, f"the model scenario could not be built with {binary}: {err}")
            return results
        ev = sc.events
        LR, TREE = sc.index("model.registered", 0), sc.index("model.registered", 1)
        RAD, SCORE, DEC = sc.index("radiomics.recorded"), sc.index("model_score.recorded"), sc.decided - 1

        def expect(name, events, want):
            v = verify(sc.bundle_of(events))
            got = {(w, c) for w, c, _ in v.problems}
            wanted = {(f"event {s}" if isinstance(s, int) else s, c) for s, c in want}
            results.append(name)
            check(got == wanted, f"{name}: want {sorted(wanted)}, got " + "; ".join(f"{w}: {c}: {m}" for w, c, m in v.problems))

        def payload(i, **changes):
            """Event i with its payload changed (a value of None removes the member)."""
            p = copy.deepcopy(ev[i]["payload"])
            for k, v in changes.items():
                if v is None:
                    p.pop(k, None)
                else:
                    p[k] = v
            return ev[:i] + [dict(ev[i], payload=p)] + ev[i + 1:]

        def gate(model_id, **changes):
            """The decision with its model.<model_id> gate changed (re-signed by forge)."""
            d = copy.deepcopy(ev[DEC])
            for c in d["payload"]["decision"]["criteria"]:
                g = (c.get("observed") or {}).get(f"model.{model_id}")
                if g is not None:
                    g.update(changes)
            return ev[:DEC] + [d] + ev[DEC + 1:]

        def edited(events, i, change):
            """`events` with a copy of event i that `change` edits in place."""
            e = copy.deepcopy(events[i])
            change(e)
            return events[:i] + [e] + events[i + 1:]

        def criterion(cid, events=None, **changes):
            """The decision (of `events`, else the bundle's) with criterion `cid`'s members changed (re-signed by forge)."""
            def change(d):
                for c in d["payload"]["decision"]["criteria"]:
                    if c["id"] == cid:
                        c.update(changes)
            return edited(events or ev, DEC, change)

        def before_decision(*new):
            """The bundle's events with `new` events inserted just before the decision (which moves to DEC + 1 + len(new))."""
            return ev[:DEC] + list(new) + ev[DEC:]

        def radiomics(**changes):
            """A copy of the radiomics record with its payload changed."""
            return dict(ev[RAD], payload=dict(ev[RAD]["payload"], **changes))

        def registered(i, artifact=None, settings=None, **card):
            """Model event i with another artifact or settings text (its card's hashes updated to them) or card members."""
            p = copy.deepcopy(ev[i]["payload"])
            if artifact is not None:
                p["artifact"], p["artifact_sha256"] = artifact, hashlib.sha256(artifact.encode()).hexdigest()
            if settings is not None:
                p["extraction"]["settings"] = settings
                p["extraction"]["settings_sha256"] = hashlib.sha256(settings.encode()).hexdigest()
            p.update(card)
            return ev[:i] + [dict(ev[i], payload=p)] + ev[i + 1:]

        r = subprocess.run([sys.executable, os.path.join(REPO, "audit", "verify_bundle.py"), sc.bundle], capture_output=True, text=True)
        check(r.returncode == 0 and "2 registered models, 2 model gates and 1 model scores recomputed" in r.stdout,
              f"genuine model bundle: exit {r.returncode}: {r.stdout}{r.stderr}")
        results.append("genuine model bundle passes (command line: 2 models, 2 gates, 1 score recomputed)")
        expect("forged genuine model bundle passes", ev, set())
        lp = sc.gates(ev[DEC])["audit-lr"]["linear_predictor"]
        check(lp == sc.lp, f"trialgate's lp {lp!r} is not the verifier's {sc.lp!r}")
        tree_lp = vb.model_lp(vb.parse_json(TREE_ARTIFACT.encode()), [120.25, 5000.5])
        check(sc.gates(ev[DEC])["audit-tree"]["linear_predictor"] == tree_lp == 0.1 + 0.5 * 1.5,
              f"the tree's lp: trialgate {sc.gates(ev[DEC])['audit-tree']['linear_predictor']!r}, verifier {tree_lp!r}")
        results.append("trialgate's linear predictors (logistic and tree) equal the verifier's, bit for bit")

        # model.registered
        p = ev[LR]["payload"]
        expect("artifact edited, card hash kept", payload(LR, artifact=p["artifact"] + " "), {(LR + 1, "model_digest")})
        expect("settings edited, card hash kept", payload(LR, extraction=dict(p["extraction"], settings=MODEL_SETTINGS + "# x\n")),
               {(LR + 1, "model_digest")})
        # (The card's hash follows the malformed artifact, so the score and the decision, which name the genuine
        # artifact, no longer name the registered one.)
        lr_named = {(SCORE + 1, "model_artifact_mismatch"), (DEC + 1, "model_artifact_mismatch")}
        expect("artifact of an unknown kind (hashes updated)", registered(LR, artifact=LR_ARTIFACT.replace("logistic_regression", "svm")),
               {(LR + 1, "model_malformed")} | lr_named)
        expect("artifact with a member more", registered(LR, artifact=LR_ARTIFACT.replace('"intercept"', '"bias": 1, "intercept"')),
               {(LR + 1, "model_malformed")} | lr_named)
        expect("artifact with one mean too few", registered(LR, artifact=LR_ARTIFACT.replace("[80.5, 4000]", "[80.5]")),
               {(LR + 1, "model_malformed")} | lr_named)
        expect("tree whose child comes before its parent", registered(TREE, artifact=TREE_ARTIFACT.replace('"left": 1', '"left": 0')),
               {(TREE + 1, "model_malformed"), (DEC + 1, "model_artifact_mismatch")})
        expect("tree whose split names a feature it does not have", registered(TREE, artifact=TREE_ARTIFACT.replace('"feature": 0', '"feature": 2')),
               {(TREE + 1, "model_malformed"), (DEC + 1, "model_artifact_mismatch")})
        op = p["operating_point"]
        expect("operating point lp 1e-6 from the logit", registered(LR, operating_point=dict(op, threshold_lp=op["threshold_lp"] + 1e-6)),
               {(LR + 1, "model_malformed"), (DEC + 1, "model_operating_point")})
        expect("the same id@version registered again at the end of the log", ev + [ev[LR]], {(len(ev) + 1, "model_duplicate")})
        # A model registered with another artifact: the decision's gate then names an artifact that is not the registered one.
        other = LR_ARTIFACT.replace("-0.3", "-0.25")
        expect("another artifact registered under the decision's model", registered(LR, artifact=other),
               {(DEC + 1, "model_artifact_mismatch"), (DEC + 1, "model_lp_mismatch"), (SCORE + 1, "model_artifact_mismatch")})

        # model_score.recorded
        s = ev[SCORE]["payload"]
        expect("score 1e-6 from the recomputed probability", payload(SCORE, score=s["score"] + 1e-6), {(SCORE + 1, "model_score_mismatch")})
        expect("score 1e-10 from the recomputed probability: within 1e-9", payload(SCORE, score=s["score"] + 1e-10), set())
        expect("score naming an unregistered version", payload(SCORE, version="9.9.9"), {(SCORE + 1, "model_unregistered_version")})
        expect("score naming another artifact", payload(SCORE, artifact_sha256=ev[TREE]["payload"]["artifact_sha256"]),
               {(SCORE + 1, "model_artifact_mismatch")})
        expect("score of a study without features: not recomputed", payload(SCORE, study_date="2000-01-01", score=0.5), set())

        # decision.issued: the gate, re-signed by the key holder
        g = sc.gates(ev[DEC])["audit-lr"]
        expect("linear predictor one ulp off", gate("audit-lr", linear_predictor=math.nextafter(g["linear_predictor"], math.inf)),
               {(DEC + 1, "model_lp_mismatch")})
        expect("verdict fail where the lp passes (the result follows it)", criterion("R1", gate("audit-lr", verdict="fail"), result="fail"),
               {(DEC + 1, "model_verdict")})
        expect("verdict unknown and result unknown (allowed: the phase or the age may make it so)",
               criterion("R1", gate("audit-lr", verdict="unknown"), result="unknown"), set())
        expect("threshold not the card's", gate("audit-lr", threshold_lp=10.0), {(DEC + 1, "model_operating_point")})
        expect("gate naming an unregistered version", gate("audit-tree", version="2.0.0"), {(DEC + 1, "model_unregistered_version")})
        expect("gate naming another artifact", gate("audit-tree", artifact_sha256=ev[LR]["payload"]["artifact_sha256"]),
               {(DEC + 1, "model_artifact_mismatch")})
        expect("gate naming an event that is not a radiomics record", gate("audit-lr", features_event=ev[SCORE]["seq"]),
               {(DEC + 1, "model_features_event")})
        without = copy.deepcopy(ev[DEC])
        for c in without["payload"]["decision"]["criteria"]:
            (c.get("observed") or {}).get("model.audit-lr", {}).pop("qc_required", None)
        expect("gate without qc_required", ev[:DEC] + [without] + ev[DEC + 1:], {(DEC + 1, "model_gate_malformed")})
        # The features, edited after the fact (chain re-hashed, decision re-signed): its stated lp no longer follows.
        feats = copy.deepcopy(ev[RAD]["payload"]["features"])
        feats["original_firstorder_Mean"]["value"] = 99.0
        expect("a feature value edited (the tree's path changes too)", payload(RAD, features=feats),
               {(DEC + 1, "model_lp_mismatch"), (DEC + 1, "model_verdict"), (SCORE + 1, "model_score_mismatch")})
        feats = copy.deepcopy(ev[RAD]["payload"]["features"])
        feats["original_shape_MeshVolume"]["unit"] = "cm3"
        expect("a feature's unit edited", payload(RAD, features=feats), {(DEC + 1, "model_features_event"), (DEC + 1, "model_features_event")})
        expect("QC failed, the gate still passes", payload(RAD, qc_status="fail"), {(DEC + 1, "model_qc_not_passed")})
        expect("features extracted with other settings", payload(RAD, settings_sha256="cd" * 32), {(DEC + 1, "model_features_event")})

        # The features a gate cites: the candidate's newest of the gate's contrast phase before the decision.
        study_date = ev[RAD]["payload"]["study_date"]
        decided_on = ev[DEC]["payload"]["decision"]["decided_at"][:10]
        day = lambda n: (datetime.date.fromisoformat(study_date) + datetime.timedelta(days=n)).isoformat()  # noqa: E731
        expect("a newer image of the gate's phase recorded, the older one cited", before_decision(radiomics(study_date=day(1), qc_date=day(1))),
               {(DEC + 2, "model_features_not_newest")})
        expect("a later record of the same study date, the earlier one cited", before_decision(radiomics(qc_reader="reader-c")),
               {(DEC + 2, "model_features_not_newest")})
        expect("a later record of an older image: the cited one is still the newest", before_decision(radiomics(study_date=day(-30))), set())
        expect("a newer image of another phase: not the gate's", before_decision(radiomics(study_date=day(1), contrast_phase="arterial")), set())
        card_phase = lambda c: c.update(threshold=c["threshold"].replace("portal_venous contrast phase", "the card's contrast phase"))  # noqa: E731
        def cards_phase(events):
            return edited(events, DEC, lambda d: [card_phase(c) for c in d["payload"]["decision"]["criteria"]])
        expect("rule taking the card's phase, features of the card's phase", cards_phase(ev), set())
        expect("rule taking the card's phase, features of another phase", cards_phase(payload(RAD, contrast_phase="arterial")),
               {(DEC + 1, "model_features_event")})
        # The software the card was validated with (TrialGate's gate is unknown on any other).
        expect("features extracted with other software, the gates pass", payload(RAD, software="pyradiomics 3.1.0"),
               {(DEC + 1, "model_software")})
        def all_unknown(d):
            for c in d["payload"]["decision"]["criteria"]:
                c["result"] = "unknown"
                for g in c["observed"].values():
                    g["verdict"] = "unknown"
        expect("features extracted with other software, the gates unknown",
               edited(payload(RAD, software="pyradiomics 3.1.0"), DEC, all_unknown), set())
        # A criterion that is a gate alone: its result follows the gate's verdict.
        expect("result fail where the gate passes", criterion("R1", result="fail"), {(DEC + 1, "model_result")})
        expect("verdict unknown, result still pass", gate("audit-lr", verdict="unknown"), {(DEC + 1, "model_result")})
        expect("an exclusion that does not apply (result pass) where its gate passes", criterion("R1", kind="exclusion"),
               {(DEC + 1, "model_result")})
        expect("an exclusion that applies (result fail) where its gate passes", criterion("R1", kind="exclusion", result="fail"), set())
        expect("a skipped criterion: exempt", criterion("R1", result="skipped"), set())
        expect("a gate inside a combination: its result is not checked (only re-deriving the policy can)",
               criterion("R1", result="fail", threshold="not (" + ev[DEC]["payload"]["decision"]["criteria"][0]["threshold"] + ")"), set())
        no_member = lambda result: edited(criterion("R1", result=result), DEC, lambda d: d["payload"]["decision"]["criteria"][0]["observed"].clear())  # noqa: E731
        expect("the gate's member removed, the result still pass", no_member("pass"), {(DEC + 1, "model_gate_missing")})
        expect("the gate's member removed, the result unknown", no_member("unknown"), set())
        # The gate the criterion's signed rule text states.
        rule = ev[DEC]["payload"]["decision"]["criteria"][0]["threshold"]
        expect("qc_required false where the rule requires mask QC", gate("audit-lr", qc_required=False), {(DEC + 1, "model_rule")})
        expect("a rule without mask QC where the gate requires it", criterion("R1", threshold=rule.replace("; mask QC passed", "")),
               {(DEC + 1, "model_rule")})
        expect("a rule that states no gate on the gate's model", criterion("R1", threshold="tumour_grade in [\"G1\", \"G2\"]"),
               {(DEC + 1, "model_rule")})
        version_2 = dict(ev[LR], payload=dict(ev[LR]["payload"], version="2.0.0"))
        d = copy.deepcopy(ev[DEC])
        d["payload"]["decision"]["criteria"][0]["observed"]["model.audit-lr"]["version"] = "2.0.0"
        expect("a version registered but not one the rule accepts", ev[:DEC] + [version_2, d] + ev[DEC + 1:], {(DEC + 2, "model_rule")})
        age = lambda days: payload(RAD, study_date=(datetime.date.fromisoformat(decided_on) - datetime.timedelta(days=days)).isoformat())  # noqa: E731
        expect("an image 60 days before the decision: within the rule's 60", age(60), set())
        expect("an image 61 days before the decision, the gates pass", age(61), {(DEC + 1, "model_rule")})
        expect("features of another phase than the rule's", payload(RAD, contrast_phase="arterial"), {(DEC + 1, "model_rule")})

        # models/*.json
        bad = sc.bundle_of(ev)
        with open(os.path.join(bad, "models", "audit-lr@1.0.0.json"), "a") as f:
            f.write(" ")
        manifest = vb.parse_json(open(os.path.join(bad, "manifest.json"), "rb").read())
        manifest["files"]["models/audit-lr@1.0.0.json"] = hashlib.sha256(open(os.path.join(bad, "models", "audit-lr@1.0.0.json"), "rb").read()).hexdigest()
        with open(os.path.join(bad, "manifest.json"), "wb") as f:
            f.write(vb.jcs_bytes(manifest))
        v = verify(bad)
        check({(w, c) for w, c, _ in v.problems} == {("models/audit-lr@1.0.0.json", "model_file")},
              "models file edited: " + repr(v.problems))
        results.append("a models/*.json file edited (manifest updated)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


# --- Witness cosignatures on bundles --------------------------------------------------------------------------
#
# A bundle's newest checkpoint, checkpoint.note, carries the witnesses' cosignature lines after the log's own
# signature line; manifest.json may declare `witnesses` (vkeys) and `quorum`. The tests append lines made by
# cosign() to the checkpoint.note of a copy of the committed bundle legacy-10d079c/tour (and, with a binary, of a
# bundle it exports now), update its SHA-256 in the manifest, and assert the exact (place, code) problems.

def cosigned_bundle(base, out, lines, declared=None):
    """A copy of bundle `base` at `out` with `lines` appended to checkpoint.note and `declared` (witnesses, quorum)
    added to its manifest."""
    shutil.copytree(base, out)
    path = os.path.join(out, "checkpoint.note")
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(lines))
    manifest = vb.parse_json(open(os.path.join(out, "manifest.json"), "rb").read())
    manifest["files"]["checkpoint.note"] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    manifest.update(declared or {})
    with open(os.path.join(out, "manifest.json"), "wb") as f:
        f.write(vb.jcs_bytes(manifest))
    return out


def run_main(*argv):
    """verify_bundle's command line: (exit status, what it printed, to stdout and stderr)."""
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = vb.main([str(a) for a in argv])
    return status, out.getvalue()


def run_witness_tests(binary):
    results = []
    tmp = tempfile.mkdtemp(prefix="tg-witness-")
    try:
        bases = [os.path.join(FIX, "legacy-10d079c", "tour")]
        if binary:
            sc = Scenario.__new__(Scenario)
            sc.open(binary, tmp)
            sc.tg("init", "--trial", "WITNESS-1")
            sc.tg("export", "--out", os.path.join(tmp, "fresh"), json_out=False)
            bases.append(os.path.join(tmp, "fresh"))
        vk = {label: witness(label)[3] for label in ("w1", "w2", "w3", "w4")}
        trusted = [vb.parse_witness_vkey(vk[label]) for label in ("w1", "w2", "w3")]
        for b, base in enumerate(bases):
            label = "the committed tour bundle" if b == 0 else "a bundle exported now"
            with open(os.path.join(base, "checkpoint.note"), encoding="utf-8") as f:
                text = note_text(f.read())
            count = [0]

            def bundle(lines, declared=None):
                count[0] += 1
                return cosigned_bundle(base, os.path.join(tmp, f"b{b}-{count[0]}"), lines, declared)

            def expect(name, lines, want, given=trusted, quorum=None, cosigned=None, declared=None, max_age=None, now=None):
                """`given`: the --witness witnesses; `declared`: what the manifest declares ({witnesses, quorum});
                `max_age`, `now`: --max-age in seconds, measured at POSIX time `now`."""
                v = vb.Verifier(bundle(lines, declared), witnesses=given, quorum=quorum, max_age=max_age, now=now)
                try:
                    v.run()
                except Exception as err:
                    v.problem("bundle", "crashed", repr(err))
                got = {(where, code) for where, code, _ in v.problems}
                check(got == want, f"{name} ({label}): want {sorted(want)}, got {v.problems}")
                if cosigned is not None:
                    check(v.stats.get("cosigned") == cosigned, f"{name}: {v.stats.get('cosigned')} cosigned, want {cosigned}")
                results.append(f"{name} ({label})")
                return v

            QUORUM, INVALID = {("checkpoint.note", "witness_quorum")}, {("checkpoint.note", "cosignature_invalid")}
            w1, w2, w4 = cosign(text, "w1"), cosign(text, "w2", 1700000001), cosign(text, "w4")
            expect("a quorum of 2 of 3 met (and an unknown witness's line ignored)", [w1, w4, w2], set(), quorum=2, cosigned=2)
            v = expect("a quorum of 2 of 3 missed", [w1], QUORUM, quorum=2, cosigned=1)
            check("(witness.example/w1)" in v.problems[0][2], f"the quorum problem does not name who cosigned: {v.problems}")
            expect("all 3 witnesses by default, 2 cosigned", [w1, w2], QUORUM, cosigned=2)
            expect("no cosignature at all", [], QUORUM, quorum=1, cosigned=0)
            raw = bytearray(base64.b64decode(w2.split(" ")[2]))
            raw[40] ^= 1
            forged = w2.split(" ")[0] + " " + w2.split(" ")[1] + " " + base64.b64encode(bytes(raw)).decode() + "\n"
            expect("a forged cosignature (a flipped signature byte), though the quorum is met", [w1, forged], INVALID, quorum=1)
            # Another checkpoint of the log: the one before the newest, or (a log of one event) one claiming a size more.
            listed = [vb.parse_json(c) for c in open(os.path.join(base, "checkpoints.jsonl"), "rb").read().splitlines()]
            origin, size, root = vb.parse_checkpoint(text)
            other = [note_text(c["note"]) for c in listed if c["size"] < size][-1:] or [f"{origin}\n{size + 1}\n{base64.b64encode(root).decode()}\n"]
            expect("a cosignature over another checkpoint", [w1, cosign(other[0], "w2")], INVALID, quorum=1)
            expect("a cosignature of the checkpoint's text without its final newline", [w1, cosign(text[:-1], "w2")], INVALID, quorum=1)
            v = expect("a line of w2's name with another key id: not w2's, not counted", [w1, cosign(text, "w2", key_id=b"\x01\x02\x03\x04")],
                       QUORUM, quorum=2, cosigned=1)
            check("01020304" in v.problems[0][2], f"the quorum problem does not show the other key id: {v.problems}")
            expect("w1's line under w2's name (w1's key id kept): ignored", [w1, cosign(text, "w1", name="witness.example/w2")],
                   QUORUM, quorum=2, cosigned=1)
            expect("w1's cosignature relabelled with w2's name and key id: fails", [w1, cosign(text, "w1", key_id=bytes.fromhex(
                vk["w2"].split("+")[1]), name="witness.example/w2")], INVALID | QUORUM, quorum=2, cosigned=1)
            expect("one witness's two lines count once", [w1, cosign(text, "w1", 1700000100)], QUORUM, quorum=2, cosigned=1)
            expect("one witness's two lines, quorum 1", [w1, cosign(text, "w1", 1700000100)], set(), quorum=1, cosigned=1)
            # --max-age: a cosignature older than it does not count (a copy rolled back to a once-cosigned checkpoint).
            v = expect("--max-age: cosignatures an hour old, 30 minutes allowed", [w1, w2], QUORUM, quorum=2, cosigned=0,
                       max_age=1800, now=1700003600)
            check("too old: witness.example/w1, witness.example/w2" in v.problems[0][2], f"stale witnesses not named: {v.problems}")
            expect("--max-age: cosignatures an hour old, 2 hours allowed", [w1, w2], set(), quorum=2, cosigned=2, max_age=7200, now=1700003600)
            v = expect("--max-age: a cosignature dated an hour ahead of the clock does not count", [w1, cosign(text, "w2", 1700003600 + 3600)],
                       QUORUM, quorum=2, cosigned=1, max_age=7200, now=1700003600)
            check("ahead of this clock" in " ".join(v.notes), f"the future cosignature is not said: {v.notes}")
            expect("--max-age: 5 minutes ahead is a clock's skew, and counts", [w1, cosign(text, "w2", 1700003600 + 300)], set(), quorum=2,
                   cosigned=2, max_age=7200, now=1700003600)
            expect("--max-age: a witness's newest line counts", [w1, cosign(text, "w1", 1700003000), w2], QUORUM, quorum=2, cosigned=1,
                   max_age=1800, now=1700003600)
            expect("the largest timestamp allowed, 2^63 - 1", [cosign(text, "w1", 2**63 - 1)], set(), quorum=1, cosigned=1)
            expect("a timestamp of 2^63", [w1, cosign(text, "w2", 2**63)], INVALID, quorum=1, cosigned=1)
            short = w1.split(" ")[0] + " " + w1.split(" ")[1] + " " + base64.b64encode(base64.b64decode(w1.split(" ")[2])[:72]).decode() + "\n"
            expect("a cosignature of 72 bytes (no timestamp's worth)", [short, w2], INVALID, quorum=1, cosigned=1)
            plain = "\u2014 witness.example/w2 " + base64.b64encode(bytes.fromhex(vk["w2"].split("+")[1]) + witness("w2")[1].sign(text.encode())).decode() + "\n"
            expect("a plain Ed25519 note signature (68 bytes) with w2's cosigner key id", [w1, plain], INVALID, quorum=1, cosigned=1)
            expect("no witnesses: cosignature lines ignored, the log's signature still checked", [w1, forged], set(), given=None)

            # The witnesses the manifest declares, used when no --witness is given, and said to be the bundle's own.
            pair = [vk["w1"], vk["w2"]]
            v = expect("the manifest's witnesses and quorum, met", [w1, w2], set(), given=None, cosigned=2,
                       declared={"witnesses": pair, "quorum": 2})
            check(v.witnesses_declared and any("prove nothing against the operator" in note for note in v.notes),
                  f"declared witnesses not said to be the bundle's own: {v.notes}")
            expect("the manifest's witnesses, quorum 2, missed", [w1], QUORUM, given=None, cosigned=1,
                   declared={"witnesses": pair, "quorum": 2})
            expect("the manifest's witnesses, no quorum: all", [w1], QUORUM, given=None, declared={"witnesses": pair})
            expect("--witness replaces the manifest's", [w1, w2], QUORUM, given=[trusted[2]], declared={"witnesses": pair})
            v = expect("the manifest's quorum with --witness", [w1], set(), cosigned=1, declared={"witnesses": pair, "quorum": 1})
            check(v.quorum == 1 and any("manifest declares" in note for note in v.notes), f"the manifest's quorum: {v.quorum} {v.notes}")
            expect("the manifest's quorum above the witnesses given", [w1, w2], QUORUM, given=trusted[:2],
                   declared={"witnesses": [vk["w1"], vk["w2"], vk["w3"]], "quorum": 3})
            expect("a manifest witness of type 0x01", [w1], {("manifest.json", "witness_vkey")}, given=None,
                   declared={"witnesses": [open(glob.glob(os.path.join(base, "keys", "*.vkey"))[0]).read().strip(), vk["w1"]], "quorum": 1})
            expect("a manifest witness with a wrong key id", [w1], {("manifest.json", "witness_vkey")}, given=None,
                   declared={"witnesses": [vk["w1"], vk["w2"].replace(vk["w2"].split("+")[1], vk["w2"].split("+")[1][:7] + "x")], "quorum": 1})
            expect("manifest witnesses not a list", [w1], {("manifest.json", "witness_vkey")}, given=[trusted[0]],
                   declared={"witnesses": vk["w1"]})
            expect("a manifest quorum of 3 for 2 witnesses", [w1, w2], {("manifest.json", "witness_quorum")}, given=None,
                   declared={"witnesses": pair, "quorum": 3})
            expect("a manifest quorum of 0", [w1, w2], {("manifest.json", "witness_quorum")}, given=None,
                   declared={"witnesses": pair, "quorum": 0})

            # The command line.
            good = bundle([w1, w2], {"witnesses": pair, "quorum": 2})
            three = ["--witness", vk["w1"], "--witness", vk["w2"], "--witness", vk["w3"]]
            status, out = run_main(good, *three, "--quorum", 2)
            check(status == 0 and "2 of 3 witnesses cosigned the newest checkpoint (quorum 2)" in out, f"main, quorum met: {out}")
            status, out = run_main(good, *three)
            check(status == 0 and "(quorum 2)" in out and "the quorum 2 is the one the bundle's manifest declares" in out,
                  f"main, the manifest's quorum: {out}")
            status, out = run_main(bundle([w1, w2]), *three)
            check(status == 1 and "checkpoint.note: witness_quorum: 2 of the 3 witnesses" in out, f"main, quorum missed: {out}")
            status, out = run_main(good)
            check(status == 0 and "declared by the bundle itself" in out and "note: " in out, f"main, declared: {out}")
            listing = os.path.join(tmp, f"witnesses-{b}.txt")
            with open(listing, "w") as f:
                f.write(vk["w1"] + "\n\n" + vk["w2"] + "\n")
            status, out = run_main(good, "--witness", listing)
            check(status == 0 and "2 of 2 witnesses cosigned" in out, f"main, a file of witnesses: {out}")
            for argv in (["--witness", vk["w1"], "--quorum", 0], ["--witness", vk["w1"], "--quorum", 2], ["--quorum", 3],
                         ["--witness", vk["w1"].replace("+5557cb17+", "+5557cb18+")], ["--witness", vk["w1"], "--witness", renamed],
                         ["--witness", open(os.path.join(FIX, "notes", "c2sp-signed-note-example.vkey")).read().strip()]):
                status, out = run_main(good, *argv)
                check(status == 2, f"main {argv}: exit {status}, want 2 (usage): {out}")
            status, _ = run_main(bundle([w1]), "--quorum", 1)
            check(status == 2, "main --quorum without any witness: want 2 (usage)")
            results.append(f"the command line: --witness (keys and a file), --quorum, usage errors ({label})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


# --- Progress on a terminal ------------------------------------------------------------------------------------
#
# verify_bundle writes its progress line to stderr only when stderr is a terminal and --quiet is not given, and stdout
# is the same whatever stderr is. A fake terminal keeps what is written to it; one run has a real pseudo-terminal
# (POSIX only) as stderr. The bundles are small, so most runs lower Progress.every and Progress.interval to show a line
# for every event.

class FakeTerminal:
    """A stderr that says it is a terminal and keeps every write."""

    def __init__(self):
        self.writes = []

    def isatty(self):
        return True

    def write(self, text):
        self.writes.append(text)
        return len(text)

    def flush(self):
        pass


class GoneTerminal(FakeTerminal):
    """A terminal that went away: every write fails."""

    def write(self, text):
        raise OSError(5, "Input/output error")


def run_main_beside(stderr, *argv):
    """verify_bundle's command line with `stderr` as sys.stderr: (exit status, stdout)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(stderr):
        status = vb.main([str(a) for a in argv])
    return status, out.getvalue()


def read_pty(command):
    """Runs `command` with a new pseudo-terminal as its stderr and stdout a pipe: (exit status, stdout, terminal bytes)."""
    import pty
    master, slave = pty.openpty()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # Linux: EIO once no process holds the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    out = proc.stdout.read().decode()
    proc.stdout.close()
    return proc.wait(), out, shown


def run_progress_tests():
    results = []
    tmp = tempfile.mkdtemp(prefix="tg-progress-")
    every, interval = vb.Progress.every, vb.Progress.interval
    try:
        good = os.path.join(FIX, "legacy-10d079c", "tour")
        events = len(open(os.path.join(good, "events.jsonl"), "rb").read().splitlines())
        bad = os.path.join(tmp, "bad")
        shutil.copytree(good, bad)
        with open(os.path.join(bad, "keys.json"), "ab") as f:
            f.write(b" ")
        for bundle, want_status in ((good, 0), (bad, 1)):
            label = "a good bundle" if want_status == 0 else "a failing bundle"
            vb.Progress.every, vb.Progress.interval = every, interval
            pipe = io.StringIO()
            status, stdout = run_main_beside(pipe, bundle)
            check(status == want_status and stdout.startswith("OK: " if want_status == 0 else "FAILED: "), f"progress, {label}: {status} {stdout}")
            check(pipe.getvalue() == "", f"progress, {label}: written to a stderr that is not a terminal: {pipe.getvalue()!r}")
            terminal = FakeTerminal()
            got = run_main_beside(terminal, bundle)
            check(got == (status, stdout) and terminal.writes == [],
                  f"progress, {label}: a check quicker than Progress.interval wrote {terminal.writes} or changed stdout")
            results.append(f"progress: nothing on stderr, not a terminal or a quick check ({label})")

            vb.Progress.every, vb.Progress.interval = 1, 0
            pipe = io.StringIO()
            check(run_main_beside(pipe, bundle) == (status, stdout) and pipe.getvalue() == "",
                  f"progress, {label}, a line per event: written to a stderr that is not a terminal: {pipe.getvalue()!r}")
            terminal = FakeTerminal()
            got = run_main_beside(terminal, bundle)
            check(got == (status, stdout), f"progress, {label}: stdout beside a terminal differs: {got}")
            lines, last = terminal.writes[:-1], terminal.writes[-1:]
            check(len(lines) == events + 1 and last == ["\r\x1b[K"], f"progress, {label}: {len(lines)} lines, last write {last}")
            check(all(w.startswith("\r\x1b[Kverify_bundle: ") and " events/s, ETA " in w and "\n" not in w for w in lines),
                  f"progress, {label}: a line not in the form: {lines[:3]}")
            check(lines and lines[-1].startswith(f"\r\x1b[Kverify_bundle: {events} of {events} events, "),
                  f"progress, {label}: the last line is not {events} of {events}: {lines[-1:]}")
            results.append(f"progress: a line per event on a terminal, cleared at the end, stdout unchanged ({label})")
            terminal = FakeTerminal()
            got = run_main_beside(terminal, bundle, "--quiet")
            check(got == (status, stdout) and terminal.writes == [], f"progress, {label}, --quiet: {got} {terminal.writes}")
            results.append(f"progress: --quiet shows nothing on a terminal, stdout unchanged ({label})")
            got = run_main_beside(GoneTerminal(), bundle)
            check(got == (status, stdout), f"progress, {label}: a terminal gone away changed the result: {got}")
            results.append(f"progress: a terminal gone away changes nothing ({label})")

        if os.name == "posix":
            code = ("import sys; sys.path.insert(0, sys.argv[1]); import verify_bundle as vb; "
                    "vb.Progress.every, vb.Progress.interval = 1, 0; sys.exit(vb.main(sys.argv[2:]))")
            audit = os.path.dirname(os.path.abspath(__file__))
            status, stdout, shown = read_pty([sys.executable, "-c", code, audit, good])
            _, want = run_main_beside(io.StringIO(), good)
            check(status == 0 and stdout == want, f"progress, a pseudo-terminal: stdout {stdout!r}")
            parts = shown.split(b"\r\x1b[K")  # "", then a line per event, then "" after the clearing at the end
            check(len(parts) == events + 3 and parts[0] == parts[-1] == b"" and b"\n" not in shown
                  and parts[-2].startswith(f"verify_bundle: {events} of {events} events, ".encode()),
                  f"progress, a pseudo-terminal showed {shown[:80]!r}...{shown[-80:]!r}")
            status, stdout, shown = read_pty([sys.executable, "-c", code, audit, good, "--quiet"])
            check(status == 0 and stdout == want and shown == b"", f"progress, a pseudo-terminal, --quiet: {stdout!r} {shown!r}")
            results.append("progress: a real pseudo-terminal, with and without --quiet")
    finally:
        vb.Progress.every, vb.Progress.interval = every, interval
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def run_jobs_tests():
    """--jobs: worker processes (in chunks of 3 lines here) print what one process prints, on the committed tour bundle
    and on tampered copies of it, among them checkpoints whose signatures fail and a keys.json the workers cannot use."""
    results = []
    tmp = tempfile.mkdtemp(prefix="tg-jobs-")
    chunk = vb.CHUNK
    try:
        vb.CHUNK = 3
        good = os.path.join(FIX, "legacy-10d079c", "tour")

        def tampered(name, path, change):
            out = os.path.join(tmp, name)
            shutil.copytree(good, out)
            with open(os.path.join(out, path), "rb") as f:
                data = f.read()
            with open(os.path.join(out, path), "wb") as f:
                f.write(change(data))
            return out

        def lines(change):
            return lambda data: b"\n".join(change(i, line) for i, line in enumerate(data.split(b"\n")))

        def flip_signature(i, line):  # a checkpoint's signature, one base64 digit changed
            c = json.loads(line) if line else None
            if c and i % 2:
                sig = c["note"].rstrip("\n").rsplit(" ", 1)[1]
                c["note"] = c["note"].replace(sig, ("A" if sig[10] != "A" else "B").join((sig[:10], sig[11:])))
                return vb.jcs_bytes(c)
            return line

        bundles = [("the tour bundle", good),
                   ("an event changed", tampered("event", "events.jsonl", lines(lambda i, l: l.replace(b'"seq":', b'"seq": ') if i == 4 else l))),
                   ("an event not JSON", tampered("json", "events.jsonl", lines(lambda i, l: l[:-1] if i == 7 else l))),
                   ("checkpoint signatures changed", tampered("notes", "checkpoints.jsonl", lines(flip_signature))),
                   ("keys.json unreadable", tampered("keys", "keys.json", lambda data: b"[{]"))]
        for label, bundle in bundles:
            one = run_main(bundle, "--jobs", 1)
            for jobs in (2, 3):
                got = run_main(bundle, "--jobs", jobs)
                check(got == one, f"--jobs {jobs}, {label}: {got[1][:300]!r}, --jobs 1: {one[1][:300]!r}")
            check(one[0] == (0 if bundle == good else 1), f"--jobs 1, {label}: exit status {one[0]}")
            results.append(f"--jobs 2 and 3 print what --jobs 1 prints: {label}")
        check(run_main(good, "--jobs", 0)[0] == 2, "--jobs 0 is not refused")
    finally:
        vb.CHUNK = chunk
        shutil.rmtree(tmp, ignore_errors=True)
    return results


jobs_tests = run_jobs_tests()
vectors += f", {len(jobs_tests)} --jobs tests"
progress_tests = run_progress_tests()
vectors += f", {len(progress_tests)} progress tests"
binary = find_binary()
witness_tests = run_witness_tests(binary)
vectors += f", {len(witness_tests)} witness tests on " + ("the committed tour bundle and a fresh export" if binary else "the committed tour bundle")
if binary:
    bundle_tests = run_bundle_tests(binary) + run_rotation_tests(binary)
    model_tests = run_model_tests(binary) if "\n  model " in subprocess.run([binary, "--help"], capture_output=True, text=True).stdout else None
    summary = f"{vectors}; {len(bundle_tests)} sign-off, attestation and signer-rotation bundle tests with {binary}"
    if model_tests is None:
        summary += "; model tests SKIPPED: the binary has no `model` command"
    else:
        summary += f"; {len(model_tests)} model bundle tests"
        bundle_tests += model_tests
else:
    bundle_tests = []
    summary = f"{vectors}; sign-off, attestation and signer-rotation bundle tests SKIPPED: no trialgate binary (set TRIALGATE_BIN or build .build/debug/trialgate)"

if failures:
    print(f"FAILED: {len(failures)} checks")
    for f in failures[:40]:
        print("  " + f)
    sys.exit(1)
if "-v" in sys.argv[1:]:
    for t in jobs_tests + progress_tests + witness_tests + bundle_tests:
        print(f"  ok  {t}")
print(f"OK: {summary}")
