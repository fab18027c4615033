"""What the load scripts (crash_test.py, hostile.py, soak.py) share: a fresh trial store, users, a server on a free
loopback port, its RSS and open descriptors, and a client of the line protocol. Python standard library only."""

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
