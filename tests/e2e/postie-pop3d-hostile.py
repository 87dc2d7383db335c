#!/usr/bin/python3
"""postie-pop3d on a Maildir whose owner plays games: a message replaced
after the session started by a FIFO (RETR must not hang) or by a symlink
(scan skips symlinks; RETR must not follow one either)."""

import os, socket, subprocess, sys, time
sys.path.insert(0, os.path.join(os.environ["POSTIE_TOP"], "tests", "lib"))
from postietest import *

base = tmpdir("review-root-pop3d")
inst = mkinstance(os.path.join(base, "inst"))
md = os.path.join(base, "Maildir")
for d in ("tmp", "new", "cur"):
    os.makedirs(os.path.join(md, d), exist_ok=True)
secret = os.path.join(base, "secret")
with open(secret, "w") as f:
    f.write("SECRET\n")
for n in ("1", "2"):
    with open(os.path.join(md, "cur", n + ":2,"), "w") as f:
        f.write("Subject: %s\n\nbody\n" % n)

a, b = socket.socketpair()
p = subprocess.Popen([prog("postie-pop3d"), "-t", "5", md], stdin=b, stdout=b, stderr=subprocess.DEVNULL,
                     env=env_for(inst))
b.close()
a.settimeout(8)
f = a.makefile("rb")


def cmd(c):
    a.sendall(c + b"\r\n")
    try:
        return f.readline()
    except OSError:
        return b"(no answer)"


greet = f.readline()
os.unlink(os.path.join(md, "cur", "1:2,"))
os.mkfifo(os.path.join(md, "cur", "1:2,"))
os.unlink(os.path.join(md, "cur", "2:2,"))
os.symlink(secret, os.path.join(md, "cur", "2:2,"))
t = time.time()
r1 = cmd(b"RETR 1")
check("pop3d-retr-fifo", r1.startswith(b"-ERR") and time.time() - t < 4, repr(r1))
r2 = cmd(b"RETR 2")
rest = b""
if r2.startswith(b"+OK"):
    while not rest.endswith(b"\r\n.\r\n"):
        try:
            l = f.readline()
        except OSError:
            break
        if not l:
            break
        rest += l
check("pop3d-retr-symlink", r2.startswith(b"-ERR") and b"SECRET" not in rest, repr(r2 + rest))
a.close()
try:
    p.wait(timeout=10)
except subprocess.TimeoutExpired:
    p.kill()
    p.wait()
done()
