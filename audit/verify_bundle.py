#!/usr/bin/env python3
"""Independent verifier for TrialGate audit bundles (`trialgate export --out DIR`).

Shares no code with TrialGate. Needs Python 3.9+ and the `cryptography` package (for Ed25519 only):

    python3 -m pip install cryptography
    python3 audit/verify_bundle.py BUNDLE_DIR [--vkey VKEY_OR_FILE] [--checkpoint SAVED.note]
                                   [--witness VKEY_OR_FILE ...] [--quorum K] [--max-age AGE] [--quiet]
                                   [--jobs N]

It checks, from the files alone: the manifest's SHA-256 of every file; that every event is in RFC 8785
canonical form, numbered without gaps and chained by SHA-256; the RFC 6962 Merkle root against every
checkpoint; every checkpoint's C2SP signed-note signature with the key then in force; every key rotation's
two signatures; every decision's Ed25519 signature, key and log position; every investigator's sign-off
(`decision.signed`: rules 1-8 of docs/decision-format.md, including its Ed25519 signature with the key the
investigator's account holds at that event); every investigator's signed attestation (`attestation.recorded` of event schema 3:
the statement rebuilt from the event, signed by the acting investigator at the candidate's site within 5 minutes of
the log's time, with the key their account holds then, and never the target of a correction); every investigator's
signer rotation (`user.signer_rotated`, schema 3: an investigator's account, not removed, takes a new Ed25519 key whose
key_id names it and a new signing-code digest; no public key, token digest or signing-code digest is ever held twice
by a log, `user.added` included), after which their statements must name and verify with the new key (earlier ones
were checked with the key then in force); that schema versions never go down and that sign-offs, queries, signer
rotations and investigators appear only from schema 3 (older logs' attestations are unsigned and stay valid); the
rules of signed and recorded text: signatures of sign-offs and attestations only in canonical base64, a signed attestation
recorded once per candidate, no override into eligibility while the decision needs an attestation, reasons,
attestation statements and query texts plain text (no control, invisible or direction characters; limits), printed
names plain, without parentheses and never another account's; every decision's inclusion proof (RFC 9162); the key
and policy files; models as evidence (docs/model-evidence.md): every registered model's hashes, artifact structure
and operating point, every score of a registered model against the probability recomputed from the recorded
features, and every decision's model gate, its linear predictor recomputed bit for bit from the features and the
registered artifact, its operating point, verdict and QC, that it cites the candidate's newest features of its
contrast phase, extracted with the card's software, that it is the gate its criterion's signed rule text states, and
that a criterion which is a gate alone has the result the gate gives; and the model files. With witnesses (`--witness`,
else the ones the manifest declares, which prove nothing against the operator), that at least K of them (`--quorum`,
else the manifest's `quorum`, else all) cosigned the newest checkpoint, `checkpoint.note`: C2SP tlog-cosignature
Ed25519 `cosignature/v1` lines after the log's own signature line, each at most `--max-age` old when given. It re-derives no decision from its policy (for any
criterion): `trialgate verify` and `trialgate verify --bundle` do.
Exit status 0 when everything holds, 1 when anything does not (each problem is printed), 2 for bad usage.
While it checks the events, a terminal's stderr shows how many are done, the rate and the time left (not with --quiet).
"""

import argparse
import base64
import collections
import concurrent.futures
import datetime
import gc
import hashlib
import json
import math
import os
import re
import struct
import sys
import time
import unicodedata

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

GENESIS = "0" * 64
SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")  # RFC 8410 SubjectPublicKeyInfo for Ed25519
SIGNOFF_FORMAT = "trialgate.signoff/1"
SIGNOFF_SKEW_MS = 5 * 60 * 1000  # rule 7: |signed_at - event time| <= 5 minutes (sign-offs and attestations)
ATTESTATION_FORMAT = "trialgate.attestation/1"
SCHEMA_VERSIONS = (1, 2, 3)  # event schema versions this verifier knows
SIGNED_ATTESTATIONS_FROM = 3  # schema 3: an attestation is an investigator's signed statement
# Event types (and investigators' accounts) that exist only from schema 3.
# The events a row of an import file can become (`ImportKind` in the Swift sources): a registration, or a record of
# any kind but an attestation, which is an investigator's own statement.
IMPORTABLE_TYPES = frozenset({"candidate.registered", "imaging.recorded", "ki67.recorded", "mitotic_count.recorded", "sstr.recorded",
                              "model_score.recorded", "radiomics.recorded", "clinical.recorded", "pathology.recorded"})
SCHEMA_3_TYPES = ("decision.signed", "query.opened", "query.answered", "query.closed", "user.signer_rotated", "records.imported")
SIGNER_ROTATION_FIELDS = {"name", "public_key", "key_id", "signing_sha256"}  # a user.signer_rotated payload, exactly
_HEX64 = re.compile(r"[0-9a-f]{64}")


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
    """A string as RFC 8785 writes it (section 3.2.2.2, ECMAScript's JSON.stringify): json.dumps with ensure_ascii=False
    writes exactly this (condition 3 of jcs_fast below), in C; _jcs_string_reference is the same rule written out,
    and test_verify_bundle.py checks the two agree on every code point and on generated strings. (json.encoder's
    encode_basestring is the string writer json.dumps calls with ensure_ascii=False.)"""
    return json.encoder.encode_basestring(s)


def _jcs_string_reference(s: str) -> str:
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
        # RFC 8785 sorts keys by UTF-16 code units: the same order as code points unless a key holds a surrogate or
        # a character above U+FFFF (jcs_fast, condition 2).
        keys = sorted(v)
        if _NOT_BMP_TEXT.search("".join(keys)):
            keys.sort(key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(_jcs_string(k) + ":" + jcs(v[k]) for k in keys) + "}"
    raise ValueError(f"not JSON: {type(v)}")


def jcs_bytes(v) -> bytes:
    """The RFC 8785 bytes of `v`: json.dumps's when they are provably the same (jcs_fast), else jcs's."""
    text = jcs_fast(v)
    return (jcs(v) if text is None else text).encode("utf-8")


# A fast path. json.dumps(v, ensure_ascii=False, separators=(",", ":"), sort_keys=True) writes exactly what jcs(v)
# writes when three conditions hold, and jcs_fast checks all three:
#   1. numbers: `v` holds no int of magnitude 2^53 or more, and no float but a non-integral one of magnitude 1e-4 up
#      to 1e16. Below 2^53 both write str(int). For a float, both write the shortest digits that read back as the
#      same double (ECMAScript Number::toString, step 5; Python's repr since 3.1), and both write them in fixed
#      notation without an exponent inside that range (Python leaves it below 1e-4 or from 1e16, ECMAScript below 1e-6
#      or from 1e21); an integral float is where they differ (1.0 against 1), and outside the range the exponent's
#      form (1e-05 against 0.00001, 1e+16 against 10000000000000000). NaN and Infinity are outside it.
#   2. key order: no key holds a character above U+FFFF. RFC 8785 sorts keys by UTF-16 code units, Python by code
#      points; the two orders are the same for keys of the Basic Multilingual Plane and differ only for an astral
#      character (a surrogate pair, D800-DFFF) against U+E000-U+FFFF. The output is checked rather than the keys:
#      with ensure_ascii=False json.dumps writes every character above U+FFFF as itself, so none in the output
#      means none in any key (nor any string: a value with one takes the slow path, which is rare and still right).
#   3. strings: both escape '"' and '\\' with a backslash, U+0008, U+0009, U+000A, U+000C and U+000D as \b \t \n \f
#      \r, every other character below U+0020 as \u00xx in lowercase hex, and write every other character as itself
#      (DEL, U+2028 and U+2029 included). A lone surrogate (D800-DFFF) cannot be written as UTF-8 by either; the output
#      is checked for one too, so that the slow path raises the error it always raised.
# test_verify_bundle.py compares the two paths character by character and on generated values.
_NOT_BMP_TEXT = re.compile("[\ud800-\udfff\U00010000-\U0010ffff]")
_INT_LIMIT = 2**53


def _json_writes_jcs(v) -> bool:
    """Condition 1 of jcs_fast: only str, bool, None, int below 2^53 in magnitude, non-integral floats of magnitude
    1e-4 up to 1e16, lists and dicts (exactly those types, as json.loads makes them; a subclass takes the slow
    path)."""
    t = type(v)
    if t is str or t is bool or v is None:
        return True
    if t is int:
        return -_INT_LIMIT < v < _INT_LIMIT
    if t is float:
        return 1e-4 <= abs(v) < 1e16 and not v.is_integer()
    if t is dict:
        return all(map(_json_writes_jcs, v.values()))  # keys are str: json.loads makes no other
    if t is list:
        return all(map(_json_writes_jcs, v))
    return False


def jcs_fast(v):
    """The RFC 8785 text of `v` by json.dumps, or None when jcs_fast's conditions do not hold (then use jcs)."""
    if not _json_writes_jcs(v):
        return None
    text = json.dumps(v, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    if _NOT_BMP_TEXT.search(text):
        return None
    return text


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


def split_note(note: str):
    """A signed note's text (up to its last blank line, with the text's final newline) and its signature lines, each
    as (key name, decoded bytes); raises ValueError when it is not a signed note. A note may carry several signature
    lines (the log's, then witnesses' cosignatures); each reader picks the ones of the keys it knows."""
    if not note.endswith("\n") or "\n\n" not in note:
        raise ValueError("not a signed note")
    text, _, sigs = note.rpartition("\n\n")
    lines = []
    for line in sigs[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise ValueError("bad signature line")
        name, b64sig = line[2:].split(" ")
        raw = base64.b64decode(b64sig, validate=True)
        # signed-note.md: a key name holds no Unicode space and no '+'; a signature is a 4-byte key id and more.
        if not name or "+" in name or any(ch.isspace() for ch in name) or len(raw) < 5:
            raise ValueError("bad signature line")
        lines.append((name, raw))
    return text + "\n", lines


def open_note(note: str, keys, verified_ahead=frozenset(), verify=True):
    """Returns the note text if a known key signed it and no known key's signature fails; else raises.
    Lines of other keys (a witness's cosignature among them) are ignored, as signed-note.md requires.
    `verified_ahead`: (key, signature, message) that another process has verified already (see check_chunk).
    `verify=False` only requires a signature line of a known key (its name and key id), without checking it."""
    text, lines = split_note(note)
    verified = 0
    for name, raw in lines:
        for kname, pk in keys:
            if kname == name and note_key_id(kname, pk) == raw[:4]:
                if verify and (pk, raw[4:], text.encode()) not in verified_ahead:
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


# --- witness cosignatures (C2SP tlog-cosignature, Ed25519 "cosignature/v1") -----------------------------------
#
# A witness keeps the newest checkpoint it saw of a log and cosigns a new one only when a consistency proof shows it
# extends that one (C2SP tlog-witness). Its cosignature is one more signature line on the checkpoint's note:
#     — <witness name> base64(key id (4) || timestamp (uint64, big-endian, 8) || Ed25519 signature (64))
# signed over "cosignature/v1\ntime <timestamp in decimal>\n" followed by the checkpoint's note text. Its key is a
# vkey of signature type 0x04: <name>+<8 hex key id>+base64(0x04 || 32-byte Ed25519 key), with
# key id = SHA-256(name || 0x0A || 0x04 || key)[:4].

COSIGNATURE_TYPE = 0x04
CLOCK_SKEW = 600  # seconds a cosignature's time may be ahead of the verifier's clock and still count under --max-age
COSIGNATURE_LENGTH = 4 + 8 + 64


def cosigner_key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([COSIGNATURE_TYPE]) + public_key).digest()[:4]


def parse_witness_vkey(text: str):
    """(name, 32-byte Ed25519 key) of a witness's vkey; raises ValueError when it is not a well-formed vkey of type
    0x04 whose key id matches its name and key."""
    parts = text.strip().split("+", 2)  # a name holds no '+'; the base64 key may
    if len(parts) != 3:
        raise ValueError("a vkey is <name>+<key id>+<base64 key>")
    name, kid, key = parts
    if not name or any(ch.isspace() for ch in name):
        raise ValueError("the key name is empty or holds a space")
    if not re.fullmatch(r"[0-9a-fA-F]{8}", kid):
        raise ValueError("the key id is not 8 hex digits")
    try:
        raw = base64.b64decode(key, validate=True)
    except ValueError:
        raise ValueError("the key is not base64") from None
    if len(raw) != 33 or raw[0] != COSIGNATURE_TYPE:
        raise ValueError("not a cosignature/v1 key (signature type 0x04 and 32 bytes of Ed25519 key)")
    if cosigner_key_id(name, raw[1:]).hex() != kid.lower():
        raise ValueError("the key id does not match its name and key")
    return name, raw[1:]


def witness_vkey_of(name: str, public_key: bytes) -> str:
    encoded = base64.b64encode(bytes([COSIGNATURE_TYPE]) + public_key).decode()
    return f"{name}+{cosigner_key_id(name, public_key).hex()}+{encoded}"


def witness_set(vkeys):
    """The witnesses ([(name, key)]) of a list of vkey texts, and why each one that cannot be used is not (as
    "<vkey>: why"). Each witness counts once, so a name or a key given twice is refused: the Ed25519 cosignature does
    not sign the witness's name, so one key under two names would let one witness count twice."""
    witnesses, problems = [], []
    for text in vkeys:
        try:
            if not isinstance(text, str):
                raise ValueError("not a text")
            name, key = parse_witness_vkey(text)
        except ValueError as err:
            problems.append(f"{text!r}: {err}")
            continue
        if any(name == n or key == k for n, k in witnesses):
            problems.append(f"{text!r}: its name or its key is another witness's; each witness is given once")
            continue
        witnesses.append((name, key))
    return witnesses, problems


def cosignature_message(text: str, timestamp: int) -> bytes:
    """What a witness signs: the header line, the time line, then the checkpoint's note text (with its final newline)."""
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def parse_cosignature(raw: bytes):
    """(key id, timestamp, Ed25519 signature) of the decoded bytes of a cosignature/v1 line; raises ValueError when
    they are not 76 bytes or the timestamp exceeds 2^63 - 1 (tlog-cosignature.md: it "MUST NOT exceed 2^63 - 1")."""
    if len(raw) != COSIGNATURE_LENGTH:
        raise ValueError(f"the cosignature is {len(raw)} bytes, not {COSIGNATURE_LENGTH} (key id, timestamp, Ed25519 signature)")
    timestamp = int.from_bytes(raw[4:12], "big")
    if timestamp > 2**63 - 1:
        raise ValueError(f"the timestamp {timestamp} exceeds 2^63 - 1")
    return raw[:4], timestamp, raw[12:]


def read_cosignatures(note: str, witnesses):
    """The cosignatures of `witnesses` ([(name, key)]) on the signed note `note`, as a dict:
    `cosigned`: {name: timestamp} of each witness with a line that verifies (a witness counts once, however many
    lines it has); `invalid`: why each line that bears a witness's name and key id does not verify (wrong length, a
    timestamp beyond 2^63 - 1, a bad signature); `other_key`: (name, key id) of the lines that bear a witness's name
    but another key id, which are not that witness's and are ignored, like every line of an unknown name."""
    text, lines = split_note(note)
    found = {"cosigned": {}, "invalid": [], "other_key": []}
    for name, raw in lines:
        keys = [key for wname, key in witnesses if wname == name]
        key = next((k for k in keys if cosigner_key_id(name, k) == raw[:4]), None)
        if key is None:
            if keys:
                found["other_key"].append((name, raw[:4].hex()))
            continue
        try:
            _, timestamp, signature = parse_cosignature(raw)
        except ValueError as err:
            found["invalid"].append(f"{name}: {err}")
            continue
        try:
            Ed25519PublicKey.from_public_bytes(key).verify(signature, cosignature_message(text, timestamp))
        except InvalidSignature:
            found["invalid"].append(f"{name}: the cosignature of time {timestamp} does not verify with its key over this checkpoint")
            continue
        found["cosigned"][name] = max(timestamp, found["cosigned"].get(name, 0))
    return found


def ed25519_ok(public_key: bytes, signature_b64: str, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(base64.b64decode(signature_b64, validate=True), message)
        return True
    except (InvalidSignature, ValueError):
        return False


def trialgate_key_id(public_key: bytes) -> str:
    return hashlib.sha256(SPKI_PREFIX + public_key).hexdigest()[:16]


def raw_key(text):
    """The 32 raw bytes of an Ed25519 public key given as base64, or None."""
    try:
        raw = base64.b64decode(text, validate=True) if isinstance(text, str) else b""
    except ValueError:
        return None
    return raw if len(raw) == 32 else None


# --- investigators' sign-offs (docs/decision-format.md, "Investigator sign-off") -----------------------------

_UTC = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{3}))?Z")


def utc_ms(text):
    """Milliseconds since the Unix epoch of `YYYY-MM-DDTHH:MM:SS[.sss]Z`, or None if it is not such a time."""
    m = _UTC.fullmatch(text) if isinstance(text, str) else None
    if not m:
        return None
    try:
        t = datetime.datetime(*(int(g) for g in m.groups()[:6]), tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    return int((t - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)).total_seconds()) * 1000 + int(m.group(7) or 0)


def is_date(text) -> bool:
    """Whether `text` is a calendar date `YYYY-MM-DD`."""
    if not isinstance(text, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return False
    try:
        datetime.date.fromisoformat(text)
        return True
    except ValueError:
        return False


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# Unicode White_Space: a reason made only of these is blank.
_WHITE_SPACE = set("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
                   "\u2028\u2029\u202f\u205f\u3000")


def is_blank(text) -> bool:
    return not isinstance(text, str) or all(ch in _WHITE_SPACE for ch in text)


# --- the rules for text people sign, and for the encodings they sign with (TrialGate's `SignedText`) -----------

_B64_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def is_canonical_base64(text, nbytes) -> bool:
    """Whether `text` is the one canonical standard base64 spelling of exactly `nbytes` bytes: padded with `=`, and
    the spare bits of the last data digit zero, so that one signature (or key) cannot be written two ways."""
    if not isinstance(text, str):
        return False
    padding = (3 - nbytes % 3) % 3
    if len(text) != (nbytes + 2) // 3 * 4 or not text.endswith("=" * padding):
        return False
    body = text[:len(text) - padding]
    if not body or any(ch not in _B64_DIGITS for ch in body):
        return False
    return _B64_DIGITS.index(body[-1]) & ((1 << (padding * 2)) - 1) == 0


def is_invisible(c: int) -> bool:
    """Characters that change how text is shown without being seen: zero-width characters and direction marks,
    bidirectional embeddings, overrides and isolates, the word joiner and the byte-order mark."""
    return 0x200B <= c <= 0x200F or 0x202A <= c <= 0x202E or 0x2060 <= c <= 0x2069 or c == 0xFEFF


# The characters text_problem refuses: controls (C0, DEL, C1, U+2028, U+2029) and those is_invisible names; a newline
# is allowed in multiline text.
_UNSEEN = r"\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"
_NOT_ONE_LINE = re.compile(r"[\x00-\x1f" + _UNSEEN + "]")
_NOT_TEXT = re.compile(r"[\x00-\x09\x0b-\x1f" + _UNSEEN + "]")


def text_problem(text, max_length, multiline):
    """Why `text` cannot be text a person signs or writes into the record, or None: 1 to `max_length` characters;
    no control character (C0, DEL, C1, U+2028, U+2029; a newline is allowed when `multiline`); no invisible or
    direction-changing character; not blank."""
    if not isinstance(text, str):
        return "text"
    count = len(text)  # Unicode code points, as trialgate counts them (combining marks count: the size is bounded)
    if count > max_length:
        return f"at most {max_length} characters, got {count}"
    found = (_NOT_TEXT if multiline else _NOT_ONE_LINE).search(text)  # the first character not allowed, if any
    if found:
        c = ord(found.group())
        if is_invisible(c):
            return f"no invisible or direction-changing characters (U+{c:04X})"
        return (f"no control characters but newlines (U+{c:04X})" if multiline
                else f"one line, without control characters (U+{c:04X})")
    if is_blank(text):
        return "not blank"
    return None


def folded(text: str) -> str:
    """A name as names are compared: lowercased, every run of white space (of any kind) one space, none around it,
    so that names that print alike compare alike."""
    words, word = [], []
    for ch in text.lower():
        if ch in _WHITE_SPACE:
            if word:
                words.append("".join(word))
                word = []
        else:
            word.append(ch)
    if word:
        words.append("".join(word))
    return " ".join(words)


REASON_MAX = 1000        # a sign-off's reason: one line
STATEMENT_MAX = 1000     # a signed attestation's statement: newlines allowed
QUERY_TEXT_MAX = 2000    # a query's text, note or resolution: newlines allowed
PRINTED_NAME_MAX = 200   # an account's printed name: one line, no parentheses
QUERY_TEXT_FIELDS = {"query.opened": "text", "query.answered": "note", "query.closed": "resolution"}
# From schema 3 these reasons are plain text too: one line (a withdrawal's may have newlines).
REASON_FIELDS = {"entry.corrected", "user.disabled", "user.enabled", "user.removed", "candidate.withdrawn"}
# A withdrawal's category: the CONSORT 2010 flow diagram's (Schulz et al., BMJ 2010;340:c332, figure 1) reasons for leaving,
# as TrialGate writes them from event schema 3 (docs/events.md). A withdrawal written before categories has a reason alone.
WITHDRAWAL_CATEGORIES = {"not_meeting_inclusion_criteria", "declined_to_participate", "withdrew_consent", "lost_to_follow_up",
                         "adverse_event", "physician_decision", "death", "other"}


def withdrawal_problem(p):
    """Why a schema-3 withdrawal's payload is not one TrialGate writes, or None."""
    if not isinstance(p, dict):
        return "its payload is not an object"
    extra = sorted(set(p) - {"category", "reason"})
    if extra:
        return f"unknown fields {extra}"
    category, reason = p.get("category"), p.get("reason")
    if category is None and reason is None:
        return "it has neither a category nor a reason"
    if category is not None and category not in WITHDRAWAL_CATEGORIES:
        return f"category {json.dumps(category)} is not one of {', '.join(sorted(WITHDRAWAL_CATEGORIES))}"
    if reason is not None and not isinstance(reason, str):
        return "its reason is not text"
    if category == "other" and reason is None:
        return "category other needs a reason"
    return None


# meaning -> (is it an override, the outcome it establishes)
MEANINGS = {
    "confirmed_eligible": (False, "eligible"),
    "confirmed_ineligible": (False, "ineligible"),
    "overridden_eligible": (True, "eligible"),
    "overridden_ineligible": (True, "ineligible"),
}


def meaning_sentence(meaning, printed_name, user, candidate, decision_seq, proposed) -> str:
    """The words a meaning is signed with, exactly as trialgate writes them."""
    override, outcome = MEANINGS[meaning]
    if override:
        return (f"I, {printed_name} ({user}), find candidate {candidate} {outcome}, overriding decision {decision_seq}, "
                f"which proposes {proposed}, for the reason given.")
    return f"I, {printed_name} ({user}), confirm that candidate {candidate} is {outcome}, as decision {decision_seq} proposes."


def attestation_statement(p, trial_id, origin, candidate):
    """What an investigator signs to attest a criterion (event schema 3), rebuilt from the attestation.recorded payload
    `p`: its stated fields bound to this trial, log and the event's candidate, with the signer and the time."""
    s = {
        "format": ATTESTATION_FORMAT, "trial_id": trial_id, "log_origin": origin, "candidate": candidate,
        "signer": {"user": p.get("signer"), "printed_name": p.get("printed_name"), "key_id": p.get("key_id")},
        "signed_at": p.get("signed_at"),
    }
    for field in ("criterion", "result", "attested_on", "statement"):
        if p.get(field) is not None:
            s[field] = p[field]
    return s


def changes_candidate_data(etype) -> bool:
    """Events after which a candidate's decision no longer rests on its data (a stale cause)."""
    return isinstance(etype, str) and (etype.endswith(".recorded") or etype in ("candidate.registered", "entry.corrected", "candidate.withdrawn"))


def decision_digest(d):
    """The SHA-256 (hex) of a decision's RFC 8785 bytes, or None when it has none (not JSON text jcs can write)."""
    try:
        return hashlib.sha256(jcs_bytes(d)).hexdigest()
    except (ValueError, TypeError, OverflowError, UnicodeEncodeError):
        return None


def decision_summary(d, digest):
    """What a later sign-off checks of a decision (rules 2-5 of check_signoff): its digest, outcome, policy and the
    criteria still waiting for an attestation. The decision itself is not kept: on a large bundle the decisions'
    trees were most of the verifier's memory."""
    policy = d.get("policy") if isinstance(d.get("policy"), dict) else {}
    return {"sha256": digest, "outcome": d.get("outcome"), "policy": f"{policy.get('id')}@{policy.get('version')}",
            "unattested": sorted(str(k.get("id")) for k in d.get("criteria") or []
                                 if isinstance(k, dict) and k.get("result") == "needs_attestation")}


class Candidate:
    """What the sign-off rules need to know about a candidate, folded from the events so far."""

    def __init__(self, registered_seq, site):
        self.registered_seq = registered_seq
        self.site = site              # after corrections of the registration
        self.decisions = {}           # seq -> decision_summary of the decision, in log order
        self.changes = []             # seqs of data-changing events since the newest decision
        self.signed = {}              # decision seq -> seq of the decision.signed event naming it
        self.attestation_signatures = {}  # raw signature bytes (or text) -> seq of the signed attestation that bears it


class Account:
    """A user account as its user.* events so far make it."""

    def __init__(self, seq, p):
        self.added_seq = seq
        self.role = p.get("role")
        self.sites = p.get("sites") or []
        self.printed_name = p.get("printed_name")
        # The investigator's key in force, and the event that brought it (user.added, then each user.signer_rotated).
        self.public_key = p.get("public_key")
        self.key_id = p.get("key_id")
        self.key_seq = seq
        self.token_sha256 = p.get("token_sha256")
        self.expires_at = p.get("expires_at")
        self.status = "active"
        self.changed_seq = seq



# --- models as evidence (docs/model-evidence.md) ---------------------------------------------------------------
#
# A model.registered event carries a model card, the model's artifact (`trialgate.model/1`) as text and the feature
# extraction settings as text. The verifier reads the artifact itself and recomputes every linear predictor with the
# arithmetic the format prescribes: binary64 operations in the order written, which is what CPython's floats do.

MODEL_FORMAT = "trialgate.model/1"
LR_MEMBERS = {"format", "kind", "features", "means", "scales", "coefficients", "intercept"}
GBT_MEMBERS = {"format", "kind", "features", "base_score", "learning_rate", "input_rounding", "trees"}
MAX_FEATURES, MAX_TREES, MAX_TREE_NODES, MAX_NODES = 1000, 10_000, 100_000, 1_000_000
GATE_MEMBERS = {"version", "artifact_sha256", "features_event", "linear_predictor", "threshold_lp", "grey_zone_lp",
                "qc_required", "qc_status", "verdict"}
MODEL_RULE_MARK = " linear predictor ≥ the card's threshold"  # in a criterion's rule text: a model gate
COMBINATIONS = ("all of (", "any of (", "not (")  # how the rule text of a combination of conditions begins
SCORE_TOLERANCE = 1e-9   # a score from outside against the recomputed probability
LOGIT_TOLERANCE = 1e-9   # an operating point's lp against the logit of its probability


def is_number(v) -> bool:
    """A JSON number that reads as a finite binary64 value."""
    return (isinstance(v, float) and math.isfinite(v)) or is_int(v)


def artifact_problem(a):
    """Why the parsed artifact `a` is not a well-formed trialgate.model/1 artifact, or None."""
    if not isinstance(a, dict) or a.get("format") != MODEL_FORMAT:
        return f"format is not {MODEL_FORMAT}"
    kind = a.get("kind")
    members = {"logistic_regression": LR_MEMBERS, "gradient_boosted_trees": GBT_MEMBERS}.get(kind)
    if members is None:
        return f"kind {kind!r} is not logistic_regression or gradient_boosted_trees"
    if set(a) != members:
        return f"a {kind} artifact has exactly " + ", ".join(sorted(members)) + "; it has " + ", ".join(sorted(map(str, a)))
    features = a["features"]
    if not isinstance(features, list) or not 1 <= len(features) <= MAX_FEATURES:
        return f"features is not a list of 1 to {MAX_FEATURES}"
    for f in features:
        if not isinstance(f, dict) or set(f) != {"name", "unit"} or not isinstance(f["name"], str) or not isinstance(f["unit"], str):
            return "a feature is not {name, unit} texts"
    if len({f["name"] for f in features}) != len(features):
        return "feature names repeat"
    n = len(features)
    if kind == "logistic_regression":
        for member in ("means", "scales", "coefficients"):
            if not isinstance(a[member], list) or len(a[member]) != n or not all(is_number(v) for v in a[member]):
                return f"{member} is not a list of {n} finite numbers, one per feature"
        if not all(v > 0 for v in a["scales"]):
            return "a scale is not > 0"
        if not is_number(a["intercept"]):
            return "intercept is not a finite number"
        return None
    if not is_number(a["base_score"]):
        return "base_score is not a finite number"
    if not is_number(a["learning_rate"]) or not a["learning_rate"] > 0:
        return "learning_rate is not a number > 0"
    if a["input_rounding"] not in ("none", "binary32"):
        return "input_rounding is not none or binary32"
    trees = a["trees"]
    if not isinstance(trees, list) or not 1 <= len(trees) <= MAX_TREES:
        return f"trees is not a list of 1 to {MAX_TREES}"
    total = 0
    for t, tree in enumerate(trees):
        if not isinstance(tree, dict) or set(tree) != {"nodes"} or not isinstance(tree["nodes"], list):
            return f"tree {t} is not {{nodes}}"
        nodes = tree["nodes"]
        total += len(nodes)
        if not 1 <= len(nodes) <= MAX_TREE_NODES or total > MAX_NODES:
            return f"tree {t} has {len(nodes)} nodes (1 to {MAX_TREE_NODES}, at most {MAX_NODES} in all)"
        for i, node in enumerate(nodes):
            if isinstance(node, dict) and set(node) == {"value"}:
                if not is_number(node["value"]):
                    return f"tree {t} node {i}: value is not a finite number"
            elif isinstance(node, dict) and set(node) == {"feature", "threshold", "left", "right"}:
                if not is_int(node["feature"]) or not 0 <= node["feature"] < n:
                    return f"tree {t} node {i}: feature is not an index into the {n} features"
                if not is_number(node["threshold"]):
                    return f"tree {t} node {i}: threshold is not a finite number"
                for side in ("left", "right"):
                    child = node[side]
                    if not is_int(child) or not i < child < len(nodes):
                        return f"tree {t} node {i}: {side} is not the index of a later node of the tree"
            else:
                return f"tree {t} node {i} is neither a split {{feature, threshold, left, right}} nor a leaf {{value}}"
    return None


def to_binary32(x: float) -> float:
    """The nearest IEEE 754 binary32 value, ties to even (beyond the largest binary32, an infinity)."""
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


def model_lp(a, x):
    """The linear predictor of a well-formed artifact `a` on the feature values `x` (binary64, in feature order)."""
    if a["kind"] == "logistic_regression":
        s = 0.0
        for i in range(len(x)):
            z = (x[i] - float(a["means"][i])) / float(a["scales"][i])
            s = s + float(a["coefficients"][i]) * z
        return s + float(a["intercept"])
    if a["input_rounding"] == "binary32":
        x = [to_binary32(v) for v in x]
    lp, rate = float(a["base_score"]), float(a["learning_rate"])
    for tree in a["trees"]:
        nodes, node = tree["nodes"], 0
        while "value" not in nodes[node]:
            split = nodes[node]
            node = split["left"] if x[split["feature"]] <= float(split["threshold"]) else split["right"]
        lp = lp + rate * float(nodes[node]["value"])
    return lp


def feature_values(a, record):
    """The values a radiomics.recorded payload gives the artifact's features, in order; or (None, why not)."""
    given = record.get("features") if isinstance(record, dict) else None
    if not isinstance(given, dict):
        return None, "the record has no features"
    values = []
    for f in a["features"]:
        entry = given.get(f["name"])
        if not isinstance(entry, dict) or not is_number(entry.get("value")):
            return None, f"the record has no value of {f['name']}"
        if entry.get("unit") != f["unit"]:
            return None, f"{f['name']} is recorded in {entry.get('unit')!r}, the model takes {f['unit']!r}"
        values.append(float(entry["value"]))
    return values, None


def logistic(lp: float) -> float:
    if lp >= 0:
        return 1.0 / (1.0 + math.exp(-lp))
    e = math.exp(lp)
    return e / (1.0 + e)


def logit_of(p):
    return math.log(p / (1.0 - p)) if is_number(p) and 0 < p < 1 else None


def model_rules(threshold, model_id):
    """Each statement of a gate on `model_id` in a criterion's rule text, worded as TrialGate words it:
    `<id> [<versions>] linear predictor ≥ the card's threshold (grey zone needs review)`, then `; mask QC passed` when
    QC is required, `; <phase> contrast phase` (or `; the card's contrast phase`), then `; image within <N> days` when
    the image's age is limited. A list of {versions, qc_required, phase (None: the card's), max_age_days (or None)}."""
    pattern = (r"(?:^|\(|; )" + re.escape(model_id) + r" \[([^\]]*)\]" + re.escape(MODEL_RULE_MARK + " (grey zone needs review)")
               + r"(; mask QC passed)?; (the card's|[a-z_]+) contrast phase(?:; image within ([0-9]+) days)?(?=;|\)|$)")
    return [{"versions": m.group(1).split(", "), "qc_required": m.group(2) is not None,
             "phase": None if m.group(3) == "the card's" else m.group(3),
             "max_age_days": int(m.group(4)) if m.group(4) else None}
            for m in re.finditer(pattern, threshold)]


def days_between(earlier, later):
    """Days from date `earlier` to date `later` (YYYY-MM-DD), or None when either is not a date."""
    if not is_date(earlier) or not is_date(later):
        return None
    return (datetime.date.fromisoformat(later) - datetime.date.fromisoformat(earlier)).days


def gate_verdict(op, lp):
    """The verdict a linear predictor gets at an operating point: unknown in the grey zone [low, high), else pass
    when lp >= threshold_lp, else fail."""
    low, high = op["grey_zone_lp"]
    if low <= lp < high:
        return "unknown"
    return "pass" if lp >= op["threshold_lp"] else "fail"


class Model:
    """A registered model version: the event, its card, its artifact (text and parsed)."""

    def __init__(self, seq, card, text, artifact):
        self.seq, self.card, self.text, self.artifact = seq, card, text, artifact
        extraction = card.get("extraction") if isinstance(card.get("extraction"), dict) else {}
        self.settings_sha256 = extraction.get("settings_sha256")
        self.software = extraction.get("software")
        self.contrast_phase = extraction.get("contrast_phase")
        op = card.get("operating_point") or {}
        self.op = {"threshold_lp": op.get("threshold_lp"), "grey_zone_lp": op.get("grey_zone_lp")}


# --- the bundle ----------------------------------------------------------------------------------------------

# --- the work each event line needs alone, which other processes may do (--jobs) ----------------------------------

CHUNK = 2000  # event lines a worker process takes at a time


def check_line(line: bytes):
    """Parses an event line and checks its RFC 8785 form: (parse error, event, canonical, SHA-256 hex, leaf hash).
    An exception jcs raises is returned as `canonical`, for the verifier to raise where it always did."""
    try:
        e = parse_json(line)
    except Exception as err:
        return err, None, None, None, None
    try:
        canonical = jcs_bytes(e) == line
    except Exception as err:
        canonical = err
    return None, e, canonical, hashlib.sha256(line).hexdigest(), leaf_hash(line)


def check_chunk(lines, notes, keys):
    """A worker process's task: check_line for each of `lines`; the log signatures of `notes` (the checkpoints of
    sizes within these lines) by each of `keys` (keys.json's) whose key id a signature line names; and the signature of
    each decision among the lines by the key of keys.json its key_id names. Returns the results; the set of what
    verified: (key, signature, message) for a note, (key, signature, SHA-256 of the event line) for a decision; and
    each decision's digest (decision_digest) by the SHA-256 of its line. The set and the digests only save work: the
    verifier still decides which key must have signed each checkpoint and decision, verifies itself whatever is not in
    the set, and works out a digest itself when none came."""
    verified, digests = set(), {}
    results = [check_line(line) for line in lines]
    by_id = {trialgate_key_id(key): key for key in keys}
    for _, e, _, line_hash, _ in results:
        p = e.get("payload") if isinstance(e, dict) and e.get("type") == "decision.issued" else None
        d = p.get("decision") if isinstance(p, dict) else None
        key = by_id.get(d.get("key_id")) if isinstance(d, dict) else None
        if key is None or not isinstance(p.get("signature"), str):
            continue  # the verifier will say what is wrong with it
        try:
            message = jcs_bytes(d)
        except Exception:
            continue
        digests[line_hash] = hashlib.sha256(message).hexdigest()
        if ed25519_ok(key, p["signature"], message):
            verified.add((key, p["signature"], line_hash))
    for note in notes:
        try:
            text, signatures = split_note(note)
        except Exception:
            continue  # the verifier will say what is wrong with it
        for name, raw in signatures:
            for key in keys:
                if note_key_id(name, key) == raw[:4]:
                    try:
                        Ed25519PublicKey.from_public_bytes(key).verify(raw[4:], text.encode())
                        verified.add((key, raw[4:], text.encode()))
                    except InvalidSignature:
                        pass
    # The parsed events stay here: the verifier parses each line again, which costs less than sending the trees
    # back (pickling them here and unpickling them there).
    return [(err, None, canonical, line_hash, leaf) for err, _, canonical, line_hash, leaf in results], verified, digests


class UsageError(Exception):
    """A command-line option the bundle shows to be unusable (--quorum beyond the witnesses the manifest declares)."""


class Verifier:
    def __init__(self, directory, trusted=None, saved_checkpoint=None, witnesses=None, quorum=None, max_age=None, now=None,
                 progress=None, jobs=1, every_checkpoint=False):
        self.dir = directory
        # Every checkpoint's root is checked against the tree recomputed from the events; its signature only for the
        # newest checkpoint the events reach, unless every_checkpoint. The newest signature covers every event before
        # it, and each older root is a prefix of its tree, so an older signature adds nothing to the bundle's integrity
        # (docs/transparency-log.md, "Which checkpoint signatures a verifier checks").
        self.every_checkpoint = every_checkpoint
        self.signed_sizes = set()         # the checkpoint sizes whose signatures are verified (run sets them)
        self.jobs = jobs                  # processes for the work of each line (check_chunk); 1: all in this one
        self.trusted = trusted or []
        self.saved = saved_checkpoint
        self.witnesses = witnesses or []  # [(name, key)] from --witness; else the manifest's (setup_witnesses)
        self.quorum = quorum              # from --quorum; else the manifest's, else every witness
        self.witnesses_declared = False   # whether the witnesses are the ones the bundle itself declares
        self.max_age = max_age            # seconds: how recent a counted cosignature must be (--max-age)
        self.now = now                    # POSIX seconds the age is measured at (the clock, unless a test fixes it)
        self.progress = progress          # a Progress, told of the events checked, or None; it checks nothing
        self.notes = []                   # said with the result, whatever it is
        self.problems = []
        self.stats = {"events": 0, "checkpoints": 0, "checkpoint_signatures": 0, "decision_signatures": 0, "signoffs": 0, "attestations": 0, "rotations": 0,
                      "signer_rotations": 0, "inclusion_proofs": 0, "models": 0, "model_gates": 0, "model_scores": 0}
        self.models = {}        # (model_id, version) -> Model, registered so far
        self.radiomics = {}     # candidate -> [(seq, radiomics.recorded payload)], in log order
        self.model_scores = {}  # seq of a model_score.recorded of a registered model -> (event, payload after corrections)
        self.verified_ahead = set()  # signatures worker processes verified (check_chunk): of checkpoints and decisions
        self.digests_ahead = {}  # SHA-256 of an event line -> its decision's digest, worked out by a worker (check_chunk)

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
        self.setup_witnesses(manifest)
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
        reached = [s for s in checkpoints if isinstance(s, int) and s <= len(events)]
        if self.every_checkpoint:
            self.signed_sizes = set(reached)
        elif reached:
            self.signed_sizes = {max(reached)}
        frontier = Frontier()
        prev_hash = GENESIS
        origin = None
        trial_id = None
        keys = []  # (seq, key_id, raw public key)
        leaves = {}
        decisions = {}
        policies = {}
        candidates = {}  # id -> Candidate
        users = {}  # name -> Account
        self.held_keys = set()  # every investigator's public key (raw bytes) the log has registered, to any account
        self.held_digests = set()  # every token and signing-code digest the log has held
        signed_attestations = set()  # seqs of schema 3 attestation.recorded events
        self.import_run = None  # (first seq, actor, seqs of rows) of an import's events by one actor just before this event
        self.imported_files = {}  # sha256 -> seq of the receipt that named it
        schema = SCHEMA_VERSIONS[0]  # the highest schema version so far: versions never go down
        root_at_saved = None
        progress = self.progress
        if progress:
            progress(0, len(events))
        for n, (parse_error, e, canonical, line_hash, leaf) in enumerate(self.parsed_lines(events, checkpoints), start=1):
            where = f"event {n}"
            if parse_error is not None:
                self.problem(where, "invalid_event", f"not JSON: {parse_error}")
                return
            if isinstance(canonical, Exception):
                raise canonical
            if not canonical:
                self.problem(where, "not_canonical", "the bytes are not the RFC 8785 form of the event")
            if e.get("seq") != n:
                self.problem(where, "chain_broken", f"seq is {e.get('seq')}, expected {n}")
            if e.get("prev_hash") != prev_hash:
                self.problem(where, "chain_broken", "prev_hash is not the SHA-256 of the previous event")
            prev_hash = line_hash
            frontier.append(leaf)
            self.stats["events"] += 1
            etype, p = e.get("type"), e.get("payload") or {}
            version = e.get("schema_version")
            if isinstance(version, bool) or version not in SCHEMA_VERSIONS:
                self.problem(where, "schema_version", f"schema_version {version!r} is not one of "
                             + ", ".join(map(str, SCHEMA_VERSIONS)))
                version = None  # the checks that depend on it are skipped; the bundle has failed already
            elif version < schema:
                self.problem(where, "schema_version", f"schema version {version} after an event of version {schema}: "
                                                      "a log's versions never go down")
            else:
                schema = version
            if version is not None and version < 3 and (etype in SCHEMA_3_TYPES or (
                    etype == "user.added" and (p.get("role") == "investigator" or "public_key" in p))):
                what = "an investigator's account" if etype == "user.added" else etype
                self.problem(where, "schema_version", f"{what} does not exist in event schema {version} (only from schema 3)")
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
                self.check_decision(n, e, p, keys, prev_hash_before=e.get("prev_hash"), line_hash=line_hash)
                self.check_model_gates(n, e, p)
                leaves[n] = leaf
                # The digest a worker worked out from the same line, when it verified the signature ahead.
                digest = self.digests_ahead.pop(line_hash, None) or decision_digest(p.get("decision"))
                decisions[n] = (digest, p.get("signature"))
            elif etype == "model.registered":
                self.check_model_registration(n, p)
            elif etype == "records.imported":
                self.check_import_receipt(n, e, p)
            elif etype == "radiomics.recorded":
                self.radiomics.setdefault(e.get("candidate"), []).append((n, p))
            elif etype == "model_score.recorded":
                self.check_model_score(n, e, p)
            elif etype == "decision.signed":
                self.check_signoff(n, e, p, trial_id, origin, candidates, users, policies)
            elif etype == "attestation.recorded" and version is not None and version >= SIGNED_ATTESTATIONS_FROM:
                self.check_attestation(n, e, p, trial_id, origin, candidates, users)
                signed_attestations.add(n)
            elif etype in QUERY_TEXT_FIELDS:
                self.check_query_text(n, etype, p)
            elif etype == "entry.corrected" and is_int(p.get("corrects")) and p["corrects"] in signed_attestations:
                self.problem(where, "not_correctable", f"it corrects event {p.get('corrects')}, an investigator's signed attestation, "
                                                       "which is corrected only by signing a new one")
            elif isinstance(etype, str) and etype.startswith("user."):
                self.fold_account(n, etype, p, users)
            if etype == "entry.corrected" and is_int(p.get("corrects")) and p["corrects"] in self.model_scores:
                # A corrected score from outside is held to the same rules as when it was recorded.
                scored, payload = self.model_scores[p["corrects"]]
                payload = dict(payload, **{str(p.get("field")): p.get("new_value")})
                self.model_scores[p["corrects"]] = (scored, payload)
                self.check_model_score(n, scored, payload)
            if version is not None and version >= 3 and etype == "candidate.withdrawn":
                why = withdrawal_problem(p)
                if why:
                    self.problem(where, "withdrawal_malformed", f"a withdrawal: {why}")
            # From schema 3, reasons are plain text.
            if version is not None and version >= 3 and etype in REASON_FIELDS and isinstance(p, dict) and isinstance(p.get("reason"), str):
                multiline = etype == "candidate.withdrawn"
                why = text_problem(p["reason"], REASON_MAX, multiline=multiline)
                if why:
                    self.problem(where, "invalid_text", f"{etype}'s reason must be {why}")
            self.fold_candidate(n, e, etype, p, candidates, decisions)
            # An import's rows: registrations and records, with the stale-decision queries records open, by one actor.
            row = etype in IMPORTABLE_TYPES
            if isinstance(e.get("candidate"), str) and (row or (etype == "query.opened" and p.get("about") == "stale_decision")):
                if self.import_run is None or self.import_run[1] != e.get("actor"):
                    self.import_run = (n, e.get("actor"), [])
                if row:
                    self.import_run[2].append(n)
            else:
                self.import_run = None
            if saved and frontier.size == saved[1]:
                root_at_saved = frontier.root()
            if frontier.size in checkpoints:
                self.check_checkpoint(frontier.size, checkpoints[frontier.size], frontier.root(), origin, keys)
            if progress and n % progress.every == 0:
                progress(n, len(events))
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
            self.check_witnesses(note)
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
            digest, signature = decisions[seq]
            if d.get("signature") != signature or digest is None or decision_digest(d.get("decision")) != digest:
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
        self.check_model_files()
        self.stats["size"] = size
        self.stats["root"] = base64.b64encode(frontier.root()).decode()

    # --- witnesses ---------------------------------------------------------------------------------------------------

    def checked_lines(self, events, checkpoints):
        """check_line's result for each event line, in order: computed here with --jobs 1; else by `self.jobs` worker
        processes, CHUNK lines a task, a few tasks ahead of the events checked, which also verify the checkpoints of
        their chunk (check_chunk) with keys.json's keys."""
        if self.jobs <= 1:
            yield from map(check_line, events)
            return
        try:
            keys = [k for k in (raw_key(item.get("public_key")) for item in parse_json(self.read("keys.json"))) if k]
        except Exception:
            keys = []  # keys.json is checked later; without it every checkpoint is verified here
        with concurrent.futures.ProcessPoolExecutor(self.jobs) as pool:
            pending = collections.deque()
            for start in range(0, len(events), CHUNK):
                sizes = range(start + 1, min(start + CHUNK, len(events)) + 1)
                notes = [checkpoints[size] for size in sizes if size in self.signed_sizes]
                pending.append(pool.submit(check_chunk, events[start:start + CHUNK], notes, keys))
                if len(pending) > 2 * self.jobs:
                    yield from self.results_of(pending.popleft())
            while pending:
                yield from self.results_of(pending.popleft())

    def results_of(self, task):
        results, verified, digests = task.result()
        self.verified_ahead |= verified
        self.digests_ahead.update(digests)
        return results

    def parsed_lines(self, events, checkpoints):
        """checked_lines with each event parsed in this process where a worker checked it (a line the worker could not
        parse keeps its error)."""
        for line, (err, e, canonical, line_hash, leaf) in zip(events, self.checked_lines(events, checkpoints)):
            if e is None and err is None:
                # A line the worker found canonical was parsed there without a duplicate key (parse_json refuses one),
                # so json's plain reader gives the same tree, faster; any other line is parsed as strictly as there.
                e = json.loads(line.decode("utf-8")) if canonical is True else parse_json(line)
            yield err, e, canonical, line_hash, leaf

    def setup_witnesses(self, manifest):
        """The witnesses and the quorum the newest checkpoint is checked against. The witnesses are --witness's, else
        the ones the manifest declares (`witnesses`: a list of vkeys); the quorum is --quorum, else the manifest's
        (`quorum`), else all the witnesses. The manifest's are checked even when --witness replaces them."""
        declared, listed = [], manifest.get("witnesses")
        if listed is not None:
            if not isinstance(listed, list):
                self.problem("manifest.json", "witness_vkey", "witnesses is not a list of vkeys")
                listed = []
            declared, problems = witness_set(listed)
            for why in problems:
                self.problem("manifest.json", "witness_vkey", why)
        declared_quorum = manifest.get("quorum")
        if declared_quorum is not None and (not is_int(declared_quorum) or not 1 <= declared_quorum <= len(listed or [])):
            self.problem("manifest.json", "witness_quorum", f"quorum {declared_quorum!r} is not 1 to the number of witnesses "
                                                             f"the manifest declares ({len(listed or [])})")
            declared_quorum = None
        if not self.witnesses and declared:
            self.witnesses, self.witnesses_declared = declared, True
            self.notes.append("the witnesses are the ones the bundle's own manifest declares, so the operator chose them: "
                              "their cosignatures prove nothing against the operator. Pass --witness with witness keys "
                              "obtained independently of the bundle.")
        if self.quorum is not None:
            if not 1 <= self.quorum <= len(self.witnesses):
                raise UsageError(f"--quorum {self.quorum}: there are {len(self.witnesses)} witnesses "
                                 + ("(the manifest's)" if self.witnesses_declared else "(none given with --witness or declared by the manifest)"))
        elif declared_quorum is not None and self.witnesses:
            self.quorum = declared_quorum
            if not self.witnesses_declared:
                self.notes.append(f"the quorum {declared_quorum} is the one the bundle's manifest declares; pass --quorum to set your own.")
        elif self.witnesses:
            self.quorum = len(self.witnesses)

    def check_witnesses(self, note):
        """At least `quorum` of the witnesses cosigned the newest checkpoint (cosignature/v1), and no line bearing a
        witness's name and key id fails (read_cosignatures)."""
        if not self.witnesses:
            return
        n, k = len(self.witnesses), self.quorum
        try:
            found = read_cosignatures(note, self.witnesses)
        except ValueError:  # not a signed note: checkpoint_signature says so
            found = {"cosigned": {}, "invalid": [], "other_key": []}
        for why in found["invalid"]:
            self.problem("checkpoint.note", "cosignature_invalid", why)
        stale = []
        if self.max_age is not None:
            # A cosignature states when the witness made it; one older than --max-age does not count. A copy of the log
            # rolled back to a checkpoint the witnesses once cosigned carries only old ones, and cannot get new ones.
            now = int(time.time()) if self.now is None else self.now
            # A time more than 10 minutes ahead of this clock is a wrong clock (or one chosen to stay "recent" for ever).
            ahead = sorted(name for name, t in found["cosigned"].items() if t > now + CLOCK_SKEW)
            for name in ahead:
                t = found["cosigned"].pop(name)
                self.notes.append(f"{name} cosigned at POSIX time {t}, more than {CLOCK_SKEW} s ahead of this clock: not counted (--max-age)")
            stale = sorted(name for name, t in found["cosigned"].items() if t < now and now - t > self.max_age)
            for name in stale:
                t = found["cosigned"].pop(name)
                when = datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                self.notes.append(f"{name} cosigned at {when}, more than {self.max_age} s ago: not counted (--max-age)")
            stale += ahead
        cosigned = sorted(found["cosigned"])
        self.stats["cosigned"] = len(cosigned)
        if k > n:
            self.problem("checkpoint.note", "witness_quorum", f"the manifest's quorum {k} is more than the {n} witnesses "
                                                              "checked; pass --quorum")
        elif len(cosigned) < k:
            others = "".join(f"; a line of {name} bears key id {kid}, not a trusted key's" for name, kid in found["other_key"])
            old = f"; too old: {', '.join(stale)}" if stale else ""
            self.problem("checkpoint.note", "witness_quorum", f"{len(cosigned)} of the {n} witnesses cosigned the newest checkpoint "
                         + (f"({', '.join(cosigned)})" if cosigned else "(none)") + f", fewer than the quorum of {k}{others}{old}")

    # --- models as evidence ---------------------------------------------------------------------------------------

    def check_model_registration(self, n, p):
        """model.registered: the artifact's and the settings' SHA-256 are the card's, the artifact is a well-formed
        trialgate.model/1, the operating point's lp values are the logits of its probabilities (to 1e-9), and the
        id@version was not registered before."""
        where = f"event {n}"
        self.stats["models"] += 1
        key = (p.get("model_id"), p.get("version"))
        extraction = p.get("extraction") if isinstance(p.get("extraction"), dict) else {}
        text, settings = p.get("artifact"), extraction.get("settings")
        if not isinstance(text, str) or hashlib.sha256(text.encode("utf-8")).hexdigest() != p.get("artifact_sha256"):
            self.problem(where, "model_digest", "the artifact does not hash to the card's artifact_sha256")
        if not isinstance(settings, str) or hashlib.sha256(settings.encode("utf-8")).hexdigest() != extraction.get("settings_sha256"):
            self.problem(where, "model_digest", "the extraction settings do not hash to the card's settings_sha256")
        try:
            artifact = parse_json(text.encode("utf-8")) if isinstance(text, str) else None
        except ValueError as err:
            artifact, why = None, f"the artifact is not JSON: {err}"
        else:
            why = artifact_problem(artifact)
        if why:
            self.problem(where, "model_malformed", f"{key[0]}@{key[1]}: {why}")
            artifact = None
        op = p.get("operating_point") if isinstance(p.get("operating_point"), dict) else {}
        t, zone, t_lp, zone_lp = op.get("threshold"), op.get("grey_zone"), op.get("threshold_lp"), op.get("grey_zone_lp")
        pairs = [(t, t_lp)]
        if isinstance(zone, list) and isinstance(zone_lp, list) and len(zone) == 2 and len(zone_lp) == 2:
            pairs += list(zip(zone, zone_lp))
        else:
            pairs.append((None, None))
        for prob, lp in pairs:
            logit = logit_of(prob)
            if logit is None or not is_number(lp) or abs(lp - logit) > LOGIT_TOLERANCE:
                self.problem(where, "model_malformed", f"operating point: {lp!r} is not within {LOGIT_TOLERANCE} of the logit "
                                                      f"of the probability {prob!r}")
        if len(pairs) == 3 and all(is_number(v) for v in (t, *zone)) and not zone[0] <= t <= zone[1]:
            self.problem(where, "model_malformed", f"operating point: the threshold {t} is not inside the grey zone {zone}")
        if key in self.models:
            self.problem(where, "model_duplicate", f"{key[0]}@{key[1]} was already registered in event {self.models[key].seq}")
            return
        if artifact is not None:
            self.models[key] = Model(n, p, text, artifact)
        else:
            self.models[key] = Model(n, p, text, None)

    def registered_ids(self):
        return {model_id for model_id, _ in self.models}

    def newest_features(self, candidate, before, study_date, settings_sha256):
        """The newest radiomics.recorded of `candidate` before event `before` of `study_date` extracted with
        `settings_sha256`: (seq, payload), or None."""
        for seq, record in reversed(self.radiomics.get(candidate, [])):
            if seq < before and record.get("study_date") == study_date and record.get("settings_sha256") == settings_sha256:
                return seq, record
        return None

    def check_model_score(self, n, e, p):
        """model_score.recorded of a registered model: a registered version, its artifact, and (when features of its
        study, extracted with the model's settings, are recorded before it) the recomputed probability to 1e-9."""
        model_id = p.get("model")
        if model_id not in self.registered_ids():
            return  # a model the log does not hold: a score from outside, as recorded
        where = f"event {n}"
        self.stats["model_scores"] += 1
        if n not in self.model_scores and e.get("type") == "model_score.recorded" and e.get("seq") == n:
            self.model_scores[n] = (e, p)
        model = self.models.get((model_id, p.get("version")))
        if model is None:
            self.problem(where, "model_unregistered_version", f"{model_id} version {p.get('version')!r} is not registered before this event")
            return
        if p.get("artifact_sha256") != model.card.get("artifact_sha256"):
            self.problem(where, "model_artifact_mismatch", f"artifact_sha256 is not {model_id}@{p.get('version')}'s registered artifact")
            return
        if model.artifact is None:
            return  # reported at its registration
        found = self.newest_features(e.get("candidate"), e.get("seq") or n, p.get("study_date"), model.settings_sha256)
        if found is None:
            return
        values, _ = feature_values(model.artifact, found[1])
        if values is None:
            return
        probability = logistic(model_lp(model.artifact, values))
        score = p.get("score")
        if not is_number(score) or abs(score - probability) > SCORE_TOLERANCE:
            self.problem(where, "model_score_mismatch", f"score {score!r} is not the probability {probability!r} recomputed from "
                                                        f"the features of event {found[0]} (to {SCORE_TOLERANCE})")

    def check_model_gates(self, n, e, p):
        """Every criterion of a decision that carries or states a model gate: each observed `model.<id>` member
        (check_model_gate) and, for a criterion that is a gate alone, its result (check_model_result)."""
        decision = p.get("decision") if isinstance(p.get("decision"), dict) else {}
        decided_on = decision.get("decided_at")[:10] if isinstance(decision.get("decided_at"), str) else None
        for criterion in decision.get("criteria") or []:
            if not isinstance(criterion, dict):
                continue
            observed = criterion.get("observed") if isinstance(criterion.get("observed"), dict) else {}
            for key, gate in observed.items():
                if isinstance(key, str) and key.startswith("model."):
                    self.check_model_gate(n, e, criterion, key[len("model."):], gate, decided_on)
            self.check_model_result(n, criterion, observed)

    def check_model_result(self, n, criterion, observed):
        """A criterion that is a model gate alone (its rule text is not an `all of`, `any of` or `not` of conditions):
        with the gate's member as its only observed member, its result is the verdict (an exclusion's the reverse);
        without it, its result is unknown. A skipped criterion is exempt. A gate inside a combination is not checked
        here: what the combination makes of it is known only by re-deriving the policy."""
        result, kind = criterion.get("result"), criterion.get("kind")
        threshold = criterion.get("threshold") if isinstance(criterion.get("threshold"), str) else ""
        if result == "skipped" or threshold.startswith(COMBINATIONS):
            return
        members = [key for key in observed if isinstance(key, str) and key.startswith("model.")]
        if not members and MODEL_RULE_MARK not in threshold:
            return  # no gate here (most criteria): nothing to check
        where, what = f"event {n}", f"criterion {criterion.get('id')}"
        if len(observed) == 1 and members:
            verdict = observed[members[0]].get("verdict") if isinstance(observed[members[0]], dict) else None
            follows = {"inclusion": {"pass": "pass", "fail": "fail", "unknown": "unknown"},
                       "exclusion": {"pass": "fail", "fail": "pass", "unknown": "unknown"}}.get(kind, {}).get(verdict)
            if verdict in ("pass", "fail", "unknown") and result != follows:
                self.problem(where, "model_result", f"{what} ({kind}): result {result!r}, but its {members[0]} verdict {verdict} "
                                                    f"gives {follows!r}")
        elif not members and MODEL_RULE_MARK in threshold and result != "unknown":
            self.problem(where, "model_gate_missing", f"{what}: its rule is a model gate, its result {result!r}, and it carries "
                                                      "no model.<id> member: without a score the gate is unknown")

    def check_model_gate(self, n, e, criterion, model_id, gate, decided_on):
        where = f"event {n}"
        what = f"criterion {criterion.get('id')}, model.{model_id}"
        self.stats["model_gates"] += 1
        if not isinstance(gate, dict) or set(gate) != GATE_MEMBERS:
            self.problem(where, "model_gate_malformed", f"{what} is not an object of exactly " + ", ".join(sorted(GATE_MEMBERS)))
            return
        model = self.models.get((model_id, gate["version"]))
        if model is None:
            self.problem(where, "model_unregistered_version", f"{what}: version {gate['version']!r} is not registered before the decision")
            return
        if gate["artifact_sha256"] != model.card.get("artifact_sha256"):
            self.problem(where, "model_artifact_mismatch", f"{what}: artifact_sha256 is not the registered artifact's")
        if gate["threshold_lp"] != model.op["threshold_lp"] or gate["grey_zone_lp"] != model.op["grey_zone_lp"]:
            self.problem(where, "model_operating_point", f"{what}: threshold_lp {gate['threshold_lp']!r} and grey_zone_lp "
                                                         f"{gate['grey_zone_lp']!r} are not the card's {model.op}")
        verdict = gate["verdict"]
        if verdict not in ("pass", "fail", "unknown"):
            self.problem(where, "model_verdict", f"{what}: verdict {verdict!r} is not pass, fail or unknown")
            return
        features_event = gate["features_event"]
        if features_event is None:
            # No features to score: nothing to recompute, and nothing may pass or fail on them.
            if verdict != "unknown" or gate["linear_predictor"] is not None:
                self.problem(where, "model_verdict", f"{what}: without a features event the verdict is unknown and there is no linear predictor")
            return
        record = dict(self.radiomics.get(e.get("candidate"), [])).get(features_event) if is_int(features_event) else None
        if record is None or features_event >= n:
            self.problem(where, "model_features_event", f"{what}: event {features_event!r} is not a radiomics.recorded of candidate "
                                                        f"{e.get('candidate')} before the decision")
            return
        # The gate as the criterion's signed rule text states it: the statement naming the gate's version, else the first.
        rules = model_rules(criterion.get("threshold") if isinstance(criterion.get("threshold"), str) else "", model_id)
        rule = next((r for r in rules if gate["version"] in r["versions"]), rules[0] if rules else None)
        self.check_gate_features(n, e, what, gate, model, record, rule)
        self.check_gate_rule(n, what, gate, record, rule, decided_on)
        if model.artifact is None:
            return  # reported at its registration
        if record.get("settings_sha256") != model.settings_sha256:
            self.problem(where, "model_features_event", f"{what}: the features of event {features_event} were extracted with "
                                                        "other settings than the card's")
        values, why = feature_values(model.artifact, record)
        if values is None:
            self.problem(where, "model_features_event", f"{what}: event {features_event}: {why}")
            return
        lp = model_lp(model.artifact, values)
        stated = gate["linear_predictor"]
        if not is_number(stated) or float(stated) != lp:
            self.problem(where, "model_lp_mismatch", f"{what}: linear_predictor {stated!r}, recomputed {lp!r} from the features of "
                                                     f"event {features_event} and the registered artifact")
        if gate["qc_status"] != record.get("qc_status"):
            self.problem(where, "model_qc_not_passed", f"{what}: qc_status {gate['qc_status']!r} is not the features event's "
                                                       f"{record.get('qc_status')!r}")
        if verdict != "unknown":
            # A pass or a fail follows from the linear predictor; unknown may also come from QC, the phase or the age.
            follows = gate_verdict(model.op, lp) if all(is_number(v) for v in [model.op["threshold_lp"], *(model.op["grey_zone_lp"] or [None, None])]) else None
            if verdict != follows:
                self.problem(where, "model_verdict", f"{what}: verdict {verdict}, but lp {lp!r} at threshold_lp {model.op['threshold_lp']!r} "
                                                     f"and grey zone {model.op['grey_zone_lp']!r} gives {follows}")
            if gate["qc_required"] is not False and record.get("qc_status") != "pass":
                self.problem(where, "model_qc_not_passed", f"{what}: verdict {verdict} on features whose QC is "
                                                           f"{record.get('qc_status')!r} (event {features_event}), and QC is required")

    def check_gate_features(self, n, e, what, gate, model, record, rule):
        """The features a gate cites are of the gate's contrast phase (the one its rule names, else the card's:
        model_rule, model_features_event); they are the candidate's newest radiomics.recorded of that phase before
        the decision, by study_date, then by event (model_features_not_newest); and a pass or a fail rests on features
        extracted with the software the card names (model_software)."""
        where, cited = f"event {n}", gate["features_event"]
        phase = rule["phase"] if rule and rule["phase"] else self.card_phase(model, rule)
        if record.get("contrast_phase") != phase:
            code, whose = ("model_rule", "its rule states") if rule and rule["phase"] else ("model_features_event", "the card's")
            self.problem(where, code, f"{what}: the features of event {cited} are of the {record.get('contrast_phase')!r} phase, "
                                      f"the gate takes the {phase} phase ({whose})")
        else:
            newest = self.newest_features_of_phase(e.get("candidate"), n, phase)
            if newest != cited:
                self.problem(where, "model_features_not_newest", f"{what}: cites event {cited}, but the candidate's newest {phase} "
                                                                 f"features before the decision are event {newest}")
        if gate["verdict"] != "unknown" and record.get("software") != model.software:
            self.problem(where, "model_software", f"{what}: verdict {gate['verdict']} on features extracted with "
                                                  f"{record.get('software')!r}; the card was validated with {model.software!r}")

    def card_phase(self, model, rule):
        """The card's contrast phase, as a gate whose rule names no phase takes it: the first of the rule's versions
        registered (the card of the gate's own version when the rule names none)."""
        for version in rule["versions"] if rule else []:
            first = self.models.get((model.card.get("model_id"), version))
            if first is not None:
                return first.contrast_phase
        return model.contrast_phase

    def newest_features_of_phase(self, candidate, before, phase):
        """The seq of `candidate`'s newest radiomics.recorded of `phase` before event `before`: the latest study_date,
        then the latest event; None when there is none."""
        found = [(r.get("study_date") if is_date(r.get("study_date")) else "", seq)
                 for seq, r in self.radiomics.get(candidate, []) if seq < before and r.get("contrast_phase") == phase]
        return max(found)[1] if found else None

    def check_gate_rule(self, n, what, gate, record, rule, decided_on):
        """The gate is the one the criterion's signed rule text states (model_rule): its version is one the rule
        accepts; it requires QC exactly when the rule says "mask QC passed"; and, when the rule limits the image's age
        to N days, a pass or a fail rests on an image at most N days older than the decision's date. (The phase the
        rule names is checked with the features, check_gate_features.)"""
        where = f"event {n}"
        if rule is None:
            self.problem(where, "model_rule", f"{what}: the criterion's rule text does not state a gate on this model")
            return
        if gate["version"] not in rule["versions"]:
            self.problem(where, "model_rule", f"{what}: version {gate['version']!r} is not one the rule accepts ({', '.join(rule['versions'])})")
        if gate["qc_required"] is not rule["qc_required"]:
            self.problem(where, "model_rule", f"{what}: qc_required is {gate['qc_required']!r}, but the rule "
                                              + ("requires mask QC" if rule["qc_required"] else "does not require mask QC"))
        if rule["max_age_days"] is not None and gate["verdict"] != "unknown":
            age = days_between(record.get("study_date"), decided_on)
            if age is None:
                self.problem(where, "model_rule", f"{what}: the image's age cannot be computed from its study_date "
                                                  f"{record.get('study_date')!r} and the decision's date {decided_on!r}")
            elif age > rule["max_age_days"]:
                self.problem(where, "model_rule", f"{what}: verdict {gate['verdict']} on an image of {record['study_date']}, "
                                                  f"{age} days before the decision; the rule's limit is {rule['max_age_days']} days")

    def check_model_files(self):
        """models/<id>@<version>.json: exactly the registered artifacts, byte for byte, one per registered version."""
        wanted = {f"models/{model_id}@{version}.json": m for (model_id, version), m in self.models.items()}
        present = set()
        directory = os.path.join(self.dir, "models")
        if os.path.isdir(directory):
            for name in os.listdir(directory):
                present.add(f"models/{name}")
        for path in sorted(present - set(wanted)):
            self.problem(path, "model_file", "is not the artifact of a model registered in the log")
        for path, m in sorted(wanted.items()):
            data = self.read(path)
            if data is None:
                self.problem(path, "model_file", f"is missing: the bundle carries the artifact of every registered model (event {m.seq})")
            elif not isinstance(m.text, str) or data != m.text.encode("utf-8"):
                self.problem(path, "model_file", f"is not the artifact registered in event {m.seq}")
        # models.json, when the bundle has one, indexes exactly those files.
        listing = self.read("models.json")
        if listing is None:
            return
        try:
            entries = parse_json(listing)
            got = sorted((e["seq"], e["model_id"], e["version"], e["artifact_sha256"], e["file"]) for e in entries)
        except Exception as err:
            self.problem("models.json", "model_file", f"unreadable: {err!r}")
            return
        want = sorted((m.seq, model_id, version, m.card.get("artifact_sha256"), f"models/{model_id}@{version}.json")
                      for (model_id, version), m in self.models.items())
        if got != want:
            self.problem("models.json", "model_file", "does not list exactly the registered models (seq, id, version, artifact_sha256, file)")

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

    def check_decision(self, n, e, p, keys, prev_hash_before, line_hash):
        where = f"event {n}"
        d = p.get("decision") or {}
        key = self.key_at(keys)
        if key is None or d.get("key_id") != key[1]:
            self.problem(where, "bad_signature", "the decision does not name the key in force")
        elif ((key[2], p.get("signature"), line_hash) not in self.verified_ahead
              and not ed25519_ok(key[2], p.get("signature", ""), jcs_bytes(d))):
            self.problem(where, "bad_signature", "the decision's Ed25519 signature does not verify with the key in force")
        else:
            self.stats["decision_signatures"] += 1
        if d.get("candidate") != e.get("candidate"):
            self.problem(where, "decision_context", "the decision names another candidate than its event")
        log = d.get("log") or {}
        if log.get("size") != n - 1 or log.get("head") != prev_hash_before:
            self.problem(where, "decision_context", "the decision does not name the log position it was appended at")

    def check_import_receipt(self, n, e, p):
        """records.imported (`trialgate import`, docs/import.md): about no candidate; exactly file, sha256, rows,
        first_seq and last_seq; the events its rows became end right before it, at least one per row."""
        where = f"event {n}"
        self.stats["imports"] = self.stats.get("imports", 0) + 1
        ok = (e.get("candidate") is None and set(p) == {"file", "sha256", "rows", "first_seq", "last_seq"}
              and isinstance(p.get("file"), str) and isinstance(p.get("sha256"), str) and _HEX64.fullmatch(p["sha256"])
              and all(is_int(p.get(k)) for k in ("rows", "first_seq", "last_seq")))
        if not ok:
            self.problem(where, "invalid_event", "an import receipt is about no candidate, with exactly file, sha256 (64 hex), rows, first_seq and last_seq")
        elif not (p["rows"] >= 1 and 1 <= p["first_seq"] and p["last_seq"] == n - 1 and p["last_seq"] - p["first_seq"] + 1 >= p["rows"]):
            self.problem(where, "invalid_event", f"an import receipt's events {p['first_seq']}..{p['last_seq']} must end right before it "
                                                 f"and hold at least its {p['rows']} rows")
        else:
            # Each row became one registration or record, appended by the importer right before the receipt in the same
            # commit, with the stale-decision queries records open: the range must be such events by the receipt's
            # actor, rows of them registrations and records, and a file is imported once.
            if p["sha256"] in self.imported_files:
                self.problem(where, "import_receipt", f"the file was already imported as event {self.imported_files[p['sha256']]}")
            self.imported_files.setdefault(p["sha256"], n)
            run = self.import_run
            if run is None or run[1] != e.get("actor") or p["first_seq"] < run[0]:
                self.problem(where, "import_receipt", f"events {p['first_seq']}..{p['last_seq']} must all be registrations or records "
                                                      f"by {e.get('actor')!r}, the importer")
            elif sum(1 for s in run[2] if s >= p["first_seq"]) != p["rows"]:
                self.problem(where, "import_receipt", f"rows {p['rows']} but events {p['first_seq']}..{p['last_seq']} hold another number "
                                                      "of registrations and records: each row is one")

    def fold_candidate(self, n, e, etype, p, candidates, decisions):
        """Keeps, per candidate, what rules 2 and 6 need: its site, its decisions, what changed since the newest.
        `decisions`: each decision.issued so far, by seq, as (digest, signature)."""
        cid = e.get("candidate")
        if not isinstance(cid, str):
            return
        c = candidates.get(cid)
        if etype == "candidate.registered":
            if c is None:
                candidates[cid] = Candidate(n, p.get("site"))
            return
        if c is None:
            return
        if etype == "decision.issued":
            d = p.get("decision") if isinstance(p.get("decision"), dict) else {}
            c.decisions[n] = decision_summary(d, decisions[n][0] if d is p.get("decision") else decision_digest(d))
            c.changes = []
            return
        if etype == "entry.corrected" and p.get("corrects") == c.registered_seq and p.get("field") == "site":
            c.site = p.get("new_value")
        if c.decisions and changes_candidate_data(etype):
            c.changes.append(n)

    def fold_account(self, n, etype, p, users):
        """Accounts as the user.* events make them. Every key an account registers must be 32 bytes that its key_id
        names (`account_key`). A log never holds a public key, a token digest or a signing-code digest twice, to any
        account, then or since (`account_event`). A signer rotation brings an investigator's new key and signing code
        into force (`account_event` for the rest of its rules); statements after it must name and verify with it."""
        where = f"event {n}"
        name = p.get("name")
        if etype == "user.signer_rotated":
            self.fold_signer_rotation(n, name, p, users)
            return
        if not isinstance(name, str):
            return
        if etype == "user.added":
            if "printed_name" in p:
                self.check_printed_name(n, name, p.get("printed_name"), users)
            if "public_key" in p:
                self.check_account_key(n, name, p)
                self.check_new_key(n, name, p)
            self.check_new_digest(n, name, "token_sha256", p.get("token_sha256"))
            if "signing_sha256" in p:
                if p.get("signing_sha256") == p.get("token_sha256"):
                    self.problem(where, "account_event", f"{name}'s signing code is their session token (the same SHA-256)")
                else:
                    self.check_new_digest(n, name, "signing_sha256", p.get("signing_sha256"))
            users[name] = Account(n, p)
            self.hold(p.get("public_key"), p.get("token_sha256"), p.get("signing_sha256"))
        elif etype == "user.token_rotated":
            self.check_new_digest(n, name, "token_sha256", p.get("token_sha256"))
            if name in users:
                users[name].token_sha256 = p.get("token_sha256")
                users[name].changed_seq = n
            self.hold(None, p.get("token_sha256"))
        elif name in users and etype in ("user.disabled", "user.enabled", "user.removed"):
            users[name].status = {"user.disabled": "disabled", "user.enabled": "active", "user.removed": "removed"}[etype]
            users[name].changed_seq = n

    def fold_signer_rotation(self, n, name, p, users):
        """user.signer_rotated (event schema 3; the schema is checked with the other schema 3 types): an investigator's
        account, not removed, takes a new public key that its key_id names and the log never held, and a new
        signing-code digest the log never held, other than the account's token. Later sign-offs and attestations are
        checked against the new key (check_signer, check_signature); earlier ones were checked against the old one."""
        where = f"event {n}"
        self.stats["signer_rotations"] += 1
        if set(p) != SIGNER_ROTATION_FIELDS or not all(isinstance(v, str) for v in p.values()):
            self.problem(where, "account_event", "a signer rotation's payload is exactly name, public_key, key_id and signing_sha256, "
                                                 "each text; it has " + ", ".join(sorted(map(str, p))))
        account = users.get(name) if isinstance(name, str) else None
        if account is None:
            self.problem(where, "account_event", f"there is no account named {name!r} to rotate the signer of")
        elif account.status == "removed":
            self.problem(where, "account_event", f"{name}'s account was removed in event {account.changed_seq}")
            account = None
        elif account.role != "investigator":
            self.problem(where, "account_event", f"{name} is a {account.role}; only investigators sign")
        self.check_account_key(n, name, p)
        self.check_new_key(n, name, p)
        signing = p.get("signing_sha256")
        if account is not None and signing is not None and signing == account.token_sha256:
            self.problem(where, "account_event", f"{name}'s new signing code is their session token (the same SHA-256)")
        else:
            self.check_new_digest(n, name, "signing_sha256", signing)
        if account is not None:
            account.public_key, account.key_id, account.key_seq = p.get("public_key"), p.get("key_id"), n
            account.changed_seq = n
        self.hold(p.get("public_key"), signing)

    def check_account_key(self, n, name, p):
        """An investigator's key (user.added or user.signer_rotated): 32 raw bytes in base64, named by its key_id."""
        raw = raw_key(p.get("public_key"))
        if raw is None or p.get("key_id") != trialgate_key_id(raw):
            self.problem(f"event {n}", "account_key", f"{name}'s public_key is not a 32-byte Ed25519 key or its key_id does not name it")

    def check_new_key(self, n, name, p):
        """No public key is registered twice in a log: not to another account, nor back to the same one."""
        raw = raw_key(p.get("public_key"))
        if raw is not None and raw in self.held_keys:
            self.problem(f"event {n}", "account_event", f"{name}'s public_key {trialgate_key_id(raw)} was already registered in this log; "
                                                        "each investigator has their own key, and a key never comes back")

    def check_new_digest(self, n, name, field, digest):
        """A token or signing-code digest: 64 lowercase hex digits, never held before by any account of the log."""
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            self.problem(f"event {n}", "account_event", f"{name}'s {field} is not 64 lowercase hex digits")
        elif digest in self.held_digests:
            self.problem(f"event {n}", "account_event", f"{name}'s {field} was already held in this log (a token or a signing code)")

    def hold(self, public_key, *digests):
        raw = raw_key(public_key)
        if raw is not None:
            self.held_keys.add(raw)
        self.held_digests.update(d for d in digests if isinstance(d, str))

    def check_signoff(self, n, e, p, trial_id, origin, candidates, users, policies):
        """An investigator's sign-off (decision.signed), rules 1-8 of docs/decision-format.md, against the log so far."""
        where = f"event {n}"
        self.stats["signoffs"] += 1
        s = p.get("statement")
        if set(p) != {"statement", "signature"} or not isinstance(s, dict):
            self.problem(where, "signoff_malformed", "the payload is not a statement and its signature")
            return
        fields = {"format", "trial_id", "log_origin", "candidate", "decision", "meaning", "meaning_text", "signer", "signed_at"}
        ref, signer = s.get("decision"), s.get("signer")
        if (not fields <= set(s) or set(s) - fields - {"reason"} or s.get("format") != SIGNOFF_FORMAT
                or not isinstance(ref, dict) or set(ref) != {"seq", "sha256", "outcome", "policy"}
                or not isinstance(signer, dict) or set(signer) != {"user", "printed_name", "key_id"}):
            self.problem(where, "signoff_malformed", f"the statement is not a {SIGNOFF_FORMAT} statement")
            return
        if not is_canonical_base64(p.get("signature"), 64):
            self.problem(where, "signoff_malformed", "signature is not the canonical base64 of a 64-byte Ed25519 signature "
                                                     "(88 characters, `==`, the spare bits of the last digit zero)")
        candidate_id = e.get("candidate")

        # Rule 1: this trial, this log, the event's candidate.
        if s.get("trial_id") != trial_id or s.get("log_origin") != origin:
            self.problem(where, "signoff_binding", f"the statement names trial {s.get('trial_id')} / {s.get('log_origin')}, "
                                                   f"not this bundle's {trial_id} / {origin}")
        if s.get("candidate") != candidate_id:
            self.problem(where, "signoff_binding", f"the statement names candidate {s.get('candidate')}, the event {candidate_id}")
        c = candidates.get(candidate_id) if isinstance(candidate_id, str) else None

        # Rules 2, 3 and 4: the exact decision, the candidate's newest, current, and not yet signed off.
        seq = ref.get("seq")
        decision = c.decisions.get(seq) if c is not None and isinstance(seq, int) and not isinstance(seq, bool) else None
        if c is None:
            self.problem(where, "signoff_binding", f"candidate {candidate_id} is not registered before this event")
        elif decision is None:
            self.problem(where, "signoff_binding", f"event {seq} is not a decision of candidate {candidate_id}")
        else:
            if decision["sha256"] is None or decision["sha256"] != ref.get("sha256"):
                self.problem(where, "signoff_binding", f"decision.sha256 is not the SHA-256 of decision {seq}'s RFC 8785 bytes")
            if ref.get("outcome") != decision["outcome"] or ref.get("policy") != decision["policy"]:
                self.problem(where, "signoff_binding", f"the statement's outcome or policy is not decision {seq}'s")
            newest = list(c.decisions)[-1]
            if seq != newest:
                self.problem(where, "signoff_superseded", f"decision {seq} was superseded by decision {newest} before this sign-off")
            else:
                causes = c.changes + [k for k in policies if k > seq]
                if causes:
                    self.problem(where, "signoff_stale", f"decision {seq} is stale: event(s) "
                                 + ", ".join(str(k) for k in sorted(causes)) + " changed its data or policy before this sign-off")
            if seq in c.signed:
                self.problem(where, "signoff_duplicate", f"decision {seq} was already signed off in event {c.signed[seq]}")
            else:
                c.signed[seq] = n

        # Rule 5: the meaning fits the decision, and the words are the meaning's.
        proposed = decision.get("outcome") if decision is not None else ref.get("outcome")
        meaning, reason = s.get("meaning"), s.get("reason")
        if meaning not in MEANINGS:
            self.problem(where, "signoff_meaning", f"meaning {meaning!r} is not one of " + ", ".join(MEANINGS))
        else:
            override, outcome = MEANINGS[meaning]
            if not override and outcome != proposed:
                self.problem(where, "signoff_meaning", f"{meaning} confirms {outcome} but decision {seq} proposes {proposed}")
            if override and outcome == proposed:
                self.problem(where, "signoff_meaning", f"{meaning} overrides decision {seq}, which already proposes {outcome}")
            if "reason" in s and not isinstance(reason, str):
                self.problem(where, "signoff_meaning", "reason is not text")
            elif override and "reason" not in s:
                self.problem(where, "signoff_meaning", "an override needs a reason")
            elif "reason" in s and text_problem(reason, REASON_MAX, multiline=False):
                self.problem(where, "signoff_meaning", f"reason must be {text_problem(reason, REASON_MAX, multiline=False)}")
            # What only an investigator's signed attestation settles is attested first, never overridden into eligibility.
            if meaning == "overridden_eligible" and decision is not None:
                unattested = decision["unattested"]
                if unattested:
                    self.problem(where, "signoff_meaning", f"decision {seq} still needs the attestation of {', '.join(unattested)}: "
                                                           "an override into eligibility waits for the investigator's attestations")
            want = meaning_sentence(meaning, signer.get("printed_name"), signer.get("user"), s.get("candidate"), seq, proposed)
            if s.get("meaning_text") != want:
                self.problem(where, "signoff_meaning", f"meaning_text is not the sentence of {meaning}: {want!r}")

        # Rule 6: the acting investigator, in force, at the candidate's site, as the account registers them.
        account = self.check_signer(n, e, "signoff_signer", signer.get("user"), signer.get("printed_name"), signer.get("key_id"), c, users)

        # Rule 7: signed within 5 minutes of the log's time.
        self.check_signed_at(n, e, "signoff_time", s.get("signed_at"))

        # Rule 8: the signature over the statement's RFC 8785 bytes, with the key the signer's account registers.
        self.check_signature(n, "sign-off", signer.get("user"), account, p.get("signature"), s)

    def check_attestation(self, n, e, p, trial_id, origin, candidates, users):
        """An investigator's signed attestation (attestation.recorded, event schema 3), against the log so far: the
        statement rebuilt from the event, signed by the acting investigator as for a sign-off's rules 6-8."""
        where = f"event {n}"
        self.stats["attestations"] += 1
        required = {"criterion", "result", "attested_on", "signer", "printed_name", "key_id", "signed_at", "signature"}
        missing, extra = sorted(required - set(p)), sorted(set(p) - required - {"statement"})
        if missing or extra or not all(isinstance(p[k], str) for k in set(p) & (required | {"statement"})):
            self.problem(where, "attestation_malformed", "a schema 3 attestation is an investigator's signed statement: "
                         + (f"missing {', '.join(missing)}; " if missing else "") + (f"unknown {', '.join(extra)}; " if extra else "")
                         + "every field is text")
            return
        if p["result"] not in ("pass", "fail") or not is_date(p["attested_on"]):
            self.problem(where, "attestation_malformed", f"result {p['result']!r} is not pass or fail, "
                                                         f"or attested_on {p['attested_on']!r} is not a date")
        if not is_canonical_base64(p["signature"], 64):
            self.problem(where, "attestation_malformed", "signature is not the canonical base64 of a 64-byte Ed25519 signature "
                                                         "(88 characters, `==`, the spare bits of the last digit zero)")
        if "statement" in p and text_problem(p["statement"], STATEMENT_MAX, multiline=True):
            self.problem(where, "attestation_malformed", f"statement must be {text_problem(p['statement'], STATEMENT_MAX, multiline=True)}")
        candidate_id = e.get("candidate")
        c = candidates.get(candidate_id) if isinstance(candidate_id, str) else None
        if c is not None:
            # A signed statement is recorded once: replayed later it would bring back what the investigator has since
            # attested otherwise. Compared as bytes, whatever the base64 spelling.
            try:
                sig_key = base64.b64decode(p["signature"], validate=True)
            except ValueError:
                sig_key = p["signature"]
            if sig_key in c.attestation_signatures:
                self.problem(where, "attestation_replayed", f"this signed attestation was already recorded as event "
                                                            f"{c.attestation_signatures[sig_key]}; a signed statement is recorded once")
            else:
                c.attestation_signatures[sig_key] = n
        if c is None:
            self.problem(where, "attestation_signer", f"candidate {candidate_id} is not registered before this event: "
                                                      "no site to check the signer against")
        account = self.check_signer(n, e, "attestation_signer", p["signer"], p["printed_name"], p["key_id"], c, users)
        self.check_signed_at(n, e, "attestation_time", p["signed_at"])
        statement = attestation_statement(p, trial_id, origin, candidate_id)
        self.check_signature(n, "attestation", p["signer"], account, p["signature"], statement)

    def check_query_text(self, n, etype, p):
        """A review query's words (query.opened `text`, query.answered `note`, query.closed `resolution`): plain text of
        1 to 2000 characters, newlines allowed (`query_malformed`). The queries' other rules are trialgate verify's."""
        field = QUERY_TEXT_FIELDS[etype]
        why = text_problem(p.get(field), QUERY_TEXT_MAX, multiline=True) if isinstance(p, dict) else "text"
        if why:
            self.problem(f"event {n}", "query_malformed", f"{etype}'s {field!r} must be {why}")

    def check_printed_name(self, n, name, printed, users):
        """An account's printed name (user.added, any role): the person's name as their signatures show it, plain text
        of 1 to 200 characters on one line, without parentheses (a signature shows the account name in them), and no
        other account's, ever, once case and surrounding spaces are set aside (`account_event`)."""
        why = text_problem(printed, PRINTED_NAME_MAX, multiline=False)
        if why is None and ("(" in printed or ")" in printed):
            why = "without parentheses (a signature shows the account in them)"
        if why:
            self.problem(f"event {n}", "account_event", f"{name}'s printed_name must be the person's name as signatures show it: {why}")
            return
        other = next((a for a_name, a in users.items() if isinstance(a.printed_name, str) and folded(a.printed_name) == folded(printed)), None)
        if other is not None:
            self.problem(f"event {n}", "account_event", f"{name}'s printed_name {printed!r} is already the account's of event "
                                                        f"{other.added_seq} (as names are compared); each signer's printed name is their own")

    def check_signer(self, n, e, code, user, printed_name, key_id, c, users):
        """A signer (of a sign-off or an attestation) is the event's actor, an investigator account in force at the
        event's time, working at candidate `c`'s site after corrections, with the printed name and key id the
        account registers. Returns the account (None if there is none)."""
        where, at = f"event {n}", utc_ms(e.get("timestamp"))
        account = users.get(user) if isinstance(user, str) else None
        if user != e.get("actor"):
            self.problem(where, code, f"the statement is signed by {user} but the event is {e.get('actor')}'s")
        if account is None or account.role != "investigator":
            self.problem(where, code, f"{user} is not an investigator of this trial at event {n}")
            return account
        if account.status != "active":
            self.problem(where, code, f"{user}'s account is {account.status} (event {account.changed_seq})")
        if account.expires_at is not None and (at is None or utc_ms(account.expires_at) is None or at >= utc_ms(account.expires_at)):
            self.problem(where, code, f"{user}'s account expired at {account.expires_at}")
        if c is not None and (not isinstance(account.sites, list) or c.site not in account.sites):
            self.problem(where, code, f"{user} does not work at site {c.site}, candidate {e.get('candidate')}'s")
        if printed_name != account.printed_name:
            self.problem(where, code, f"the printed name is not the one {user}'s account registers (event {account.added_seq})")
        if key_id != account.key_id:
            self.problem(where, code, f"the statement names key {key_id}, but {user}'s key in force is {account.key_id} "
                                      f"(event {account.key_seq})")
        return account

    def check_signed_at(self, n, e, code, signed_at_text):
        """Signed within 5 minutes of the log's time."""
        signed_at, at = utc_ms(signed_at_text), utc_ms(e.get("timestamp"))
        if signed_at is None or at is None or abs(signed_at - at) > SIGNOFF_SKEW_MS:
            self.problem(f"event {n}", code, f"signed_at {signed_at_text} is not within 5 minutes of the event's time {e.get('timestamp')}")

    def check_signature(self, n, subject, user, account, signature, statement):
        """The Ed25519 signature over the statement's RFC 8785 bytes, with the key the signer's account holds at the
        event (its user.added key, or the newest user.signer_rotated one before the event).
        A signer who is no investigator was reported by check_signer; an investigator without a usable key is reported here."""
        key = None
        if account is not None and account.public_key:
            try:
                key = base64.b64decode(account.public_key, validate=True)
            except Exception:
                key = None
        if key is None or len(key) != 32:
            if account is not None and account.role == "investigator":
                self.problem(f"event {n}", "bad_signature", f"{user}'s account registers no usable Ed25519 key")
        elif not isinstance(signature, str) or not ed25519_ok(key, signature, jcs_bytes(statement)):
            self.problem(f"event {n}", "bad_signature", f"the {subject}'s Ed25519 signature does not verify with {user}'s key {account.key_id}")

    def check_checkpoint(self, size, note, root, origin, keys):
        where = f"checkpoint {size}"
        self.stats["checkpoints"] += 1
        key = self.key_at(keys)
        verify = size in self.signed_sizes
        try:
            if key is None:
                raise ValueError("no trial key is in force")
            o, s, r = parse_checkpoint(open_note(note, [(origin, key[2])], self.verified_ahead, verify=verify))
            self.stats["checkpoint_signatures"] += verify
        except Exception as err:
            self.problem(where, "checkpoint_signature", f"not signed by the key in force at size {size}: {err!r}")
            return
        if o != origin or s != size:
            self.problem(where, "checkpoint_mismatch", f"says {o} size {s}")
        if r != root:
            self.problem(where, "checkpoint_root", "its root is not the root of the bundle's events at that size")


class Progress:
    """The events checked, the rate and the time left, on one line of a terminal (main gives it stderr, and only when
    stderr is a terminal). The verifier calls it every `every` events, the first time with 0 done, which starts the
    clock; it writes at most once per `interval` seconds, each time over the line before. clear() removes the line."""

    every = 128      # events between calls: a look at the clock is all a call costs, until it writes
    interval = 0.2   # seconds between writes
    ERASE = "\r\x1b[K"  # to the start of the line, then clear it (ANSI "erase in line")

    def __init__(self, stream):
        self.stream = stream
        self.began = self.written = None  # when the first call came, when the line was last written
        self.shown = False

    def __call__(self, done, total):
        now = time.monotonic()
        if self.began is None:
            self.began = self.written = now
        if now - self.written < self.interval:
            return
        self.written = now
        elapsed = now - self.began
        rate = done / elapsed if elapsed > 0 else 0.0
        left = round((total - done) / rate) if rate > 0 else None
        eta = f"{left // 60}:{left % 60:02d}" if left is not None else "?"
        self.write(f"{self.ERASE}verify_bundle: {done:,} of {total:,} events, {rate:,.0f} events/s, ETA {eta}")
        self.shown = True

    def clear(self):
        if self.shown:
            self.write(self.ERASE)
            self.shown = False

    def write(self, text):
        if self.stream is None:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except OSError:  # a terminal gone away must not change the verdict: show nothing more
            self.stream = None


def main(argv=None):
    # Python's cycle collector walks every live container each time it runs a full collection; the verifier holds
    # millions of them (every event's parsed tree) and makes few that form cycles, so reference counting frees nearly
    # all it drops and the collector only costs time (about a fifth of the CPU on a large bundle). Worker processes
    # inherit it; it is on again when the verifier returns (the tests call main many times).
    gc.disable()
    try:
        return verify_main(argv)
    finally:
        gc.enable()


def verify_main(argv):
    ap = argparse.ArgumentParser(description="Verify a TrialGate audit bundle without TrialGate.")
    ap.add_argument("bundle", help="the directory written by `trialgate export --out`")
    ap.add_argument("--vkey", help="a C2SP vkey (or a file holding one) the newest checkpoint must be signed by")
    ap.add_argument("--checkpoint", help="a signed checkpoint saved earlier that the bundle must extend")
    ap.add_argument("--witness", action="append", default=[], metavar="VKEY_OR_FILE",
                    help="a witness's cosignature/v1 vkey (or a file of them, one a line) whose cosignature of the newest "
                         "checkpoint counts; repeatable")
    ap.add_argument("--quorum", type=int, metavar="K", help="how many witnesses must cosign the newest checkpoint "
                                                            "(default: the manifest's, else all of them)")
    ap.add_argument("--max-age", metavar="AGE", help="count only cosignatures made at most this long ago, by the time each "
                                                      "witness states: a whole number with s, m, h or d, e.g. 36h")
    ap.add_argument("--every-checkpoint", action="store_true", help="verify every checkpoint's signature, not only the "
                                                                     "newest's (every checkpoint's root is checked either way)")
    ap.add_argument("--quiet", action="store_true", help="show no progress on stderr (it is shown only on a terminal)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                    help="processes that parse, check and hash the event lines and verify checkpoint signatures ahead "
                         "(default: one per core; 1: all in this process)")
    args = ap.parse_args(argv)
    max_age = None
    if args.max_age is not None:
        units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
        number, unit = args.max_age[:-1], args.max_age[-1:]
        if unit not in units or not number.isdigit() or int(number) == 0:
            print(f"verify_bundle: --max-age takes a whole number with s, m, h or d (such as 36h), got {args.max_age!r}", file=sys.stderr)
            return 2
        max_age = int(number) * units[unit]
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
    vkeys = []
    for given in args.witness:
        text = open(given).read() if os.path.isfile(given) else given
        vkeys += [line for line in text.splitlines() if line.strip()]
    witnesses, problems = witness_set(vkeys)
    if problems:
        print("verify_bundle: --witness " + "; ".join(problems), file=sys.stderr)
        return 2
    if args.quorum is not None and witnesses and not 1 <= args.quorum <= len(witnesses):
        print(f"verify_bundle: --quorum {args.quorum} is not 1 to the {len(witnesses)} witnesses given", file=sys.stderr)
        return 2
    saved = open(args.checkpoint, encoding="utf-8").read() if args.checkpoint else None
    progress = Progress(sys.stderr) if sys.stderr.isatty() and not args.quiet else None
    if args.jobs < 1:
        print(f"verify_bundle: --jobs takes a number of processes, 1 or more, got {args.jobs}", file=sys.stderr)
        return 2
    v = Verifier(args.bundle, trusted, saved, witnesses, args.quorum, max_age, progress=progress, jobs=args.jobs,
                 every_checkpoint=args.every_checkpoint)
    try:
        try:
            v.run()
        finally:
            if progress:
                progress.clear()  # however the run ends, before anything else is printed
    except UsageError as err:
        print(f"verify_bundle: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # a malformed file anywhere is a failed check, not a crash
        v.problem("bundle", "malformed", repr(err))
    s = v.stats
    if v.problems:
        print(f"FAILED: {args.bundle}")
        for where, code, message in v.problems:
            print(f"  {where}: {code}: {message}")
        for note in v.notes:
            print(f"  note: {note}")
        return 1
    if v.witnesses:
        witnessed = (f"{s.get('cosigned', 0)} of {len(v.witnesses)} witnesses cosigned the newest checkpoint (quorum {v.quorum}"
                     + (", witnesses declared by the bundle itself)" if v.witnesses_declared else ")"))
    else:
        witnessed = "no witnesses given or declared, cosignatures not checked"
    if s["checkpoint_signatures"] == s["checkpoints"]:
        signed = "every one's signature"
    elif s["checkpoint_signatures"] == 1:
        signed = "the newest's signature"
    else:
        signed = f"{s['checkpoint_signatures']} signatures"
    print(f"OK: {s['events']} events canonical and chained, {s['checkpoints']} checkpoints with matching roots "
          f"({signed} verified), "
          f"{s['decision_signatures']} decision signatures, {s['signoffs']} sign-offs, {s['attestations']} signed attestations, "
          f"{s['rotations']} key rotations, {s['signer_rotations']} signer rotations, {s['inclusion_proofs']} inclusion proofs, "
          f"{s['models']} registered models, {s['model_gates']} model gates and {s['model_scores']} model scores recomputed; "
          f"{witnessed}; size {s['size']}, root {s['root']}")
    for note in v.notes:
        print(f"  note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
