#!/usr/bin/env python3
"""Hostile and malformed requests against a served witness (`trialgate witness serve`): each gets the status C2SP
tlog-witness (and the witness's own limits) give it, and none stops the witness.

A trial store L is cosigned once (size S1) and then grows to S2; signed checkpoints and consistency proofs come from
L through the CLI (`checkpoint`, `proof consistency`), a checkpoint of an origin the witness does not know from a
second store, and one of L's origin signed by another key from a third. Then, one line per case, expected and got:
GET and other paths (405, 404), bodies over 64 KiB (413: with a true Content-Length, chunked, and declared far beyond
what is sent), a Content-Length shorter than the body, more than 63 proof lines, malformed bodies and notes (400),
an old size above the checkpoint's (400), an unknown origin (404), an unknown key and a bad signature (403), a
consistency proof that does not verify or is cut short (422), a stale old size (409, `text/x.tlog.size`, the size as
body), bytes that are not HTTP (400 and the connection closed), an idle client and one sending a byte a second (both
closed once 10 s pass), a client pipelining requests that never reads the answers (the witness's RSS must not grow by
more than --rss-bound MiB), and many connections at once (every one answered). Meanwhile the witness's state must not
move; at the end a good request gets 200 with a cosignature that verifies (checked here, in Python), and the process
never died.

--known CASE,... names cases that are known to fail (bugs reported and not fixed yet): they are shown as KNOWN and do
not fail the run, but one of them passing does (so the list is kept up to date).

Loopback only; about 15 s. Python standard library only.

Usage: scripts/witness_hostile.py [--trialgate PATH] [--rss-bound MIB] [--known CASE,...]
"""

import argparse
import base64
import json
import os
import select
import shutil
import socket
import sys
import threading
import time

from tglab import (cosignature_valid, free_port, new_trial, note_size_root, post_checkpoint, rss_and_fds, run,
                   start_witness)

IDLE_TIMEOUT = 10  # WitnessServer.idleTimeout


def raw_exchange(port, data, wait=3.0, send_delay=None):
    """Sends DATA (bytes; with SEND_DELAY, one byte at a time that many seconds apart) and reads until the witness
    closes the connection or WAIT seconds pass with nothing to read. Returns (first status or None, everything
    read, seconds until the close or None if still open)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    start, got, closed = time.time(), b"", None
    try:
        chunks = [data] if send_delay is None else [data[i:i + 1] for i in range(len(data))]
        for chunk in chunks:
            try:
                s.sendall(chunk)
            except OSError:
                closed = time.time() - start
                break
            if send_delay is not None:
                r, _, _ = select.select([s], [], [], send_delay)
                if r:
                    b = s.recv(65536)
                    got += b
                    if not b:
                        closed = time.time() - start
                        break
        while closed is None:
            r, _, _ = select.select([s], [], [], wait)
            if not r:
                break
            try:
                b = s.recv(65536)
            except OSError:
                b = b""
            got += b
            if not b:
                closed = time.time() - start
    finally:
        s.close()
    status = None
    if got.startswith(b"HTTP/1.1 ") and len(got) >= 12:
        status = int(got[9:12])
    return status, got, closed


def http_request(method, path, body=b"", headers=None, chunked=False):
    head = f"{method} {path} HTTP/1.1\r\nHost: witness\r\n"
    for k, v in (headers or {}).items():
        head += f"{k}: {v}\r\n"
    if chunked:
        head += "Transfer-Encoding: chunked\r\n\r\n"
        out = b""
        for i in range(0, len(body), 8192):
            piece = body[i:i + 8192]
            out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        return head.encode() + out + b"0\r\n\r\n"
    if "Content-Length" not in (headers or {}):
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


class Cases:
    def __init__(self, known):
        self.known, self.rows, self.lock = set(known), [], threading.Lock()

    def report(self, name, expected, got, ok):
        with self.lock:
            if ok:
                verdict = "FIXED? (listed in --known: take it off)" if name in self.known else "ok"
            else:
                verdict = "KNOWN" if name in self.known else "MISMATCH"
            self.rows.append((name, verdict))
            print(f"{name:<22} expected {expected:<46} got {got:<46} {verdict}", flush=True)

    def failed(self):
        """Cases that failed, passed while listed as known, or were listed as known but do not exist."""
        names = {n for n, _ in self.rows}
        return [n for n, v in self.rows if v not in ("ok", "KNOWN")] + [f"{k} (no such case)" for k in sorted(self.known - names)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trialgate", default=".build/debug/trialgate")
    ap.add_argument("--rss-bound", type=float, default=24, help="most MiB the witness may grow by under a client that never reads")
    ap.add_argument("--known", default="", help="comma-separated cases known to fail (reported bugs)")
    args = ap.parse_args()
    tg = os.path.realpath(args.trialgate)
    t0 = time.time()
    cases = Cases([k for k in args.known.split(",") if k])

    # The log, and checkpoints from elsewhere.
    tmp, env = new_trial(tg, "WHOSTILE")
    other_tmp, other_env = new_trial(tg, "WOTHER")
    forger_tmp, forger_env = new_trial(tg, "WHOSTILE")  # the same origin, another key
    dirs = [tmp, other_tmp, forger_tmp]
    for i in range(3):
        run(tg, "candidate", "register", f"H-{i}", "--site", "SITE-01", env=env)
    wdir = os.path.join(tmp, "witness")
    run(tg, "witness", "init", "--dir", wdir, "--name", "witness.hostile/w1", env=env)
    run(tg, "witness", "add-log", "--dir", wdir, "--vkey", run(tg, "key", "vkey", env=env).stdout.strip(), env=env)
    vkey = run(tg, "witness", "vkey", "--dir", wdir, env=env).stdout.strip()
    port = free_port()
    witness = start_witness(tg, wdir, port, open(os.path.join(tmp, "witness.log"), "w"))
    try:
        run(tg, "witness", "submit", "--witness", f"http://127.0.0.1:{port}={vkey}", env=env)
        s1, root1 = note_size_root(json.loads(run(tg, "checkpoint", "--json", env=env).stdout)["note"])
        for i in range(3, 6):
            run(tg, "candidate", "register", f"H-{i}", "--site", "SITE-01", env=env)
        cons = json.loads(run(tg, "proof", "consistency", "--from", str(s1), "--json", env=env).stdout)
        note2, proof, s2 = cons["checkpoint2"], cons["proof"], cons["to"]
        good = f"old {s1}\n" + "".join(h + "\n" for h in proof) + "\n" + note2
        other_note = json.loads(run(tg, "checkpoint", "--json", env=other_env).stdout)["note"]
        run(tg, "candidate", "register", "F-1", "--site", "SITE-01", env=forger_env)
        forged_note = json.loads(run(tg, "checkpoint", "--json", env=forger_env).stdout)["note"]
        assert proof, "the consistency proof from S1 to S2 should not be empty"

        # The slow cases run alongside the rest: each waits on the 10 s idle timeout.
        def slow(name, expected, fn):
            def go():
                try:
                    fn()
                except Exception as e:  # noqa: BLE001
                    cases.report(name, expected, f"error {e!r}"[:46], False)
            t = threading.Thread(target=go)
            t.start()
            return t

        def idle():
            _, _, closed = raw_exchange(port, b"", wait=IDLE_TIMEOUT + 3)
            cases.report("idle-close", f"closed after {IDLE_TIMEOUT} s idle", "open after 13 s" if closed is None else f"closed after {closed:.1f} s",
                         closed is not None and IDLE_TIMEOUT - 1 <= closed <= IDLE_TIMEOUT + 2)

        def trickle():
            request = http_request("POST", "/add-checkpoint", good.encode())
            _, _, closed = raw_exchange(port, request[:IDLE_TIMEOUT + 3], wait=0.1, send_delay=1.0)
            cases.report("trickle-close", f"a byte a second: closed by {IDLE_TIMEOUT + 2} s",
                         "still open after 13 s" if closed is None else f"closed after {closed:.1f} s",
                         closed is not None and closed <= IDLE_TIMEOUT + 2)

        def declared():
            data = http_request("POST", "/add-checkpoint", b"x" * 70000, {"Content-Length": "10000000"})
            status, _, closed = raw_exchange(port, data, wait=IDLE_TIMEOUT + 3)
            got = f"{status}" if status else "no answer"
            got += "" if closed is None else f", closed after {closed:.1f} s"
            cases.report("declared-413", "413 (10 MB declared, 70 KiB sent)", got, status == 413)

        def garbage():
            status, _, closed = raw_exchange(port, b"NOT HTTP AT ALL\r\n\r\n", wait=IDLE_TIMEOUT + 3)
            got = f"{status}, " + ("still open" if closed is None else f"closed after {closed:.1f} s")
            cases.report("not-http-close", "400 and closed within 2 s", got, status == 400 and closed is not None and closed <= 2)

        slow_threads = [slow("idle-close", "closed", idle), slow("trickle-close", "closed", trickle),
                        slow("declared-413", "413", declared), slow("not-http-close", "400, closed", garbage)]

        # Quick cases through a normal HTTP client: (name, method, path, body, expected status).
        def proof_body(old, lines, note=note2):
            return f"old {old}\n" + "".join(h + "\n" for h in lines) + "\n" + note
        flipped = list(proof)
        flipped[0] = ("B" if flipped[0][0] != "B" else "C") + flipped[0][1:]
        tampered = note2.replace(f"\n{s2}\n{note_size_root(note2)[1]}\n", f"\n{s2}\n{root1}\n")
        bare = note2.split("\n\n", 1)[0] + "\n"
        quick = [
            ("get-405", "GET", "/add-checkpoint", "", 405),
            ("path-404", "POST", "/checkpoint", good, 404),
            ("subpath-404", "POST", "/add-checkpoint/x", good, 404),
            ("body-413", "POST", "/add-checkpoint", "x" * (64 * 1024 + 1), 413),
            ("proof-lines-400", "POST", "/add-checkpoint", proof_body(s1, [proof[0]] * 64), 400),
            ("no-blank-line-400", "POST", "/add-checkpoint", f"old {s1}\n" + note2.replace("\n\n", "\n"), 400),
            ("old-word-400", "POST", "/add-checkpoint", proof_body("x", proof), 400),
            ("old-zero-pad-400", "POST", "/add-checkpoint", proof_body(f"0{s1}", proof), 400),
            ("old-negative-400", "POST", "/add-checkpoint", proof_body(-1, []), 400),
            ("proof-base64-400", "POST", "/add-checkpoint", proof_body(s1, ["not base64!"]), 400),
            ("proof-short-hash-400", "POST", "/add-checkpoint", proof_body(s1, [base64.b64encode(base64.b64decode(proof[0])[:31]).decode()]), 400),
            ("note-unsigned-400", "POST", "/add-checkpoint", proof_body(s1, proof, bare), 400),
            ("note-size-word-400", "POST", "/add-checkpoint", proof_body(s1, proof, note2.replace(f"\n{s2}\n", "\nseven\n", 1)), 400),
            ("empty-body-400", "POST", "/add-checkpoint", "", 400),
            ("invalid-utf8-400", "POST", "/add-checkpoint", b"old \xff\xfe\n\n\xc3\x28", 400),
            ("old-above-400", "POST", "/add-checkpoint", proof_body(s2 + 1, proof), 400),
            ("origin-404", "POST", "/add-checkpoint", proof_body(0, [], other_note), 404),
            ("key-403", "POST", "/add-checkpoint", proof_body(s1, [], forged_note), 403),
            ("signature-403", "POST", "/add-checkpoint", proof_body(s1, proof, tampered), 403),
            ("proof-422", "POST", "/add-checkpoint", proof_body(s1, flipped), 422),
            ("proof-cut-422", "POST", "/add-checkpoint", proof_body(s1, proof[:-1]), 422),
        ]
        for name, method, path, body, want in quick:
            try:
                status, ctype, answer = post_checkpoint(port, body, timeout=10, path=path, method=method)
                cases.report(name, str(want), f"{status} {answer.strip()[:40]!r}", status == want)
            except OSError as e:
                cases.report(name, str(want), f"error {e!r}"[:46], False)

        # Chunked, over 64 KiB; a Content-Length shorter than what follows it; a stale old size (409, text/x.tlog.size,
        # the latest cosigned size as the body).
        def chunked():
            status, _, _ = raw_exchange(port, http_request("POST", "/add-checkpoint", b"x" * 70000, {"Connection": "close"}, chunked=True), wait=3)
            return str(status), status == 413

        def short_length():
            status, _, _ = raw_exchange(port, http_request("POST", "/add-checkpoint", b"y" * 70000, {"Content-Length": "100"}), wait=1)
            return str(status), status == 400

        def stale():
            status, ctype, answer = post_checkpoint(port, proof_body(s1 - 1, []), timeout=10)
            return f"{status} {ctype} {answer.strip()!r}", status == 409 and ctype == "text/x.tlog.size" and answer == f"{s1}\n"
        for name, expected, fn in [("chunked-413", "413", chunked), ("short-length-400", "400 (100 bytes taken as the body)", short_length),
                                   ("stale-409", f"409 text/x.tlog.size {str(s1)!r}", stale)]:
            try:
                got, ok = fn()
            except OSError as e:
                got, ok = f"error {e!r}"[:46], False
            cases.report(name, expected, got, ok)

        # Requests pipelined for 10 s on a connection whose answers are never read (small socket buffers, so that the
        # witness, not the kernel, is what would hold them); RSS sampled until 1 s after the close.
        before = rss_and_fds(witness.pid)[0] / 1024
        peak = before
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
        c.connect(("127.0.0.1", port))
        c.settimeout(0.2)
        burst = http_request("GET", "/add-checkpoint") * 500
        sent, offset, end = 0, 0, time.time() + 10
        while time.time() < end and witness.poll() is None:
            try:
                n = c.send(burst[offset:])  # whole requests only: a partial send goes on where it stopped
                sent, offset = sent + n, (offset + n) % len(burst)
            except socket.timeout:
                pass
            except OSError:
                break
            peak = max(peak, rss_and_fds(witness.pid)[0] / 1024)
        c.close()
        end = time.time() + 1
        while time.time() < end and witness.poll() is None:
            peak = max(peak, rss_and_fds(witness.pid)[0] / 1024)
            time.sleep(0.1)
        cases.report("unread-rss", f"RSS +{args.rss_bound:.0f} MiB at most",
                     f"+{peak - before:.1f} MiB ({sent / 2**20:.1f} MiB of requests sent)", peak - before <= args.rss_bound)

        # Many connections at once, each with a request, then every answer read: the witness serves 256 at a time and
        # closes the others at once, unanswered; it stays up for the next good request.
        socks, answers, closed = [], 0, 0
        try:
            for _ in range(400):
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
            stale = http_request("POST", "/add-checkpoint", proof_body(s1 - 1, []).encode(), {"Connection": "close"})
            for c in socks:
                try:
                    c.sendall(stale)
                except OSError:
                    pass
            for c in socks:
                got = b""
                try:
                    while True:
                        b = c.recv(65536)
                        if not b:
                            break
                        got += b
                except OSError:
                    pass
                answers += got.startswith(b"HTTP/1.1 409")
                closed += got == b""
            got_text = f"{answers} answered 409, {closed} closed unanswered"
        except OSError as e:
            got_text = f"{answers} answered, then {e!r}"[:46]
        finally:
            for c in socks:
                c.close()
        # (How many are answered depends on how soon the first ones finish and free their places: at least the 256 the
        # witness holds at once, less those the slow clients above still hold; every other one closed unanswered.)
        cases.report("many-connections", "each answered 409 or closed unanswered, 200+ answered", got_text, answers + closed == 400 and answers >= 200)

        for t in slow_threads:
            t.join()

        # Nothing refused moved the witness; a good request is still cosigned; the process never died.
        with open(os.path.join(wdir, "witness.json")) as fh:
            held = json.load(fh)["latest"]
        origin = note2.split("\n", 1)[0]
        held_now = (held[origin]["size"], held[origin]["root"])
        cases.report("state-unmoved", f"size {s1}", f"size {held_now[0]}", held_now == (s1, root1))
        try:
            status, _, answer = post_checkpoint(port, good, timeout=10)
            line = next((l + "\n" for l in answer.splitlines() if l.startswith("\u2014 ")), "")
            ok = status == 200 and cosignature_valid(vkey, note2, line)
            cases.report("good-200", "200 and a valid cosignature", f"{status}" + (" valid" if ok else f" {answer.strip()[:40]!r}"), ok)
        except OSError as e:
            cases.report("good-200", "200 and a valid cosignature", f"error {e!r}"[:46], False)
        alive = witness.poll() is None
        cases.report("alive", "the witness still running", "running" if alive else f"exited {witness.returncode}", alive)
    finally:
        witness.kill()
        witness.wait()
    failed = cases.failed()
    known = [n for n, v in cases.rows if v == "KNOWN"]
    print(f"witness hostile: {len(cases.rows)} cases in {time.time() - t0:.0f} s, {sum(1 for _, v in cases.rows if v == 'ok')} as expected, "
          f"{len(known)} known failures{' (' + ', '.join(known) + ')' if known else ''}, {len(failed)} unexpected"
          f"{' (' + ', '.join(failed) + ')' if failed else ''}; {'FAILED' if failed else 'OK'}")
    if failed:
        print(f"kept for inspection: {tmp}")
        dirs.remove(tmp)
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
