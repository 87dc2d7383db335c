#!/usr/bin/python3
"""postie-smtpd's start-up per connection: one listing of control/
(control_list) stands for the open() of every setting whose file is not
there, so a session makes no open() of a missing control file (strace);
a file that is there is still read (a greeting, a bad number: 421), and
one added between two sessions counts from the next session on."""
import os, shutil, socket, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from smtpdtest import smtpd_instance

if not shutil.which("strace"):
    skip("startup", "strace not installed")
    done()

home = smtpd_instance("smtpd-startup")
trace = os.path.join(home, "strace.out")


def session(lines=(b"EHLO x.example", b"QUIT")):
    """One session under strace: (the replies, the open() calls of paths
    under control/ with their results)."""
    a, b = socket.socketpair()
    env = env_for(home, PROTO="TCP", TCPREMOTEIP="127.0.0.1", TCPREMOTEPORT="4242",
                  TCPLOCALIP="127.0.0.1", TCPLOCALPORT="25")
    p = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=open,openat", "-o", trace, prog("postie-smtpd")],
                         stdin=b.fileno(), stdout=b.fileno(), stderr=subprocess.DEVNULL, env=env)
    b.close()
    a.settimeout(20)
    out = b""
    try:
        out = a.recv(4096)
        for l in lines:
            if not out.startswith(b"220"):
                break
            a.sendall(l + b"\r\n")
        while True:
            c = a.recv(4096)
            if not c:
                break
            out += c
    except OSError:
        pass
    a.close()
    p.wait(30)
    opens = [l for l in open(trace).read().splitlines() if '"control/' in l]
    return out.decode("latin-1"), opens


out, opens = session()
missing = [l for l in opens if "ENOENT" in l]
check("session-works", out.startswith("220 mx.test.example ESMTP postie") and "\r\n221 " in out, out)
check("no-open-of-missing-control-files", not missing, "\n".join(missing))
check("existing-files-read", any('"control/me"' in l and "ENOENT" not in l for l in opens)
      and any('"control/rcpthosts"' in l for l in opens), "\n".join(opens))

# Added between sessions: the next session reads it.
with open(os.path.join(home, "control", "smtpgreeting"), "w") as f:
    f.write("greeting.example welcomes you\n")
out, opens = session()
check("added-file-read", out.startswith("220 greeting.example welcomes you\r\n"), out)
# A setting that is there and wrong is still an error (read, not skipped).
with open(os.path.join(home, "control", "databytes"), "w") as f:
    f.write("lots\n")
out, opens = session()
check("bad-file-still-421", out.startswith("421 "), out)
os.unlink(os.path.join(home, "control", "databytes"))
out, opens = session()
check("removed-file-default", out.startswith("220 greeting.example"), out)
done()
