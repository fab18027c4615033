#!/usr/bin/env python3
"""A witness killed with SIGKILL, over and over, never cosigns two inconsistent checkpoints of one log.

One trial store gets a few events and is cosigned by a witness; then it is copied (no writer running) into two
stores, A and B: the same origin and key, the same prefix of F events, and from there on different events, a fork.
Each cycle starts `trialgate witness serve` on one loopback port over the same folder while, concurrently,
  - a writer per branch appends events to its store and runs `trialgate witness submit` (exit 0: cosigned and kept
    in the store; exit 2: refused or unreachable, both expected here);
  - a raw client posts add-checkpoint requests of its own, from either branch (old 0 first, then from the size the
    409 names, with a proof from `trialgate proof consistency`), and keeps every cosignature it is given;
and then kills the witness with SIGKILL: at a random moment, or (every other cycle, the clients stopped) just after
the killer itself has sent a request the witness will cosign, so that the kill lands between the request and the
reply: in turn, as soon as the new witness.json is renamed into place, or 0-4 ms after the request.
After each kill, before the restart, and at the end:
  - witness.json is valid JSON in the witness's format, and the witness starts again over it;
  - the witness's latest (size, root) for the origin is a checkpoint of A or B, never goes backwards, never moves
    from one branch to the other, and is at least every cosignature any client has been given (each was on disk
    before its reply);
  - the property: cosignatures of size > F exist for at most one of A and B (counting those kept in the stores and
    those the raw client received); every cosignature received or kept verifies (Ed25519 checked here, in Python).
At the end, with the witness left running: A and B submit once more, the branch that won is cosigned and the other
refused; `trialgate verify --witness VKEY --quorum 1` passes on the winner and fails on the loser; plain `verify`
passes on both; the witness's latest is the winner's newest checkpoint.

--simulate-lost-state puts witness.json back to its state at the fork point before each restart, as a witness that
lost its writes would be: the run must then fail. --self-check runs that (up to 10 cycles) and exits 0 only if the
violation is caught, to show that the test can fail.

Loopback only; bounded by --cycles and --seconds. Python standard library only.

Usage: scripts/witness_crash_test.py [--trialgate PATH] [--cycles N] [--seconds S] [--simulate-lost-state | --self-check]
"""

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import sys
import threading
import time

from tglab import cosignature_valid, free_port, new_trial, note_size_root, post_checkpoint, run, start_witness

FORK_EVENTS = 6  # events registered before the fork (after init and the policy)


def read_only(store, sql):
    """The rows of `sql` on the store, read with SQLite (read-only), not through TrialGate."""
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30)
    try:
        return list(db.execute(sql))
    finally:
        db.close()


def checkpoints(store):
    """The store's checkpoints: {size: note}."""
    return dict(read_only(store, "SELECT size, note FROM checkpoints"))


def kept_cosignatures(store):
    """The cosignatures the store keeps: [(size, witness, line)]."""
    return read_only(store, "SELECT size, witness, line FROM cosignatures")


class Lab:
    """The stores, the witness and what every client has seen."""

    def __init__(self, tg, simulate_lost_state):
        self.tg, self.simulate = tg, simulate_lost_state
        self.tmp, self.env = new_trial(tg, "WCRASH")
        self.stores = {"A": os.path.join(self.tmp, "a.sqlite"), "B": os.path.join(self.tmp, "b.sqlite")}
        self.wdir = os.path.join(self.tmp, "witness")
        self.port = free_port()
        self.lock = threading.Lock()
        self.received = []        # (branch, size, root, line) the raw client was given, with 200
        self.violations = []
        self.counts = {"kills": 0, "refused": 0, "unreachable": 0, "raw_cosigned": 0, "cli_cosigned": 0, "writes": 0}
        for mode in ("on_save", "random"):
            self.counts.update({f"aimed_{mode}": 0, f"{mode}_replied": 0, f"{mode}_written_unanswered": 0, f"{mode}_before_state": 0})
        self.observed = None      # the witness's latest (size, root) at the previous check
        self.proc = None
        self.serial = 0           # candidates registered on the branches
        self.verified = set()     # (branch, size, line) of the kept cosignatures checked already
        self.log = open(os.path.join(self.tmp, "witness.log"), "a")

    def violation(self, text):
        with self.lock:
            self.violations.append(text)

    def count(self, key, n=1):
        with self.lock:
            self.counts[key] += n

    # --- set-up -----------------------------------------------------------------------------------------------------

    def setup(self):
        tg, env = self.tg, self.env
        origin_store = env["TRIALGATE_STORE"]
        for i in range(FORK_EVENTS):
            run(tg, "candidate", "register", f"P-{i}", "--site", "SITE-01", env=env)
        newest = json.loads(run(tg, "checkpoint", "--json", env=env).stdout)
        self.fork, self.origin = newest["size"], newest["origin"]
        run(tg, "witness", "init", "--dir", self.wdir, "--name", "witness.crash/w1", env=env)
        run(tg, "witness", "add-log", "--dir", self.wdir, "--vkey", run(tg, "key", "vkey", env=env).stdout.strip(), env=env)
        self.vkey = run(tg, "witness", "vkey", "--dir", self.wdir, env=env).stdout.strip()
        self.target = f"http://127.0.0.1:{self.port}={self.vkey}"
        # The prefix is cosigned before the fork, so both branches start from a cosigned size F.
        self.start()
        run(tg, "witness", "submit", "--store", origin_store, "--witness", self.target, env=env)
        self.stop()
        with open(os.path.join(self.wdir, "witness.json")) as fh:
            self.fork_state = fh.read()
        # The fork: copies made with SQLite's backup (no writer is running), the same key beside each.
        src = sqlite3.connect(origin_store)
        for path in self.stores.values():
            dst = sqlite3.connect(path)
            src.backup(dst)
            dst.close()
            shutil.copyfile(origin_store + ".key", path + ".key")
            os.chmod(path + ".key", 0o600)
        src.close()
        self.observed = (self.fork, note_size_root(checkpoints(self.stores["A"])[self.fork])[1])

    def start(self):
        self.proc = start_witness(self.tg, self.wdir, self.port, self.log)

    def stop(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    # --- what the witness holds --------------------------------------------------------------------------------------

    def branch_of(self, size, root, cps):
        """Which branch has a checkpoint (size, root): "prefix" (both, up to the fork), "A", "B", or None."""
        on = [b for b in "AB" if size in cps[b] and note_size_root(cps[b][size])[1] == root]
        if len(on) == 2:
            return "prefix"
        return on[0] if on else None

    def cosigned_beyond_fork(self, cps):
        """{branch: set of sizes > F} cosigned, from the stores and from the raw client; checks each signature."""
        out = {"A": set(), "B": set()}
        for b in "AB":
            for size, witness, line in kept_cosignatures(self.stores[b]):
                if (b, size, line) not in self.verified:
                    if not cosignature_valid(self.vkey, cps[b][size], line):
                        self.violation(f"store {b} keeps a cosignature of size {size} that does not verify: {line.strip()}")
                    self.verified.add((b, size, line))
                if size > self.fork:
                    out[b].add(size)
        with self.lock:
            received = list(self.received)
        for b, size, root, line in received:
            if size > self.fork:
                out[b].add(size)
        return out

    def check_state(self, when):
        """The checks made while no witness runs."""
        path = os.path.join(self.wdir, "witness.json")
        try:
            with open(path) as fh:
                state = json.load(fh)
            latest = state["latest"].get(self.origin)
            assert state["format"] == "trialgate.witness/1" and latest is not None
            held = (int(latest["size"]), latest["root"])
        except (OSError, ValueError, KeyError, AssertionError, TypeError) as e:
            self.violation(f"{when}: witness.json is not a readable state holding {self.origin}: {e!r}")
            return
        cps = {b: checkpoints(self.stores[b]) for b in "AB"}
        branch = self.branch_of(*held, cps)
        if branch is None:
            self.violation(f"{when}: the witness holds size {held[0]} root {held[1]}, a checkpoint of neither branch")
        prev_size, prev_root = self.observed
        prev_branch = self.branch_of(prev_size, prev_root, cps)
        if held[0] < prev_size or (held[0] == prev_size and held[1] != prev_root):
            self.violation(f"{when}: the witness went back from size {prev_size} to {held[0]}")
        elif "prefix" not in (branch, prev_branch) and branch != prev_branch:
            self.violation(f"{when}: the witness moved from branch {prev_branch} (size {prev_size}) to {branch} (size {held[0]})")
        self.observed = held
        with self.lock:
            received = list(self.received)
        for b, size, root, line in received:
            if size > held[0] or (size == held[0] and root != held[1]):
                self.violation(f"{when}: a client was given a cosignature of size {size} ({b}) but the witness holds size {held[0]}")
        kept = {b: max([s for s, _, _ in kept_cosignatures(self.stores[b])] or [0]) for b in "AB"}
        for b, size in kept.items():
            if size > held[0]:
                self.violation(f"{when}: store {b} keeps a cosignature of size {size} but the witness holds size {held[0]}")
        beyond = self.cosigned_beyond_fork(cps)
        if beyond["A"] and beyond["B"]:
            self.violation(f"{when}: both branches are cosigned beyond the fork (size {self.fork}): "
                           f"A at {sorted(beyond['A'])[:5]}, B at {sorted(beyond['B'])[:5]}")
        other = {"A": "B", "B": "A"}.get(branch)
        if other and beyond[other]:
            self.violation(f"{when}: the witness holds branch {branch} but branch {other} was cosigned beyond the fork")

    # --- clients ---------------------------------------------------------------------------------------------------

    def guarded(self, name, fn, *args):
        """Runs a client; if it stops on an error of its own (a failed write, say), that fails the run."""
        try:
            fn(*args)
        except BaseException as e:  # noqa: BLE001 - SystemExit from tglab.run included
            self.violation(f"the {name} stopped: {e}")

    def writer(self, branch, stop):
        store = self.stores[branch]
        while not stop.is_set():
            with self.lock:
                self.serial += 1
                n = self.serial
            run(self.tg, "candidate", "register", f"{branch}-{n}", "--site", "SITE-01", "--store", store, env=self.env)
            self.count("writes")
            p = run(self.tg, "witness", "submit", "--store", store, "--witness", self.target, env=self.env, check=False)
            if p.returncode == 0:
                self.count("cli_cosigned")
            elif p.returncode == 2 and "witness_refused" in p.stderr:
                self.count("refused")
            elif p.returncode == 2 and "connect_failed" in p.stderr:
                self.count("unreachable")
            else:
                self.violation(f"witness submit on {branch} ended with {p.returncode}: {(p.stdout + p.stderr).strip()[:300]}")
            time.sleep(random.uniform(0, 0.05))

    def request_for(self, branch):
        """A request for branch's newest checkpoint from the size the witness holds (asked with `old 0`), or None."""
        cps = checkpoints(self.stores[branch])
        size = max(cps)
        note = cps[size]
        status, ctype, body = post_checkpoint(self.port, f"old 0\n\n{note}", timeout=5)
        if status != 409:
            return None
        old = int(body)
        if old > size:
            return None
        proof = []
        if 0 < old < size:
            p = run(self.tg, "proof", "consistency", "--store", self.stores[branch], "--from", str(old), "--to", str(size), "--json",
                    env=self.env, check=False)
            if p.returncode != 0:
                return None
            proof = json.loads(p.stdout)["proof"]
        return note, f"old {old}\n" + "".join(h + "\n" for h in proof) + "\n" + note

    def record_reply(self, branch, note, status, body):
        if status == 200:
            line = next((l + "\n" for l in body.splitlines() if l.startswith("\u2014 ")), "")
            if not cosignature_valid(self.vkey, note, line):
                self.violation(f"the witness answered 200 for {branch} without a valid cosignature: {body.strip()[:200]}")
                return
            size, root = note_size_root(note)
            with self.lock:
                self.received.append((branch, size, root, line))
            self.count("raw_cosigned")
        elif status in (409, 422):
            self.count("refused")
        else:
            self.violation(f"the witness answered {status} to a well-formed request for {branch}: {body.strip()[:200]}")

    def raw_client(self, stop):
        while not stop.is_set():
            branch = random.choice("AB")
            try:
                req = self.request_for(branch)
                if req is None:
                    continue
                note, body = req
                status, _, answer = post_checkpoint(self.port, body, timeout=5)
                self.record_reply(branch, note, status, answer)
            except OSError:
                self.count("unreachable")
            time.sleep(random.uniform(0, 0.02))

    def aimed_kill(self, on_save):
        """With the other clients stopped: sends a request the witness will cosign (a new checkpoint of the branch it
        holds), and kills it the moment its new state is renamed into place (ON_SAVE), or after a random 0-4 ms; counts what
        the kill landed on. False if no such request could be made."""
        with open(os.path.join(self.wdir, "witness.json")) as fh:
            held = json.load(fh)["latest"][self.origin]
        cps = {b: checkpoints(self.stores[b]) for b in "AB"}
        branch = self.branch_of(held["size"], held["root"], cps)
        branch = random.choice("AB") if branch == "prefix" else branch
        if branch is None:
            return False
        with self.lock:
            self.serial += 1
            n = self.serial
        run(self.tg, "candidate", "register", f"{branch}-{n}", "--site", "SITE-01", "--store", self.stores[branch], env=self.env)
        self.count("writes")
        try:
            req = self.request_for(branch)
        except OSError:
            req = None
        if req is None:
            return False
        note, body = req
        result = {}

        def send():
            try:
                result["reply"] = post_checkpoint(self.port, body, timeout=5)
            except OSError as e:
                result["error"] = e
        state = os.path.join(self.wdir, "witness.json")
        before = os.stat(state).st_ino
        t = threading.Thread(target=send)
        t.start()
        if on_save:
            # Killed as soon as the new state has been renamed into place: before the witness can answer.
            deadline = time.time() + 2
            while time.time() < deadline and os.stat(state).st_ino == before:
                pass
        else:
            time.sleep(random.uniform(0, 0.004))  # a cosigning round trip takes ~3 ms here
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None
        t.join()
        mode = "on_save" if on_save else "random"
        self.count(f"aimed_{mode}")
        if "reply" in result:
            self.count(f"{mode}_replied")
            status, _, answer = result["reply"]
            self.record_reply(branch, note, status, answer)
        else:
            with open(os.path.join(self.wdir, "witness.json")) as fh:
                held = json.load(fh)["latest"].get(self.origin, {})
            if (held.get("size"), held.get("root")) == note_size_root(note):
                self.count(f"{mode}_written_unanswered")
            else:
                self.count(f"{mode}_before_state")
        return True

    # --- the run ----------------------------------------------------------------------------------------------------

    def run(self, cycles, seconds):
        start = time.time()
        done = 0
        self.start()
        while done < cycles and time.time() - start < seconds:
            done += 1
            stop = threading.Event()
            workers = [threading.Thread(target=self.guarded, args=(f"writer of {b}", self.writer, b, stop), daemon=True) for b in "AB"]
            workers.append(threading.Thread(target=self.guarded, args=("raw client", self.raw_client, stop), daemon=True))
            for w in workers:
                w.start()
            time.sleep(random.uniform(0.2, 1.0))
            if done % 2 == 0:
                self.stop()  # at a random moment, the clients going on
                stop.set()
                for w in workers:
                    w.join(timeout=60)
            else:
                stop.set()
                for w in workers:
                    w.join(timeout=60)
                if not self.aimed_kill(on_save=(done // 2) % 2 == 0):  # the two kinds of aimed kill in turn
                    self.stop()
            self.count("kills")
            self.check_state(f"cycle {done}")
            if self.simulate:
                with open(os.path.join(self.wdir, "witness.json"), "w") as fh:
                    fh.write(self.fork_state)
            try:
                self.start()
            except SystemExit as e:
                self.violation(f"cycle {done}: the witness did not start again: {e}")
                return done
            # A real run stops at the first violation; a simulated one goes on until the fork itself is cosigned.
            if any("both branches" in v for v in self.violations) or (self.violations and not self.simulate):
                break
        return done

    def finish(self):
        """The end: the witness left running, each branch submits once more, and the stores are verified."""
        results = {}
        for b in "AB":
            p = run(self.tg, "witness", "submit", "--store", self.stores[b], "--witness", self.target, env=self.env, check=False)
            results[b] = p.returncode
        self.stop()
        self.check_state("the end")
        cps = {b: checkpoints(self.stores[b]) for b in "AB"}
        beyond = self.cosigned_beyond_fork(cps)
        winners = [b for b in "AB" if beyond[b]]
        winner = winners[0] if len(winners) == 1 else None
        if winner is None:
            self.violation(f"the end: cosigned beyond the fork: A {len(beyond['A'])}, B {len(beyond['B'])} (exactly one branch expected)")
            return None, results
        loser = "B" if winner == "A" else "A"
        if results[winner] != 0 or results[loser] != 2:
            self.violation(f"the end: final submissions ended with {results} (the winner {winner} cosigned, the other refused expected)")
        with open(os.path.join(self.wdir, "witness.json")) as fh:
            held = json.load(fh)["latest"][self.origin]
        newest = max(cps[winner])
        if (held["size"], held["root"]) != note_size_root(cps[winner][newest]):
            self.violation(f"the end: the witness holds size {held['size']}, not {winner}'s newest checkpoint ({newest})")
        for b, want in ((winner, 0), (loser, 1)):
            p = run(self.tg, "verify", "--store", self.stores[b], "--witness", self.vkey, "--quorum", "1", env=self.env, check=False)
            if p.returncode != want:
                self.violation(f"the end: verify --quorum 1 on {b} ended with {p.returncode}, expected {want}: {(p.stdout + p.stderr).strip()[:300]}")
            p = run(self.tg, "verify", "--store", self.stores[b], env=self.env, check=False)
            if p.returncode != 0:
                self.violation(f"the end: verify on {b} failed: {(p.stdout + p.stderr).strip()[:300]}")
        return winner, results


def one_run(tg, cycles, seconds, simulate, keep_failed=True):
    lab = Lab(tg, simulate)
    t0 = time.time()
    winner = None
    try:
        lab.setup()
        done = lab.run(cycles, seconds)
        if not lab.violations or not simulate:
            winner, _ = lab.finish()
    finally:
        lab.stop()
    cps = {b: checkpoints(lab.stores[b]) for b in "AB"}
    kept = {b: sum(1 for s, _, _ in kept_cosignatures(lab.stores[b]) if s > lab.fork) for b in "AB"}
    raw = {b: sum(1 for r in lab.received if r[0] == b and r[1] > lab.fork) for b in "AB"}
    c = lab.counts
    print(f"witness crash test{' (simulated lost state)' if simulate else ''}: {done} cycles in {time.time() - t0:.0f} s, "
          f"{c['kills']} kills, of them aimed at a request: {c['aimed_on_save']} as its state was renamed into place "
          f"({c['on_save_written_unanswered']} written and unanswered, {c['on_save_replied']} answered, {c['on_save_before_state']} not written) "
          f"and {c['aimed_random']} 0-4 ms after it ({c['random_written_unanswered']} written and unanswered, {c['random_replied']} answered, "
          f"{c['random_before_state']} not written); fork at size {lab.fork}; "
          f"cosignatures beyond it kept in A {kept['A']}, B {kept['B']}, given to the raw client for A {raw['A']}, B {raw['B']}; "
          f"{c['writes']} writes, {c['cli_cosigned']} submissions cosigned, {c['raw_cosigned']} raw; {c['refused']} refusals, "
          f"{c['unreachable']} unreachable; newest A {max(cps['A'])}, B {max(cps['B'])}; witness holds {lab.observed[0]} "
          f"(winner {winner}); {'FAILED' if lab.violations else 'OK'}")
    for v in lab.violations[:20]:
        print("  " + v)
    if lab.violations and keep_failed:
        print(f"kept for inspection: {lab.tmp}")
    else:
        shutil.rmtree(lab.tmp, ignore_errors=True)
    return lab.violations


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trialgate", default=".build/debug/trialgate")
    ap.add_argument("--cycles", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--simulate-lost-state", action="store_true",
                    help="put witness.json back to its state at the fork before each restart (the run must fail)")
    ap.add_argument("--self-check", action="store_true",
                    help="run with --simulate-lost-state (at most 10 cycles) and succeed only if the violation is caught")
    args = ap.parse_args()
    tg = os.path.realpath(args.trialgate)
    if args.self_check:
        violations = one_run(tg, min(args.cycles, 10), args.seconds, True, keep_failed=False)
        caught = any("both branches" in v or "went back" in v or "moved from branch" in v for v in violations)
        print(f"self-check: a witness that loses its writes is {'caught' if caught else 'NOT caught'}")
        return 0 if caught else 1
    return 1 if one_run(tg, args.cycles, args.seconds, args.simulate_lost_state) else 0


if __name__ == "__main__":
    sys.exit(main())
