#!/usr/bin/env python3
"""Hostile clients against a running `trialgate serve`, while an honest client keeps working.

Starts a server on a loopback port over a fresh store, measures an honest coordinator's request latency alone,
then again while attackers run at the same time: thousands of connections opened and dropped, slowloris
(byte-at-a-time lines), multi-megabyte lines, invalid UTF-8, deeply nested JSON, floods of bad tokens, and
subscribers that reset the connection in the middle of their catch-up (while the server reads the log for them).
Samples the server's RSS and open file descriptors throughout. Reports honest p50/p99 alone and under attack,
the attack counts, and the RSS and fd range. Loopback only; bounded by --seconds. Python standard library only.

Usage: scripts/hostile.py [--trialgate PATH] [--seconds S]
"""

import argparse
import json
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time


from tglab import add_user, free_port, new_trial, rss_and_fds, start_server


def honest(port, token, seconds, today):
    """Sequential request/reply round trips (half appends, half reads); returns latencies in ms."""
    lat = []
    # From an address of its own: the bad-token floods get 127.0.0.1 rate-limited, as they should.
    sock = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.3", 0))
    f = sock.makefile("rwb", buffering=0)
    f.write((json.dumps({"cmd": "auth", "token": token}) + "\n").encode())
    f.readline()
    end = time.time() + seconds
    i = 0
    reg = f"H-{time.time_ns()}"
    f.write((json.dumps({"id": "r", "cmd": "register", "candidate": reg, "site": "SITE-01"}) + "\n").encode())
    f.readline()
    while time.time() < end:
        i += 1
        if i % 2:
            req = {"id": i, "cmd": "record", "kind": "ki67", "candidate": reg,
                   "fields": {"percent": i % 100, "specimen_date": today, "method": "manual_count"}}
        else:
            req = {"id": i, "cmd": "show", "candidate": reg}
        t = time.perf_counter()
        f.write((json.dumps(req) + "\n").encode())
        line = f.readline()
        if not line:
            raise SystemExit("the server closed the honest client's connection (did it crash? see its log)")
        r = json.loads(line)
        lat.append((time.perf_counter() - t) * 1000)
        if not r.get("ok"):
            raise SystemExit(f"honest request refused: {r}")
    sock.close()
    return lat


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] if xs else float("nan")


class Attack(threading.Thread):
    def __init__(self, name, fn, port, stop, token=""):
        super().__init__(daemon=True)
        self.name_, self.fn, self.port, self.stop, self.count, self.token = name, fn, port, stop, 0, token

    def run(self):
        while not self.stop.is_set():
            try:
                self.fn(self)
            except OSError:
                time.sleep(0.01)


def open_drop(a):
    s = socket.create_connection(("127.0.0.1", a.port), timeout=2)
    s.close()
    a.count += 1


def slowloris(a):
    s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
    for b in b'{"cmd":"auth","token":"':
        if a.stop.is_set():
            break
        s.send(bytes([b]))
        time.sleep(0.05)
    s.close()
    a.count += 1


def huge_line(a):
    s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
    chunk = b"x" * 65536
    try:
        for _ in range(64):  # 4 MiB without a newline
            s.sendall(chunk)
        s.sendall(b"\n")
        s.recv(4096)
    finally:
        s.close()
    a.count += 1


def bad_utf8_and_nesting(a):
    s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
    f = s.makefile("rwb", buffering=0)
    f.write(b'{"cmd":"auth","token":"\xff\xfe"}\n')
    f.readline()
    f.write(b"[" * 60000 + b"\n")
    f.readline()
    s.close()
    a.count += 1


def bad_tokens(a):
    s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
    f = s.makefile("rwb", buffering=0)
    f.write(b'{"cmd":"auth","token":"0000000000000000000000000000000000000000000000000000000000000000"}\n')
    f.readline()
    s.close()
    a.count += 1


def subscribe_and_reset(a):
    s = socket.create_connection(("127.0.0.1", a.port), timeout=5, source_address=("127.0.0.2", 0))
    f = s.makefile("rwb", buffering=0)
    f.write(b'{"cmd":"auth","token":"' + a.token.encode() + b'"}\n')
    f.readline()
    f.write(b'{"cmd":"subscribe","from":1}\n')
    want, got = random.choice([1, 1000, 60000, 200000]), 0
    while got < want:
        b = s.recv(65536)
        if not b:
            break
        got += len(b)
    # A reset, not a clean close: the connection ends while the server may be reading the next chunk for it.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    a.count += 1


def sample(pid, stop, out):
    while not stop.is_set():
        try:
            rss, fds = rss_and_fds(pid)
            out.append((time.time(), rss, fds))
        except (OSError, StopIteration):
            pass
        time.sleep(0.5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trialgate", default=".build/debug/trialgate")
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    tg = os.path.realpath(args.trialgate)
    tmp, env = new_trial(tg, "HOSTILE")
    today = time.strftime("%Y-%m-%d", time.gmtime())
    token = add_user(tg, env, "honest", "coordinator", "SITE-01")
    sponsor = add_user(tg, env, "watcher", "sponsor")
    # A log long enough that a subscriber's catch-up takes several reads of the store.
    lines = "".join(json.dumps({"cmd": "register", "candidate": f"PRE-{i}", "site": "SITE-02"}) + "\n" for i in range(5000))
    subprocess.run([tg, "exec"], input=lines, capture_output=True, text=True, env=env, check=True)
    port = free_port()
    server = start_server(tg, env, port, "--max-connections", "512", "--idle-timeout", "5",
                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "server.log"), "w"))
    try:
        samples = []
        stop_sampling = threading.Event()
        threading.Thread(target=sample, args=(server.pid, stop_sampling, samples), daemon=True).start()
        alone = honest(port, token, args.seconds / 2, today)
        stop = threading.Event()
        attacks = [Attack(n, fn, port, stop) for n, fn, k in [
            ("connections opened and dropped", open_drop, 4), ("slowloris", slowloris, 40), ("4 MiB lines", huge_line, 2),
            ("invalid UTF-8 + 60,000-deep JSON", bad_utf8_and_nesting, 2), ("bad-token floods", bad_tokens, 4)] for _ in range(k)]
        attacks += [Attack("subscribers reset mid-catch-up", subscribe_and_reset, port, stop, sponsor) for _ in range(4)]
        for a in attacks:
            a.start()
        attacked = honest(port, token, args.seconds, today)
        stop.set()
        for a in attacks:
            a.join(timeout=10)
        stop_sampling.set()
        alive = server.poll() is None
        counts = {}
        for a in attacks:
            counts[a.name_] = counts.get(a.name_, 0) + a.count
        rss = [s[1] for s in samples]
        fds = [s[2] for s in samples]
        print(f"honest client alone: {len(alone)} requests, p50 {pct(alone, 50):.2f} ms, p99 {pct(alone, 99):.2f} ms")
        print(f"honest client under attack: {len(attacked)} requests, p50 {pct(attacked, 50):.2f} ms, p99 {pct(attacked, 99):.2f} ms")
        print("attacks: " + ", ".join(f"{n} {c}" for n, c in counts.items()))
        print(f"server alive: {alive}; RSS {min(rss) // 1024}–{max(rss) // 1024} MiB, open fds {min(fds)}–{max(fds)} ({len(samples)} samples)")
        return 0 if alive and attacked else 1
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
