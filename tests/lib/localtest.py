"""Helpers for the postie-local tests: scratch homes owned by an unprivileged
uid, and running postie-local as that uid (setpriv from util-linux), with
the message on fd 0 as a regular file, as postie-lspawn gives it."""

import os, subprocess, tempfile
from postietest import *

UID = GID = 65534


def open_path(d):
    """Let the unprivileged uid traverse every directory from the test's
    scratch area down to d (mktemp -d makes the top one 0700)."""
    top = os.environ.get("POSTIE_TESTTMP") or "/tmp"
    d = os.path.abspath(d)
    while True:
        st = os.stat(d)
        if not st.st_mode & 0o001:
            os.chmod(d, (st.st_mode & 0o7777) | 0o011)
        if d == os.path.abspath(top) or d == "/":
            break
        d = os.path.dirname(d)
    if SAN:
        san = os.path.join(top, "san")
        if os.path.isdir(san):
            os.chmod(san, 0o1777)  # so that a report of the uid's process lands


def chown_tree(d):
    for root, dirs, files in os.walk(d):
        os.lchown(root, UID, GID)
        for n in dirs + files:
            os.lchown(os.path.join(root, n), UID, GID)


def mkhome(base, name, mode=0o755):
    h = os.path.join(base, name)
    os.makedirs(h, exist_ok=True)
    os.chown(h, UID, GID)
    os.chmod(h, mode)
    open_path(base)
    return h


def spawner_instance(name):
    """For the spawners' tests: an instance whose users database has bob
    (UID, home under the scratch directory, ./Maildir/), and one message,
    queue/mess/0/100. Returns (scratch dir, instance, bob's home)."""
    from cdbwrite import users_cdb
    base = tmpdir(name)
    inst = mkinstance(os.path.join(base, "inst"))
    homes = os.path.join(base, "homes")
    os.makedirs(homes, exist_ok=True)
    home = mkhome(homes, "bob")
    users_cdb(inst, [("bob", "!", UID, GID, home, "./Maildir/")])
    mess = os.path.join(inst, "queue", "mess", "0")
    os.makedirs(mess, exist_ok=True)
    with open(os.path.join(mess, "100"), "w") as f:
        f.write("Subject: ok\n\nhello\n")
    return base, inst, home


def put(home, name, content, mode=0o644):
    p = os.path.join(home, name)
    with open(p, "wb") as f:
        f.write(content if isinstance(content, bytes) else content.encode())
    os.chown(p, UID, GID)
    os.chmod(p, mode)
    return p


def run_local(inst, home, message, local="bob", ext="", domain="example.org", sender="alice@example.com",
              dd="./Maildir/", user="bob", env=None, prefix=None, asroot=False, timeout=60):
    """Runs postie-local; returns (exit code, stdout line, stderr)."""
    cmd = list(prefix or [])
    if not asroot:
        cmd += ["setpriv", "--reuid", str(UID), "--regid", str(GID), "--clear-groups"]
    cmd += [prog("postie-local"), user, home, local, ext, domain, sender, dd]
    with tempfile.TemporaryFile(dir=os.path.dirname(home)) as f:
        f.write(message)
        f.seek(0)
        p = subprocess.run(cmd, stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=home,
                           env=env_for(inst, **(env or {})), timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def maildir_files(md, sub="new"):
    d = os.path.join(md, sub)
    return sorted(os.path.join(d, n) for n in os.listdir(d)) if os.path.isdir(d) else []


def read(p):
    with open(p, "rb") as f:
        return f.read()


def lspawn_request(user):
    """One postie-lspawn request (netstring) for queue/mess/0/100 to user."""
    p = b"".join(x + b"\0" for x in (b"1", b"queue/mess/0/100", user, user, b"", b"example.org", b"a@example.com"))
    return str(len(p)).encode() + b":" + p + b","


def lspawn_deliver(proc, user):
    """One request to the postie-lspawn proc; its report's results
    (after the id), or b"EOF"."""
    proc.stdin.write(lspawn_request(user))
    proc.stdin.flush()
    return lspawn_report(proc)


def lspawn_report(proc):
    """The next report from the postie-lspawn proc: its results (after
    the id), or b"EOF"."""
    n = b""
    while not n.endswith(b":"):
        c = proc.stdout.read(1)
        if not c:
            return b"EOF"
        n += c
    frame = proc.stdout.read(int(n[:-1]) + 1)[:-1]
    return frame.split(b"\0", 1)[1] if b"\0" in frame else frame


def lspawn_standin(base, inst, said="delivered"):
    """BASE/bin with a postie-local that only says said ("delivered"),
    for a postie-lspawn run with it first on PATH; inst opened to its
    users. Returns the bin directory."""
    bindir = os.path.join(base, "bin")
    os.makedirs(bindir, exist_ok=True)
    with open(os.path.join(bindir, "postie-local"), "w") as f:
        f.write("#!/bin/sh\necho %s\n" % said)
    os.chmod(os.path.join(bindir, "postie-local"), 0o755)
    open_path(bindir)
    open_path(inst)
    return bindir
