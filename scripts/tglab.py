"""What the load scripts (crash_test.py, hostile.py, soak.py) share: a fresh trial store, users, a server on a free
loopback port, and its RSS and open descriptors. Python standard library only."""

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
