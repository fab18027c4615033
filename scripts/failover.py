#!/usr/bin/env python3
"""Two servers on one PostgreSQL trial, and what happens to writes when the leading one dies or stalls.

Driven by scripts/failover.sh; plain Python 3, standard library only. Two scenarios, each on a trial of its own:

  load     Eight client connections register candidates and record Ki-67 values through the socket, each sending to
           the node it believes leads and moving to the other on `not_leader`, a lost connection or a timeout. The
           leading node is killed with SIGKILL, restarted once the other has taken over, and so on, alternating
           (--kills times). Afterwards every acknowledged write must be in the log at the seq its reply gave, with
           the hash it gave; `trialgate verify` must pass; psql must find seq 1..N without a gap or a repeat, each
           event chained to the one before. The handover of each kill is printed: from the kill to the first write
           acknowledged by the other node.
  fence    Node a leads under load and is stopped with SIGSTOP while its writer is inside a transaction (psql sees
           its session `idle in transaction`; otherwise it is continued and stopped again). It stays stopped past
           its lease and past PostgreSQL's idle_in_transaction_session_timeout (3 s): the database must end its
           session, node b must take over and acknowledge writes. Then a is continued: what it had in flight must
           not be acknowledged after b took over, and its next writes must be refused with `not_leader` naming b.
           Last, b is killed: a must lead again and append after b's writes. The same log checks follow.

Each check prints one line, "PASS ..." or "FAIL ..."; informational lines start with "  ". The exit status is 1
when any check failed.
"""
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

LEASE_SECONDS = 2
REQUEST_TIMEOUT = 2.5     # a reply later than this counts as lost: the client moves to the other node
CONNECT_TIMEOUT = 2.0
BACKOFF = 0.05            # pause before a retry after a refusal or a refused connection
HANDOVER_LIMIT = 10.0     # a handover slower than this fails the run (lease 2 s, session limit 3 s)


# ----------------------------------------------------------------------------------------------------------- checks

class Checks:
    def __init__(self, scenario):
        self.scenario = scenario
        self.passed = 0
        self.failed = 0

    def check(self, ok, text, detail=None):
        if ok:
            self.passed += 1
            print(f"PASS {self.scenario}: {text}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {self.scenario}: {text}", flush=True)
            if detail:
                for line in str(detail).splitlines()[:20]:
                    print(f"    {line}", flush=True)
        return ok

    def info(self, text):
        print(f"  {self.scenario}: {text}", flush=True)


# ---------------------------------------------------------------------------------------------------- the database

class Trial:
    """A fresh trial on the PostgreSQL server: created by the owner role, written by the writer role."""

    def __init__(self, binary, owner_base, writer_base, name, workdir, repo):
        self.binary = binary
        self.name = name
        self.owner = f"{owner_base}?trial={name}"
        self.writer = f"{writer_base}?trial={name}"
        self.writer_base = writer_base
        self.key = os.path.join(workdir, f"{name}.key")
        self.repo = repo
        self.token = None

    def cli(self, *args, store=None, check=True):
        cmd = [self.binary, *args, "--store", store or self.writer, "--key", self.key, "--actor", "admin"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if check and p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:3])} failed ({p.returncode}): {p.stderr.strip()}")
        return p

    def create(self):
        self.cli("init", "--trial", self.name, "--writer-role", "tg_writer", store=self.owner)
        self.cli("policy", "publish", os.path.join(self.repo, "Policies", "sanet-ep.yaml"))
        out = self.cli("users", "add", "alice", "--role", "coordinator", "--site", "SITE-01", "--json").stdout
        self.token = json.loads(out)["token"]

    def sql(self, query):
        p = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", self.writer_base,
                            "-c", f"SET search_path = tg_{self.name}", "-c", query],
                           capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise RuntimeError(f"psql failed: {p.stderr.strip()}")
        return p.stdout.strip()

    def drop(self, owner_base):
        subprocess.run(["psql", "-X", "-q", owner_base, "-c", f"DROP SCHEMA IF EXISTS tg_{self.name} CASCADE"],
                       capture_output=True, timeout=30)


# -------------------------------------------------------------------------------------------------------- the nodes

class Node:
    """One `trialgate serve --node NAME` process on a fixed loopback port, which survives its restarts."""

    def __init__(self, name, port, trial, workdir):
        self.name = name
        self.port = port
        self.addr = f"127.0.0.1:{port}"
        self.trial = trial
        self.log = os.path.join(workdir, f"{trial.name}-node-{name}.log")
        self.proc = None

    def start(self):
        for attempt in range(10):
            before = self._listening_lines()
            with open(self.log, "a") as log:
                self.proc = subprocess.Popen(
                    [self.trial.binary, "serve", "--store", self.trial.writer, "--key", self.trial.key,
                     "--listen", self.addr, "--node", self.name, "--lease-seconds", str(LEASE_SECONDS)],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if self._listening_lines() > before:
                    return
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
            if self.proc.poll() is None:
                raise RuntimeError(f"node {self.name} did not start listening within 30 s")
            if "Address already in use" in self._tail(5):
                time.sleep(0.3)
                continue
            raise RuntimeError(f"node {self.name} exited at start:\n{self._tail(20)}")
        raise RuntimeError(f"node {self.name}: port {self.port} stayed in use")

    def _listening_lines(self):
        try:
            with open(self.log) as f:
                return sum(1 for line in f if "listening" in line)
        except FileNotFoundError:
            return 0

    def _tail(self, n):
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-n:])
        except FileNotFoundError:
            return ""

    def signal(self, sig):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def kill9(self):
        self.signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        """SIGTERM (after SIGCONT, in case it is stopped), then SIGKILL if it has not ended within 10 s."""
        if not self.proc or self.proc.poll() is not None:
            return
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def postgres_ports(self, pg_port):
        """The local ports of this process's TCP connections to PostgreSQL (pg_stat_activity's client_port)."""
        pid = self.proc.pid
        inodes = set()
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            return set()
        ports = set()
        for table in ("tcp", "tcp6"):
            try:
                with open(f"/proc/{pid}/net/{table}") as f:
                    next(f)
                    for line in f:
                        cols = line.split()
                        local, remote, inode = cols[1], cols[2], cols[9]
                        if inode in inodes and int(remote.rsplit(":", 1)[1], 16) == pg_port:
                            ports.add(int(local.rsplit(":", 1)[1], 16))
            except OSError:
                pass
        return ports


# ------------------------------------------------------------------------------------------------------ the clients

class Lost(Exception):
    """The connection ended, or gave no reply in time: what was sent may or may not have been done."""


class Connection:
    def __init__(self, addr, token):
        host, port = addr.rsplit(":", 1)
        self.addr = addr
        self.sock = socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT)
        self.buffer = b""
        self.pending = None
        try:
            reply = self.request({"cmd": "auth", "token": token})
        except Lost:
            self.close()
            raise
        if not reply.get("ok"):
            self.close()
            raise RuntimeError(f"auth refused by {addr}: {reply}")

    def send(self, obj):
        self.pending = obj.get("id")
        try:
            self.sock.sendall((json.dumps(obj) + "\n").encode())
        except OSError as e:
            raise Lost(f"send: {e}")

    def receive(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Lost("timeout")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise Lost("timeout")
            except OSError as e:
                raise Lost(f"recv: {e}")
            if not chunk:
                raise Lost("closed")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        reply = json.loads(line)
        if reply.get("id") != self.pending:
            raise RuntimeError(f"reply for {reply.get('id')!r}, expected {self.pending!r}: {line[:200]!r}")
        return reply

    def request(self, obj, timeout=REQUEST_TIMEOUT):
        self.send(obj)
        return self.receive(timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


NOT_LEADER = re.compile(r"written by node (\S+) at (\S+) \(lease term (\d+)\)")


class Recorder:
    """What every client saw: acknowledged writes, refusals, losses, and anything unexpected."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acks = []          # dicts: seq, hash, node, t, type, candidate, percent, cmd id
        self.landed = []        # candidates whose registration was not acknowledged but is in the log (duplicate)
        self.errors = {}        # code or loss kind -> count
        self.unexpected = []    # replies no client should get
        self.error_then_landed = []   # a registration answered with an error (not a loss) that was in the log after
        self.parked = []        # (Connection, op, node) abandoned without a reply (fence: read after SIGCONT)

    def ack(self, entry):
        with self.lock:
            self.acks.append(entry)

    def count(self, what):
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1

    def acks_from(self, node, after=0.0):
        with self.lock:
            return [a for a in self.acks if a["node"] == node and a["t"] > after]

    def last_ack(self):
        with self.lock:
            return self.acks[-1] if self.acks else None


class Writer(threading.Thread):
    """One client connection's logical writes: a registration, then three Ki-67 records of that candidate, and again.

    A write is retried until acknowledged: after `not_leader` (nothing was written) at the node the refusal names;
    after a lost connection, a timeout or an error reply at the other node. A registration refused as
    `duplicate_candidate` after such an unacknowledged attempt "may have landed" (it did); a record retried after a
    lost reply may land twice, which the log allows. Only acknowledged writes are recorded as such."""

    def __init__(self, index, run_id, nodes, token, recorder, stop, park=False):
        super().__init__(daemon=True)
        self.index = index
        self.run_id = run_id
        self.nodes = nodes              # {name: Node}
        self.by_addr = {n.addr: n for n in nodes.values()}
        self.token = token
        self.rec = recorder
        self.stop = stop
        self.park = park
        self.target = "a"
        self.conns = {}                 # node name -> an authenticated Connection
        self.sent = 0
        self.today = time.strftime("%Y-%m-%d", time.gmtime())

    def other(self, name):
        return "b" if name == "a" else "a"

    def ops(self):
        k = 0
        while True:
            candidate = f"FO-{self.run_id}-{self.index}-{k}"
            yield {"cmd": "register", "candidate": candidate, "site": "SITE-01"}
            for j in range(3):
                yield {"cmd": "record", "kind": "ki67", "candidate": candidate,
                       "fields": {"percent": (k * 3 + j) % 100, "specimen_date": self.today, "method": "manual_count"}}
            k += 1

    def drop_connection(self, node, request=None):
        """Forgets the connection to a node; in the fence scenario one whose reply is still due is kept, to be read
        after the node is continued."""
        conn = self.conns.pop(node, None)
        if conn is None:
            return
        if self.park and request is not None:
            with self.rec.lock:
                self.rec.parked.append((conn, request, node))
        else:
            conn.close()

    def run(self):
        try:
            for op in self.ops():
                if self.stop.is_set():
                    break
                self.write(op)
        except Exception as e:  # a bug in this driver, or a reply it cannot read: fail the run, loudly
            with self.rec.lock:
                self.rec.unexpected.append(f"client {self.index}: {type(e).__name__}: {e}")
        finally:
            for node in list(self.conns):
                self.drop_connection(node)

    def write(self, op):
        unanswered = set()  # why earlier attempts are not acknowledged: "lost" (no reply) and/or error codes
        while not self.stop.is_set():
            node = self.target
            conn = self.conns.get(node)
            if conn is None:
                try:
                    conn = self.conns[node] = Connection(self.nodes[node].addr, self.token)
                except (OSError, Lost) as e:
                    self.rec.count("connect failed" if isinstance(e, OSError) else "auth lost")
                    self.target = self.other(node)
                    time.sleep(BACKOFF)
                    continue
            self.sent += 1
            request = dict(op, id=f"{self.index}-{self.sent}")
            try:
                reply = conn.request(request)
            except Lost as e:
                self.rec.count("timeout" if str(e) == "timeout" else "connection lost")
                self.drop_connection(node, request if str(e) == "timeout" else None)
                unanswered.add("lost")
                self.target = self.other(node)
                time.sleep(BACKOFF)
                continue
            now = time.monotonic()
            if reply.get("ok"):
                result = reply["result"]
                self.rec.ack({"seq": result["seq"], "hash": result.get("hash"), "node": node, "t": now,
                              "type": "candidate.registered" if op["cmd"] == "register" else "ki67.recorded",
                              "candidate": op["candidate"], "percent": op.get("fields", {}).get("percent"),
                              "id": request["id"]})
                return
            code = reply["error"]["code"]
            message = reply["error"]["message"]
            self.rec.count(code)
            if code == "not_leader":
                m = NOT_LEADER.search(message)
                holder = self.by_addr.get(m.group(2)) if m else None
                if holder is None or holder.name != m.group(1) or holder.name == node:
                    with self.rec.lock:
                        self.rec.unexpected.append(f"node {node} answered not_leader naming no other node: {message}")
                    return
                self.target = holder.name
                time.sleep(BACKOFF)
                continue
            if code == "duplicate_candidate" and op["cmd"] == "register" and unanswered:
                with self.rec.lock:
                    self.rec.landed.append(op["candidate"])
                    if "lost" not in unanswered:
                        self.rec.error_then_landed.append((op["candidate"], sorted(unanswered)))
                return
            if code in ("store_io", "store_busy", "shutting_down"):
                # Documented as "nothing was written"; retried at the other node, and checked: a registration so
                # refused must not turn out to be in the log.
                unanswered.add(code)
                self.target = self.other(node)
                time.sleep(BACKOFF)
                continue
            with self.rec.lock:
                self.rec.unexpected.append(f"{request}: {code}: {message}")
            return


# ---------------------------------------------------------------------------------------------------- the log checks

def check_log(checks, trial, recorder, extra_acks=()):
    """Every acknowledged write at its seq with its hash; one chain (verify, psql: seq 1..N, no repeat, linked)."""
    p = trial.cli("export", check=False)
    checks.check(p.returncode == 0, "trialgate export reads the log", p.stderr)
    events = {}
    for line in p.stdout.splitlines():
        if line.strip():
            e = json.loads(line)
            events[e["seq"]] = e
    acks = list(recorder.acks) + list(extra_acks)
    wrong = []
    for a in acks:
        e = events.get(a["seq"])
        if e is None:
            wrong.append(f"seq {a['seq']} (acknowledged by {a['node']}, {a['id']}) is not in the log")
        elif e["hash"] != a["hash"] or e["type"] != a["type"] or e["candidate"] != a["candidate"] \
                or (a["percent"] is not None and e["payload"].get("percent") != a["percent"]):
            wrong.append(f"seq {a['seq']}: acknowledged {a['type']} {a['candidate']} {a['hash']}, "
                         f"log has {e['type']} {e['candidate']} {e['hash']}")
    checks.check(acks and not wrong,
                 f"every acknowledged write is in the log at its seq with its hash ({len(acks)} acknowledged, "
                 f"{len(events)} events in the log)", "\n".join(wrong))
    seqs = [a["seq"] for a in acks]
    repeated = sorted({s for s in seqs if seqs.count(s) > 1}) if len(set(seqs)) != len(seqs) else []
    checks.check(not repeated, "no two acknowledgements name the same seq", f"repeated: {repeated[:20]}")
    landed_missing = [c for c in recorder.landed
                      if not any(e["type"] == "candidate.registered" and e["candidate"] == c for e in events.values())]
    checks.check(not landed_missing,
                 f"registrations whose reply was lost and whose retry found them registered are in the log "
                 f"({len(recorder.landed)})", f"missing: {landed_missing}")
    checks.check(not recorder.error_then_landed,
                 "no registration answered with an error turned out to be in the log",
                 f"{recorder.error_then_landed}")
    registered = {}
    for e in events.values():
        if e["type"] == "candidate.registered":
            registered[e["candidate"]] = registered.get(e["candidate"], 0) + 1
    twice = sorted(c for c, k in registered.items() if k > 1)
    checks.check(not twice, f"every candidate is registered once ({len(registered)} candidates)", f"twice: {twice[:20]}")
    p = trial.cli("verify", check=False)
    checks.check(p.returncode == 0, f"trialgate verify passes: {p.stdout.strip().split('; head')[0]}", p.stdout + p.stderr)
    row = trial.sql("SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM events").split("|")
    count, distinct, low, high = (int(x) for x in row)
    checks.check(count == distinct and low == 1 and high == count and count == len(events),
                 f"psql: {count} events, no seq twice, seq 1..{high} without a gap",
                 f"count={count} distinct={distinct} min={low} max={high} exported={len(events)}")
    unlinked = int(trial.sql("SELECT count(*) FROM events e JOIN events p ON p.seq = e.seq - 1 "
                             "WHERE e.prev_hash <> p.hash"))
    checks.check(unlinked == 0, "psql: every event's prev_hash is the hash of the event before it (one chain)",
                  f"{unlinked} events do not link")
    lease = trial.sql("SELECT node, address, epoch FROM writer_lease")
    checks.info(f"writer lease at the end: {lease}")
    return events


def report_clients(checks, recorder):
    counts = ", ".join(f"{k} {v}" for k, v in sorted(recorder.errors.items())) or "none"
    checks.info(f"what the clients met besides acknowledgements: {counts}")
    checks.check(not recorder.unexpected, "no client got an unexpected reply",
                 "\n".join(recorder.unexpected[:20]))


# ------------------------------------------------------------------------------------------------- scenario: load

def wait_for(predicate, timeout, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


def scenario_load(args, trial, nodes, checks):
    recorder = Recorder()
    stop = threading.Event()
    run_id = trial.name[-6:].upper()
    writers = [Writer(i, run_id, nodes, trial.token, recorder, stop) for i in range(args.clients)]
    started = time.monotonic()
    for w in writers:
        w.start()
    bench = None
    if args.bench:
        # The benchmark's own load at the first leader, through the first kill: its connections end there.
        bench = subprocess.Popen([args.bench, "load", nodes["a"].addr, trial.token, "append", "4", "6"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = wait_for(lambda: len(recorder.acks_from("a")) >= 30, 30)
    checks.check(first is not None, f"node a leads and acknowledges writes ({len(recorder.acks_from('a'))} in "
                                    f"{time.monotonic() - started:.1f} s)")
    if first is None:
        stop.set()
        return recorder
    time.sleep(1.0)
    handovers = []
    for n in range(args.kills):
        last = recorder.last_ack()
        leader = nodes[last["node"]]
        other = nodes["b" if leader.name == "a" else "a"]
        # The leader must be the one acknowledging right now.
        recent = wait_for(lambda: [a for a in recorder.acks_from(leader.name) if a["t"] > time.monotonic() - 0.5], 5)
        if not recent:
            checks.check(False, f"kill {n + 1}: node {leader.name} was acknowledging writes before its kill")
            break
        t_kill = time.monotonic()
        leader.kill9()
        took = wait_for(lambda: recorder.acks_from(other.name, after=t_kill), HANDOVER_LIMIT + 5)
        handover = took[0]["t"] - t_kill if took else None
        handovers.append((leader.name, other.name, handover))
        if handover is None:
            checks.info(f"handover {n + 1}: kill -9 of node {leader.name}; node {other.name} acknowledged nothing "
                        f"within {HANDOVER_LIMIT + 5:.0f} s")
            break
        checks.info(f"handover {n + 1}: kill -9 of node {leader.name} (leader) -> first write acknowledged by node "
                    f"{other.name} after {handover:.3f} s")
        time.sleep(max(0.0, 0.5 - (time.monotonic() - t_kill)))
        leader.start()
        # Some load on the new leader before the next kill.
        t_took = took[0]["t"]
        wait_for(lambda: len(recorder.acks_from(other.name, after=t_took)) >= 20
                 and time.monotonic() - t_took >= 1.0, 15)
    time.sleep(0.5)
    stop.set()
    for w in writers:
        w.join(timeout=REQUEST_TIMEOUT + 5)
    checks.check(not any(w.is_alive() for w in writers), "every client stopped")
    if bench:
        try:
            out, _ = bench.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            bench.kill()
            out, _ = bench.communicate()
        checks.info(f"trialgate-bench load, 4 connections at node a through the first kill (its connections end "
                    f"there, so it counts errors): {out.strip().splitlines()[-1] if out.strip() else '(no output)'}")
    else:
        checks.info("trialgate-bench: no release build found; only this driver's clients ran")
    done = [h for h in handovers if h[2] is not None]
    alternating = all(done[i][0] != done[i + 1][0] for i in range(len(done) - 1))
    checks.check(len(done) == args.kills and args.kills >= 3 and alternating,
                 f"{len(done)} kills of the leader, alternating between the nodes ("
                 + ", ".join(h[0] for h in done) + "), each followed by a handover")
    epoch = int(trial.sql("SELECT epoch FROM writer_lease"))
    checks.check(epoch >= 1 + len(done), f"each kill gave the lease a new term: term {epoch} after {len(done)} kills")
    slow = [h for h in done if h[2] > HANDOVER_LIMIT]
    checks.check(not slow, f"every handover within {HANDOVER_LIMIT:.0f} s: "
                 + ", ".join(f"{h[2]:.2f} s" for h in done))
    checks.info(f"acknowledged writes: {len(recorder.acks)} "
                f"(a {len(recorder.acks_from('a'))}, b {len(recorder.acks_from('b'))}); "
                f"registrations that landed without their reply: {len(recorder.landed)}; "
                f"load ran {time.monotonic() - started:.1f} s")
    return recorder


# ------------------------------------------------------------------------------------------------ scenario: fence

def sessions(trial, ports):
    """pg_stat_activity rows (pid, client_port, state) of the given client ports."""
    if not ports:
        return []
    out = trial.sql("SELECT pid, client_port, state FROM pg_stat_activity WHERE client_port IN ("
                    + ",".join(str(p) for p in sorted(ports)) + ")")
    return [line.split("|") for line in out.splitlines() if line]


def scenario_fence(args, trial, nodes, checks):
    recorder = Recorder()
    stop = threading.Event()
    run_id = trial.name[-6:].upper()
    a, b = nodes["a"], nodes["b"]
    writers = [Writer(i, run_id, nodes, trial.token, recorder, stop, park=True) for i in range(args.clients)]
    for w in writers:
        w.start()
    first = wait_for(lambda: len(recorder.acks_from("a")) >= 30, 30)
    checks.check(first is not None, f"node a leads and acknowledges writes ({len(recorder.acks_from('a'))})")
    if first is None:
        stop.set()
        return recorder, []
    time.sleep(0.5)

    # Stop a while its writer holds an open transaction: psql sees that session "idle in transaction" (its client
    # does not send). If it was between transactions, continue it and try again.
    stalled = None
    attempts = 0
    t_stop = None
    for attempts in range(1, 21):
        ports = a.postgres_ports(args.pg_port)
        a.signal(signal.SIGSTOP)
        t_stop = time.monotonic()
        time.sleep(0.15)
        rows = sessions(trial, ports)
        stalled = next((r for r in rows if r[2].startswith("idle in transaction")), None)
        if stalled:
            break
        a.signal(signal.SIGCONT)
        time.sleep(0.25 + 0.05 * attempts)
    checks.check(stalled is not None,
                 f"node a stopped (SIGSTOP) inside a write transaction: its session (backend {stalled[0] if stalled else '?'})"
                 f" is '{stalled[2] if stalled else '?'}' (attempt {attempts})")
    if stalled is None:
        stop.set()
        return recorder, []
    acked_by_a_before = len(recorder.acks_from("a"))

    # The database ends the stalled session after 3 s; b takes over once a's lease has run out.
    gone = wait_for(lambda: not any(r[0] == stalled[0] for r in sessions(trial, {int(stalled[1])})), 8, step=0.1)
    t_gone = time.monotonic() - t_stop
    checks.check(gone is not None, f"PostgreSQL ended a's stalled session {t_gone:.1f} s after the stop "
                                   f"(idle_in_transaction_session_timeout 3 s): its open transaction rolled back")
    took = wait_for(lambda: recorder.acks_from("b", after=t_stop), 15)
    t_took = took[0]["t"] - t_stop if took else None
    checks.check(took is not None, "node b took over and acknowledged writes while a was stopped"
                 + (f": first after {t_took:.2f} s" if took else ""))
    # a stays stopped past its lease and the session limit, with b writing.
    wait_for(lambda: time.monotonic() - t_stop >= 5.0 and len(recorder.acks_from("b", after=t_stop)) >= 20, 15)
    lease = trial.sql("SELECT node, address, epoch, expires_at > clock_timestamp() FROM writer_lease").split("|")
    checks.check(lease[0] == "b" and lease[1] == b.addr and lease[3] == "t",
                 f"the writer lease is b's, live, term {lease[2]}", f"{lease}")
    checks.info(f"a stopped for {time.monotonic() - t_stop:.1f} s; it acknowledged "
                f"{len(recorder.acks_from('a')) - acked_by_a_before} writes meanwhile")
    first_b_seq = min(x["seq"] for x in recorder.acks_from("b", after=t_stop)) if took else 0

    # Continue a. Whatever it had in flight gets its answer now, on the connections the clients left waiting.
    t_cont = time.monotonic()
    a.signal(signal.SIGCONT)
    late_ok, late_err, late_none = [], {}, 0
    with recorder.lock:
        parked = list(recorder.parked)
    for conn, op, node in parked:
        try:
            reply = conn.receive(max(0.5, t_cont + 5 - time.monotonic()))
        except (Lost, RuntimeError, ValueError):
            late_none += 1
            continue
        finally:
            conn.close()
        if reply.get("ok"):
            r = reply["result"]
            late_ok.append({"seq": r["seq"], "hash": r.get("hash"), "node": node, "t": time.monotonic(),
                            "type": "candidate.registered" if op["cmd"] == "register" else "ki67.recorded",
                            "candidate": op["candidate"], "percent": op.get("fields", {}).get("percent"),
                            "id": op["id"]})
        else:
            code = reply["error"]["code"]
            late_err.setdefault(code, []).append(reply["error"]["message"])
    checks.info(f"requests a had in flight at the stop, answered after SIGCONT: {len(parked)} ("
                + ", ".join(f"{code} {len(m)}" for code, m in sorted(late_err.items()))
                + f", acknowledged {len(late_ok)}, no answer {late_none})")
    for code, messages in sorted(late_err.items()):
        checks.info(f"  {code}: {messages[0]}")
    after_takeover = [x for x in late_ok if x["seq"] >= first_b_seq]
    checks.check(not after_takeover,
                 "none of a's in-flight writes was acknowledged at or after b's first seq "
                 f"({first_b_seq}); those that failed were not acknowledged",
                 f"{after_takeover}")

    # a's next writes: refused, naming b.
    refusals = []
    try:
        probe = Connection(a.addr, trial.token)
        for i in range(5):
            reply = probe.request({"id": f"p{i}", "cmd": "register", "candidate": f"FP-{run_id}-{i}", "site": "SITE-01"},
                                  timeout=10)
            refusals.append(reply)
            time.sleep(0.1)
        probe.close()
    except (OSError, Lost, RuntimeError) as e:
        refusals.append({"ok": False, "error": {"code": "probe failed", "message": str(e)}})
    named_b = [r for r in refusals if not r.get("ok") and r["error"]["code"] == "not_leader"
               and f"node b at {b.addr}" in r["error"]["message"]]
    checks.check(len(named_b) == len(refusals) == 5,
                 f"after SIGCONT, a's next writes are refused with not_leader naming b ({len(named_b)} of 5): "
                 + (named_b[0]["error"]["message"] if named_b else ""),
                 "\n".join(json.dumps(r) for r in refusals if r not in named_b))
    checks.check(not any(r.get("ok") for r in refusals), "no write acknowledged by a after it was continued")
    # Fencing, by the seqs the replies gave: every write a acknowledged, before the stop or late, comes before b's
    # first write after the takeover.
    from_a = recorder.acks_from("a") + late_ok
    past = [x for x in from_a if x["seq"] >= first_b_seq]
    checks.check(not past, f"every write a acknowledged ({len(from_a)}) has a seq below b's first after the takeover "
                           f"({first_b_seq})", f"{past[:10]}")

    # The fenced node leads again once b is gone: it must append after everything b wrote, not after the head it
    # knew when it was stopped.
    t_kill = time.monotonic()
    b.kill9()
    back = wait_for(lambda: recorder.acks_from("a", after=t_kill), 15)
    last_b = max((x["seq"] for x in recorder.acks_from("b")), default=0)
    checks.check(back is not None and min(x["seq"] for x in back) > last_b,
                 "after kill -9 of b, a takes the lease again and appends after b's last acknowledged write "
                 + (f"(seq {min(x['seq'] for x in back)} > {last_b}, {back[0]['t'] - t_kill:.2f} s after the kill)"
                    if back else "(a acknowledged nothing)"))

    time.sleep(0.5)
    stop.set()
    for w in writers:
        w.join(timeout=REQUEST_TIMEOUT + 5)
    checks.check(not any(w.is_alive() for w in writers), "every client stopped")
    checks.info(f"acknowledged writes: {len(recorder.acks)} (a {len(recorder.acks_from('a'))}, "
                f"b {len(recorder.acks_from('b'))}) plus {len(late_ok)} late; "
                f"a stopped {t_cont - t_stop:.1f} s; b's first write {t_took:.2f} s after the stop")
    return recorder, late_ok


# ---------------------------------------------------------------------------------------------------------- main

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", choices=["load", "fence"])
    ap.add_argument("--trialgate", required=True)
    ap.add_argument("--owner", required=True, help="postgres://tg_owner@HOST:PORT/DB")
    ap.add_argument("--writer", required=True, help="postgres://tg_writer@HOST:PORT/DB")
    ap.add_argument("--trial", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--bench", default="")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--kills", type=int, default=4)
    ap.add_argument("--keep", action="store_true", help="leave the trial's schema in the database")
    args = ap.parse_args()
    args.pg_port = urllib.parse.urlsplit(args.writer).port or 5432

    # A timeout (or ^C) ends the run through the `finally` below, which stops the nodes and drops the trial.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("failover: terminated"))
    checks = Checks(f"failover-{args.scenario}")
    trial = Trial(args.trialgate, args.owner, args.writer, args.trial, args.workdir, args.repo)
    ports = set()
    while len(ports) < 2:
        ports.add(free_port())
    pa, pb = sorted(ports)
    nodes = {"a": Node("a", pa, trial, args.workdir), "b": Node("b", pb, trial, args.workdir)}
    started = time.monotonic()
    try:
        trial.create()
        checks.check(True, f"trial {trial.name} created on PostgreSQL, sanet-ep published, coordinator alice at SITE-01")
        nodes["a"].start()
        nodes["b"].start()
        checks.info(f"node a at {nodes['a'].addr}, node b at {nodes['b'].addr}, lease {LEASE_SECONDS} s")
        if args.scenario == "load":
            recorder = scenario_load(args, trial, nodes, checks)
            late = []
        else:
            recorder, late = scenario_fence(args, trial, nodes, checks)
        for n in nodes.values():
            n.stop()
        report_clients(checks, recorder)
        check_log(checks, trial, recorder, late)
    except Exception as e:
        checks.check(False, f"the scenario ran to its end: {type(e).__name__}: {e}")
    except (SystemExit, KeyboardInterrupt) as e:
        checks.check(False, f"the scenario ran to its end: stopped ({e or type(e).__name__})")
    finally:
        for n in nodes.values():
            try:
                n.stop()
            except Exception:
                pass
        if not args.keep:
            trial.drop(args.owner)
    if checks.failed:
        for n in nodes.values():
            print(f"--- last lines of node {n.name}'s log ({n.log}):")
            print(n._tail(15), end="")
    print(f"failover-{args.scenario}: {checks.passed} passed, {checks.failed} failed "
          f"({time.monotonic() - started:.1f} s)", flush=True)
    sys.exit(1 if checks.failed else 0)


if __name__ == "__main__":
    main()
