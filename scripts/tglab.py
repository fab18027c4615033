"""What the load scripts (crash_test.py, hostile.py, soak.py, witness_crash_test.py, witness_hostile.py) share: a
fresh trial store, users, a server on a free loopback port, its RSS and open descriptors, a client of the line
protocol; and for the witness scripts, a served witness, a raw add-checkpoint POST, and a cosignature check of our
own (Ed25519 in pure Python, so that no answer depends on TrialGate's code). Python standard library only."""

import base64
import hashlib
import http.client
import json
import os
import socket
import subprocess
import tempfile
import time


def run(tg, *args, env, check=True):
    """Runs a trialgate command; unless check is False, a failure stops the script with its output."""
    p = subprocess.run([tg, *args], capture_output=True, text=True, env=env)
    if check and p.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({p.returncode}): {p.stdout}{p.stderr}")
    return p


def new_trial(tg, name):
    """A temporary directory with a store initialised as trial NAME-1, the shipped policy published.
    Returns (directory, environment naming the store and the admin actor)."""
    tmp = tempfile.mkdtemp(prefix=f"tg-{name.lower()}-")
    env = dict(os.environ, TRIALGATE_STORE=os.path.join(tmp, "s.sqlite"), TRIALGATE_ACTOR=f"{name.lower()}:admin")
    run(tg, "init", "--trial", f"{name}-1", env=env)
    run(tg, "policy", "publish", "Policies/sanet-ep.yaml", env=env)
    return tmp, env


def add_user(tg, env, name, role, site=None):
    """Adds a user and returns their token."""
    args = ["users", "add", name, "--role", role] + (["--site", site] if site else []) + ["--json"]
    return json.loads(run(tg, *args, env=env).stdout)["token"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_server(tg, env, port, *flags, stdout, stderr):
    """Starts `trialgate serve` on 127.0.0.1:PORT and returns once it accepts connections (or after 200 tries)."""
    server = subprocess.Popen([tg, "serve", "--listen", f"127.0.0.1:{port}", *flags], env=env, stdout=stdout, stderr=stderr)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.02)
    return server


def rss_and_fds(pid):
    """The process's resident set size in KiB and its number of open file descriptors."""
    with open(f"/proc/{pid}/status") as fh:
        rss = next(int(l.split()[1]) for l in fh if l.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


class ConnectionClosed(ConnectionError):
    """The server closed the connection where a reply was due."""


class LineClient:
    """One connection speaking the server's protocol: a JSON object per line, each way.

    Reads and writes go straight to the socket (no buffering), so `sock` can be used alongside for socket-level
    work (timeouts, options, raw recv), and one thread may read replies while another sends requests."""

    def __init__(self, sock):
        self.sock = sock
        self.file = sock.makefile("rwb", buffering=0)

    @classmethod
    def connect(cls, host, port, timeout=None, source=None):
        """Connects to HOST:PORT (from the address SOURCE, a (host, port) pair, if given); TIMEOUT in seconds,
        None to block."""
        return cls(socket.create_connection((host, port), timeout=timeout, source_address=source))

    def send(self, obj):
        """Sends OBJ as one JSON line."""
        self.file.write((json.dumps(obj) + "\n").encode())

    def send_raw(self, data):
        """Sends DATA, bytes, as they are."""
        self.file.write(data)

    def read_line(self):
        """The next line as bytes, with its newline; b"" once the server has closed the connection."""
        return self.file.readline()

    def reply(self):
        """The next line, decoded; ConnectionClosed if the server closed the connection instead."""
        line = self.read_line()
        if not line:
            raise ConnectionClosed("the server closed the connection")
        return json.loads(line)

    def replies(self):
        """Every reply, decoded, until the server closes the connection."""
        for line in self.file:
            yield json.loads(line)

    def lines(self):
        """Every line, as bytes, until the server closes the connection."""
        yield from self.file

    def request(self, obj):
        """Sends OBJ and returns the reply to it."""
        self.send(obj)
        return self.reply()

    def auth(self, token):
        """Authenticates with TOKEN; returns the reply (its "ok" says whether it worked)."""
        return self.request({"cmd": "auth", "token": token})

    def close(self):
        for c in (self.file, self.sock):
            try:
                c.close()
            except OSError:
                pass


# --- Witnesses (C2SP tlog-witness, tlog-cosignature) ---

def start_witness(tg, wdir, port, stderr):
    """Starts `trialgate witness serve` on 127.0.0.1:PORT over the folder WDIR and returns it once it accepts
    connections. Raises SystemExit if it exits or does not accept within 10 s."""
    proc = subprocess.Popen([tg, "witness", "serve", "--dir", wdir, "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.time() + 10
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the witness exited with {proc.returncode} on start (see its log)")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.01)
    proc.kill()
    raise SystemExit("the witness did not accept connections within 10 s")


def post_checkpoint(port, body, timeout=10, path="/add-checkpoint", method="POST"):
    """Sends one request to a witness; returns (status, content type, body as text). OSError if the connection fails."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body.encode() if isinstance(body, str) else body)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type", ""), r.read().decode(errors="replace")
    except http.client.HTTPException as e:
        raise ConnectionError(f"no HTTP answer: {e!r}") from e
    finally:
        conn.close()


def note_text(note):
    """A signed note's text: everything before the blank line, with its final newline."""
    return note.split("\n\n", 1)[0] + "\n"


def note_size_root(note):
    """A checkpoint note's tree size and root (base64)."""
    lines = note.split("\n")
    return int(lines[1]), lines[2]


# Ed25519 verification (RFC 8032, section 5.1.7), written out here so that the scripts check TrialGate's cosignatures
# with code that shares nothing with it. Extended twisted Edwards coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, xy = T/Z.
_P = 2 ** 255 - 19
_L = 2 ** 252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _ed_add(p, q):
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = 2 * _D * t1 * t2 % _P
    d = 2 * z1 * z2 % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _ed_mul(k, p):
    acc = (0, 1, 1, 0)
    while k:
        if k & 1:
            acc = _ed_add(acc, p)
        p = _ed_add(p, p)
        k >>= 1
    return acc


def _ed_decode(b):
    """The point encoded by 32 bytes, or None if they encode none."""
    if len(b) != 32:
        return None
    n = int.from_bytes(b, "little")
    sign, y = n >> 255, n & ((1 << 255) - 1)
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P or (x == 0 and sign):
        return None
    if x & 1 != sign:
        x = _P - x
    return (x, y, 1, x * y % _P)


_BASE = _ed_decode((4 * pow(5, _P - 2, _P) % _P).to_bytes(32, "little"))


def _ed_equal(p, q):
    return (p[0] * q[2] - q[0] * p[2]) % _P == 0 and (p[1] * q[2] - q[1] * p[2]) % _P == 0


def ed25519_verify(public, message, signature):
    """Whether SIGNATURE (64 bytes) is PUBLIC's (32 bytes) Ed25519 signature of MESSAGE: [S]B = R + [k]A."""
    if len(signature) != 64:
        return False
    a, r = _ed_decode(public), _ed_decode(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= _L:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % _L
    return _ed_equal(_ed_mul(s, _BASE), _ed_add(r, _ed_mul(k, a)))


def cosigner_key(vkey):
    """A witness's vkey (`name+hex key id+base64(0x04 || Ed25519 key)`) as (name, key id, public key); ValueError if
    it is not one, or its key id is not SHA-256(name || 0x0A || 0x04 || key)[:4]."""
    name, key_id, data = vkey.strip().split("+", 2)
    raw = base64.b64decode(data, validate=True)
    if len(raw) != 33 or raw[0] != 0x04:
        raise ValueError(f"not an Ed25519 cosigner vkey: {vkey!r}")
    if hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() != key_id:
        raise ValueError(f"the key id of {vkey!r} does not match its name and key")
    return name, bytes.fromhex(key_id), raw[1:]


def cosignature_valid(vkey, note, line):
    """Whether LINE (`— name base64(key id || timestamp || signature)`) is a cosignature/v1 by VKEY of NOTE's
    checkpoint: the message signed is `cosignature/v1\ntime <timestamp>\n` and then the checkpoint text."""
    name, key_id, public = cosigner_key(vkey)
    parts = line.rstrip("\n").split(" ")
    if len(parts) != 3 or parts[0] != "\u2014" or parts[1] != name:
        return False
    try:
        blob = base64.b64decode(parts[2], validate=True)
    except ValueError:
        return False
    if len(blob) != 4 + 8 + 64 or blob[:4] != key_id:
        return False
    message = f"cosignature/v1\ntime {int.from_bytes(blob[4:12], 'big')}\n".encode() + note_text(note).encode()
    return ed25519_verify(public, message, blob[12:])
