#!/usr/bin/python3
"""postie-lspawn as an attacker who holds postie-send's uid would use it:
the message file of a request is opened as root and handed to the
recipient, so it must stay a regular file inside the instance's queue."""

import os, subprocess, sys
sys.path.insert(0, os.path.join(os.environ["POSTIE_TOP"], "tests", "lib"))
from postietest import *
from cdbwrite import users_cdb
from localtest import UID, GID, mkhome, chown_tree, open_path

if os.geteuid() != 0:
    skip("lspawn-message-path", "needs root")
    done()

base = tmpdir("review-root-lspawn")
inst = mkinstance(os.path.join(base, "inst"))
homes = os.path.join(base, "homes")
os.makedirs(homes, exist_ok=True)
home = mkhome(homes, "bob")
for d in ("tmp", "new", "cur"):
    os.makedirs(os.path.join(home, "Maildir", d), exist_ok=True)
chown_tree(home)
users_cdb(inst, [("bob", "!", UID, GID, home, "./Maildir/"), ("gidroot", "!", UID, 0, home, "./Maildir/")])
open_path(inst)

secret = os.path.join(base, "secret")
with open(secret, "w") as f:
    f.write("root:SECRET-HASH\n")
os.chmod(secret, 0o600)
mess = os.path.join(inst, "queue", "mess", "0")
os.makedirs(mess, exist_ok=True)
with open(os.path.join(mess, "100"), "w") as f:
    f.write("Subject: ok\n\nhello\n")
os.symlink(secret, os.path.join(mess, "101"))
os.mkfifo(os.path.join(mess, "102"))


def req(num, path, user=b"bob"):
    p = b"".join(x + b"\0" for x in (num, path, user, user, b"", b"example.org", b"a@example.com"))
    return str(len(p)).encode() + b":" + p + b","


def run(path, user=b"bob", pre=()):
    """One request; stdin stays open until the report (its end stops the
    deliveries)."""
    p = subprocess.Popen(list(pre) + [prog("postie-lspawn"), "10", "5"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, cwd=inst, env=env_for(inst))
    p.stdin.write(req(b"0", path, user))
    p.stdin.flush()
    out = b""
    while not out.endswith(b","):
        b = p.stdout.read(1)
        if not b:
            break
        out += b
    p.stdin.close()
    p.wait(timeout=20)
    return out


def delivered():
    out = b""
    for n in os.listdir(os.path.join(home, "Maildir", "new")):
        with open(os.path.join(home, "Maildir", "new", n), "rb") as f:
            out += f.read()
    return out


o = run(b"queue/mess/0/100")
check("lspawn-message-ok", b"\0K" in o and b"hello" in delivered(), repr(o))
for name, path in (("absolute", secret.encode()), ("dotdot", b"queue/mess/../../../secret"),
                   ("symlink", b"queue/mess/0/101"), ("fifo", b"queue/mess/0/102")):
    o = run(path)
    check("lspawn-message-" + name, b"\0Z" in o and b"SECRET" not in delivered(), repr(o))
    check("lspawn-message-one-kind-byte-" + name, b"\0ZZ" not in o and (b"\0Zunable to open" in o or b"\0Zmessage file outside" in o), repr(o))

# Issue 15: queue/ belongs to the send uid, who could plant a link at
# any step of the path, not only the last: a bucket that is a symlink to
# a directory holding a root-only file, queue/mess itself a symlink, a
# hard link to a root-only file. Only the shape queue/mess/B/ID is
# accepted. With openat2 made to fail (ENOSYS, an older kernel: strace
# injects it), the component-by-component fallback refuses them too.
evil = os.path.join(base, "evil")
os.makedirs(os.path.join(evil, "0"), exist_ok=True)
for d in (evil, os.path.join(evil, "0")):
    with open(os.path.join(d, "100"), "w") as f:
        f.write("root:SECRET-HASH\n")
    os.chmod(os.path.join(d, "100"), 0o600)
os.symlink(evil, os.path.join(inst, "queue", "mess", "5"))
os.link(secret, os.path.join(mess, "103"))
with open(os.path.join(inst, "queue", "todo", "0", "100"), "w") as f:
    f.write("Subject: todo\n\nnot a message yet\n")


def mess_symlinked(path, pre=()):
    """One request while queue/mess is a symlink to evil/."""
    real = os.path.join(inst, "queue", "mess.real")
    os.rename(os.path.join(inst, "queue", "mess"), real)
    os.symlink(evil, os.path.join(inst, "queue", "mess"))
    try:
        return run(path, pre=pre)
    finally:
        os.unlink(os.path.join(inst, "queue", "mess"))
        os.rename(real, os.path.join(inst, "queue", "mess"))


enosys = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=openat2", "-e", "inject=openat2:error=ENOSYS"]
have_strace = subprocess.run(["strace", "-V"], capture_output=True).returncode == 0
for how, pre in (("", ()), ("-fallback", enosys)):
    if pre and not have_strace:
        skip("lspawn-middle-symlink-fallback", "no strace to make openat2 fail")
        continue
    o = run(b"queue/mess/5/100", pre=pre)
    check("lspawn-middle-symlink" + how, b"\0Zunable to open the message file" in o and b"SECRET" not in delivered(), repr(o))
    o = mess_symlinked(b"queue/mess/0/100", pre=pre)
    check("lspawn-mess-symlink" + how, b"\0Zunable to open the message file" in o and b"SECRET" not in delivered(), repr(o))
    o = run(b"queue/mess/0/103", pre=pre)
    check("lspawn-hard-link" + how, b"\0Zunable to open the message file" in o and b"SECRET" not in delivered(), repr(o))
    before = delivered()
    o = run(b"queue/mess/0/100", pre=pre)
    check("lspawn-message-ok" + how, b"\0K" in o and delivered().count(b"hello") == before.count(b"hello") + 1, repr(o))
for name, path in (("todo", b"queue/todo/0/100"), ("dot", b"queue/mess/0/./100"), ("bucket-64", b"queue/mess/64/100"),
                   ("bucket-zero", b"queue/mess/00/100"), ("slash", b"queue/mess//0/100"), ("no-id", b"queue/mess/0/"),
                   ("dir", b"queue/mess/0"), ("deeper", b"queue/mess/0/100/x")):
    o = run(path)
    check("lspawn-shape-" + name, b"\0Zmessage file outside the instance" in o and b"not a message yet" not in delivered(),
          repr(o))

# a user whose gid is 0 is refused, like uid 0: never group root
before = delivered()
o = run(b"queue/mess/0/100", b"gidroot")
check("lspawn-gid-0-refused", b"\0D" in o and b"gid is 0" in o and delivered() == before, repr(o))

# postie-send gone at once: the running delivery is stopped before it says
# anything, and its report is made from no output at all (UBSan: memchr
# on a null buffer).
r = subprocess.run([prog("postie-lspawn"), "10", "5"], input=req(b"0", b"queue/mess/0/100"), stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, cwd=inst, env=env_for(inst), timeout=20)
check("lspawn-eof-report", r.returncode == 0 and r.stdout.endswith(b","),
      "rc=%d %r %r" % (r.returncode, r.stdout, r.stderr))
done()
