#!/usr/bin/env python3
"""Writes the seed corpus of the `witness` fuzz target (Tests/TrialGateTests/Fixtures/corpus/witness): add-checkpoint
bodies for a log of 16 one-byte leaves (RFC 6962 hashing), signed with the test key of seed byte 9, against a witness
holding size 4. Usage: scripts/witness_fuzz_seeds.py DIR"""
import base64, hashlib, os, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
out = sys.argv[1]
def leaf(b): return hashlib.sha256(b"\x00" + b).digest()
def node(l, r): return hashlib.sha256(b"\x01" + l + r).digest()
def mth(leaves):
    if len(leaves) == 1: return leaves[0]
    k = 1
    while k * 2 < len(leaves): k *= 2
    return node(mth(leaves[:k]), mth(leaves[k:]))
def subproof(m, leaves, b):
    n = len(leaves)
    if m == n: return [] if b else [mth(leaves)]
    k = 1
    while k * 2 < n: k *= 2
    if m <= k: return subproof(m, leaves[:k], b) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]
L = [leaf(bytes([i])) for i in range(16)]
def keypair(seed):
    k = Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
    return k, k.public_key().public_bytes_raw()
def note(origin, size, key, seed_name=None):
    k, pub = key
    name = seed_name or origin
    text = f"{origin}\n{size}\n{base64.b64encode(mth(L[:size])).decode()}\n"
    kid = hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]
    return text + "\n" + f"\u2014 {name} " + base64.b64encode(kid + k.sign(text.encode())).decode() + "\n"
log = keypair(9)
O = "fuzz.test/witness-log"
def body(old, proof, n):
    return f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof) + "\n" + n
seeds = {
    "grow-4-to-7.txt": body(4, subproof(4, L[:7], True), note(O, 7, log)),
    "same-size-4.txt": body(4, [], note(O, 4, log)),
    "stale-old-0.txt": body(0, [], note(O, 9, log)),
    "bad-proof.txt": body(4, [hashlib.sha256(b"x").digest()] * 3, note(O, 7, log)),
    "other-key.txt": body(4, subproof(4, L[:7], True), note(O, 7, keypair(3))),
    "unknown-origin.txt": body(0, [], note("fuzz.test/other", 5, log)),
    "old-above-size.txt": body(9, [], note(O, 7, log)),
    "64-proof-lines.txt": body(4, [hashlib.sha256(b"y").digest()] * 64, note(O, 7, log)),
}
for name, text in seeds.items():
    open(os.path.join(out, name), "w", encoding="utf-8").write(text)
print("log vkey:", O + "+" + hashlib.sha256(O.encode() + b"\n\x01" + log[1]).digest()[:4].hex() + "+" + base64.b64encode(b"\x01" + log[1]).decode())
print("held size 4 root", base64.b64encode(mth(L[:4])).decode())
