#!/usr/bin/env python3
"""Independent verifier for TrialGate audit bundles (`trialgate export --out DIR`).

Shares no code with TrialGate. Needs Python 3.9+ and the `cryptography` package (for Ed25519 only):

    python3 -m pip install cryptography
    python3 audit/verify_bundle.py BUNDLE_DIR [--vkey VKEY_OR_FILE] [--checkpoint SAVED.note]

It checks, from the files alone: the manifest's SHA-256 of every file; that every event is in RFC 8785
canonical form, numbered without gaps and chained by SHA-256; the RFC 6962 Merkle root against every
checkpoint; every checkpoint's C2SP signed-note signature with the key then in force; every key rotation's
two signatures; every decision's Ed25519 signature, key and log position; every decision's inclusion proof
(RFC 9162); the key and policy files. Exit status 0 when everything holds, 1 when anything does not (each
problem is printed), 2 for bad usage.
"""

import argparse
import base64
import hashlib
import json
import math
import os
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

GENESIS = "0" * 64
SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")  # RFC 8410 SubjectPublicKeyInfo for Ed25519


# --- RFC 8785 (JCS) -----------------------------------------------------------------------------------------

def _reject_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise ValueError(f"duplicate key {k!r}")
        seen[k] = v
    return seen


def parse_json(data: bytes):
    return json.loads(data.decode("utf-8"), object_pairs_hook=_reject_duplicates)


def es6_number(x) -> str:
    """ECMAScript Number::toString, as RFC 8785 section 3.2.2.3 requires."""
    if isinstance(x, bool):
        raise ValueError("not a number")
    if isinstance(x, int):
        if abs(x) < 2**53:
            return str(x)
        x = float(x)
    if math.isnan(x) or math.isinf(x):
        raise ValueError("NaN and Infinity are not JSON")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    x = abs(x)
    # repr gives the shortest digits that round-trip, like ECMAScript; re-place the decimal point its way.
    mantissa, _, exp = repr(x).partition("e")
    digits = mantissa.replace(".", "")
    point = mantissa.index(".") if "." in mantissa else len(mantissa)
    n = point + (int(exp) if exp else 0)  # value = 0.digits * 10^n
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    es = f"e+{e}" if e >= 0 else f"e-{-e}"
    if k == 1:
        return sign + digits + es
    return sign + digits[0] + "." + digits[1:] + es


def _jcs_string(s: str) -> str:
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif c < 0x20:
            out.append(f"\\u{c:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def jcs(v) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return es6_number(v)
    if isinstance(v, str):
        return _jcs_string(v)
    if isinstance(v, list):
        return "[" + ",".join(jcs(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v.keys(), key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(_jcs_string(k) + ":" + jcs(v[k]) for k in keys) + "}"
    raise ValueError(f"not JSON: {type(v)}")


def jcs_bytes(v) -> bytes:
    return jcs(v).encode("utf-8")


# --- RFC 6962 / RFC 9162 Merkle tree ----------------------------------------------------------------------

def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class Frontier:
    """The right border of the tree: one perfect-subtree hash per level."""

    def __init__(self):
        self.border = []
        self.size = 0

    def append(self, h: bytes):
        level = 0
        while level < len(self.border) and self.border[level] is not None:
            h = node_hash(self.border[level], h)
            self.border[level] = None
            level += 1
        if level == len(self.border):
            self.border.append(h)
        else:
            self.border[level] = h
        self.size += 1

    def root(self) -> bytes:
        acc = None
        for h in self.border:
            if h is not None:
                acc = h if acc is None else node_hash(h, acc)
        return acc if acc is not None else hashlib.sha256(b"").digest()


def verify_inclusion(index: int, size: int, leaf: bytes, proof, root: bytes) -> str:
    """RFC 9162 section 2.1.3.2. Returns "" when the proof holds, else why not."""
    if index < 0 or index >= size:
        return f"leaf index {index} is not below tree size {size}"
    if len(leaf) != 32:
        return "the leaf hash is not 32 bytes"
    if any(len(p) != 32 for p in proof):
        return "a proof hash is not 32 bytes"
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return "the proof is too long"
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return "the proof is too short"
    if r != root:
        return "the proof does not lead to the checkpoint's root"
    return ""


# --- C2SP signed notes and checkpoints --------------------------------------------------------------------

def note_key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n\x01" + public_key).digest()[:4]


def vkey_of(name: str, public_key: bytes) -> str:
    encoded = base64.b64encode(b"\x01" + public_key).decode()
    return f"{name}+{note_key_id(name, public_key).hex()}+{encoded}"


def parse_vkey(text: str):
    name, kid, key = text.strip().split("+", 2)
    raw = base64.b64decode(key, validate=True)
    if len(raw) != 33 or raw[0] != 1:
        raise ValueError("not an Ed25519 vkey")
    if note_key_id(name, raw[1:]).hex() != kid:
        raise ValueError("vkey id does not match its name and key")
    return name, raw[1:]


def open_note(note: str, keys):
    """Returns the note text if a known key signed it and no known key's signature fails; else raises."""
    if not note.endswith("\n") or "\n\n" not in note:
        raise ValueError("not a signed note")
    text, _, sigs = note.rpartition("\n\n")
    text += "\n"
    verified = 0
    for line in sigs[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise ValueError("bad signature line")
        name, b64sig = line[2:].split(" ")
        raw = base64.b64decode(b64sig, validate=True)
        for kname, pk in keys:
            if kname == name and note_key_id(kname, pk) == raw[:4]:
                Ed25519PublicKey.from_public_bytes(pk).verify(raw[4:], text.encode())  # raises InvalidSignature
                verified += 1
    if not verified:
        raise ValueError("no signature by a known key")
    return text


def parse_checkpoint(text: str):
    lines = text.split("\n")[:-1]
    if len(lines) < 3 or not lines[0] or lines[1] != str(int(lines[1])):
        raise ValueError("not a tlog-checkpoint")
    root = base64.b64decode(lines[2], validate=True)
    if len(root) != 32:
        raise ValueError("checkpoint root is not 32 bytes")
    return lines[0], int(lines[1]), root


def ed25519_ok(public_key: bytes, signature_b64: str, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(base64.b64decode(signature_b64, validate=True), message)
        return True
    except (InvalidSignature, ValueError):
        return False


def trialgate_key_id(public_key: bytes) -> str:
    return hashlib.sha256(SPKI_PREFIX + public_key).hexdigest()[:16]


# --- the bundle ----------------------------------------------------------------------------------------------

class Verifier:
    def __init__(self, directory, trusted=None, saved_checkpoint=None):
        self.dir = directory
        self.trusted = trusted or []
        self.saved = saved_checkpoint
        self.problems = []
        self.stats = {"events": 0, "checkpoints": 0, "decision_signatures": 0, "rotations": 0, "inclusion_proofs": 0}

    def problem(self, where, code, message):
        self.problems.append((where, code, message))

    def read(self, path):
        try:
            with open(os.path.join(self.dir, path), "rb") as f:
                return f.read()
        except OSError:
            return None

    def run(self):
        manifest_bytes = self.read("manifest.json")
        try:
            manifest = parse_json(manifest_bytes)
            assert manifest["format"] == "trialgate.audit-bundle/1"
            files = manifest["files"]
        except Exception:
            self.problem("bundle", "manifest", "manifest.json is missing or is not a trialgate.audit-bundle/1 manifest")
            return
        for path, want in sorted(files.items()):
            data = self.read(path)
            if data is None:
                self.problem("bundle", "manifest", f"{path} is listed but missing")
            elif hashlib.sha256(data).hexdigest() != want:
                self.problem("bundle", "manifest", f"{path} does not have the SHA-256 the manifest lists")
        for root, _, names in os.walk(self.dir):
            for n in names:
                rel = os.path.relpath(os.path.join(root, n), self.dir).replace(os.sep, "/")
                if rel != "manifest.json" and rel not in files:
                    self.problem("bundle", "manifest", f"{rel} is in the bundle but not in the manifest")

        checkpoints = {}
        for line in (self.read("checkpoints.jsonl") or b"").splitlines():
            c = parse_json(line)
            checkpoints[c["size"]] = c["note"]

        saved = None
        if self.saved is not None:
            try:
                saved = parse_checkpoint(self.saved.rpartition("\n\n")[0] + "\n")
            except Exception as e:
                self.problem("saved checkpoint", "checkpoint_malformed", str(e))

        events = (self.read("events.jsonl") or b"").split(b"\n")
        if events and events[-1] == b"":
            events.pop()
        frontier = Frontier()
        prev_hash = GENESIS
        origin = None
        trial_id = None
        keys = []  # (seq, key_id, raw public key)
        leaves = {}
        decisions = {}
        policies = {}
        root_at_saved = None
        for n, line in enumerate(events, start=1):
            where = f"event {n}"
            try:
                e = parse_json(line)
            except Exception as err:
                self.problem(where, "invalid_event", f"not JSON: {err}")
                return
            if jcs_bytes(e) != line:
                self.problem(where, "not_canonical", "the bytes are not the RFC 8785 form of the event")
            if e.get("seq") != n:
                self.problem(where, "chain_broken", f"seq is {e.get('seq')}, expected {n}")
            if e.get("prev_hash") != prev_hash:
                self.problem(where, "chain_broken", "prev_hash is not the SHA-256 of the previous event")
            prev_hash = hashlib.sha256(line).hexdigest()
            leaf = leaf_hash(line)
            frontier.append(leaf)
            self.stats["events"] += 1
            etype, p = e.get("type"), e.get("payload") or {}
            if etype == "trial.initialised":
                if n != 1:
                    self.problem(where, "invalid_event", "trial.initialised is not the first event")
                origin, trial_id = p.get("log_origin"), p.get("trial_id")
                raw = base64.b64decode(p.get("public_key", ""))
                if trialgate_key_id(raw) != p.get("key_id"):
                    self.problem(where, "bad_key", "key_id is not derived from the public key")
                keys.append((n, p.get("key_id"), raw))
            elif etype == "key.rotated":
                self.check_rotation(n, e, p, keys, trial_id, origin)
            elif etype == "policy.published":
                if hashlib.sha256(p.get("text", "").encode()).hexdigest() != p.get("sha256"):
                    self.problem(where, "policy_digest", "the policy text does not hash to its recorded sha256")
                policies[n] = p
            elif etype == "decision.issued":
                self.check_decision(n, e, p, keys, prev_hash_before=e.get("prev_hash"))
                leaves[n] = leaf
                decisions[n] = p
            if saved and frontier.size == saved[1]:
                root_at_saved = frontier.root()
            if frontier.size in checkpoints:
                self.check_checkpoint(frontier.size, checkpoints[frontier.size], frontier.root(), origin, keys)
        size = frontier.size
        for s in checkpoints:
            if s > size:
                self.problem(f"checkpoint {s}", "checkpoint_beyond_log", f"a checkpoint of size {s} exists but the bundle has {size} events")

        history = [(origin, k[2]) for k in keys]
        latest = self.read("checkpoint.note")
        if latest is None:
            self.problem("bundle", "manifest", "checkpoint.note is missing")
        else:
            note = latest.decode("utf-8")
            try:
                o, s, r = parse_checkpoint(open_note(note, history[-1:]))
                if (o, s, r) != (origin, size, frontier.root()):
                    self.problem("checkpoint.note", "checkpoint_root", f"checkpoint.note (size {s}) does not match the {size} events")
            except Exception as err:
                self.problem("checkpoint.note", "checkpoint_signature", f"does not verify with the key in force: {err!r}")
            # Trust follows the key history: each rotation was checked to be signed by the key before it.
            if self.trusted and not any((origin, k[2]) in self.trusted for k in keys):
                self.problem("checkpoint.note", "untrusted_key", "no key of the bundle's history is a trusted key; its keys are "
                             + ", ".join(vkey_of(origin, k[2]) for k in keys))
        if saved:
            try:
                open_note(self.saved, self.trusted or history)
            except Exception:
                self.problem("saved checkpoint", "checkpoint_signature", "not signed by a trusted key or a key of the bundle's history")
            if saved[1] > size:
                self.problem("saved checkpoint", "log_truncated", f"it covers {saved[1]} events, the bundle has {size}: truncated or rolled back")
            elif root_at_saved != saved[2]:
                self.problem("saved checkpoint", "log_forked", f"the first {saved[1]} events do not have the root it signed")

        listed = set()
        for line in (self.read("decisions.jsonl") or b"").splitlines():
            d = parse_json(line)
            seq = d["seq"]
            listed.add(seq)
            where = f"event {seq}"
            if seq not in decisions:
                self.problem(where, "decision_not_in_log", "decisions.jsonl lists it but it is not a decision in events.jsonl")
                continue
            if d.get("decision") != decisions[seq].get("decision") or d.get("signature") != decisions[seq].get("signature"):
                self.problem(where, "decision_mismatch", "decisions.jsonl differs from the logged decision")
            inc = d.get("inclusion") or {}
            tree_size = inc.get("tree_size")
            if tree_size not in checkpoints:
                self.problem(where, "inclusion", f"proved against size {tree_size}, which has no checkpoint")
                continue
            _, _, root = parse_checkpoint(checkpoints[tree_size].rpartition("\n\n")[0] + "\n")
            why = verify_inclusion(seq - 1, tree_size, leaves[seq], [base64.b64decode(h) for h in inc.get("proof", [])], root)
            if why:
                self.problem(where, "inclusion", why)
            else:
                self.stats["inclusion_proofs"] += 1
        for seq in sorted(set(decisions) - listed):
            self.problem(f"event {seq}", "decision_missing", "the decision is not in decisions.jsonl")

        try:
            listed_keys = parse_json(self.read("keys.json"))
            if [(k["key_id"], base64.b64decode(k["public_key"])) for k in listed_keys] != [(k[1], k[2]) for k in keys]:
                self.problem("keys.json", "keys_mismatch", "not the key history the log records")
            for k in listed_keys:
                pem = load_pem_public_key(self.read(k["pem_file"]))
                if pem.public_bytes(Encoding.Raw, PublicFormat.Raw) != base64.b64decode(k["public_key"]):
                    self.problem(k["pem_file"], "keys_mismatch", "the PEM file holds another key")
        except Exception as err:
            self.problem("keys.json", "keys_mismatch", f"missing or unreadable: {err!r}")
        try:
            listed_policies = parse_json(self.read("policies.json"))
            if sorted(p["seq"] for p in listed_policies) != sorted(policies):
                self.problem("policies.json", "policy_file", "does not list exactly the published policies")
            for p in listed_policies:
                text = self.read(p["file"])
                published = policies.get(p["seq"], {})
                if text is None or text != published.get("text", "").encode() or hashlib.sha256(text).hexdigest() != published.get("sha256"):
                    self.problem(p["file"], "policy_file", f"is not the policy text published in event {p['seq']}")
        except Exception as err:
            self.problem("policies.json", "policy_file", f"missing or unreadable: {err!r}")
        self.stats["size"] = size
        self.stats["root"] = base64.b64encode(frontier.root()).decode()

    def key_at(self, keys):
        return keys[-1] if keys else None

    def check_rotation(self, n, e, p, keys, trial_id, origin):
        where = f"event {n}"
        old = self.key_at(keys)
        new_raw = base64.b64decode(p.get("public_key", ""))
        if old is None or p.get("previous_key_id") != old[1]:
            self.problem(where, "bad_signature", "the rotation does not name the key in force")
            return
        if trialgate_key_id(new_raw) != p.get("key_id"):
            self.problem(where, "bad_key", "the new key_id is not derived from the new public key")
        statement = jcs_bytes({
            "format": "trialgate.key-rotation/1", "trial_id": trial_id, "log_origin": origin,
            "previous_key_id": old[1], "public_key": p.get("public_key"), "key_id": p.get("key_id"),
            "log": {"size": n - 1, "head": e.get("prev_hash")},
        })
        if not ed25519_ok(old[2], p.get("signature", ""), statement):
            self.problem(where, "bad_signature", "the rotation is not signed by the key in force")
        if not ed25519_ok(new_raw, p.get("new_key_signature", ""), statement):
            self.problem(where, "bad_signature", "the rotation is not signed by the new key")
        keys.append((n, p.get("key_id"), new_raw))
        self.stats["rotations"] += 1

    def check_decision(self, n, e, p, keys, prev_hash_before):
        where = f"event {n}"
        d = p.get("decision") or {}
        key = self.key_at(keys)
        if key is None or d.get("key_id") != key[1]:
            self.problem(where, "bad_signature", "the decision does not name the key in force")
        elif not ed25519_ok(key[2], p.get("signature", ""), jcs_bytes(d)):
            self.problem(where, "bad_signature", "the decision's Ed25519 signature does not verify with the key in force")
        else:
            self.stats["decision_signatures"] += 1
        if d.get("candidate") != e.get("candidate"):
            self.problem(where, "decision_context", "the decision names another candidate than its event")
        log = d.get("log") or {}
        if log.get("size") != n - 1 or log.get("head") != prev_hash_before:
            self.problem(where, "decision_context", "the decision does not name the log position it was appended at")

    def check_checkpoint(self, size, note, root, origin, keys):
        where = f"checkpoint {size}"
        self.stats["checkpoints"] += 1
        key = self.key_at(keys)
        try:
            o, s, r = parse_checkpoint(open_note(note, [(origin, key[2])]))
        except Exception as err:
            self.problem(where, "checkpoint_signature", f"not signed by the key in force at size {size}: {err!r}")
            return
        if o != origin or s != size:
            self.problem(where, "checkpoint_mismatch", f"says {o} size {s}")
        if r != root:
            self.problem(where, "checkpoint_root", "its root is not the root of the bundle's events at that size")


def main(argv=None):
    ap = argparse.ArgumentParser(description="Verify a TrialGate audit bundle without TrialGate.")
    ap.add_argument("bundle", help="the directory written by `trialgate export --out`")
    ap.add_argument("--vkey", help="a C2SP vkey (or a file holding one) the newest checkpoint must be signed by")
    ap.add_argument("--checkpoint", help="a signed checkpoint saved earlier that the bundle must extend")
    args = ap.parse_args(argv)
    if not os.path.isdir(args.bundle):
        print(f"verify_bundle: {args.bundle} is not a directory", file=sys.stderr)
        return 2
    trusted = []
    if args.vkey:
        text = open(args.vkey).read() if os.path.isfile(args.vkey) else args.vkey
        try:
            trusted = [parse_vkey(text)]
        except Exception as err:
            print(f"verify_bundle: --vkey: {err}", file=sys.stderr)
            return 2
    saved = open(args.checkpoint, encoding="utf-8").read() if args.checkpoint else None
    v = Verifier(args.bundle, trusted, saved)
    try:
        v.run()
    except Exception as err:  # a malformed file anywhere is a failed check, not a crash
        v.problem("bundle", "malformed", repr(err))
    s = v.stats
    if v.problems:
        print(f"FAILED: {args.bundle}")
        for where, code, message in v.problems:
            print(f"  {where}: {code}: {message}")
        return 1
    print(f"OK: {s['events']} events canonical and chained, {s['checkpoints']} checkpoints signed with matching roots, "
          f"{s['decision_signatures']} decision signatures, {s['rotations']} key rotations, {s['inclusion_proofs']} inclusion proofs; "
          f"size {s['size']}, root {s['root']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
