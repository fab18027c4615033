#!/usr/bin/env python3
"""Soak: a steady mixed load on `trialgate serve` for a bounded time, with the server's RSS and open file
descriptors sampled every few seconds.

Coordinators register candidates, record Ki-67 values and ask for decisions at a throttled rate; a sponsor reads
(show, decisions, head, checkpoint, proofs); a subscriber follows the log; connections are also opened and closed.
Writes samples to a CSV as it goes, and at the end an SVG plot and a summary: RSS and fds in the first and last
fifth of the run, and the RSS slope over the second half. Loopback only; Python standard library only.

Usage: scripts/soak.py [--trialgate PATH] [--minutes M] [--out DIR]
"""

import argparse
import os
import subprocess
import sys
import threading
import time


from tglab import LineClient, add_user, free_port, new_trial, rss_and_fds, start_server


def connect(port, token):
    client = LineClient.connect("127.0.0.1", port, timeout=30)
    if not client.auth(token).get("ok"):
        raise SystemExit("auth failed")
    return client


def coordinator(port, token, name, stop, today, stats):
    try:
        coordinate(port, token, name, stop, today, stats)
    except (OSError, ValueError):
        if not stop.is_set():
            stats["errors"] += 1


def coordinate(port, token, name, stop, today, stats):
    client = connect(port, token)
    n = 0
    while not stop.is_set():
        cand = f"{name}-{n // 12}"
        if n % 12 == 0:
            r = client.request({"id": n, "cmd": "register", "candidate": cand, "site": "SITE-01"})
        elif n % 12 == 11:
            r = client.request({"id": n, "cmd": "decide", "candidate": cand})
        else:
            r = client.request({"id": n, "cmd": "record", "kind": "ki67", "candidate": cand,
                                "fields": {"percent": n % 100, "specimen_date": today, "method": "manual_count"}})
        stats["ok" if r.get("ok") else "refused"] += 1
        n += 1
        time.sleep(0.02)
    client.close()


def sponsor(port, token, stop, stats):
    try:
        read(port, token, stop, stats)
    except (OSError, ValueError):
        if not stop.is_set():
            stats["errors"] += 1


def read(port, token, stop, stats):
    client = connect(port, token)
    i = 0
    while not stop.is_set():
        i += 1
        head = client.request({"id": i, "cmd": "head"})
        size = head.get("result", {}).get("size", 1)
        # A dashboard's view: the latest page of decisions (a listing of the whole log grows with it).
        recent = {"cmd": "decisions", "outcome": "eligible", "after": max(0, size - 2000), "limit": 100}
        for req in (recent, {"cmd": "checkpoint"},
                    {"cmd": "proof.inclusion", "seq": max(1, (i * 7919) % max(size - 20, 1))},
                    {"cmd": "show", "candidate": f"c0-{i % 5}"}):
            client.request(dict(req, id=i))
            stats["reads"] += 1
        # Open and close a connection now and then.
        connect(port, token).close()
        time.sleep(0.2)
    client.close()


def subscriber(port, token, stop, stats):
    client = connect(port, token)
    client.sock.settimeout(None)
    client.send({"id": "sub", "cmd": "subscribe", "from": 1})
    try:
        for _ in client.lines():
            stats["streamed"] += 1
            if stop.is_set():
                break
    except OSError:
        pass


def plot(samples, path):
    if len(samples) < 2:
        return
    t0, t1 = samples[0][0], samples[-1][0]
    rss_max = max(s[1] for s in samples) * 1.1
    fd_max = max(s[2] for s in samples) * 1.1
    w, h, m = 640, 240, 40
    def x(t): return m + (t - t0) / max(t1 - t0, 1) * (w - 2 * m)
    def y(v, top): return h - m - v / top * (h - 2 * m)
    rss = " ".join(f"{x(t):.1f},{y(r, rss_max):.1f}" for t, r, _ in samples)
    fds = " ".join(f"{x(t):.1f},{y(d, fd_max):.1f}" for t, _, d in samples)
    svg = f'''<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">
<rect width="{w}" height="{h}" fill="white"/>
<line x1="{m}" y1="{h - m}" x2="{w - m}" y2="{h - m}" stroke="black"/><line x1="{m}" y1="{m}" x2="{m}" y2="{h - m}" stroke="black"/>
<polyline points="{rss}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>
<polyline points="{fds}" fill="none" stroke="#d62728" stroke-width="1" stroke-dasharray="3,2"/>
<text x="{m}" y="{m - 8}">trialgate serve under soak: RSS (solid, max {rss_max / 1.1 / 1024:.0f} MiB) and open fds (dashed, max {fd_max / 1.1:.0f})</text>
<text x="{m}" y="{h - m + 16}">0 min</text><text x="{w - m - 40}" y="{h - m + 16}">{(t1 - t0) / 60:.0f} min</text>
</svg>
'''
    with open(path, "w") as fh:
        fh.write(svg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trialgate", default=".build/debug/trialgate")
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--out", default=".")
    args = ap.parse_args()
    tg = os.path.realpath(args.trialgate)
    tmp, env = new_trial(tg, "SOAK")
    today = time.strftime("%Y-%m-%d", time.gmtime())
    coord = add_user(tg, env, "carla", "coordinator", "SITE-01")
    spons = add_user(tg, env, "sam", "sponsor")
    # Only a regulator may subscribe (the stream carries every event of every site, as export does).
    regul = add_user(tg, env, "rita", "regulator")
    port = free_port()
    server = start_server(tg, env, port, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "server.log"), "w"))
    stats = {"ok": 0, "refused": 0, "reads": 0, "streamed": 0, "errors": 0}
    stop = threading.Event()
    threads = [threading.Thread(target=coordinator, args=(port, coord, f"c{i}", stop, today, stats), daemon=True) for i in range(4)]
    threads += [threading.Thread(target=sponsor, args=(port, spons, stop, stats), daemon=True),
                threading.Thread(target=subscriber, args=(port, regul, stop, stats), daemon=True)]
    for t in threads:
        t.start()
    csv_path = os.path.join(args.out, "soak-samples.csv")
    samples = []
    start = time.time()
    with open(csv_path, "w") as csv:
        csv.write("seconds,rss_kib,open_fds,acknowledged_writes,reads\n")
        while time.time() - start < args.minutes * 60 and server.poll() is None:
            rss, fds = rss_and_fds(server.pid)
            samples.append((time.time(), rss, fds))
            csv.write(f"{time.time() - start:.0f},{rss},{fds},{stats['ok']},{stats['reads']}\n")
            csv.flush()
            time.sleep(5)
    stop.set()
    alive = server.poll() is None
    server.terminate()
    server.wait()
    plot(samples, os.path.join(args.out, "soak-rss.svg"))
    k = max(1, len(samples) // 5)
    first, last = samples[:k], samples[-k:]
    half = samples[len(samples) // 2:]
    n = len(half)
    mt = sum(s[0] for s in half) / n
    mr = sum(s[1] for s in half) / n
    slope = sum((s[0] - mt) * (s[1] - mr) for s in half) / max(sum((s[0] - mt) ** 2 for s in half), 1e-9)
    print(f"soak: {(samples[-1][0] - samples[0][0]) / 60:.1f} min, server alive to the end: {alive}; "
          f"{stats['ok']} writes acknowledged, {stats['refused']} refused, {stats['reads']} reads, {stats['streamed']} events streamed, {stats['errors']} client errors")
    print(f"RSS first fifth {sum(s[1] for s in first) / len(first) / 1024:.1f} MiB, last fifth {sum(s[1] for s in last) / len(last) / 1024:.1f} MiB, "
          f"slope over the second half {slope * 60 / 1024:+.2f} MiB/min; open fds {min(s[2] for s in samples)}–{max(s[2] for s in samples)}")
    print(f"samples: {csv_path}; plot: {os.path.join(args.out, 'soak-rss.svg')}")
    return 0 if alive and not stats["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
