#!/usr/bin/env python3
"""Crash consistency: kill -9 the server at random moments while several clients write, restart, check.

Each cycle starts `trialgate serve` on a loopback port, runs CLIENTS coordinator connections that pipeline durable
appends and decisions, kills the server with SIGKILL after a random delay, and then checks, on the store as
reopened:
  - every acknowledged event is present, at the acknowledged seq, with the acknowledged hash and content;
  - nothing half-written: every stored event is one that a client sent (whole), and `trialgate verify` passes
    (hashes, chain, rules, signatures, every stored checkpoint's root and signature);
  - `trialgate replay` re-derives every decision;
  - the log extends the checkpoint saved before the cycle (`verify --checkpoint`).
Loopback only; bounded by --cycles and --seconds. Needs only the Python standard library.

Usage: scripts/crash_test.py [--trialgate PATH] [--cycles N] [--seconds S] [--clients C]
"""

import argparse
import json
import os
import random
import shutil
import signal
import sys
import threading
import time


from tglab import LineClient, add_user, free_port, new_trial, run, start_server


class Client(threading.Thread):
    """One coordinator connection: auth, then pipelined writes; records what was acknowledged."""

    def __init__(self, port, token, name, cycle, today):
        super().__init__(daemon=True)
        self.port, self.token, self.name, self.cycle, self.today = port, token, name, cycle, today
        self.sent = {}     # request id -> the request
        self.acked = {}    # request id -> result

    def requests(self):
        cand = f"C{self.cycle}-{self.name}"
        yield {"id": "reg", "cmd": "register", "candidate": cand, "site": "SITE-01"}
        yield {"id": "clin", "cmd": "record", "kind": "clinical", "candidate": cand, "fields": {
            "assessed_on": self.today, "age": 60, "ecog": 0,
            "prior_systemic_therapies": ["somatostatin_analogue"], "anc": "2.5 10*9/L", "platelets": "180 10*9/L",
            "haemoglobin": "12 g/dL", "bilirubin": "0.9 {ULN}"}}
        for i in range(2000):
            if i % 10 == 9:
                yield {"id": f"d{i}", "cmd": "decide", "candidate": cand}
            else:
                yield {"id": f"k{i}", "cmd": "record", "kind": "ki67", "candidate": cand,
                       "fields": {"percent": i % 100, "specimen_date": self.today, "method": "manual_count"}}

    def run(self):
        try:
            client = LineClient.connect("127.0.0.1", self.port, timeout=30)
        except OSError:
            return
        try:
            if not client.auth(self.token).get("ok"):
                return
            reader = threading.Thread(target=self.read_replies, args=(client,), daemon=True)
            reader.start()
            for r in self.requests():
                self.sent[r["id"]] = r
                client.send(r)
            reader.join()
        except OSError:
            pass
        finally:
            client.close()

    def read_replies(self, client):
        try:
            for r in client.replies():
                if r.get("ok"):
                    self.acked[r["id"]] = r["result"]
        except (OSError, ValueError):
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trialgate", default=".build/debug/trialgate")
    ap.add_argument("--cycles", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--max-load", type=float, default=0.8,
                    help="the longest load before a kill, in seconds (a few seconds let the WAL grow past a checkpoint step, "
                         "so that kills also land while the tg-wal thread copies it)")
    args = ap.parse_args()
    tg = os.path.realpath(args.trialgate)
    tmp, env = new_trial(tg, "CRASH")
    today = time.strftime("%Y-%m-%d", time.gmtime())
    tokens = [add_user(tg, env, f"coord{i}", "coordinator", "SITE-01") for i in range(args.clients)]
    start = time.time()
    totals = {"cycles": 0, "acknowledged": 0, "lost": 0, "wrong": 0, "stray": 0, "decisions_acked": 0}
    failures = []
    server = None
    try:
        while totals["cycles"] < args.cycles and time.time() - start < args.seconds:
            cycle = totals["cycles"] + 1
            saved = run(tg, "checkpoint", env=env).stdout
            port = free_port()
            log = open(os.path.join(tmp, "server.log"), "a")
            server = start_server(tg, env, port, stdout=log, stderr=log)
            clients = [Client(port, tokens[i], f"c{i}", cycle, today) for i in range(args.clients)]
            for c in clients:
                c.start()
            time.sleep(random.uniform(0.05, args.max_load))
            server.send_signal(signal.SIGKILL)
            server.wait()
            server = None
            for c in clients:
                c.join(timeout=30)

            events = {}
            for line in run(tg, "export", env=env).stdout.splitlines():
                e = json.loads(line)
                events[e["seq"]] = e
            sent_payloads = {}
            for c in clients:
                for rid, req in c.sent.items():
                    sent_payloads[(req.get("candidate"), rid)] = req
                for rid, res in c.acked.items():
                    totals["acknowledged"] += 1
                    seq, req = res["seq"], c.sent[rid]
                    e = events.get(seq)
                    if e is None:
                        totals["lost"] += 1
                        failures.append(f"cycle {cycle}: acknowledged seq {seq} ({rid}) is missing")
                        continue
                    acked_hash = res.get("hash") or (res.get("appended") or [{}])[-1].get("hash")
                    ok = e["candidate"] == req["candidate"] and e["hash"] == acked_hash
                    if req["cmd"] == "record":
                        ok = ok and e["payload"] == req["fields"]
                    if req["cmd"] == "decide":
                        totals["decisions_acked"] += 1
                        ok = ok and e["type"] == "decision.issued" and e["payload"]["signature"] == res["signature"]
                    if not ok:
                        totals["wrong"] += 1
                        failures.append(f"cycle {cycle}: seq {seq} differs from what was acknowledged for {rid}")
            # Nothing half-present: every event of this cycle's candidates is a whole request some client sent.
            for e in events.values():
                cand = e.get("candidate") or ""
                if not cand.startswith(f"C{cycle}-"):
                    continue
                if e["type"] in ("ki67.recorded", "clinical.recorded"):
                    if not any(req.get("candidate") == cand and req.get("fields") == e["payload"] for (cd, _), req in sent_payloads.items() if cd == cand):
                        totals["stray"] += 1
                        failures.append(f"cycle {cycle}: stored event {e['seq']} matches no request")
            for what, cmd in (("verify", ["verify"]), ("replay", ["replay"]), ("extends the saved checkpoint", ["verify", "--checkpoint", "-"])):
                if cmd[-1] == "-":
                    path = os.path.join(tmp, "saved.note")
                    with open(path, "w") as fh:
                        fh.write(saved)
                    cmd = ["verify", "--checkpoint", path]
                p = run(tg, *cmd, env=env, check=False)
                if p.returncode != 0:
                    failures.append(f"cycle {cycle}: {what} failed: {p.stdout.strip()[:400]}")
            totals["cycles"] = cycle
            if failures:
                break
    finally:
        if server is not None:
            server.kill()
    elapsed = time.time() - start
    size = len(run(tg, "export", env=env).stdout.splitlines())
    print(f"crash test: {totals['cycles']} cycles in {elapsed:.0f} s, {args.clients} clients; "
          f"{totals['acknowledged']} events acknowledged ({totals['decisions_acked']} decisions), "
          f"{totals['lost']} lost, {totals['wrong']} wrong, {totals['stray']} half-present; log now {size} events")
    for f in failures[:20]:
        print("  " + f)
    if failures:
        print(f"store kept for inspection: {tmp}")
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
