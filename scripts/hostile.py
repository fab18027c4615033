#!/usr/bin/env python3
"""Hostile clients against a running `trialgate serve`, while an honest client keeps working.

Starts a server on a loopback port over a fresh store and runs four phases, each --seconds long (the first half):

1. alone: an honest coordinator's request latency with nobody else about;
2. memory (at least 8 s): clients that send and never read their replies: unauthenticated ones sending megabytes of `x\n`
   (reconnecting whenever the server closes them), and a logged-in sponsor pipelining `audit-trail` pages. Prints the
   server's RSS before, at its peak during, and after;
3. slots: attackers hold more unauthenticated sockets than --max-connections, some idle, some trickling a byte at a
   time, while an honest sponsor opens a fresh connection, authenticates and reads, over and over: its p50/p99 and
   how often it was refused;
4. mixed: thousands of connections opened and dropped, slowloris (byte-at-a-time lines), multi-megabyte lines,
   invalid UTF-8, deeply nested JSON, floods of bad tokens, subscribers that reset the connection in the middle of
   their catch-up (while the server reads the log for them), and requests whose `cmd` carries a forged log line;
   the honest coordinator's p50/p99 meanwhile.

Then the server log must hold no forged line. Exits 1 if the server died, the honest client was locked out or
refused, the RSS grew by more than --rss-bound MiB during the memory phase, or a forged line reached the log.
Loopback only. Python standard library only.

Usage: scripts/hostile.py [--trialgate PATH] [--seconds S] [--rss-bound MIB]
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


from tglab import ConnectionClosed, LineClient, add_user, free_port, new_trial, rss_and_fds, start_server


def honest(port, token, seconds, today):
    """Sequential request/reply round trips (half appends, half reads); returns latencies in ms."""
    lat = []
    # From an address of its own: the bad-token floods get 127.0.0.1 rate-limited, as they should.
    client = LineClient.connect("127.0.0.1", port, source=("127.0.0.3", 0))
    try:
        client.auth(token)
        end = time.time() + seconds
        i = 0
        reg = f"H-{time.time_ns()}"
        client.request({"id": "r", "cmd": "register", "candidate": reg, "site": "SITE-01"})
        while time.time() < end:
            i += 1
            if i % 2:
                req = {"id": i, "cmd": "record", "kind": "ki67", "candidate": reg,
                       "fields": {"percent": i % 100, "specimen_date": today, "method": "manual_count"}}
            else:
                req = {"id": i, "cmd": "show", "candidate": reg}
            t = time.perf_counter()
            r = client.request(req)
            lat.append((time.perf_counter() - t) * 1000)
            if not r.get("ok"):
                raise SystemExit(f"honest request refused: {r}")
    except ConnectionClosed:
        raise SystemExit("the server closed the honest client's connection (did it crash? see its log)") from None
    client.close()
    return lat


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] if xs else float("nan")


class Attack(threading.Thread):
    def __init__(self, name, fn, port, stop, token=""):
        super().__init__(daemon=True)
        self.name_, self.fn, self.port, self.stop, self.count, self.token, self.sent = name, fn, port, stop, 0, token, 0

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
    client = LineClient.connect("127.0.0.1", a.port, timeout=5)
    client.send_raw(b'{"cmd":"auth","token":"\xff\xfe"}\n')
    client.read_line()
    client.send_raw(b"[" * 60000 + b"\n")
    client.read_line()
    client.close()
    a.count += 1


def bad_tokens(a):
    client = LineClient.connect("127.0.0.1", a.port, timeout=5)
    client.send_raw(b'{"cmd":"auth","token":"0000000000000000000000000000000000000000000000000000000000000000"}\n')
    client.read_line()
    client.close()
    a.count += 1


def subscribe_and_reset(a):
    client = LineClient.connect("127.0.0.1", a.port, timeout=5, source=("127.0.0.2", 0))
    client.send({"cmd": "auth", "token": a.token})
    client.read_line()
    client.send({"cmd": "subscribe", "from": 1})
    s = client.sock
    want, got = random.choice([1, 1000, 60000, 200000]), 0
    while got < want:
        b = s.recv(65536)
        if not b:
            break
        got += len(b)
    # A reset, not a clean close: the connection ends while the server may be reading the next chunk for it.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
    a.count += 1


FORGED = "FORGED-LINE info trialgate.server : principal=adam role=admin [TrialGateServer] authenticated"


def log_injection(a):
    """Unauthenticated requests whose cmd would end the log line and start a forged one."""
    client = LineClient.connect("127.0.0.1", a.port, timeout=5)
    for sep in ("\n", "\r\n", "\r", "\u2028", "\u0085"):
        client.send({"cmd": "x" + sep + FORGED})
        client.read_line()
    client.close()
    a.count += 1


def flood_unread(a):
    """A client sending `x\\n` as fast as the server takes it and never reading a reply; logged in if it has a token."""
    s = socket.create_connection(("127.0.0.1", a.port), timeout=5, source_address=("127.0.0.6", 0))
    if a.token:
        s.sendall(b'{"cmd":"auth","token":"' + a.token.encode() + b'"}\n')
    s.settimeout(0.5)
    chunk = b"x\n" * 32768
    try:
        while not a.stop.is_set():
            try:
                a.sent += s.send(chunk)
            except socket.timeout:
                pass  # the server is not reading: keep the connection, unread, and push again
    except OSError:
        pass  # the server closed the connection: start again
    finally:
        s.close()
    a.count += 1


def pipeline_unread(a):
    """A logged-in sponsor asking for audit-trail pages, pipelined, and never reading them."""
    s = socket.create_connection(("127.0.0.1", a.port), timeout=5, source_address=("127.0.0.4", 0))
    s.sendall(b'{"cmd":"auth","token":"' + a.token.encode() + b'"}\n')
    s.settimeout(1)
    request = b'{"cmd":"audit-trail"}\n' * 64
    try:
        while not a.stop.is_set():
            s.sendall(request)
            a.sent += len(request)
    except (socket.timeout, OSError):
        # The server stopped reading: hold the connection, unread, until the phase ends.
        while not a.stop.is_set():
            time.sleep(0.1)
    finally:
        s.close()
    a.count += 1


class Squatter(threading.Thread):
    """Holds `n` unauthenticated connections (idle, or trickling a byte a second), reopening any the server closes."""

    def __init__(self, port, n, trickle, stop):
        super().__init__(daemon=True)
        self.port, self.n, self.trickle, self.stop, self.opened = port, n, trickle, stop, 0

    def run(self):
        socks = []
        while not self.stop.is_set():
            while len(socks) < self.n and not self.stop.is_set():
                try:
                    c = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                    c.setblocking(False)
                    socks.append(c)
                    self.opened += 1
                except OSError:
                    time.sleep(0.05)
                    break
            alive = []
            for c in socks:
                try:
                    if self.trickle:
                        c.send(b"{")
                    if c.recv(4096) == b"":
                        c.close()
                        continue
                except BlockingIOError:
                    pass
                except OSError:
                    c.close()
                    continue
                alive.append(c)
            socks = alive
            time.sleep(1 if self.trickle else 0.2)
        for c in socks:
            c.close()


def honest_fresh(port, token, seconds):
    """A sponsor that opens a new connection, authenticates and reads, again and again; returns (latencies in ms,
    refusals). Each latency covers the connect, the auth and the request."""
    lat, refused = [], []
    end = time.time() + seconds
    while time.time() < end:
        t = time.perf_counter()
        try:
            client = LineClient.connect("127.0.0.1", port, timeout=5, source=("127.0.0.5", 0))
            auth = client.auth(token)
            r = client.request({"id": 1, "cmd": "head"})
            client.close()
            if not (auth.get("ok") and r.get("ok")):
                refused.append((auth, r))
                continue
        except (OSError, ValueError) as e:
            refused.append(str(e))
            continue
        lat.append((time.perf_counter() - t) * 1000)
    return lat, refused


def sample(pid, stop, out):
    while not stop.is_set():
        try:
            rss, fds = rss_and_fds(pid)
            out.append((time.time(), rss, fds))
        except (OSError, StopIteration):
            pass
        time.sleep(0.5)


def rss_mib(pid):
    return rss_and_fds(pid)[0] / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trialgate", default=".build/debug/trialgate")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--rss-bound", type=float, default=48, help="most MiB the server may grow by in the memory phase")
    args = ap.parse_args()
    tg = os.path.realpath(args.trialgate)
    tmp, env = new_trial(tg, "HOSTILE")
    today = time.strftime("%Y-%m-%d", time.gmtime())
    token = add_user(tg, env, "honest", "coordinator", "SITE-01")
    sponsor = add_user(tg, env, "watcher", "sponsor")
    # Subscribing is the regulator's: on main it follows export's rule, which a sponsor does not have.
    regulator = add_user(tg, env, "auditor", "regulator")
    # A log long enough that a subscriber's catch-up takes several reads of the store, and audit-trail pages are large.
    lines = "".join(json.dumps({"cmd": "register", "candidate": f"PRE-{i}", "site": "SITE-02"}) + "\n" for i in range(5000))
    subprocess.run([tg, "exec"], input=lines, capture_output=True, text=True, env=env, check=True)
    port = free_port()
    log_path = os.path.join(tmp, "server.log")
    server = start_server(tg, env, port, "--max-connections", "512", "--idle-timeout", "5",
                          stdout=subprocess.DEVNULL, stderr=open(log_path, "w"))
    problems = []
    try:
        samples = []
        stop_sampling = threading.Event()
        threading.Thread(target=sample, args=(server.pid, stop_sampling, samples), daemon=True).start()

        # 1. Alone.
        alone = honest(port, token, args.seconds / 2, today)
        print(f"honest client alone: {len(alone)} requests, p50 {pct(alone, 50):.2f} ms, p99 {pct(alone, 99):.2f} ms")

        # 2. Clients that never read.
        time.sleep(0.5)
        before = rss_mib(server.pid)
        stop = threading.Event()
        floods = [Attack("unauthenticated x-flood", flood_unread, port, stop), Attack("logged-in x-flood", flood_unread, port, stop, sponsor),
                  Attack("unread audit-trail pipeline", pipeline_unread, port, stop, sponsor)]
        for a in floods:
            a.start()
        # At least 8 s: a server without the bound grows by ~10 MiB/s here, which a shorter run would not tell from noise.
        peak, end = before, time.time() + max(args.seconds, 8)
        while time.time() < end and server.poll() is None:
            peak = max(peak, rss_mib(server.pid))
            time.sleep(0.1)
        stop.set()
        for a in floods:
            a.join(timeout=10)
        time.sleep(1)
        after = rss_mib(server.pid) if server.poll() is None else float("nan")
        sent = {}
        for a in floods:
            sent[a.name_] = sent.get(a.name_, 0) + a.sent
        print(f"memory attack: server RSS {before:.1f} MiB before, {peak:.1f} MiB at peak (+{peak - before:.1f}), {after:.1f} MiB after; "
              + ", ".join(f"{n} sent {b / 2**20:.1f} MiB" for n, b in sent.items()))
        if peak - before > args.rss_bound:
            problems.append(f"RSS grew by {peak - before:.1f} MiB under clients that do not read (bound {args.rss_bound} MiB)")

        # 3. Connection slots held without logging in.
        stop = threading.Event()
        squatters = [Squatter(port, 150, False, stop) for _ in range(4)] + [Squatter(port, 50, True, stop) for _ in range(2)]
        for q in squatters:
            q.start()
        time.sleep(1)
        fresh, refused = honest_fresh(port, sponsor, args.seconds)
        stop.set()
        for q in squatters:
            q.join(timeout=10)
        print(f"honest client, a fresh connection each time, while {sum(q.n for q in squatters)} unauthenticated sockets are held "
              f"({sum(q.opened for q in squatters)} opened): {len(fresh)} sessions, p50 {pct(fresh, 50):.2f} ms, p99 {pct(fresh, 99):.2f} ms, "
              f"{len(refused)} refused")
        # An honest client can be evicted if more squatters connect than the unauthenticated cap between its connect and
        # its auth: now and then under churn, not as a lockout.
        if not fresh or len(refused) > 0.01 * (len(fresh) + len(refused)):
            problems.append(f"the honest client was refused {len(refused)} times in {len(fresh) + len(refused)} while sockets were held: {refused[:3]}")

        # 4. Everything else at once.
        stop = threading.Event()
        attacks = [Attack(n, fn, port, stop) for n, fn, k in [
            ("connections opened and dropped", open_drop, 4), ("slowloris", slowloris, 40), ("4 MiB lines", huge_line, 2),
            ("invalid UTF-8 + 60,000-deep JSON", bad_utf8_and_nesting, 2), ("bad-token floods", bad_tokens, 4),
            ("forged log lines", log_injection, 2)] for _ in range(k)]
        attacks += [Attack("subscribers reset mid-catch-up", subscribe_and_reset, port, stop, regulator) for _ in range(4)]
        for a in attacks:
            a.start()
        try:
            attacked = honest(port, token, args.seconds, today)
        except SystemExit as e:
            attacked = []
            problems.append(str(e))
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
        print(f"honest client under attack: {len(attacked)} requests, p50 {pct(attacked, 50):.2f} ms, p99 {pct(attacked, 99):.2f} ms")
        print("attacks: " + ", ".join(f"{n} {c}" for n, c in counts.items()))
        print(f"server alive: {alive}; RSS {min(rss) // 1024}–{max(rss) // 1024} MiB, open fds {min(fds)}–{max(fds)} ({len(samples)} samples)")
        if not alive:
            problems.append("the server died")
    finally:
        server.kill()
        server.wait()
    with open(log_path, errors="replace") as fh:
        forged = [l for l in fh if l.startswith("FORGED-LINE")]
    print(f"server log: {len(forged)} forged lines")
    if forged:
        problems.append(f"a request forged {len(forged)} lines in the server log, e.g. {forged[0].strip()}")
    for p in problems:
        print("FAILED: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
